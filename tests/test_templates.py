"""Template lines: the plain-Python fast renderer gives exactly Jinja's text, or steps aside."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.errors import TemplateError
from factory.generate import GenerateConfig, load_inputs
from factory.templates import Line, make_env, read_lines

TEXTS = ["", "1", "2", "Paris", "x  y", " a\nb ", "{{ no }}", "50 EUR", "a\xa0b", "t\tab", "end "]


def _line(tmp_path: Path, source: str) -> Line:
    path = tmp_path / "t.jinja"
    path.write_text(source + "\n", encoding="utf-8")
    (line,) = read_lines(make_env(), path, "t.jinja")
    return line


def _bundled_lines() -> list[Line]:
    _, _, lib = load_inputs(GenerateConfig())
    groups = [*lib.misuse.values(), *lib.generic.values(), *lib.refuse.values()]
    groups += [lines for per_reg in lib.tool_lines.values() for lines in per_reg.values()]
    return [line for lines in groups for line in lines]


def test_every_bundled_line_renders_fast_and_like_jinja() -> None:
    rng = random.Random(0)
    for line in _bundled_lines():
        assert line.fast is not None, line.id
        jinja_only = dataclasses.replace(line, fast=None)
        for _ in range(30):
            ctx = {slot: rng.choice(TEXTS) for slot in line.slots}
            assert line.render(ctx) == jinja_only.render(ctx), (line.id, ctx)


@pytest.mark.parametrize(
    "source",
    [
        "plain text only",
        "{{ a }} and {{ b }}",
        "{% if a %}A{% elif b %}B {{ b }}{% else %}none{% endif %}!",
        "{% if a %}{% if b %}both{% endif %}{% endif %}",
        "{{ a|plural('day') }}, {{ b|plural('person', plural='people') }}",
        "{{ 3 }} {{ 'x' }} {{ none }} {{ a|upper }}",
        "{{ a|default('z')|title }}",
        "100% sure {{ a }} %(a)s %s %% {{ '%d' }}{% if b %}50%{% endif %}",
        "{% if a %}{% endif %}{% if b %}{% else %}{% endif %}",
    ],
)
def test_fast_renderer_matches_jinja(tmp_path: Path, source: str) -> None:
    line = _line(tmp_path, source)
    assert line.fast is not None
    jinja_only = dataclasses.replace(line, fast=None)
    for a in TEXTS:
        for b in TEXTS:
            ctx = {"a": a, "b": b}
            assert line.render(ctx) == jinja_only.render(ctx)


@settings(max_examples=300, deadline=None)
@given(value=st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20))
def test_rendered_text_is_single_spaced(value: str) -> None:
    """Any whitespace in a value (tabs, no-break spaces, runs) comes out as single spaces."""
    line = Line("t#1", "[{{ a }}]", make_env(), frozenset({"a"}), fast=lambda v: f"[{v['a']}]")
    assert line.render({"a": value}) == " ".join(f"[{value}]".split())


@pytest.mark.parametrize(
    "source",
    [
        "{% for x in a %}{{ x }}{% endfor %}",
        "{{ a.upper() }}",
        "{{ a ~ b }}",
        "{% if a == b %}same{% endif %}",
        "{{ a|replace('a', 'b') }}",
        "{{ a|plural(b) }}",
        "{% set c = a %}{{ c }}",
    ],
)
def test_other_constructs_render_through_jinja(tmp_path: Path, source: str) -> None:
    line = _line(tmp_path, source)
    assert line.fast is None
    assert line.render({"a": "ab", "b": "ab"}) == jinja_render(source, {"a": "ab", "b": "ab"})


def jinja_render(source: str, ctx: dict[str, str]) -> str:
    return " ".join(make_env().from_string(source).render(ctx).split())


@pytest.mark.parametrize("source", ["Weather in {{ city }}", "{% if days %}x{% endif %}"])
def test_undefined_names_fail_like_jinja(tmp_path: Path, source: str) -> None:
    line = _line(tmp_path, source)
    assert line.fast is not None
    with pytest.raises(TemplateError, match=r"^t\.jinja#1: '\w+' is undefined$"):
        line.render({})


def test_jinja_globals_still_resolve(tmp_path: Path) -> None:
    """A name missing from the values may be a Jinja global: the fast renderer defers."""
    line = _line(tmp_path, "{{ range(2)|list }}")
    assert line.render({}) == "[0, 1]"
    line = _line(tmp_path, "{{ range }}")
    assert line.fast is not None and line.render({}) == jinja_render("{{ range }}", {})
