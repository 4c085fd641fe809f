"""`toolfactory eval`: held-out rows answered by a real llama.cpp server or a local model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from server import llama_server_fixture  # noqa: F401

from factory.evaluate import load_rows


def toolfactory(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "factory", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def heldout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A held-out split of exactly 20 rows (plus a small train split)."""
    out = tmp_path_factory.mktemp("eval-data")
    run = toolfactory("generate", "--out", out, "--train", "5", "--heldout", "20", "-q", cwd=out)
    assert run.returncode == 0, run.stderr
    return out / "heldout.jsonl"


@pytest.mark.server
def test_eval_20_heldout_rows_on_llama_cpp(llama_server, heldout, tmp_path):
    predictions, cache = tmp_path / "predictions.jsonl", tmp_path / "cache"
    endpoint = ["--base-url", llama_server.base_url, "--model", "smollm2", "--max-tokens", "32"]
    before = llama_server.chat_requests()
    run = toolfactory("eval", "--data", heldout, *endpoint, "--limit", "20", "--out", predictions,
                      "--cache", cache, "--concurrency", "4", "--json", cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert llama_server.chat_requests() - before == 20
    report = json.loads(run.stdout)
    assert report["n"] == 20 and report["model"] == "smollm2"
    assert sum(v["n"] for v in report["per_behavior"].values()) == 20
    assert sum(sum(row.values()) for row in report["confusion"].values()) == 20
    for key in ("reward", "exact_match", "token_f1", "rouge1", "rouge2", "rougeL", "bleu"):
        assert isinstance(report[key], float)
    assert report["endpoint"]["answered"] == 20

    lines = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert [p["id"] for p in lines] == [r["extra_info"]["id"] for r in load_rows(heldout)]
    assert all(isinstance(p["completion"], str) for p in lines)
    assert any(p["completion"].strip() for p in lines)

    # `toolfactory score` reads the predictions back and agrees with eval.
    scored = toolfactory("score", predictions, "--data", heldout, "--json", cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["reward"] == pytest.approx(report["reward"])

    # With the same cache a second run sends nothing and prints the tables.
    during = llama_server.chat_requests()
    again = toolfactory("eval", "--data", heldout, *endpoint, "--cache", cache, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert llama_server.chat_requests() == during
    assert "Tool-call reward" in again.stdout and "Wanted" in again.stdout


def test_eval_with_a_local_transformers_model(heldout, tmp_path):
    pytest.importorskip("transformers")
    from tinymodel import build_tiny_qwen

    model = build_tiny_qwen(tmp_path / "tiny")
    predictions = tmp_path / "predictions.jsonl"
    run = toolfactory("eval", "--data", heldout, "--hf-model", model, "--limit", "4",
                      "--max-tokens", "4", "--batch-size", "2", "--out", predictions, "--json",
                      cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["n"] == 4 and report["model"] == str(model)
    assert len(predictions.read_text().splitlines()) == 4


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "Error: eval needs --base-url URL and --model NAME"),
        (["--base-url", "http://127.0.0.1:9/v1"], "Error: eval needs --base-url URL and --model"),
        (["--base-url", "127.0.0.1:9", "--model", "m"], "Error: --base-url '127.0.0.1:9'"),
        (["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--hf-model", "x"],
         "Error: give either --base-url and --model, or --hf-model (not both)"),
        (["--hf-model", "x", "--data", "{bad}"], "Error: {bad}:2: not valid JSON"),
        (["--hf-model", "x", "--data", "{missing}"], "Error: {missing}: cannot read"),
    ],
)  # fmt: skip
def test_eval_errors_are_one_line(heldout, tmp_path, args, expected):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(heldout.read_text().splitlines()[0] + "\n{not json\n")
    missing = tmp_path / "missing.jsonl"
    names = {"bad": bad, "missing": missing}
    args = [a.format(**names) for a in args]
    if "--data" not in args:
        args += ["--data", str(heldout)]
    out = tmp_path / "predictions.jsonl"
    run = toolfactory("eval", *args, "--out", out, cwd=tmp_path)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [run.stderr.strip()]
    assert run.stderr.startswith(expected.format(**names)), run.stderr
    assert not out.exists()
