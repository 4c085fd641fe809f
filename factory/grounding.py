"""Grounding: whether an argument value is stated in the user text.

Input: a gold argument value (or a dict of them) and the text of a user prompt. Output: True or
False (:func:`value_in_text`), or the names of the arguments that are not stated
(:func:`ungrounded_arguments`). Both sides go through :func:`normalize_text` first: case,
whitespace and punctuation are ignored, numbers and dates compare in one canonical form.

    >>> ungrounded_arguments({"amount": 50, "from": "EUR", "to": "USD"}, "Convert 50 EUR to GBP")
    ['to']

This module imports nothing heavy: the audit's ``gold_ungrounded`` check uses it, and so does
the paraphraser, to decide whether a rewrite still states every value.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

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
# Any word may be a month: _month_number decides, forgiving one typo ("Macrh", "Arpil").
_MONTH = r"([a-z]{3,9})\.?"
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
# A number may follow a letter ("x8" travellers) but not a digit, a separator or a date token.
_NUMBER_RE = re.compile(r"(?<![\d.,])(?<!date)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")
_NON_WORD_RE = re.compile(r"[\W_]+")
_YEAR_RE = re.compile(r"\d{4}")
_DIGIT_RE = re.compile(r"\d")


def _date_token(year: int, month: int, day: int) -> str:
    if 1 <= month <= 12 and 1 <= day <= 31:
        return f" date{year:04d}{month:02d}{day:02d} "
    return f" {year} {month} {day} "


def _month_number(word: str) -> int | None:
    if word in _MONTHS:
        return _MONTHS[word]
    if len(word) < 5:
        return None
    for name, number in _MONTHS.items():
        if len(name) >= 5 and _one_typo(word, name):
            return number
    return None


def _one_typo(a: str, b: str) -> bool:
    """Whether ``a`` is ``b`` with one letter changed, added, dropped, or two swapped."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _replace_date(order: tuple[int, int, int]) -> Any:
    def replace(match: re.Match[str]) -> str:
        year, month, day = (match.group(i) for i in order)
        number = int(month) if month.isdigit() else _month_number(month)
        if number is None:
            return match.group(0)
        return _date_token(int(year), number, int(day))

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


_DATE_REPLACERS = [(pattern, _replace_date(order)) for pattern, order in _DATE_RES] + [
    (_SLASH_DATE_RE, _replace_slash_date)
]


def normalize_text(text: str) -> str:
    """Lowercase, dates to one token, numbers canonical (``1,500.50`` → ``1500.5``), words only.

    The result starts and ends with a space so phrases can be matched on word boundaries.
    """
    text = text.lower()
    if _YEAR_RE.search(text):  # every date form has a four-digit year
        for pattern, replace in _DATE_REPLACERS:
            text = pattern.sub(replace, text)
    if _DIGIT_RE.search(text):
        text = _NUMBER_RE.sub(_replace_number, text)
    return " " + " ".join(_NON_WORD_RE.sub(" ", text).split()) + " "


@lru_cache(maxsize=65_536)
def _needle(value: str | float) -> str:
    """The normalized form of an argument value (values repeat: cities, codes, dates)."""
    if isinstance(value, str):
        return normalize_text(value)
    return normalize_text(_number_text(abs(value)))


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
        return _needle(value) in haystack
    if isinstance(value, str):
        needle = _needle(value)
        if needle.strip():
            return needle in haystack
        # Only symbols ("$$"): compare the raw characters.
        return value.strip().lower() in raw.lower()
    if isinstance(value, list):
        return all(_grounded(item, haystack, raw) for item in value)
    if isinstance(value, dict):
        return all(_grounded(item, haystack, raw) for item in value.values())
    return True
