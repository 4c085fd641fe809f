"""The `toolfactory` command line: arguments in, library calls, errors out as exit codes.

Every command body stays thin; the work lives in the stage modules. ``main()`` is the console
script: it turns a :class:`~factory.errors.FactoryError` into ``Error: <message>`` on stderr
and exit status 1.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .errors import ConfigError, FactoryError
from .formats import FORMATS

if TYPE_CHECKING:
    from rich.progress import TaskID

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


def _parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise typer.BadParameter("expected i/n, e.g. 0/4") from None
    if not (n >= 1 and 0 <= i < n):
        raise typer.BadParameter(f"{text}: need 0 <= i < n")
    return i, n


def _generate_config(**opts: object) -> object:
    from pydantic import ValidationError

    from .generate import GenerateConfig

    try:
        return GenerateConfig(**opts)  # type: ignore[arg-type]
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"--{field.replace('_', '-')}: {first['msg']}") from None


@app.command()
def generate(
    specs: Annotated[
        list[Path] | None, typer.Option(help="Spec file or folder (repeatable); default: bundled.")
    ] = None,
    heldout_tools: Annotated[
        str | None, typer.Option(help="Comma-separated held-out tools; default: ~20% picked.")
    ] = None,
    train: Annotated[int, typer.Option(min=1, help="Rows in train.jsonl.")] = 1500,
    heldout: Annotated[int, typer.Option(min=0, help="Rows in heldout.jsonl.")] = 300,
    mix: Annotated[str, typer.Option(help="execute/clarify/refuse shares.")] = "60/25/15",
    seed: Annotated[int, typer.Option(help="Same inputs + seed = byte-identical files.")] = 0,
    fmt: Annotated[
        str, typer.Option("--format", help="Answer format: aws, qwen or openai.")
    ] = "aws",
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("outputs/default"),
    multi_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of execute rows needing two calls.")
    ] = 0.1,
    templates: Annotated[
        list[Path] | None, typer.Option(help="Extra templates folder, searched first (repeatable).")
    ] = None,
    max_tools: Annotated[int, typer.Option(min=1, help="Tools listed per system prompt.")] = 8,
    shard: Annotated[
        str | None, typer.Option(help="Write only slice i of n (0-based), e.g. 0/4.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    paraphrase: Annotated[
        bool, typer.Option("--paraphrase", help="Rewrite a share of prompts with an LLM.")
    ] = False,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint URL.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name at the endpoint.")] = None,
    api_key: Annotated[
        str, typer.Option(envvar="OPENAI_API_KEY", show_default=False, help="May be empty.")
    ] = "",
    paraphrase_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of rows sent for rewriting.")
    ] = 0.5,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight.")] = 8,
    max_retries: Annotated[int, typer.Option(min=0, help="On timeouts, 429, 5xx.")] = 3,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per request.")] = 60.0,
    cache: Annotated[Path, typer.Option(help="Paraphrase cache.")] = Path("outputs/.cache"),
) -> None:
    """Generate train.jsonl + heldout.jsonl + manifest.json (bundled tools when no --specs)."""
    from .generate import generate as run_generate
    from .plan import parse_mix

    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    cfg = _generate_config(
        specs=specs or [],
        train=train,
        heldout=heldout,
        mix=parse_mix(mix),
        seed=seed,
        fmt=fmt,
        out=out,
        multi_share=multi_share,
        templates=templates or [],
        max_tools=max_tools,
        shard=_parse_shard(shard),
        heldout_tools=[t.strip() for t in heldout_tools.split(",") if t.strip()]
        if heldout_tools
        else None,
    )
    paraphraser = None
    if paraphrase:
        from .endpoint import endpoint_settings
        from .paraphrase import Paraphraser

        settings = endpoint_settings(
            base_url=base_url,
            model=model,
            api_key=api_key,
            concurrency=concurrency,
            max_retries=max_retries,
            timeout=timeout,
            cache=cache,
            needed_by="--paraphrase",
        )
        paraphraser = Paraphraser(settings, share=paraphrase_share, seed=seed, progress=not quiet)
    start = time.perf_counter()
    with _progress(quiet or paraphrase) as progress:  # the paraphrase bar replaces this one
        manifest = run_generate(cfg, progress=progress, paraphraser=paraphraser)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    if paraphraser is not None:
        typer.echo(paraphraser.summary())
        if warning := paraphraser.warning():
            typer.echo(f"Warning: {warning}", err=True)
    for split, c in manifest["counts"].items():
        mix_text = "/".join(str(c["behavior"].get(b, 0)) for b in ("execute", "clarify", "refuse"))
        typer.echo(
            f"{split}: {c['rows']} rows (execute/clarify/refuse {mix_text}) "
            f"over {', '.join(manifest['tools'][split])}"
        )
    files = ", ".join(f["path"] for f in manifest["files"].values())
    rows = sum(c["rows"] for c in manifest["counts"].values())
    typer.echo(
        f"wrote {out}/ ({files}, manifest.json) in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)"
    )


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar on stderr, one task per split."""
    if quiet:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(split: str, done: int, total: int) -> None:
            if split not in tasks:
                tasks[split] = bar.add_task(split, total=total)
            bar.update(tasks[split], completed=done)

        yield update


@specs_app.command("validate")
def specs_validate(
    path: Annotated[Path, typer.Argument(help="Spec file or folder.")],
) -> None:
    """List the tools found under PATH and report every problem (exit 1 if any)."""
    from .specs import validate_path

    tools, problems = validate_path(path)
    for tool in tools:
        req = ", ".join(tool.required) or "-"
        opt = ", ".join(tool.optional) or "-"
        typer.echo(f"{tool.name}  required: {req}  optional: {opt}  ({tool.source})")
    for problem in problems:
        typer.echo(f"problem: {problem}", err=True)
    typer.echo(f"{len(tools)} tool(s), {len(problems)} problem(s)")
    if problems:
        raise typer.Exit(code=1)


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

    from .audit import audit
    from .errors import DatasetError
    from .plan import parse_mix
    from .report import render_report, report_json, write_html

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
    api_key: Annotated[
        str, typer.Option(envvar="OPENAI_API_KEY", show_default=False, help="May be empty.")
    ] = "",
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
