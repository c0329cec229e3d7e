"""The single source of gridrun's version."""

__version__ = "0.1.0"
