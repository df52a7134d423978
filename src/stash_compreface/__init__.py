"""Face recognition for Stash through CompreFace."""

__version__ = "0.1.0"
