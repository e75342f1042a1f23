"""segwise: turn raw customer data into customer segments a business can act on."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("segwise")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
