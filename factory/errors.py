"""Every error a user can fix: one base class, one subclass per kind of bad input.

The CLI prints ``Error: <message>`` for these and exits 1; anything else is a bug.
"""

from __future__ import annotations


class FactoryError(Exception):
    """Base for every error the user can fix."""


class SpecError(FactoryError):
    """A tool spec is missing, malformed, or not valid JSON Schema."""


class TemplateError(FactoryError):
    """A phrasing template fails to parse or references an unknown slot."""


class ConfigError(FactoryError):
    """Options that cannot work together (mix, counts, held-out tools, shard)."""


class DatasetError(FactoryError):
    """A dataset file is unreadable or a row does not have the expected shape."""


class PredictionError(FactoryError):
    """A predictions file does not match its dataset (missing or unknown ids)."""


class EndpointError(FactoryError):
    """An OpenAI-compatible endpoint could not be reached or answered badly."""


class HubError(FactoryError):
    """A Hugging Face Hub operation failed (token, repository, network)."""


class ModelError(FactoryError):
    """A local model folder is missing or cannot be loaded."""
