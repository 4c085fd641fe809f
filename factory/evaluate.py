"""Measure a model on a dataset: send each row's prompt, score the answers, write predictions.

Input: a dataset JSONL (usually ``heldout.jsonl``) and a model, either behind an
OpenAI-compatible endpoint (:mod:`factory.endpoint`: concurrency, retries, optional disk cache)
or a local transformers folder (:mod:`factory.hf`, batched). Decoding is greedy (temperature 0).
Output: ``{"id", "completion"}`` JSONL that ``toolfactory score`` reads, and the report of
:func:`factory.metrics.evaluate` (reward per behavior and tool, confusion matrix, EM/F1/ROUGE/BLEU).

Example::

    endpoint = EndpointSettings(base_url="http://127.0.0.1:8080/v1", model="smollm2")
    report = run_eval(Path("outputs/default/heldout.jsonl"), endpoint=endpoint, limit=20,
                      out=Path("predictions.jsonl"))
    report["reward"]  # 0.41
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .endpoint import ChatRequest, EndpointSettings, EndpointStats, run_chat
from .errors import ConfigError, DatasetError, EndpointError


def load_rows(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The first ``limit`` rows of a dataset JSONL, each checked for a prompt and an id."""
    rows: list[dict[str, Any]] = []
    try:
        handle = path.open(encoding="utf-8")
    except OSError as err:
        raise DatasetError(f"{path}: cannot read ({err.strerror})") from err
    with handle:
        for number, line in enumerate(handle, 1):
            if limit is not None and len(rows) >= limit:
                break
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as err:
                raise DatasetError(f"{path}:{number}: not valid JSON ({err})") from err
            prompt = row.get("prompt") if isinstance(row, dict) else None
            info = row.get("extra_info") if isinstance(row, dict) else None
            if not (isinstance(prompt, list) and isinstance(info, dict) and "id" in info):
                raise DatasetError(f"{path}:{number}: not a dataset row (needs prompt and id)")
            rows.append(row)
    if not rows:
        raise DatasetError(f"{path}: no rows")
    return rows


def endpoint_completions(
    rows: list[dict[str, Any]],
    endpoint: EndpointSettings,
    *,
    max_tokens: int = 256,
    stats: EndpointStats | None = None,
    progress: bool = False,
) -> list[str]:
    """Greedy answers from the endpoint, one per row; raises if any row got no answer."""
    from rich.console import Console
    from rich.progress import Progress

    stats = stats or EndpointStats()
    requests = [
        ChatRequest(
            messages=[{"role": m["role"], "content": m["content"]} for m in row["prompt"]],
            temperature=0.0,
            max_tokens=max_tokens,
        )
        for row in rows
    ]
    with Progress(console=Console(stderr=True), transient=True, disable=not progress) as bar:
        task = bar.add_task("eval", total=len(requests))
        results = run_chat(requests, endpoint, stats=stats, on_result=lambda *_: bar.advance(task))
    failed = [
        row["extra_info"]["id"] for row, r in zip(rows, results, strict=True) if r.text is None
    ]
    if failed:
        raise EndpointError(
            f"{endpoint.base_url}: {len(failed)} of {len(rows)} rows got no answer "
            f"(first: {failed[0]}: {stats.first_error})"
        )
    return [r.text or "" for r in results]


def hf_completions(
    rows: list[dict[str, Any]], model_path: Path, *, batch_size: int = 8, max_tokens: int = 256
) -> list[str]:
    """Greedy answers from a local transformers model folder, in batches."""
    from .hf import generate_completions, load_model

    model, tokenizer = load_model(model_path)
    return generate_completions(
        model,
        tokenizer,
        [row["prompt"] for row in rows],
        batch_size=batch_size,
        max_new_tokens=max_tokens,
    )


def write_predictions(path: Path, rows: list[dict[str, Any]], completions: list[str]) -> None:
    """``{"id", "completion"}`` lines, written to a temporary file and renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row, completion in zip(rows, completions, strict=True):
                line = {"id": row["extra_info"]["id"], "completion": completion}
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def run_eval(
    data: Path,
    *,
    endpoint: EndpointSettings | None = None,
    hf_model: Path | None = None,
    limit: int | None = None,
    out: Path | None = None,
    max_tokens: int = 256,
    batch_size: int = 8,
    mode: str = "strict",
    progress: bool = False,
) -> dict[str, Any]:
    """``toolfactory eval``: answer the rows, write predictions to ``out``, return the report."""
    from .metrics import evaluate

    if (endpoint is None) == (hf_model is None):
        raise ConfigError("give either --base-url and --model, or --hf-model (not both)")
    rows = load_rows(data, limit)
    if endpoint is not None:
        stats = EndpointStats()
        completions = endpoint_completions(
            rows, endpoint, max_tokens=max_tokens, stats=stats, progress=progress
        )
    else:
        assert hf_model is not None
        completions = hf_completions(rows, hf_model, batch_size=batch_size, max_tokens=max_tokens)
    report = evaluate(rows, completions, mode=mode)
    report["model"] = endpoint.model if endpoint else str(hf_model)
    if endpoint is not None:
        report["endpoint"] = stats.as_dict()
    if out is not None:
        write_predictions(out, rows, completions)
    return report
