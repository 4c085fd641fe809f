"""The `toolfactory` command line: arguments in, library calls, errors out as exit codes.

Every command body stays thin; the work lives in the stage modules. ``main()`` is the console
script: it turns a :class:`~factory.errors.FactoryError` into ``Error: <message>`` on stderr
and exit status 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .errors import FactoryError

app = typer.Typer(
    name="toolfactory",
    help="Build, score, audit and publish tool-calling datasets (execute / clarify / refuse).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
specs_app = typer.Typer(help="Inspect tool specs.", no_args_is_help=True)
app.add_typer(specs_app, name="specs")


def _version_callback(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"toolfactory {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True)
    ] = False,
) -> None:
    """Build, score, audit and publish tool-calling datasets (execute / clarify / refuse)."""


# --- generate + specs (generator) -------------------------------------------------------------

# --- score (reward) ---------------------------------------------------------------------------


@app.command("score")
def score_command(
    predictions: Annotated[
        Path, typer.Argument(help='JSONL of {"id": ..., "completion": "..."} lines.')
    ],
    data: Annotated[Path, typer.Option("--data", help="The dataset JSONL the ids refer to.")],
    mode: Annotated[
        str, typer.Option(help="strict (the training reward) or aws (the reference tiers).")
    ] = "strict",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Score predictions against a dataset: reward overall, per behavior and tool, text metrics."""
    import json

    from rich.console import Console

    from .metrics import render_report, score_file

    report = score_file(predictions, data, mode=mode)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        Console().print(render_report(report))


# --- audit + push (audit, hub) ----------------------------------------------------------------


@app.command("audit")
def audit_command(
    paths: Annotated[list[Path], typer.Argument(help="Output folder(s) or JSONL file(s).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    html: Annotated[
        Path | None, typer.Option(help="Also write a standalone HTML report here.")
    ] = None,
    tolerance: Annotated[
        float | None,
        typer.Option(help="Points a behavior share may be off target [ours: exact, foreign: 1]."),
    ] = None,
    mix: Annotated[
        str | None, typer.Option(help="Target execute/clarify/refuse [manifest, else 60/25/15].")
    ] = None,
) -> None:
    """Audit mix, leakage, duplicates and gold calls (exit 0 clean, 1 failing, 2 unreadable)."""
    from rich.console import Console

    from .audit import audit, render_report, report_json, write_html
    from .errors import DatasetError
    from .plan import parse_mix

    try:
        report = audit(paths, tolerance=tolerance, mix=parse_mix(mix) if mix else None)
    except DatasetError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(report_json(report))
    else:
        Console(width=max(Console().width, 120)).print(render_report(report))
    if html is not None:
        write_html(report, html)
        typer.echo(f"wrote {html}", err=True)
    raise typer.Exit(0 if report.ok else 1)


@app.command("push")
def push_command(
    dataset: Annotated[Path, typer.Argument(help="Output folder (train.jsonl, heldout.jsonl).")],
    repo: Annotated[str, typer.Option(help="Hub dataset repository, OWNER/NAME.")],
    private: Annotated[bool, typer.Option(help="Create the repository as private.")] = False,
    dry_run: Annotated[
        bool, typer.Option(help="Only write the Hub folder to DIR/hub/; upload nothing.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Publish even when the audit fails.")] = False,
) -> None:
    """Audit DIR, write its Hub folder (parquet, JSONL, dataset card) and upload it."""
    from .hub import push

    folder, url = push(dataset, repo, private=private, dry_run=dry_run, force=force)
    if url is None:
        typer.echo(f"wrote {folder} (dry run: nothing uploaded)")
    else:
        typer.echo(f"uploaded {folder} to {url}")


# --- eval (evaluation over endpoints) ---------------------------------------------------------


@app.command("eval")
def eval_command(
    data: Annotated[Path, typer.Option("--data", help="Dataset JSONL, e.g. heldout.jsonl.")],
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint URL.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name at the endpoint.")] = None,
    hf_model: Annotated[
        Path | None, typer.Option(help="Local transformers model folder instead of an endpoint.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N rows.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write predictions JSONL here.")] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="Tokens per answer.")] = 256,
    api_key: Annotated[str, typer.Option(envvar="OPENAI_API_KEY", show_default=False)] = "",
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight.")] = 8,
    max_retries: Annotated[int, typer.Option(min=0, help="On timeouts, 429, 5xx.")] = 3,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per request.")] = 120.0,
    cache: Annotated[Path | None, typer.Option(help="Cache answers here (off by default).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per batch (--hf-model).")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Answer each row's prompt greedily with a model, write predictions, print the metrics."""
    import json

    from rich.console import Console

    from .endpoint import endpoint_settings
    from .evaluate import run_eval
    from .metrics import render_report

    endpoint = None
    if hf_model is None or base_url or model:
        endpoint = endpoint_settings(
            base_url=base_url, model=model, api_key=api_key, concurrency=concurrency,
            max_retries=max_retries, timeout=timeout, cache=cache, needed_by="eval",
        )  # fmt: skip
    report = run_eval(
        data, endpoint=endpoint, hf_model=hf_model, limit=limit, out=out,
        max_tokens=max_tokens, batch_size=batch_size, progress=not as_json,
    )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    Console().print(render_report(report))
    if out is not None:
        typer.echo(f"wrote {report['n']} predictions to {out}")


def main() -> None:
    """Console-script entry: run the app, print library errors as one line, exit non-zero."""
    try:
        app()
    except FactoryError as err:
        typer.echo(f"Error: {err}", err=True)
        sys.exit(1)
