"""toolfactory: tool specs in, balanced execute / clarify / refuse tool-calling datasets out."""

from __future__ import annotations

from .errors import FactoryError

__version__ = "0.1.0"

__all__ = ["FactoryError", "__version__"]
