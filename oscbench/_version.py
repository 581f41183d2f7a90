"""The package version (a leaf module: every part may import it without importing the package's API)."""
__version__ = "0.1.0"
