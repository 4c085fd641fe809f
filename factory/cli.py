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

# --- eval (evaluation over endpoints) ---------------------------------------------------------


def main() -> None:
    """Console-script entry: run the app, print library errors as one line, exit non-zero."""
    try:
        app()
    except FactoryError as err:
        typer.echo(f"Error: {err}", err=True)
        sys.exit(1)
