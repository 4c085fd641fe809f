"""train/train.py end to end on CPU: a tiny random Qwen2, a few GRPO steps, the report."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.tinymodel import build_tiny_qwen

ROOT = Path(__file__).resolve().parent.parent


def _train_module():
    spec = importlib.util.spec_from_file_location("train_script", ROOT / "train" / "train.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_script"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from factory.generate import GenerateConfig, generate

    out = tmp_path_factory.mktemp("data")
    generate(GenerateConfig(out=out, train=20, heldout=10, seed=0))
    return out


def test_grpo_run_writes_report_with_every_stage(dataset: Path, tmp_path: Path) -> None:
    train = _train_module()
    model = build_tiny_qwen(tmp_path / "tiny")
    cfg = train.load_config(
        None,
        {
            "model": str(model),
            "data": str(dataset),
            "out": str(tmp_path / "run"),
            "num_generations": 2,
            "prompts_per_step": 2,
            "max_steps": 2,
            "max_completion_length": 8,
            "eval_max_new_tokens": 8,
            "eval_rows": 6,
            "prepass_rows": 2,
            "prepass_generations": 2,
            "sft": True,
            "sft_rows": 4,
            "sft_batch_size": 4,
            "filter_zero_variance": True,
            "bf16": True,  # bf16 autocast on a CPU, as the SmolLM2 CPU config runs
        },
    )
    train.run(cfg)

    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert list(report["eval"]) == ["base", "sft", "grpo"]
    for stage in report["eval"].values():
        for mode in ("strict", "aws"):
            assert stage[mode]["n"] == 6
            assert 0.0 <= stage[mode]["reward"] <= 1.0
            assert {"confusion", "rouge1", "bleu", "exact_match"} <= set(stage[mode])
    assert report["grpo"]["steps"] == 2
    steps = [e for e in report["grpo"]["log"] if "reward" in e]
    assert len(steps) == 2 and all("frac_reward_zero_std" in e for e in steps)
    assert report["prepass_base"]["rows"] == 2
    assert len(report["manifest_sha256"]) == 64
    assert report["config"]["seed"] == 0
    markdown = (tmp_path / "run" / "report.md").read_text()
    assert "| held-out | base | sft | grpo | never call |" in markdown
    assert (tmp_path / "run" / "reward_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_unknown_config_key_is_named(tmp_path: Path) -> None:
    train = _train_module()
    config = tmp_path / "bad.yaml"
    config.write_text("model: x\nlearning_rte: 1e-5\n")
    with pytest.raises(SystemExit, match="bad.yaml: unknown option\\(s\\) learning_rte"):
        train.load_config(config, {})


def test_broken_row_names_file_and_line(tmp_path: Path) -> None:
    train = _train_module()
    path = tmp_path / "train.jsonl"
    path.write_text('{"prompt": [], "reward_model": {"ground_truth": "x"}, "extra_info": {}}\n')
    with pytest.raises(SystemExit, match="train.jsonl:1: not a toolfactory row"):
        train.read_rows(path)


def test_compact_prompt_keeps_every_tool_fact_in_half_the_text(dataset: Path) -> None:
    from factory.formats import tools_from_system

    train = _train_module()
    row = json.loads((dataset / "train.jsonl").read_text().splitlines()[0])
    full = row["prompt"][0]["content"]
    compact = train.compact_prompt(row["prompt"])
    text = compact[0]["content"]
    assert compact[1:] == row["prompt"][1:] and len(text) < 0.6 * len(full)
    assert "<TOOLCALL>" in text and "politely refuse" in text  # the instructions stay
    for tool in tools_from_system(full):
        line = next(x for x in text.splitlines() if x.startswith(tool["name"] + "("))
        assert tool["description"] in line
        params = tool["parameters"]
        for name, schema in params["properties"].items():
            optional = "" if name in params.get("required", []) else "?"
            assert f"{name}{optional}: " in line
            if "default" in schema:
                assert f"= {json.dumps(schema['default'])}" in line
            for value in schema.get("enum", []):
                assert json.dumps(value) in line
    assert "search_flights(origin: string (IATA code" in text


def test_compact_prompt_rewards_read_the_full_schemas(dataset: Path) -> None:
    from factory.reward import trl_reward

    train = _train_module()
    rows = [json.loads(x) for x in (dataset / "train.jsonl").read_text().splitlines()]
    row = next(
        r
        for r in rows
        if r["extra_info"]["behavior"] == "execute"
        and json.loads(r["reward_model"]["ground_truth"])[0]["name"] == "get_weather_forecast"
    )
    call = json.loads(row["reward_model"]["ground_truth"])[0]
    # Spelling out a schema default equals leaving it out only when the schemas are known.
    padded = {**call, "arguments": {"days": 3, "units": "celsius", **call["arguments"]}}
    completions = ["<TOOLCALL>" + json.dumps([padded]) + "</TOOLCALL>"]
    columns = {"reward_model": [row["reward_model"]], "extra_info": [row["extra_info"]]}
    full = trl_reward([row["prompt"]], completions, **columns)
    compact = [train.compact_prompt(row["prompt"])]
    assert trl_reward(compact, completions, **columns) != full  # schemas lost in the text
    assert (
        train.schema_reward(compact, completions, schema_prompt=[row["prompt"]], **columns) == full
    )
