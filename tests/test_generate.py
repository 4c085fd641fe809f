"""The generator end to end: mix, balance, disjoint splits, unique prompts, grounded labels."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from factory.audit import ungrounded_arguments
from factory.errors import ConfigError, TemplateError
from factory.formats import tools_from_system
from factory.generate import GenerateConfig, generate
from factory.templates import REGISTERS

SPECS = Path(__file__).parent / "fixtures" / "specs"
TRAIN_TOOLS = {
    "get_weather_forecast",
    "search_flights",
    "translate_text",
    "currency_convert",
    "get_statistics",
}
HELDOUT_TOOLS = {"search_restaurants", "get_stock_price", "calculate_standard_deviation"}
MONTHS = "January February March April May June July August September October November December"
MONTHS = MONTHS.split()
KEYS = {"data_source", "prompt", "ability", "reward_model", "extra_info"}
INFO_KEYS = {
    "id",
    "split",
    "behavior",
    "tools",
    "missing",
    "category",
    "template",
    "register",
    "paraphrased",
}


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def rows(default_dataset: Path) -> dict[str, list[dict[str, Any]]]:
    return {s: read(default_dataset / f"{s}.jsonl") for s in ("train", "heldout")}


def test_default_files_and_manifest(default_dataset: Path) -> None:
    manifest = json.loads((default_dataset / "manifest.json").read_text())
    assert set(manifest["tools"]["train"]) == TRAIN_TOOLS
    assert set(manifest["tools"]["heldout"]) == HELDOUT_TOOLS
    assert manifest["counts"]["train"]["rows"] == 1500
    assert manifest["counts"]["heldout"]["rows"] == 300
    assert not list(default_dataset.glob(".*tmp*"))


def test_row_layout(rows: dict[str, list[dict[str, Any]]]) -> None:
    for split, items in rows.items():
        for i, row in enumerate(items):
            assert set(row) == KEYS
            assert set(row["extra_info"]) == INFO_KEYS
            assert row["extra_info"]["id"] == f"{split}-{i:06d}"
            assert [m["role"] for m in row["prompt"]] == ["system", "user"]
            assert row["reward_model"]["style"] == "rule"
            assert isinstance(row["reward_model"]["ground_truth"], str)


@pytest.mark.parametrize(
    ("split", "expected"), [("train", (900, 375, 225)), ("heldout", (180, 75, 45))]
)
def test_exact_mix(
    rows: dict[str, list[dict[str, Any]]], split: str, expected: tuple[int, int, int]
) -> None:
    counts = Counter(r["extra_info"]["behavior"] for r in rows[split])
    assert (counts["execute"], counts["clarify"], counts["refuse"]) == expected


def test_tools_and_registers_balanced(rows: dict[str, list[dict[str, Any]]]) -> None:
    for split in ("train", "heldout"):
        for behavior in ("execute", "clarify"):
            single = [
                r
                for r in rows[split]
                if r["extra_info"]["behavior"] == behavior
                and len(
                    json.loads(r["reward_model"]["ground_truth"]) if behavior == "execute" else [1]
                )
                == 1
            ]
            pairs = Counter(
                (r["extra_info"]["tools"][0], r["extra_info"]["register"]) for r in single
            )
            assert max(pairs.values()) - min(pairs.values()) <= 1, (split, behavior, pairs)
            assert {reg for _, reg in pairs} == set(REGISTERS)


def test_disjoint_tools_and_categories(rows: dict[str, list[dict[str, Any]]]) -> None:
    listed = {
        s: {t["name"] for r in rows[s] for t in tools_from_system(r["prompt"][0]["content"])}
        for s in rows
    }
    assert listed["train"] == TRAIN_TOOLS and listed["heldout"] == HELDOUT_TOOLS
    cats = {
        s: {r["extra_info"]["category"] for r in rows[s] if r["extra_info"]["category"]}
        for s in rows
    }
    assert len(cats["train"]) >= 5 and len(cats["heldout"]) >= 5
    assert not cats["train"] & cats["heldout"]


def test_no_duplicate_prompts(rows: dict[str, list[dict[str, Any]]]) -> None:
    texts = [r["prompt"][1]["content"].lower() for s in rows for r in rows[s]]
    assert len(texts) == len(set(texts))


def test_execute_calls_are_valid_and_grounded(rows: dict[str, list[dict[str, Any]]]) -> None:
    multi = optional_seen = optional_absent = 0
    for split in rows:
        for row in rows[split]:
            if row["extra_info"]["behavior"] != "execute":
                continue
            schemas = {
                t["name"]: t["parameters"] for t in tools_from_system(row["prompt"][0]["content"])
            }
            calls = json.loads(row["reward_model"]["ground_truth"])
            multi += len(calls) == 2
            user = row["prompt"][1]["content"]
            for call in calls:
                Draft202012Validator(schemas[call["name"]]).validate(call["arguments"])
                assert ungrounded_arguments(call["arguments"], user) == [], (user, call)
                date = call["arguments"].get("date")
                if date:  # typos never touch a value: ISO or the exact month name is there
                    month = MONTHS[int(date[5:7]) - 1]
                    assert date in user or month in user, (user, date)
                optional = set(schemas[call["name"]]["properties"]) - set(
                    schemas[call["name"]].get("required", [])
                )
                if optional & set(call["arguments"]):
                    optional_seen += 1
                elif optional:
                    optional_absent += 1
    assert multi == 90 + 18  # 10% of 900 and of 180
    assert optional_seen > 100 and optional_absent > 100


def test_clarify_rows_really_miss_an_argument(rows: dict[str, list[dict[str, Any]]]) -> None:
    for split in rows:
        for row in rows[split]:
            info = row["extra_info"]
            if info["behavior"] != "clarify":
                continue
            (tool,) = info["tools"]
            schema = next(
                t for t in tools_from_system(row["prompt"][0]["content"]) if t["name"] == tool
            )["parameters"]
            assert info["missing"] and set(info["missing"]) <= set(schema["required"])
            assert row["reward_model"]["ground_truth"].endswith("?")


def test_refuse_rows(rows: dict[str, list[dict[str, Any]]]) -> None:
    refuse = [r for s in rows for r in rows[s] if r["extra_info"]["behavior"] == "refuse"]
    assert all(r["extra_info"]["category"] for r in refuse)
    assert all("sorry" in r["reward_model"]["ground_truth"].lower() for r in refuse)
    misuse = [r for r in refuse if r["extra_info"]["tools"]]
    assert 0.2 < len(misuse) / len(refuse) < 0.8


def test_same_seed_byte_identical_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 7), (b, 7), (c, 8)):
        generate(GenerateConfig(out=out, train=300, heldout=60, seed=seed))
    for name in ("train.jsonl", "heldout.jsonl"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    manifests = [json.loads((d / "manifest.json").read_text()) for d in (a, b)]
    for m in manifests:
        m["config"].pop("out")
    assert manifests[0] == manifests[1]
    assert (a / "train.jsonl").read_bytes() != (c / "train.jsonl").read_bytes()


def test_byte_identical_across_processes(tmp_path: Path) -> None:
    """String hashing differs between interpreters; output must not depend on it."""
    for name, hashseed in (("a", "1"), ("b", "2")):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        subprocess.run(["toolfactory", "generate", "--out", str(tmp_path / name), "--train", "400",
                        "--heldout", "100", "-q"], check=True, env=env)
    for split in ("train.jsonl", "heldout.jsonl"):
        assert (tmp_path / "a" / split).read_bytes() == (tmp_path / "b" / split).read_bytes()


def test_shards_union_equals_whole(tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    generate(GenerateConfig(out=whole, train=600, heldout=120, seed=3))
    shards = tmp_path / "shards"
    for i in range(3):
        generate(GenerateConfig(out=shards, train=600, heldout=120, seed=3, shard=(i, 3)))
    for split in ("train", "heldout"):
        joined = b"".join(
            (shards / f"{split}-{i:05d}-of-00003.jsonl").read_bytes() for i in range(3)
        )
        assert joined == (whole / f"{split}.jsonl").read_bytes()


@pytest.mark.parametrize("fmt", ["aws", "qwen", "openai"])
def test_formats(tmp_path: Path, fmt: str) -> None:
    generate(GenerateConfig(out=tmp_path, train=60, heldout=30, fmt=fmt))
    row = next(
        r for r in read(tmp_path / "train.jsonl") if r["extra_info"]["behavior"] == "execute"
    )
    system = row["prompt"][0]["content"]
    assert ("<TOOLCALL>" in system) == (fmt == "aws")
    assert ("<tool_call>" in system) == (fmt != "aws")
    assert ("messages" in row) == (fmt == "openai")
    if fmt == "openai":
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        calls = json.loads(row["reward_model"]["ground_truth"])
        got = [
            {"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
            for c in row["messages"][2]["tool_calls"]
        ]
        assert got == calls
        assert {t["function"]["name"] for t in row["tools"]} == TRAIN_TOOLS


def test_user_specs_with_generic_templates_and_auto_heldout(tmp_path: Path) -> None:
    manifest = generate(
        GenerateConfig(specs=[SPECS], out=tmp_path, train=200, heldout=50, mix=(50, 30, 20))
    )
    assert len(manifest["tools"]["heldout"]) == 1  # ~20% of 5 tools
    rows = read(tmp_path / "train.jsonl") + read(tmp_path / "heldout.jsonl")
    assert Counter(r["extra_info"]["behavior"] for r in rows[:200]) == {
        "execute": 100,
        "clarify": 60,
        "refuse": 40,
    }
    generic = [r for r in rows if r["extra_info"]["template"].startswith("_generic/")]
    assert len(generic) > 100
    for row in generic:
        if row["extra_info"]["behavior"] == "execute":
            for call in json.loads(row["reward_model"]["ground_truth"]):
                assert ungrounded_arguments(call["arguments"], row["prompt"][1]["content"]) == []


def test_many_tools_are_sampled_into_the_prompt(tmp_path: Path) -> None:
    generate(
        GenerateConfig(
            specs=[SPECS],
            heldout_tools=["get_time"],
            out=tmp_path,
            train=50,
            heldout=10,
            max_tools=2,
        )
    )
    for row in read(tmp_path / "train.jsonl"):
        listed = {t["name"] for t in tools_from_system(row["prompt"][0]["content"])}
        assert len(listed) == 2 and set(row["extra_info"]["tools"]) <= listed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"heldout_tools": ["nope"]}, "--heldout-tools: unknown tool 'nope'"),
        (
            {
                "heldout_tools": [
                    "send_email",
                    "create_ticket",
                    "get_time",
                    "book_room",
                    "loan_payment",
                ]
            },
            "every tool is held out",
        ),
        (
            {
                "mix": (0, 100, 0),
                "heldout_tools": ["send_email"],
                "specs": [SPECS / "mcp.json", SPECS / "openai_tools.json"],
                "templates": [],
            },
            None,
        ),
    ],
)
def test_bad_options(tmp_path: Path, kwargs: dict[str, Any], message: str | None) -> None:
    kwargs = {"specs": [SPECS], **kwargs}
    cfg = GenerateConfig(out=tmp_path / "out", train=30, heldout=10, **kwargs)
    if message is None:  # a clarify-only mix works when every split has a required argument
        generate(cfg)
        return
    with pytest.raises(ConfigError, match=message):
        generate(cfg)
    assert not (tmp_path / "out").exists()


def test_clarify_needs_a_required_argument(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            [
                {
                    "name": "ping",
                    "description": "Ping the server.",
                    "parameters": {"type": "object"},
                },
                {
                    "name": "echo",
                    "description": "Echo text.",
                    "parameters": {
                        "type": "object",
                        "properties": {"text": {"type": "string"}},
                        "required": ["text"],
                    },
                },
            ]
        )
    )
    with pytest.raises(ConfigError, match="no heldout tool has one"):
        generate(GenerateConfig(specs=[spec], heldout_tools=["ping"], out=tmp_path / "o"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "Weather in {{ citty }}",
            "get_weather_forecast/formal.jinja:1: unknown slot 'citty' "
            "(tool 'get_weather_forecast'; slots: city, days, units)",
        ),
        ("Weather in {{ city ", "get_weather_forecast/formal.jinja:1: unexpected end of template"),
    ],
)
def test_bad_template_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "tpl" / "get_weather_forecast").mkdir(parents=True)
    (tmp_path / "tpl" / "get_weather_forecast" / "formal.jinja").write_text(line + "\n")
    out = tmp_path / "out"
    with pytest.raises(TemplateError, match=message.replace("(", r"\(").replace(")", r"\)")):
        generate(GenerateConfig(out=out, templates=[tmp_path / "tpl"]))
    assert not out.exists() or not list(out.iterdir())


def test_error_mid_run_leaves_no_partial_files(tmp_path: Path) -> None:
    """A tool with a single fixed phrasing cannot fill 200 distinct rows: clean failure."""
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            [
                {
                    "name": n,
                    "description": "x",
                    "parameters": {
                        "type": "object",
                        "properties": {"flag": {"type": "boolean"}},
                        "required": ["flag"],
                    },
                }
                for n in ("a_tool", "b_tool")
            ]
        )
    )
    tpl = tmp_path / "tpl"
    for name in ("a_tool", "b_tool"):
        (tpl / name).mkdir(parents=True)
        for reg in REGISTERS:
            (tpl / name / f"{reg}.jinja").write_text("do {{ flag }}\nplease\n")
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="cannot build a distinct"):
        generate(
            GenerateConfig(
                specs=[spec],
                templates=[tpl],
                heldout_tools=["b_tool"],
                out=out,
                train=500,
                heldout=10,
                mix=(100, 0, 0),
            )
        )
    assert list(out.iterdir()) == []
