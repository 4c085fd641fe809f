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

# --- audit + push (audit, hub) ----------------------------------------------------------------

# --- eval (evaluation over endpoints) ---------------------------------------------------------


def main() -> None:
    """Console-script entry: run the app, print library errors as one line, exit non-zero."""
    try:
        app()
    except FactoryError as err:
        typer.echo(f"Error: {err}", err=True)
        sys.exit(1)
