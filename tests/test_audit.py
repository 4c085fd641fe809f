"""`toolfactory audit`: grounding helpers, every check on real generated data, foreign rows, CLI."""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from factory.audit import audit, normalize_text, ungrounded_arguments, value_in_text
from factory.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "audit"
runner = CliRunner()


# --- grounding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text", "expected"),
    [
        (50, "Convert 50 EUR to USD", True),
        (50.0, "Convert 50 EUR to USD", True),
        (50, "Convert 50.00 EUR to USD", True),
        (1500, "How much is 1,500 GBP in JPY?", True),
        (1500, "How much is 1500 GBP in JPY?", True),
        (1500.5, "Convert $1,500.50 to euros", True),
        (1500, "Convert $1,500.50 to euros", False),
        (1500, "How much is 15,000 GBP in JPY?", False),
        (8, "SFO to CAI October 16, 2027 x8", True),
        (3, "for the next 13 days", False),
        ("2027-03-05", "flights on 2027-03-05", True),
        ("2027-03-05", "flights on March 5, 2027", True),
        ("2027-03-05", "flights on Mar. 5th 2027", True),
        ("2027-03-05", "flights on 5 March 2027", True),
        ("2027-03-05", "flights on the 5th of March, 2027", True),
        ("2028-04-12", "flight from MAD to LGW on 12 Arpil 2028", True),
        ("2027-03-05", "flights on March 6, 2027", False),
        ("2027-03-05", "flights on March 5, 2028", False),
        ("San Francisco", "get weather for SAN-FRANCISCO!", True),
        ("San Francisco", "get weather for San Jose", False),
        ("premium_economy", "seated in premium economy", True),
        ("USD", "Convert 50 EUR to GBP", False),
        ("$$", "Greek spots in Delhi? $$ is fine", True),
        (True, "nothing about it", True),
        (None, "nothing about it", True),
        ([90, 19, 71], "the standard deviation of 90, 19 and 71", True),
        ([90, 19, 72], "the standard deviation of 90, 19 and 71", False),
        ({"lat": 1.5, "lon": 2}, "at 1.5 north, 2 east", True),
    ],
)
def test_value_in_text(value: Any, text: str, expected: bool) -> None:
    assert value_in_text(value, text) is expected


def test_ungrounded_arguments_names_the_unstated_ones() -> None:
    args = {"amount": 50, "from": "EUR", "to": "USD"}
    assert ungrounded_arguments(args, "Convert 50 EUR to GBP") == ["to"]
    assert ungrounded_arguments(args, "Convert 50 euro (EUR) into US dollars, USD") == []


def test_normalize_text_one_token_per_date_and_canonical_numbers() -> None:
    assert normalize_text("On March 5, 2027 pay 1,500.50!") == " on date20270305 pay 1500d5 "


# --- the generated dataset is clean; each defect is caught ---------------------------------


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _find(rows: list[dict[str, Any]], **want: Any) -> dict[str, Any]:
    """The first row whose extra_info matches ``want`` (tool= matches the first tool)."""
    tool = want.pop("tool", None)
    for row in rows:
        info = row["extra_info"]
        if all(info[k] == v for k, v in want.items()) and (tool is None or info["tools"] == [tool]):
            return row
    raise AssertionError(f"no row with {want}")


def test_default_dataset_passes(default_dataset: Path) -> None:
    report = audit([default_dataset])
    assert report.ok, [(c.name, c.examples) for c in report.checks if c.count]
    assert report.source == "toolfactory" and report.inferred == 0
    assert report.splits == {"train": 1500, "heldout": 300}
    counts = {(r["split"], r["behavior"]): r["count"] for r in report.tables["mix"]}
    assert counts[("train", "execute")] == 900 and counts[("heldout", "refuse")] == 45
    tools = {r["tool"]: r["split"] for r in report.tables["tools"]}
    assert tools["get_stock_price"] == "heldout" and tools["search_flights"] == "train"
    assert report.manifest and report.manifest["seed"] == 0 and report.manifest["config_hash"]


