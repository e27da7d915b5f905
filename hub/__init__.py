"""Station Hub: a small core that plugins extend (see docs/architecture.md)."""

__version__ = "0.1.0"
