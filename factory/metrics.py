"""Evaluation metrics over many completions: tool-call reward, behavior confusion, text overlap.

Input: dataset rows (the JSONL contract of :mod:`factory.formats`) and one completion per row.
Output: a JSON-able report with the mean reward overall, per behavior and per tool, the behavior
confusion matrix (what the row wanted × what the model did: call / ask / refuse), and the text
metrics of the reference evaluation: exact match and token F1 on normalized text, ROUGE-1/2/L
(``rouge-score``, F-measure) and corpus BLEU (``sacrebleu``, 0-100).

Text metrics compare answers, not wrappers: a completion that makes calls is compared as the
canonical JSON of its calls with the canonical JSON of the true calls, so ``<TOOLCALL>[...]``
and ``<tool_call>{...}`` answers read the same; other completions are compared as text.

>>> rows = [{"reward_model": {"ground_truth": "I can't help with that."},
...          "extra_info": {"id": "h-1", "behavior": "refuse", "tools": []}}]
>>> evaluate(rows, ["Sorry, I can't help with that."])["confusion"]["refuse"]
{'call': 0, 'ask': 0, 'refuse': 1}
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError, DatasetError, PredictionError
from .reward import classify, infer_behavior, parse_calls, prompt_tools, score

BEHAVIORS = ("execute", "clarify", "refuse")
DID = ("call", "ask", "refuse")
_EXPECTED = {"execute": "call", "clarify": "ask", "refuse": "refuse"}
_ARTICLES_RE = re.compile(r"\b(?:a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def answer_text(text: str) -> str:
    """The comparable answer of a completion or ground truth: canonical call JSON, else text."""
    calls = parse_calls(text)
    if calls:
        return json.dumps(calls, sort_keys=True, ensure_ascii=False)
    return text.strip()


def normalize(text: str) -> str:
    """Lowercase, drop punctuation and articles, squeeze whitespace (SQuAD-style)."""
    text = _ARTICLES_RE.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(text.split())


def token_f1(prediction: str, reference: str) -> float:
    """F1 of the normalized tokens of two texts (1.0 when both are empty)."""
    pred, ref = normalize(prediction).split(), normalize(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _row_fields(row: Mapping[str, Any]) -> tuple[str, str, list[str], list[str], str]:
    """Truth, behavior, missing arguments, tools and id of a row (lenient to foreign rows)."""
    reward_model = row.get("reward_model")
    truth = reward_model.get("ground_truth") if isinstance(reward_model, Mapping) else None
    truth = truth if isinstance(truth, str) else ""
    extra = row.get("extra_info")
    extra = extra if isinstance(extra, Mapping) else {}
    missing = [m for m in extra.get("missing") or [] if isinstance(m, str)]
    behavior = extra.get("behavior")
    if behavior not in BEHAVIORS:
        behavior = infer_behavior(truth, missing)
    tools = [t for t in extra.get("tools") or [] if isinstance(t, str)]
    return truth, str(behavior), missing, tools, str(extra.get("id", ""))


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def evaluate(
    rows: Sequence[Mapping[str, Any]], completions: Sequence[str], *, mode: str = "strict"
) -> dict[str, Any]:
    """The evaluation report of ``completions`` (one per row, same order) against ``rows``."""
    from rouge_score import rouge_scorer
    from sacrebleu import corpus_bleu

    if len(rows) != len(completions):
        raise PredictionError(f"{len(rows)} rows but {len(completions)} completions")
    if mode not in ("strict", "aws"):
        raise ConfigError(f"unknown reward mode {mode!r} (expected strict or aws)")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    by_behavior: dict[str, list[float]] = defaultdict(list)
    by_tool: dict[str, list[float]] = defaultdict(list)
    confusion = {wanted: dict.fromkeys(DID, 0) for wanted in BEHAVIORS}
    rewards: list[float] = []
    em: list[float] = []
    f1: list[float] = []
    details: list[dict[str, Any]] = []
    rouge: dict[str, list[float]] = {"rouge1": [], "rouge2": [], "rougeL": []}
    hypotheses, references = [], []
    for row, completion in zip(rows, completions, strict=True):
        truth, behavior, missing, tools, row_id = _row_fields(row)
        text = completion if isinstance(completion, str) else ""
        reward = score(
            text,
            truth,
            behavior=behavior,
            missing=missing,
            tools=prompt_tools(row.get("prompt")),
            mode=mode,
        )
        did = classify(text)
        rewards.append(reward)
        by_behavior[behavior].append(reward)
        for tool in tools or ["(none)"]:
            by_tool[tool].append(reward)
        confusion[behavior][did] += 1
        hypothesis, reference = answer_text(text), answer_text(truth)
        em.append(float(normalize(hypothesis) == normalize(reference)))
        f1.append(token_f1(hypothesis, reference))
        for key, value in scorer.score(reference, hypothesis).items():
            rouge[key].append(value.fmeasure)
        hypotheses.append(hypothesis)
        references.append(reference)
        details.append({"id": row_id, "behavior": behavior, "did": did, "reward": reward})
    n = len(rewards)
    return {
        "n": n,
        "mode": mode,
        "reward": _mean(rewards),
        "decision_accuracy": _mean([float(_EXPECTED[d["behavior"]] == d["did"]) for d in details]),
        "per_behavior": {b: {"n": len(v), "reward": _mean(v)} for b, v in by_behavior.items() if v},
        "per_tool": {t: {"n": len(v), "reward": _mean(v)} for t, v in sorted(by_tool.items())},
        "confusion": confusion,
        "exact_match": _mean(em),
        "token_f1": _mean(f1),
        **{key: _mean(values) for key, values in rouge.items()},
        "bleu": corpus_bleu(hypotheses, [references]).score if n else 0.0,
        "rows": details,
    }


# --- files -----------------------------------------------------------------------------------


def _read_jsonl(path: Path, error: type[DatasetError] | type[PredictionError]) -> list[Any]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"{path}: cannot read ({err})") from err
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except ValueError as err:
            raise error(f"{path}:{number}: not valid JSON ({err})") from err
    return out


def load_pairs(predictions: Path, data: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Dataset rows and their completions, joined on ``extra_info.id``.

    Predictions are JSONL lines ``{"id": ..., "completion": "..."}``. Every dataset row needs
    exactly one prediction and every prediction a row; otherwise this raises with the file name.
    """
    rows: dict[str, dict[str, Any]] = {}
    for number, row in _read_jsonl(data, DatasetError):
        extra = row.get("extra_info") if isinstance(row, dict) else None
        row_id = extra.get("id") if isinstance(extra, dict) else None
        if not isinstance(row_id, str) or not isinstance(row.get("reward_model"), dict):
            raise DatasetError(
                f"{data}:{number}: not a dataset row (needs reward_model and extra_info.id)"
            )
        if row_id in rows:
            raise DatasetError(f"{data}:{number}: duplicate id {row_id!r}")
        rows[row_id] = row
    completions: dict[str, str] = {}
    unknown = []
    for number, pred in _read_jsonl(predictions, PredictionError):
        if not isinstance(pred, dict) or not isinstance(pred.get("completion"), str):
            raise PredictionError(
                f'{predictions}:{number}: expected {{"id": ..., "completion": "..."}}'
            )
        pred_id = str(pred.get("id"))
        if pred_id in completions:
            raise PredictionError(f"{predictions}:{number}: duplicate id {pred_id!r}")
        if pred_id not in rows:
            unknown.append(pred_id)
        completions[pred_id] = pred["completion"]
    if unknown:
        raise PredictionError(
            f"{predictions}: {len(unknown)} id(s) not in {data}: {_sample(unknown)}"
        )
    missing = [row_id for row_id in rows if row_id not in completions]
    if missing:
        raise PredictionError(
            f"{predictions}: no prediction for {len(missing)} of {len(rows)} rows of {data}: "
            f"{_sample(missing)}"
        )
    return list(rows.values()), [completions[row_id] for row_id in rows]