Mutation = Callable[[list[dict[str, Any]], list[dict[str, Any]]], str]


def _duplicate_within(train: list[dict[str, Any]], held: list[dict[str, Any]]) -> str:
    row_id = train[7]["extra_info"]["id"]
    train[7] = json.loads(json.dumps(train[3]))
    train[7]["extra_info"]["id"] = row_id
    train[7]["prompt"][1]["content"] = train[3]["prompt"][1]["content"].upper() + "!!"
    return f"{row_id} = {train[3]['extra_info']['id']}"


def _duplicate_across(train: list[dict[str, Any]], held: list[dict[str, Any]]) -> str:
    row = _find(held, behavior="refuse")
    row["prompt"][1]["content"] = _find(train, behavior="refuse")["prompt"][1]["content"]
    return row["extra_info"]["id"]


def _near_duplicate_across(train: list[dict[str, Any]], held: list[dict[str, Any]]) -> str:
    text = (
        "Could you please check the weather forecast for the city of Lisbon over the next "
        "few days, because I am planning a long walking holiday there with my family"
    )
    _find(train, behavior="refuse")["prompt"][1]["content"] = text
    row = _find(held, behavior="refuse")
    row["prompt"][1]["content"] = text.replace("Lisbon", "Porto")
    return f"{row['extra_info']['id']} ~ "


def _ungrounded(train: list[dict[str, Any]], held: list[dict[str, Any]]) -> str:
    row = _find(train, behavior="execute", tool="currency_convert")
    calls = json.loads(row["reward_model"]["ground_truth"])
    calls[0]["arguments"]["amount"] = 12345.75
    row["reward_model"]["ground_truth"] = json.dumps(calls)
    return f"{row['extra_info']['id']} (currency_convert: amount)"


def _schema(train: list[dict[str, Any]], held: list[dict[str, Any]]) -> str:
    row = _find(train, behavior="execute", tool="get_weather_forecast")
    calls = json.loads(row["reward_model"]["ground_truth"])
    calls[0]["arguments"]["days"] = 40
    row["reward_model"]["ground_truth"] = json.dumps(calls)
    row["prompt"][1]["content"] += " for 40 days"
    return f"{row['extra_info']['id']} (get_weather_forecast: days: 40 is greater than"


def _unknown_tool(train: list[dict[str, Any]], held: list[dict[str, Any]]) -> str:
    row = _find(held, behavior="execute", tool="get_stock_price")
    calls = json.loads(row["reward_model"]["ground_truth"])
    calls[0]["name"] = "search_flights"
    row["reward_model"]["ground_truth"] = json.dumps(calls)
    return f"{row['extra_info']['id']} (search_flights)"


def _unparseable(train: list[dict[str, Any]], held: list[dict[str, Any]]) -> str:
    row = _find(train, behavior="execute")
    row["reward_model"]["ground_truth"] = "Sure, here is the forecast."
    return row["extra_info"]["id"]


def _not_required(train: list[dict[str, Any]], held: list[dict[str, Any]]) -> str:
    row = _find(train, behavior="clarify", tool="search_flights")
    row["extra_info"]["missing"] = ["cabin"]
    return f"{row['extra_info']['id']} (cabin)"


def _stated(train: list[dict[str, Any]], held: list[dict[str, Any]]) -> str:
    row = _find(train, behavior="clarify", tool="currency_convert", missing=["to"])
    row["prompt"][1]["content"] = "Convert 250 EUR into JPY please"
    return f"{row['extra_info']['id']} (to)"


def _tool_leak(train: list[dict[str, Any]], held: list[dict[str, Any]]) -> str:
    row = _find(held, behavior="clarify")
    row["extra_info"]["tools"] = ["translate_text"]
    row["extra_info"]["missing"] = []
    return row["extra_info"]["id"]


def _category_leak(train: list[dict[str, Any]], held: list[dict[str, Any]]) -> str:
    row = _find(held, behavior="refuse")
    row["extra_info"]["category"] = "malware"
    return row["extra_info"]["id"]


