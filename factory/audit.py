"""Audit a written dataset: counts against the target mix, leakage, duplicates, gold-call checks.

Input: an output folder (``train.jsonl``, ``heldout.jsonl``, optional ``manifest.json``) or
JSONL files, ours or a foreign dataset in the same row layout (rows with only ``prompt`` and
``reward_model`` get an inferred behavior: a JSON call list is execute, a question is clarify,
anything else refuse). Output: an :class:`AuditReport` with tables and checks; ``ok`` is true
when every check passes. One streaming pass parses the rows and runs the per-row checks; polars
does the counting, the duplicate search (normalized text, MinHash with LSH bands across splits)
and the prompt statistics, so a million rows take well under a minute.

    >>> report = audit([Path("outputs/default")])          # doctest: +SKIP
    >>> report.ok, [c.name for c in report.checks if c.count]  # doctest: +SKIP

The grounding helpers (:func:`value_in_text`, :func:`ungrounded_arguments`) import nothing
heavy; the paraphraser uses them to decide whether a rewrite still states every value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DatasetError

if TYPE_CHECKING:
    import polars as pl
    from rich.console import RenderableType

# --- grounding: is an argument value stated in the user text? ------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_DATE_RES = [
    # "march 5, 2027", "mar. 5th 2027"
    (re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+(\d{{4}})\b"), (3, 1, 2)),
    # "5 march 2027", "5th of march, 2027"
    (re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+(\d{{4}})\b"), (3, 2, 1)),
    # "2027-03-05", "2027/03/05" (also the date part of "2027-03-05t10:00")
    (re.compile(r"(?<![\w.])(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)"), (1, 2, 3)),
]
# "03/05/2027" is March 5 in the US and 3 May elsewhere: both readings are kept.
_SLASH_DATE_RE = re.compile(r"(?<![\w.])(\d{1,2})[/.](\d{1,2})[/.](\d{4})\b")
_NUMBER_RE = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")
_NON_WORD_RE = re.compile(r"[\W_]+")


def _date_token(year: int, month: int, day: int) -> str:
    if 1 <= month <= 12 and 1 <= day <= 31:
        return f" date{year:04d}{month:02d}{day:02d} "
    return f" {year} {month} {day} "


def _replace_date(order: tuple[int, int, int]) -> Any:
    def replace(match: re.Match[str]) -> str:
        year, month, day = (match.group(i) for i in order)
        month_number = _MONTHS[month.rstrip(".")] if month[0].isalpha() else int(month)
        return _date_token(int(year), month_number, int(day))

    return replace


def _replace_slash_date(match: re.Match[str]) -> str:
    first, second, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    us, world = _date_token(year, first, second), _date_token(year, second, first)
    return us if us == world else us + world


def _replace_number(match: re.Match[str]) -> str:
    whole = match.group(1).replace(",", "").lstrip("0") or "0"
    # The decimal point becomes "d" so the punctuation pass keeps "1500.5" one word.
    fraction = (match.group(2) or "").rstrip("0").rstrip(".").replace(".", "d")
    return f" {whole}{fraction} "


def normalize_text(text: str) -> str:
    """Lowercase, dates to one token, numbers canonical (``1,500.50`` → ``1500.5``), words only.

    The result starts and ends with a space so phrases can be matched on word boundaries.
    """
    text = text.lower()
    for pattern, order in _DATE_RES:
        text = pattern.sub(_replace_date(order), text)
    text = _SLASH_DATE_RE.sub(_replace_slash_date, text)
    text = _NUMBER_RE.sub(_replace_number, text)
    return " " + " ".join(_NON_WORD_RE.sub(" ", text).split()) + " "


def _number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = repr(value)
    return text if "e" not in text else format(value, "f")


def value_in_text(value: Any, text: str) -> bool:
    """Whether ``value`` (a gold argument value) is stated in ``text``.

    Case, whitespace and punctuation are ignored; numbers match in any usual form (``1500``,
    ``1,500``, ``1500.0``); dates match ISO and written forms (``2027-03-05``, ``March 5,
    2027``, ``5 March 2027``); booleans and nulls always count as stated (they are said in
    words); a list needs each element stated, an object each value.

    >>> value_in_text(1500.5, "Convert $1,500.50 to euros")
    True
    >>> value_in_text("2027-03-05", "Flights on 5 March 2027, please")
    True
    """
    return _grounded(value, normalize_text(text), text)


def ungrounded_arguments(arguments: dict[str, Any], text: str) -> list[str]:
    """Names of the arguments whose values :func:`value_in_text` does not find in ``text``.

    >>> ungrounded_arguments({"amount": 50, "from": "EUR", "to": "USD"}, "Convert 50 EUR to GBP")
    ['to']
    """
    haystack = normalize_text(text)
    return [name for name, value in arguments.items() if not _grounded(value, haystack, text)]


def _grounded(value: Any, haystack: str, raw: str) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return normalize_text(_number_text(abs(value))) in haystack
    if isinstance(value, str):
        needle = normalize_text(value)
        if needle.strip():
            return needle in haystack
        # Only symbols ("$$"): compare the raw characters.
        return value.strip().lower() in raw.lower()
    if isinstance(value, list):
        return all(_grounded(item, haystack, raw) for item in value)
    if isinstance(value, dict):
        return all(_grounded(item, haystack, raw) for item in value.values())
    return True
