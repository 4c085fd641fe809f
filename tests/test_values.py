"""Value sampling: sampled values validate against their schema; their text is what users type."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from factory.plan import Rng
from factory.specs import BUNDLED_SPECS, load_specs
from factory.values import DATE_ANCHOR, DATE_SPAN_DAYS, Pools, _two_digits, sample, string_kind

POOLS = Pools(seed=0)


@st.composite
def schemas(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(["integer", "number", "string", "enum", "array", "picks", "date", "bool"])
    )
    if kind in ("integer", "number"):
        lo = draw(st.integers(-50, 5000))
        hi = draw(st.integers(lo, lo + 100000))
        return {"type": kind, "minimum": lo, "maximum": hi}
    if kind == "enum":
        return {
            "type": "string",
            "enum": draw(
                st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=5, unique=True)
            ),
        }
    if kind == "array":
        lo = draw(st.integers(1, 4))
        return {
            "type": "array",
            "items": {"type": "number"},
            "minItems": lo,
            "maxItems": draw(st.integers(lo, 8)),
        }
    if kind == "picks":  # several distinct choices from an enum of any JSON scalars
        options = st.text(min_size=1, max_size=6) | st.integers(-99, 99) | st.booleans() | st.none()
        enum = draw(st.lists(options, min_size=1, max_size=6, unique_by=json.dumps))
        lo = draw(st.integers(1, len(enum)))
        return {"type": "array", "items": {"enum": enum}, "minItems": lo, "maxItems": len(enum)}
    if kind == "date":
        return {"type": "string", "format": "date"}
    if kind == "bool":
        return {"type": "boolean"}
    return {
        "type": "string",
        "description": draw(
            st.sampled_from(
                ["City name", "Recipient email", "Search query", "", "ISO currency code"]
            )
        ),
    }


@settings(max_examples=300, deadline=None)
@given(schema=schemas(), seed=st.integers(0, 10_000))
def test_sampled_values_validate(schema: dict[str, Any], seed: int) -> None:
    value = sample(schema, "param", random.Random(seed), POOLS)
    Draft202012Validator(schema).validate(value.value)
    assert value.json == json.dumps(value.value, ensure_ascii=False)  # the gold call's text
    assert value.text


def test_bundled_tools_values_validate_and_appear_in_text() -> None:
    rng = random.Random(3)
    for tool in load_specs([BUNDLED_SPECS]):
        for name, schema in tool.properties.items():
            for _ in range(50):
                v = sample(schema, name, rng, POOLS)
                Draft202012Validator(tool.public_schema()["properties"][name]).validate(v.value)
                if isinstance(v.value, str) and "format" not in schema:
                    assert v.text in (v.value, v.value.replace("_", " "))


def test_numbers_are_json_numbers_and_arrays_are_lists() -> None:
    rng = random.Random(0)
    num = sample({"type": "number", "minimum": 1, "maximum": 100000}, "amount", rng, POOLS)
    assert isinstance(num.value, int | float) and not isinstance(num.value, bool)
    arr = sample({"type": "array", "items": {"type": "number"}, "minItems": 3}, "xs", rng, POOLS)
    assert isinstance(arr.value, list) and len(arr.value) >= 3
    assert all(str(x) in arr.text for x in arr.value)


def test_string_kind_from_words_or_hint() -> None:
    assert string_kind("origin_airport", {"description": "IATA code"}) == "airport_code"
    assert string_kind("x", {"x-factory": {"faker": "color_name"}}) == "color_name"
    assert string_kind("body", {"description": "Message text"}) == "phrase"


def test_pools_are_seeded() -> None:
    assert Pools(1).get("street_address") == Pools(1).get("street_address")
    assert Pools(1).get("street_address") != Pools(2).get("street_address")


def test_precomputed_draws_match_the_rng_calls_they_replace() -> None:
    """Samplers pick from precomputed tables; the draws are those of the generator's RNG."""
    for seed in range(200):
        num = sample({"type": "integer", "minimum": 3, "maximum": 40}, "n", Rng(seed), POOLS)
        assert num.value == Rng(seed).randint(3, 40)
        rng = Rng(seed)
        day = sample({"type": "string", "format": "date"}, "d", rng, POOLS)
        ref = Rng(seed)
        expected = DATE_ANCHOR + dt.timedelta(days=ref.randrange(DATE_SPAN_DAYS))
        assert day.value == expected.isoformat()
        ref.randrange(3)  # the way it is written
        assert rng.getstate() == ref.getstate()


