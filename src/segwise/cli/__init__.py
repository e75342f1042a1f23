"""Command-line interface: a thin shell over the library, one module per command group."""

import gc

from segwise.cli import (
    assign,  # noqa: F401
    clv,  # noqa: F401
    mobility,  # noqa: F401
    population,  # noqa: F401
    propensity,  # noqa: F401
    report,  # noqa: F401
    rfe,  # noqa: F401
    rfm,  # noqa: F401 - registers its commands
    segment,  # noqa: F401
    serve,  # noqa: F401
    track,  # noqa: F401
)
from segwise.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    """Run the ``segwise`` command."""
    # What the imports made (modules, classes, Ibis's and SQLGlot's tables) lives as long
    # as the process: out of the cyclic collector's sight, neither the command's own
    # collections nor the interpreter's at exit walk it again. A sixth of `segwise rfm`
    # on the Online Retail CSV (0.5 s of 3.2 s; benchmarks/README.md).
    gc.freeze()
    app()
