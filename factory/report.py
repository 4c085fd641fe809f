"""The audit report: what it holds, and how it is shown (rich tables, JSON, an HTML page).

Input: an :class:`AuditReport` from :func:`factory.audit.audit`. Output: rich renderables for
the terminal (:func:`render_report`), indented JSON (:func:`report_json`), or one standalone
page with the charts embedded as PNG (:func:`write_html`). rich and matplotlib are imported
only when something is rendered.

    >>> Console().print(render_report(report))                  # doctest: +SKIP
    >>> write_html(report, Path("outputs/default/audit.html"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checks import BEHAVIORS, Check

if TYPE_CHECKING:
    from rich.console import RenderableType


@dataclass
class AuditReport:
    """Everything the audit measured; ``ok`` when every check passes."""

    paths: list[str]
    rows: int
    splits: dict[str, int]
    source: str  # "toolfactory", "foreign" or "mixed"
    inferred: int  # rows whose behavior label was inferred from the ground truth
    target_mix: list[float]
    tolerance: float
    manifest: dict[str, Any] | None
    tables: dict[str, list[dict[str, Any]]]
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def _pivot(rows: list[dict[str, Any]], key: str, value: str = "count") -> dict[str, dict[str, Any]]:
    """{split: {key: value}} from table records."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        out.setdefault(row["split"], {})[str(row[key])] = row[value]
    return out


def render_report(report: AuditReport) -> RenderableType:
    """The report as rich tables: header, mix, tools, registers, categories, lengths, checks."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = []
    head = f"{report.rows} rows ({report.source}) from {', '.join(report.paths)}"
    if report.inferred:
        head += f"\nbehavior labels inferred from the ground truth for {report.inferred} rows"
    parts.append(Text(head, style="bold"))

    mix = Table(title="Behavior mix (count / share vs target)")
    mix.add_column("split")
    for behavior in BEHAVIORS:
        mix.add_column(behavior, justify="right")
    mix.add_column("rows", justify="right")
    by_split: dict[str, list[dict[str, Any]]] = {}
    for row in report.tables["mix"]:
        by_split.setdefault(row["split"], []).append(row)
    for split, rows in by_split.items():
        cells = [
            Text(
                f"{r['count']} / {r['share']:.1f}% ({r['target']:g}%)",
                style="" if r["ok"] else "bold red",
            )
            for r in rows
        ]
        mix.add_row(split, *cells, str(report.splits.get(split, 0)))
    parts.append(mix)

    tools = Table(title="Tools per split (rows about each tool)")
    for column in ("split", "tool", *BEHAVIORS, "rows"):
        tools.add_column(column, justify="left" if column in ("split", "tool") else "right")
    for row in report.tables["tools"]:
        tools.add_row(*(str(row[c]) for c in ("split", "tool", *BEHAVIORS, "rows")))
    parts.append(tools)

    for name, key in (("registers", "register"), ("categories", "category")):
        pivot = _pivot(report.tables[name], key)
        if not pivot:
            continue
        table = Table(title=f"{'Registers' if key == 'register' else 'Refusal categories'}")
        table.add_column("split")
        table.add_column(key)
        table.add_column("count", justify="right")
        for split, counts in pivot.items():
            for item, count in counts.items():
                table.add_row(split, item, str(count))
        parts.append(table)

    lengths = Table(title="User prompts: characters and distinct-n")
    columns = [
        "split",
        "chars_min",
        "chars_mean",
        "chars_median",
        "chars_p95",
        "chars_max",
        "words_mean",
        "distinct_1",
        "distinct_2",
    ]
    for column in columns:
        lengths.add_column(
            column.replace("chars_", ""), justify="left" if column == "split" else "right"
        )
    for row in report.tables["lengths"]:
        lengths.add_row(*(str(row[c]) for c in columns))
    parts.append(lengths)

    checks = Table(title="Checks")
    for column in ("check", "result", "rows", "first offending rows"):
        checks.add_column(column, justify="right" if column == "rows" else "left")
    for check in report.checks:
        result = Text("ok", style="green") if check.ok else Text("FAIL", style="bold red")
        detail = "\n".join(check.examples)
        if check.note and (not check.ok or check.name == "mix"):
            detail = (detail + "\n" if detail else "") + f"[{check.note}]"
        checks.add_row(check.title, result, str(check.count), detail)
    parts.append(checks)
    verdict = "all checks passed" if report.ok else "some checks failed"
    parts.append(Text(verdict, style="bold green" if report.ok else "bold red"))
    return Group(*parts)


def report_json(report: AuditReport) -> str:
    """The whole report as indented JSON."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)


def _figure_png(report: AuditReport, kind: str) -> str:
    """A base64 PNG chart: the behavior mix against the target, or rows per tool."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    if kind == "mix":
        splits = list(report.splits)
        width = 0.8 / (len(splits) + 1)
        for i, split in enumerate(splits):
            shares = _pivot(report.tables["mix"], "behavior", "share").get(split, {})
            xs = [j + i * width for j in range(len(BEHAVIORS))]
            ax.bar(xs, [shares.get(b, 0) for b in BEHAVIORS], width, label=split)
        xs = [j + len(splits) * width for j in range(len(BEHAVIORS))]
        total = sum(report.target_mix)
        ax.bar(
            xs,
            [100 * m / total for m in report.target_mix],
            width,
            label="target",
            color="lightgray",
            edgecolor="gray",
        )
        ax.set_xticks([j + width * len(splits) / 2 for j in range(len(BEHAVIORS))], BEHAVIORS)
        ax.set_ylabel("% of split")
        ax.set_title("Behavior mix")
    else:
        rows = report.tables["tools"]
        labels = [f"{r['tool']} ({r['split']})" for r in rows]
        left = [0] * len(rows)
        for behavior in BEHAVIORS:
            values = [r[behavior] for r in rows]
            ax.barh(labels, values, left=left, label=behavior)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.invert_yaxis()
        ax.set_xlabel("rows")
        ax.set_title("Rows per tool and behavior")
        fig.set_figheight(max(2.5, 0.35 * len(rows) + 1))
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _html_table(rows: list[dict[str, Any]]) -> str:
    from html import escape

    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{escape(str(k))}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row.values()) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def write_html(report: AuditReport, path: Path) -> None:
    """A standalone page (charts embedded as PNG, no network) with every table and check."""
    import os
    from html import escape

    checks = [
        {
            "check": c.title,
            "result": "ok" if c.ok else "FAIL",
            "rows": c.count,
            "first offending rows": "; ".join(c.examples),
            "note": c.note,
        }
        for c in report.checks
    ]
    sections = [
        f"<h1>toolfactory audit: {'passed' if report.ok else 'FAILED'}</h1>",
        f"<p>{report.rows} rows ({escape(report.source)}) from "
        f"{escape(', '.join(report.paths))}</p>",
        f"<p>behavior labels inferred for {report.inferred} rows</p>" if report.inferred else "",
        f'<img alt="behavior mix" src="data:image/png;base64,{_figure_png(report, "mix")}">',
        f'<img alt="rows per tool" src="data:image/png;base64,{_figure_png(report, "tools")}">',
        "<h2>Checks</h2>",
        _html_table(checks),
    ]
    for name in ("mix", "tools", "registers", "categories", "lengths"):
        sections += [f"<h2>{escape(name)}</h2>", _html_table(report.tables[name])]
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
    )
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>toolfactory audit</title>'
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
