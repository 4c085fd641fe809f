"""Schema-typed argument values: a JSON value for the gold call and the text a user would type.

Values come from pools drawn once per run (curated lists for cities, airports, currencies,
languages, tickers...; Faker for any other provider), so the hot loop only indexes lists.

    >>> pools = Pools(seed=0)
    >>> schema = {"type": "integer", "minimum": 1, "maximum": 9}
    >>> v = sample(schema, "passengers", random.Random(1), pools)
    >>> 1 <= v.value <= 9 and v.text == str(v.value)
    True
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

# Dates are drawn after a fixed anchor, not after "today", so that the same seed gives the same
# files on any day. The anchor is recorded in the manifest.
DATE_ANCHOR = dt.date(2027, 1, 4)
DATE_SPAN_DAYS = 540
_MONTHS = (
    "January February March April May June July August September October November December".split()
)
_POOL_SIZE = 400


class Value(NamedTuple):  # a tuple: built several times per row, 3x faster than a dataclass
    """One argument: the JSON value in the gold call, how the user states it, and the value as
    JSON text (what ``json.dumps(value, ensure_ascii=False)`` writes, made once per value)."""

    value: Any
    text: str
    json: str


# json.dumps(..., ensure_ascii=False) without building an encoder per call
_dumps = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
_str = json.encoder.encode_basestring


def value(v: Any, text: str) -> Value:
    """A :class:`Value` with its JSON text (ints and floats print as JSON does: their repr)."""
    kind = type(v)
    if kind is str:
        return Value(v, text, _str(v))
    if kind is int or kind is float:
        return Value(v, text, repr(v))
    return Value(v, text, _dumps(v))


@cache
def _curated() -> dict[str, list[str]]:
    raw = resources.files("factory").joinpath("data/pools.json").read_text(encoding="utf-8")
    data: dict[str, list[str]] = json.loads(raw)
    return data


# Words in a parameter's name or description that say which pool fits a string without a hint.
_KIND_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("airport_code", ("airport", "iata")),
    ("currency_code", ("currency",)),
    ("ticker", ("ticker", "stock symbol")),
    ("language", ("language", "locale")),
    ("cuisine", ("cuisine",)),
    ("email", ("email", "e-mail")),
    ("url", ("url", "uri", "link", "website")),
    ("phone_number", ("phone",)),
    ("name", ("name of the person", "full name", "username", "recipient", "person")),
    ("company", ("company", "organization", "organisation", "employer")),
    ("street_address", ("address", "street")),
    ("country", ("country",)),
    ("city", ("city", "location", "town", "place", "destination", "origin")),
    ("color_name", ("color", "colour")),
    ("job", ("job", "occupation", "profession")),
    ("phrase", ("text", "message", "sentence", "content", "body", "note", "comment")),
    ("word", ("query", "keyword", "term", "search", "topic", "title", "subject", "tag")),
)


def string_kind(name: str, schema: dict[str, Any]) -> str:
    """Pool name for a string parameter: its ``x-factory.faker`` hint, else a guess from words."""
    hint = (schema.get("x-factory") or {}).get("faker")
    if isinstance(hint, str):
        return hint
    words = (name.replace("_", " ") + " " + str(schema.get("description", ""))).lower()
    for kind, keys in _KIND_WORDS:
        if any(re.search(r"\b" + re.escape(k) + r"\b", words) for k in keys):
            return kind
    return "word"


class Pools:
    """Value pools for one run: curated lists plus Faker draws, made once from the seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._pools: dict[str, list[str]] = dict(_curated())
        self._faker: Any = None

    def get(self, kind: str) -> list[str]:
        pool = self._pools.get(kind)
        if pool is None:
            pool = self._pools[kind] = self._draw(kind)
        return pool

    def _draw(self, kind: str) -> list[str]:
        if self._faker is None:
            from faker import Faker

            self._faker = Faker("en_US")
        faker = self._faker
        faker.seed_instance(self.seed * 7919 + len(kind) * 31 + sum(map(ord, kind)))
        provider = getattr(faker, kind, None)
        if provider is None or not callable(provider):
            provider = faker.word
        values = {str(provider()).replace("\n", ", ") for _ in range(_POOL_SIZE)}
        return sorted(values)


