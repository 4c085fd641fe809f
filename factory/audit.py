"""Audit a written dataset: counts against the target mix, leakage, duplicates, gold-call checks.

Input: an output folder (``train.jsonl``, ``heldout.jsonl``, optional ``manifest.json``) or
JSONL files, ours or a foreign dataset in the same row layout (rows with only ``prompt`` and
``reward_model`` get an inferred behavior: a call list is execute, an answer that asks the
user for something is clarify, anything else refuse). Output: an :class:`AuditReport` with
tables and checks; ``ok`` is true when every check passes. One streaming pass (in parallel
slices for big files) parses the rows and runs the per-row checks; polars does the counting,
the duplicate search (normalized text, MinHash with LSH bands across splits) and the prompt
statistics, so a million rows take well under a minute.

    >>> report = audit([Path("outputs/default")])          # doctest: +SKIP
    >>> report.ok, [c.name for c in report.checks if c.count]  # doctest: +SKIP

The pieces live in modules of their own, and this one re-exports their public names:
:mod:`factory.grounding` (is a value stated in the text; imports nothing heavy, so the
paraphraser uses it too), :mod:`factory.checks` (the checks and the per-row rules),
:mod:`factory.scan` (the streaming per-row pass), :mod:`factory.duplicates` (exact and MinHash
near-duplicate prompts) and :mod:`factory.report` (the report and its rich, JSON and HTML
renderings).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checks import _EXAMPLES, BEHAVIORS, Check, infer_behavior, parse_calls
from .duplicates import NEAR_DUPLICATE_JACCARD, _duplicates
from .errors import DatasetError
from .grounding import normalize_text, ungrounded_arguments, value_in_text
from .report import AuditReport, render_report, report_json, write_html
from .scan import _SHARD_RE, _scan

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "BEHAVIORS",
    "DEFAULT_MIX",
    "FOREIGN_TOLERANCE",
    "NEAR_DUPLICATE_JACCARD",
    "AuditReport",
    "Check",
    "audit",
    "dataset_files",
    "infer_behavior",
    "normalize_text",
    "parse_calls",
    "render_report",
    "report_json",
    "ungrounded_arguments",
    "value_in_text",
    "write_html",
]

DEFAULT_MIX = (60.0, 25.0, 15.0)
FOREIGN_TOLERANCE = 1.0  # percentage points allowed off the target mix for foreign data


def dataset_files(paths: Sequence[Path]) -> tuple[list[Path], dict[str, Any] | None]:
    """The JSONL files to audit (train first) and the manifest of a folder, if it has one."""
    files: list[Path] = []
    manifest: dict[str, Any] | None = None
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise DatasetError(f"{path}: no .jsonl files in this folder")
            files += found
            if (path / "manifest.json").is_file():
                try:
                    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
                except ValueError as err:
                    raise DatasetError(f"{path / 'manifest.json'}: not valid JSON ({err})") from err
        elif path.is_file():
            files.append(path)
        else:
            raise DatasetError(f"{path}: no such file or folder")
    order = {"train": 0, "heldout": 1, "test": 2}
    files.sort(key=lambda p: (order.get(_SHARD_RE.sub("", p.stem.lower()), 3), p.name))
    return files, manifest


def audit(
    paths: Sequence[Path],
    *,
    tolerance: float | None = None,
    mix: Sequence[float] | None = None,
    workers: int | None = None,
) -> AuditReport:
    """Audit the datasets at ``paths`` (folders or JSONL files).

    Args:
        tolerance: percentage points a behavior share may be off the target; default exact
            (the largest-remainder counts) for our own rows, 1 point for foreign data.
        mix: target execute/clarify/refuse shares; default the manifest's, else 60/25/15.
        workers: processes that parse big inputs (32 MiB slices); default one per CPU.

    Raises DatasetError when nothing readable is there (a missing path, no parseable row).
    """
    files, manifest = dataset_files(paths)
    scanner = _scan(files, workers)
    n = len(scanner.columns["id"])
    if n == 0:
        first = scanner.checks["malformed"].examples[:1]
        raise DatasetError(f"{files[0]}: no readable rows" + (f" ({first[0]})" if first else ""))
    source = "toolfactory" if scanner.ours == n else "foreign" if scanner.ours == 0 else "mixed"
    if mix is None:
        mix = (manifest or {}).get("config", {}).get("mix") or DEFAULT_MIX
    if tolerance is None:
        tolerance = 0.0 if source == "toolfactory" else FOREIGN_TOLERANCE
    if scanner.inferred:
        scanner.checks[
            "mix"
        ].note = f"behavior labels of {scanner.inferred} rows were inferred from the ground truth"

    import polars as pl

    df = pl.DataFrame(
        scanner.columns,
        schema={
            "id": pl.String,
            "split": pl.String,
            "behavior": pl.String,
            "tools": pl.String,
            "register": pl.String,
            "category": pl.String,
            "user": pl.String,
        },
    )
    scanner.columns.clear()
    # The normalized prompt: duplicate key, and the words of distinct-n and MinHash.
    key = pl.col("user").str.to_lowercase().str.replace_all(r"[\W_]+", " ").str.strip_chars()
    df = df.with_columns(key=key)
    checks = scanner.checks
    tables = _tables(df, [float(m) for m in mix], tolerance, checks["mix"])
    _leakage(df, scanner.listed, checks["leakage"])
    _duplicates(df, checks["duplicates"], checks["cross_split_duplicates"])
    splits = dict(df.group_by("split", maintain_order=True).len().iter_rows())
    return AuditReport(
        paths=[str(p) for p in files],
        rows=n,
        splits=splits,
        source=source,
        inferred=scanner.inferred,
        target_mix=[float(m) for m in mix],
        tolerance=float(tolerance),
        manifest=_manifest_summary(manifest),
        tables=tables,
        checks=list(checks.values()),
    )


def _manifest_summary(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    if manifest is None:
        return None
    keys = ("toolfactory_version", "seed", "config_hash", "date_anchor", "spec_hashes")
    summary = {k: manifest[k] for k in keys if k in manifest}
    config = manifest.get("config") or {}
    summary["format"] = config.get("fmt")
    summary["paraphrased"] = "paraphrase" in manifest
    return summary


def _tool_list() -> pl.Expr:
    import polars as pl

    return pl.col("tools").str.split("\n").alias("tool")


def _tables(
    df: pl.DataFrame, mix: list[float], tolerance: float, check: Check
) -> dict[str, list[dict[str, Any]]]:
    """Counts per split × behavior / tool / register / category, lengths, distinct-n."""
    import polars as pl

    from .plan import apportion

    target = dict(zip(BEHAVIORS, mix, strict=True))
    total = sum(mix)
    mix_rows = []
    per_split: dict[str, dict[str, int]] = {}
    for split, behavior, count in (
        df.group_by("split", "behavior", maintain_order=True).len().iter_rows()
    ):
        per_split.setdefault(split, {})[behavior] = count
    for split, counts in per_split.items():
        n = sum(counts.values())
        expected = dict(zip(BEHAVIORS, apportion(n, mix), strict=True))
        for behavior in BEHAVIORS:
            count = counts.get(behavior, 0)
            share = 100 * count / n
            goal = 100 * target[behavior] / total
            off = count != expected[behavior] if tolerance == 0 else abs(share - goal) > tolerance
            if off:
                check.add(
                    f"{split}: {behavior} {count} ({share:.1f}%), target {goal:g}% "
                    f"(= {expected[behavior]} of {n})"
                )
            mix_rows.append(
                {
                    "split": split,
                    "behavior": behavior,
                    "count": count,
                    "share": round(share, 2),
                    "target": round(goal, 2),
                    "expected": expected[behavior],
                    "ok": not off,
                }
            )
    tools = (
        df.select("split", "behavior", _tool_list())
        .explode("tool")
        .filter(pl.col("tool") != "")
        .group_by("split", "tool", maintain_order=True)
        .agg(
            [(pl.col("behavior") == b).sum().alias(b) for b in BEHAVIORS] + [pl.len().alias("rows")]
        )
        .sort("split", "tool")
    )
    registers = (
        df.drop_nulls("register")
        .group_by("split", "register", maintain_order=True)
        .len("count")
        .sort("split", "register")
    )
    categories = (
        df.filter(pl.col("behavior") == "refuse")
        .group_by("split", "category", maintain_order=True)
        .len("count")
        .sort("split", "category", nulls_last=True)
    )
    words = pl.when(pl.col("key") == "").then(0).otherwise(pl.col("key").str.count_matches(" ") + 1)
    stats = (
        df.select("split", pl.col("user").str.len_chars().alias("chars"), words.alias("words"))
        .group_by("split", maintain_order=True)
        .agg(
            pl.col("chars").min().alias("chars_min"),
            pl.col("chars").mean().round(1).alias("chars_mean"),
            pl.col("chars").median().alias("chars_median"),
            pl.col("chars").quantile(0.95).alias("chars_p95"),
            pl.col("chars").max().alias("chars_max"),
            pl.col("words").mean().round(1).alias("words_mean"),
        )
    )
    long = (
        df.select("split", pl.col("key").str.split(" ").alias("w"))
        .with_row_index("row")
        .explode("w")
        .filter(pl.col("w") != "")
        .with_columns(h=pl.col("w").hash(7))
    )
    bigram = pl.when(pl.col("row") == pl.col("row").shift(-1)).then(
        pl.col("h") * 1_000_003 + pl.col("h").shift(-1)
    )
    distinct = (
        long.with_columns(b=bigram)
        .group_by("split", maintain_order=True)
        .agg(
            (pl.col("h").n_unique() / pl.len()).round(4).alias("distinct_1"),
            (pl.col("b").drop_nulls().n_unique() / pl.col("b").count())
            .round(4)
            .alias("distinct_2"),
        )
    )
    lengths = stats.join(distinct, on="split", how="left", maintain_order="left")
    return {
        "mix": mix_rows,
        "tools": tools.to_dicts(),
        "registers": registers.to_dicts(),
        "categories": categories.to_dicts(),
        "lengths": lengths.to_dicts(),
    }


def _leakage(df: pl.DataFrame, listed: dict[str, set[str]], check: Check) -> None:
    """Tools (about a row or listed in its system prompt) and categories in two splits.

    A leaked tool or category belongs to the split with most of its rows; the rows of the
    other splits are the offending ones.
    """
    import polars as pl

    tools = df.select("id", "split", _tool_list()).explode("tool").filter(pl.col("tool") != "")
    cats = df.drop_nulls("category").select("id", "split", pl.col("category").alias("tool"))
    leaked: dict[str, list[str]] = {}
    offending = []
    for kind, frame in (("tools", tools), ("categories", cats)):
        counts = frame.group_by("tool", "split").len()
        splits: dict[str, dict[str, int]] = {}
        for name, split, n in counts.iter_rows():
            splits.setdefault(name, {})[split] = n
        if kind == "tools":
            for split, names in listed.items():
                for name in names:
                    splits.setdefault(name, {}).setdefault(split, 0)
        for name, per_split in sorted(splits.items()):
            if len(per_split) > 1:
                leaked.setdefault(kind, []).append(name)
                home = max(per_split, key=lambda s: per_split[s])
                offending.append(
                    frame.filter((pl.col("tool") == name) & (pl.col("split") != home)).select("id")
                )
    if not leaked:
        return
    rows = pl.concat(offending).unique(maintain_order=True)["id"].to_list()
    check.count = len(rows) or len(leaked.get("tools", []))
    check.examples = rows[:_EXAMPLES] or [f"listed: {t}" for t in leaked["tools"][:_EXAMPLES]]
    check.note = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in leaked.items())
