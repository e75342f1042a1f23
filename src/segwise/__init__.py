"""segwise: turn raw customer data into customer segments a business can act on."""

from typing import Any

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    """Read ``__version__`` from the installed metadata when first asked for it.

    Not at import: reading package metadata costs 30 ms that commands never use.
    """
    if name != "__version__":
        raise AttributeError(f"module 'segwise' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("segwise")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        found = "0.0.0"
    globals()["__version__"] = found
    return found
