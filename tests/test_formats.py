"""Row serialization: dumps_row and row_pieces write exactly what json.dumps writes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.formats import dumps_row, make_row, row_pieces

texts = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)


def _row(user: str = "Convert 50 EUR to USD", **info: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "row_id": "train-000001",
        "split": "train",
        "behavior": "execute",
        "system": "You are a helpful assistant.\n<tools>\n{}\n</tools>",
        "user": user,
        "ground_truth": '[{"name": "f", "arguments": {"x": 1}}]',
        "tools": ["f"],
        "missing": [],
        "category": None,
        "template": "f/terse.jinja#1",
        "register": "terse",
        "fmt": "aws",
    }
    fields.update(info)
    return make_row(**fields)


@settings(max_examples=300, deadline=None)
@given(
    user=texts,
    system=texts,
    truth=texts,
    tools=st.lists(texts, max_size=3),
    category=st.none() | texts,
    template=texts,
    fmt=st.sampled_from(["aws", "qwen", "openai"]),
)
def test_dumps_row_is_json_dumps(
    user: str,
    system: str,
    truth: str,
    tools: list[str],
    category: str | None,
    template: str,
    fmt: str,
) -> None:
    behavior = "refuse" if category is not None else "clarify"
    row = _row(
        user,
        system=system,
        ground_truth=truth,
        tools=tools,
        missing=tools[:1],
        category=category,
        template=template,
        behavior=behavior,
        fmt=fmt,
    )
    assert dumps_row(row) == json.dumps(row, ensure_ascii=False)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r["extra_info"].update(paraphrased=True),
        lambda r: r["extra_info"].update(category=3, tools=("a", "b")),
        lambda r: r["extra_info"].update(tools=[1, "a"], missing=[["x"]]),
        lambda r: r["extra_info"].update(template=True),
        lambda r: r["extra_info"].update(note="extra key"),
        lambda r: r["extra_info"].pop("register"),
        lambda r: r["prompt"].append({"role": "assistant", "content": "hi"}),
        lambda r: r["prompt"][1].update(name="user-1"),
        lambda r: r["reward_model"].update(ground_truth=[1, 2]),
        lambda r: r.update(extra="column"),
        lambda r: r.update(data_source=None),
    ],
)
def test_dumps_row_other_layouts(change: Any) -> None:
    row = copy.deepcopy(_row())
    change(row)
    assert dumps_row(row) == json.dumps(row, ensure_ascii=False)


@settings(max_examples=300, deadline=None)
@given(
    user=texts,
    system=texts,
    truth=texts,
    tools=st.lists(texts, max_size=3),
    missing=st.lists(texts, max_size=2),
    category=st.none() | texts,
    template=texts,
    register=texts,
    row_id=texts,
)
def test_row_pieces_are_the_json_line(
    user: str,
    system: str,
    truth: str,
    tools: list[str],
    missing: list[str],
    category: str | None,
    template: str,
    register: str,
    row_id: str,
) -> None:
    fields: dict[str, Any] = {
        "row_id": row_id,
        "split": "heldout",
        "behavior": "clarify",
        "system": system,
        "user": user,
        "ground_truth": truth,
        "tools": tools,
        "missing": missing,
        "category": category,
        "template": template,
        "register": register,
    }
    pieces = {**fields, "tools": tuple(tools), "missing": tuple(missing)}
    head, tail = row_pieces(**pieces)
    row = make_row(**fields, fmt="qwen")
    assert head + tail == (json.dumps(row, ensure_ascii=False) + "\n").encode()
    assert row_pieces(**pieces)[0] is head  # the head is shared by rows with this prompt
