"""toolfactory: tool specs in, balanced execute / clarify / refuse tool-calling datasets out.

>>> from factory import score
>>> score('<TOOLCALL>[{"name": "f", "arguments": {"x": 1}}]</TOOLCALL>',
...       '[{"name": "f", "arguments": {"x": 1.0}}]')
1.0
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import FactoryError

__version__ = "0.1.0"

# Public names and the module that defines each, imported on first use so that
# `toolfactory --help` does not pay for jinja, pydantic or polars. The stage functions
# `generate` and `audit` live in modules of the same name: `from factory.generate import generate`.
_LAZY = {
    "GenerateConfig": "generate",
    "load_specs": "specs",
    "ToolSpec": "specs",
    "score": "reward",
    "trl_reward": "reward",
    "compute_score": "reward",
    "evaluate": "metrics",
}

__all__ = ["FactoryError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'factory' has no attribute {name!r}")
