"""The installed version of collapse_lab (``0.0.0+local`` in a source tree without metadata)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("collapse_lab")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+local"