def _sample(ids: list[str], k: int = 3) -> str:
    return ", ".join(ids[:k]) + (", ..." if len(ids) > k else "")


def score_file(predictions: Path, data: Path, *, mode: str = "strict") -> dict[str, Any]:
    """``toolfactory score``: the evaluation report of a predictions file against its dataset."""
    if mode not in ("strict", "aws"):
        raise ConfigError(f"--mode must be strict or aws, not {mode!r}")
    rows, completions = load_pairs(predictions, data)
    return evaluate(rows, completions, mode=mode)


# --- presentation ----------------------------------------------------------------------------

_TEXT_METRICS = (
    ("exact_match", "Exact match", True),
    ("token_f1", "Token F1", True),
    ("rouge1", "ROUGE-1", True),
    ("rouge2", "ROUGE-2", True),
    ("rougeL", "ROUGE-L", True),
    ("bleu", "BLEU", False),
)


def _tables(report: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report as (title, header, rows) tables, shared by the terminal and Markdown views."""
    summary = [
        ["Tool-call reward", f"{report['reward']:.3f}"],
        ["Decision accuracy", f"{report['decision_accuracy']:.1%}"],
    ]
    for key, label, percent in _TEXT_METRICS:
        value = report[key]
        summary.append([label, f"{value:.1%}" if percent else f"{value:.2f}"])
    behaviors = [[b, str(v["n"]), f"{v['reward']:.3f}"] for b, v in report["per_behavior"].items()]
    tools = [[t, str(v["n"]), f"{v['reward']:.3f}"] for t, v in report["per_tool"].items()]
    confusion = [
        [wanted, *(str(report["confusion"][wanted][did]) for did in DID)] for wanted in BEHAVIORS
    ]
    return [
        (f"{report['n']} rows, {report['mode']} reward", ["Metric", "Value"], summary),
        ("Per behavior", ["Behavior", "Rows", "Reward"], behaviors),
        ("Per tool", ["Tool", "Rows", "Reward"], tools),
        ("Wanted × did", ["Wanted", *DID], confusion),
    ]


def render_report(report: Mapping[str, Any]) -> Any:
    """The report as rich tables (a ``rich.console.Group``) for the terminal."""
    from rich.console import Group
    from rich.table import Table

    tables = []
    for title, header, body in _tables(report):
        table = Table(title=title, title_justify="left")
        for i, column in enumerate(header):
            table.add_column(column, justify="left" if i == 0 else "right")
        for line in body:
            table.add_row(*line)
        tables.append(table)
    return Group(*tables)


def report_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown tables (for READMEs and training reports)."""
    parts = []
    for title, header, body in _tables(report):
        lines = [f"**{title}**", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
        lines.extend("| " + " | ".join(line) + " |" for line in body)
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"