def _round_number(lo: float, hi: float) -> Callable[[random.Random], float | int]:
    """Draws of a number a person would type: log-uniform with two significant digits when the
    range is positive, a plain integer (or a 2-decimal number for sub-integer ranges) otherwise.
    """
    ilo, ihi = math.ceil(lo), math.floor(hi)
    if ilo > ihi:
        return lambda rng: min(max(round(rng.uniform(lo, hi), 2), lo), hi) if lo < hi else lo
    if lo < 1 or hi < 10:
        return lambda rng: rng.randint(ilo, ihi)
    log_lo, log_hi = math.log(lo), math.log(hi)
    width = log_hi - log_lo

    def log_uniform(rng: random.Random) -> int:
        x = math.exp(log_lo + width * rng.random())  # rng.uniform(log_lo, log_hi)
        return min(max(_two_digits(x), ilo), ihi)

    return log_uniform


def _two_digits(x: float) -> int:
    """``int(round(x, -d))`` for ``d = len(str(int(x))) - 2`` (0 at least): x to two
    significant digits, ties to even as ``round`` does, in integer arithmetic."""
    n = int(x)
    d = len(str(n)) - 2
    if d <= 0:
        return round(x)
    m: int = 10**d  # d > 0
    q, r = divmod(n, m)
    half = m // 2
    if r > half or (r == half and (x > n or q % 2 == 1)):
        q += 1
    return q * m


def _number_text(x: float | int, rng: random.Random) -> str:
    if isinstance(x, float) and not x.is_integer():
        return f"{x:,.2f}" if x >= 1000 and rng.random() < 0.5 else f"{x:.2f}".rstrip("0")
    n = int(x)
    return f"{n:,}" if abs(n) >= 1000 and rng.random() < 0.5 else str(n)


def join_words(items: list[str], conj: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


_SNAKE_RE = re.compile(r"^[a-z]+(_[a-z]+)+$")


def enum_text(value: Any) -> str:
    """How a user writes an enum value: ``premium_economy`` -> ``premium economy``."""
    if not isinstance(value, str):
        return json.dumps(value)
    return value.replace("_", " ") if _SNAKE_RE.match(value) else value


Sampler = Callable[[random.Random], Value]
_YES = Value(True, "yes", "true")


def sample(schema: dict[str, Any], name: str, rng: random.Random, pools: Pools) -> Value:
    """A value that validates against ``schema`` and the words a user would use for it."""
    return sampler(schema, name, pools)(rng)


def sampler(schema: dict[str, Any], name: str, pools: Pools) -> Sampler:
    """``sample`` for one schema as a function of the RNG alone: the schema is read, the pool
    picked and the value texts made once, so that a draw is only the RNG calls it needs."""
    hints = schema.get("x-factory") or {}
    choices = hints.get("choices") or schema.get("enum")
    if choices:
        options = [value(c, enum_text(c)) for c in choices]
        return lambda rng: rng.choice(options)
    typ = schema.get("type", "string")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "string")
    if typ == "integer":
        lo = int(schema.get("minimum", 1))
        return _integer(lo, int(schema.get("maximum", max(lo + 9, 100))))
    if typ == "number":
        flo = float(schema.get("minimum", 1))
        return _number(flo, float(schema.get("maximum", max(flo + 9, 1000))))
    if typ == "boolean":
        return lambda rng: _YES
    if typ == "array":
        return _array(schema, name, pools)
    if typ == "object":
        return _object(schema, pools)
    fmt = schema.get("format")
    if fmt == "date":
        dates = _dates()
        return lambda rng: rng.choice(rng.choice(dates))  # a day, then a way to write it
    if fmt == "date-time":
        return _date_time
    kind = {"email": "email", "uri": "url", "url": "url"}.get(str(fmt), string_kind(name, schema))
    pool = [value(text, text) for text in pools.get(kind)]
    return lambda rng: rng.choice(pool)