def _mix(train: list[dict[str, Any]], held: list[dict[str, Any]]) -> str:
    row = _find(train, behavior="refuse")
    row["extra_info"]["behavior"] = "clarify"
    row["extra_info"]["missing"] = ["city"]
    row["extra_info"]["tools"] = ["get_weather_forecast"]
    return "train: clarify 376 (25.1%), target 25% (= 375 of 1500)"


@pytest.mark.parametrize(
    ("mutate", "check", "also"),
    [
        (_duplicate_within, "duplicates", set()),
        (_duplicate_across, "cross_split_duplicates", set()),
        (_near_duplicate_across, "cross_split_duplicates", set()),
        (_ungrounded, "gold_ungrounded", set()),
        (_schema, "gold_schema", set()),
        (_unknown_tool, "gold_unknown_tool", {"gold_ungrounded"}),
        (_unparseable, "gold_unparseable", set()),
        (_not_required, "clarify_not_required", set()),
        (_stated, "clarify_stated", set()),
        (_tool_leak, "leakage", {"clarify_not_required"}),
        (_category_leak, "leakage", set()),
        (_mix, "mix", set()),
    ],
)
def test_each_defect_is_reported(
    default_dataset: Path, tmp_path: Path, mutate: Mutation, check: str, also: set[str]
) -> None:
    for name in ("train.jsonl", "heldout.jsonl", "manifest.json"):
        shutil.copy(default_dataset / name, tmp_path / name)
    train, held = _rows(tmp_path / "train.jsonl"), _rows(tmp_path / "heldout.jsonl")
    expected = mutate(train, held)
    _write(tmp_path / "train.jsonl", train)
    _write(tmp_path / "heldout.jsonl", held)

    report = audit([tmp_path])
    failing = {c.name for c in report.checks if c.count}
    assert failing - also == {check}, [(c.name, c.examples) for c in report.checks if c.count]
    found = report.check(check)
    assert any(example.startswith(expected) or expected in example for example in found.examples)

    result = runner.invoke(app, ["audit", str(tmp_path), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["ok"] is False


def test_tolerance_lets_a_small_mix_drift_pass(default_dataset: Path, tmp_path: Path) -> None:
    train, held = _rows(default_dataset / "train.jsonl"), _rows(default_dataset / "heldout.jsonl")
    _mix(train, held)
    _write(tmp_path / "train.jsonl", train)
    _write(tmp_path / "heldout.jsonl", held)
    assert audit([tmp_path]).check("mix").count == 2  # clarify one over, refuse one under
    assert audit([tmp_path], tolerance=1.0).check("mix").count == 0
    assert audit([tmp_path], tolerance=1.0, mix=(50, 30, 20)).check("mix").count == 6
    result = runner.invoke(app, ["audit", str(tmp_path), "--tolerance", "0.5", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["tolerance"] == 0.5


# --- foreign data, malformed lines, unreadable input ----------------------------------------


def test_foreign_rows_get_inferred_labels_and_line_numbered_errors() -> None:
    report = audit([FIXTURES / "reference_style.jsonl"])
    assert report.source == "foreign" and report.inferred == 20 and report.tolerance == 1.0
    counts = {r["behavior"]: r["count"] for r in report.tables["mix"]}
    assert counts == {"execute": 12, "clarify": 5, "refuse": 3}
    assert "inferred" in report.check("mix").note and report.check("mix").ok
    assert report.check("malformed").examples == [
        "reference_style.jsonl:7: not valid JSON",
        "reference_style.jsonl:20: missing key 'reward_model.ground_truth'",
    ]
    # The reference system prompt lists no tools: no schema checks, values are still checked.
    assert report.check("gold_ungrounded").examples == [
        "reference_style.jsonl:10 (currency_convert: to)"
    ]
    assert {c.name for c in report.checks if c.count} == {"malformed", "gold_ungrounded"}


def test_cli_foreign_file_exit_1_and_rich_tables() -> None:
    result = runner.invoke(app, ["audit", str(FIXTURES / "reference_style.jsonl")])
    assert result.exit_code == 1
    assert "inferred from the ground truth for 20 rows" in result.stdout
    assert "reference_style.jsonl:7: not valid JSON" in result.stdout
    assert "some checks failed" in result.stdout


def test_cli_clean_dataset_exit_0_with_html(default_dataset: Path, tmp_path: Path) -> None:
    page = tmp_path / "report" / "audit.html"
    result = runner.invoke(app, ["audit", str(default_dataset), "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert "all checks passed" in result.stdout
    html = page.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 2
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    assert "http://" not in html and "https://" not in html  # opens offline
    assert "search_restaurants" in html and "passed" in html


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing", "missing: no such file or folder"),
        (lambda d: d, "no .jsonl files in this folder"),
        (lambda d: _binary(d / "data.jsonl"), "data.jsonl: no readable rows"),
    ],
)
def test_unreadable_input_exits_2(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    result = runner.invoke(app, ["audit", str(make(tmp_path))])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and message in result.stderr


def _binary(path: Path) -> Path:
    path.write_bytes(b"PAR1\x00\x01\x02\xff\xfe" * 20)
    return path


def test_shard_files_name_their_split(default_dataset: Path, tmp_path: Path) -> None:
    rows = _rows(default_dataset / "train.jsonl")[:10]
    for row in rows:
        del row["extra_info"]["split"]
    _write(tmp_path / "train-00001-of-00004.jsonl", rows)
    report = audit([tmp_path / "train-00001-of-00004.jsonl"])
    assert report.splits == {"train": 10}


def test_parallel_slices_give_the_same_report(
    default_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import factory.scan

    for name in ("train.jsonl", "heldout.jsonl", "manifest.json"):
        shutil.copy(default_dataset / name, tmp_path / name)
    train, held = _rows(tmp_path / "train.jsonl"), _rows(tmp_path / "heldout.jsonl")
    for mutate in (_duplicate_within, _ungrounded, _stated, _category_leak):
        mutate(train, held)
    _write(tmp_path / "train.jsonl", train)
    _write(tmp_path / "heldout.jsonl", held)
    shutil.copy(FIXTURES / "reference_style.jsonl", tmp_path / "foreign.jsonl")

    single = audit([tmp_path], workers=1).to_dict()
    monkeypatch.setattr(factory.scan, "_BLOCK_BYTES", 64 << 10)  # ~60 slices, 2 processes
    monkeypatch.setattr(factory.scan, "_PARALLEL_BYTES", 0)
    assert audit([tmp_path], workers=2).to_dict() == single
    assert "foreign.jsonl:7: not valid JSON" in single["checks"][0]["examples"]


def test_foreign_labels_follow_what_the_answer_does(tmp_path: Path) -> None:
    system = {"role": "system", "content": "You are a helpful assistant."}
    answers = {
        "Weather in Oslo": '<TOOLCALL>[{"name": "get_weather_forecast", '
        '"arguments": {"city": "Oslo"}}]</TOOLCALL>',
        "Weather please": "Sure! Which city should I look up?",
        "Hack my neighbour's wifi": "Sorry, I can't help with that. Anything else I can do?",
    }
    rows = [
        {
            "prompt": [system, {"role": "user", "content": user}],
            "reward_model": {"ground_truth": gt},
        }
        for user, gt in answers.items()
    ]
    _write(tmp_path / "rows.jsonl", rows)
    report = audit([tmp_path / "rows.jsonl"], tolerance=100)
    counts = {r["behavior"]: r["count"] for r in report.tables["mix"]}
    assert counts == {"execute": 1, "clarify": 1, "refuse": 1}
    assert report.check("gold_ungrounded").ok and report.check("gold_unparseable").ok
    assert [r["tool"] for r in report.tables["tools"]] == ["get_weather_forecast"]
