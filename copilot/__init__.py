"""Segment Copilot: from a customer table to segments someone can act on."""

__version__ = "0.1.0"
