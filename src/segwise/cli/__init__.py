"""Command-line interface: a thin shell over the library, one module per command group."""

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
    app()