def test_generator_rng_draws_cover_their_range() -> None:
    """Rng scales random() for integer draws: every value reachable, none out of range."""
    rng = Rng(3)
    assert {rng.randint(1, 6) for _ in range(2000)} == set(range(1, 7))
    assert {rng.randrange(5, 9) for _ in range(2000)} == {5, 6, 7, 8}
    assert {rng.choice("abc") for _ in range(500)} == {"a", "b", "c"}
    picked = rng.sample(range(10), 4)
    assert len(set(picked)) == 4 and all(0 <= p < 10 for p in picked)
    deck = list(range(20))
    rng.shuffle(deck)
    assert sorted(deck) == list(range(20)) and deck != list(range(20))
    counts = [0] * 4
    for _ in range(40_000):
        counts[rng.choice(range(4))] += 1
    assert max(counts) - min(counts) < 800  # about 10,000 each
    with pytest.raises(IndexError):
        rng.choice([])


def test_rng_fast_paths_draw_like_random_random() -> None:
    """Rng's own sample, randint and randrange return what random.Random's would over the
    same integer draws, from the same state, and leave the same state behind; bad arguments
    fail the same way."""

    class Plain(random.Random):  # the stock methods over Rng's integer draws
        def _randbelow(self, n: int) -> int:
            return int(self.random() * n)

    for seed in range(300):
        fast, ref = Rng(seed), Plain(seed)
        for n in (1, 2, 5, 8, 21, 22, 40):
            pool = [f"v{i}" for i in range(n)]
            for k in range(min(n, 7) + 1):
                assert fast.sample(pool, k) == ref.sample(pool, k)
            assert fast.randrange(n) == ref.randrange(n)
            for lo in (-3, 0, 1, 7):
                assert fast.randint(lo, lo + n - 1) == ref.randint(lo, lo + n - 1)
                assert fast.randrange(lo, lo + n) == ref.randrange(lo, lo + n)
            assert fast.randrange(0, 3 * n, 3) == ref.randrange(0, 3 * n, 3)
        assert fast.getstate() == ref.getstate()
    rng = Rng(0)
    for bad in (
        lambda r: r.sample([1, 2], 3),
        lambda r: r.sample({1, 2, 3}, 2),
        lambda r: r.randint(3, 2),
        lambda r: r.randrange(0),
        lambda r: r.randrange(4, 4),
    ):
        with pytest.raises((ValueError, TypeError)) as fast_error:
            bad(rng)
        with pytest.raises((ValueError, TypeError)) as stock_error:
            bad(Plain(0))
        assert fast_error.type is stock_error.type


def test_two_digit_rounding_matches_round() -> None:
    """The integer rounding of amounts is int(round(x, -d)) exactly, ties included."""
    rng = random.Random(5)
    xs = [math.exp(rng.uniform(0, math.log(1e12))) for _ in range(20_000)]
    xs += [float(n) + f for n in range(0, 3000) for f in (0.0, 0.5, 1e-9)]
    xs += [
        q * 10.0**e + 5 * 10.0 ** (e - 1) + f
        for e in range(1, 12)
        for q in range(10, 100)
        for f in (0.0, 0.5, -0.5)
    ]
    for x in xs:
        d = max(0, len(str(int(x))) - 2)
        assert _two_digits(x) == int(round(x, -d)), x
