"""Version of saltext-turnup."""

__version__ = "0.1.0"