def _integer(lo: int, hi: int) -> Sampler:
    if -1000 < lo and hi < 1000:  # small numbers are always written plainly
        small = [Value(n, str(n), str(n)) for n in range(lo, hi + 1)]
        return lambda rng: rng.choice(small)  # the draw of rng.randint(lo, hi)

    def integer(rng: random.Random) -> Value:
        n = rng.randint(lo, hi)
        return Value(n, _number_text(n, rng), repr(n))

    return integer


def _number(flo: float, fhi: float) -> Sampler:
    draw = _round_number(flo, fhi)

    def number(rng: random.Random) -> Value:
        x = draw(rng)
        if isinstance(x, int) and rng.random() < 0.25 and x + 1 <= fhi:
            x = round(x + rng.choice((0.5, 0.25, 0.99, 0.75, 0.1)), 2)
        return value(x, _number_text(x, rng))

    return number


@cache
def _dates() -> list[list[Value]]:
    """Every date that can be drawn, in the three ways a user may write it."""
    out = []
    for i in range(DATE_SPAN_DAYS):
        d = DATE_ANCHOR + dt.timedelta(days=i)
        month = _MONTHS[d.month - 1]
        texts = (d.isoformat(), f"{month} {d.day}, {d.year}", f"{d.day} {month} {d.year}")
        out.append([value(d.isoformat(), text) for text in texts])
    return out


def _date_time(rng: random.Random) -> Value:
    d = DATE_ANCHOR + dt.timedelta(days=rng.randrange(DATE_SPAN_DAYS))
    stamp = f"{d.isoformat()}T{rng.randrange(6, 22):02d}:{rng.choice((0, 15, 30, 45)):02d}:00"
    return value(stamp, stamp)


def _object(schema: dict[str, Any], pools: Pools) -> Sampler:
    props = schema.get("properties") or {}
    keys = [k for k in schema.get("required") or props if k in props]
    fields = [(k, sampler(props[k], k, pools)) for k in keys]

    def obj(rng: random.Random) -> Value:
        parts = {k: draw(rng) for k, draw in fields}
        text = join_words([f"{k.replace('_', ' ')} {v.text}" for k, v in parts.items()])
        return value({k: v.value for k, v in parts.items()}, text)

    return obj


def _array(schema: dict[str, Any], name: str, pools: Pools) -> Sampler:
    items = schema.get("items") or {"type": "string"}
    lo = int(schema.get("minItems", 1))
    hi = int(schema.get("maxItems", max(lo, 4)))
    enum = items.get("enum")
    if enum:
        options = [value(c, enum_text(c)) for c in enum]

        def picks(rng: random.Random) -> Value:
            picked = rng.sample(options, min(rng.randint(lo, hi), len(options)))
            return Value(
                [p.value for p in picked],
                join_words([p.text for p in picked]),
                f"[{', '.join([p.json for p in picked])}]",  # json.dumps of the list
            )

        return picks
    if items.get("type") in ("integer", "number"):
        top = int(items.get("maximum", 100))
        low = int(items.get("minimum", 0))

        def numbers(rng: random.Random) -> Value:
            nums = [rng.randint(low, top) for _ in range(rng.randint(lo, hi))]
            words = [str(n) for n in nums]  # also their JSON
            return Value(nums, join_words(words), f"[{', '.join(words)}]")

        return numbers
    item = sampler(items, name, pools)

    def distinct(rng: random.Random) -> Value:
        count = rng.randint(lo, hi)
        seen: list[Value] = []
        for _ in range(count * 3):
            v = item(rng)
            if all(v.value != s.value for s in seen):
                seen.append(v)
            if len(seen) == count:
                break
        return value([v.value for v in seen], join_words([v.text for v in seen]))

    return distinct
