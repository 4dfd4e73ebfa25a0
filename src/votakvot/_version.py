"""The library version, recorded in every votakvot.yaml."""

__version__ = "0.2.0.dev0"
