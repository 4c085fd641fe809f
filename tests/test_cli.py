"""The command line: every command has help, errors are one line with exit 1, the script works."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from factory.cli import app

runner = CliRunner()


def _commands() -> list[list[str]]:
    root = get_command(app)
    out = []
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        out.extend([[name, sub] for sub in subs] if subs else [[name]])
    return out


def test_every_command_has_help() -> None:
    commands = _commands()
    assert ["generate"] in commands and ["specs", "validate"] in commands
    for cmd in commands:
        result = runner.invoke(app, [*cmd, "--help"])
        assert result.exit_code == 0, cmd
        assert "Usage" in result.output


def _main(args: list[str]) -> tuple[int, str, str]:
    """Run through `main()` exactly as the console script does."""
    proc = subprocess.run(["toolfactory", *args], capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


pytestmark = pytest.mark.skipif(
    shutil.which("toolfactory") is None, reason="the toolfactory script is not installed"
)


def test_generate_subprocess(tmp_path: Path) -> None:
    code, out, err = _main(
        [
            "generate",
            "--out",
            str(tmp_path),
            "--train",
            "120",
            "--heldout",
            "30",
            "--format",
            "qwen",
            "--seed",
            "5",
            "-q",
        ]
    )
    assert code == 0, err
    assert "train: 120 rows (execute/clarify/refuse 72/30/18)" in out
    assert re.search(
        r"wrote .+ \(train.jsonl, heldout.jsonl, manifest.json\) in [\d.]+ s \([\d,]+ rows/s\)", out
    )
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["config"]["fmt"] == "qwen" and manifest["seed"] == 5
    assert len((tmp_path / "heldout.jsonl").read_text().splitlines()) == 30


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--heldout-tools", "nope"], "Error: --heldout-tools: unknown tool 'nope'"),
        (["--mix", "60/40"], "Error: --mix '60/40': expected three non-negative numbers"),
        (["--format", "xml"], "Error: --format 'xml': expected one of aws, qwen, openai"),
        (["--specs", "missing_dir"], "Error: missing_dir: no such file or folder"),
        (
            [
                "--heldout-tools",
                ",".join(
                    [
                        "get_weather_forecast",
                        "search_flights",
                        "translate_text",
                        "currency_convert",
                        "get_statistics",
                        "search_restaurants",
                        "get_stock_price",
                        "calculate_standard_deviation",
                    ]
                ),
            ],
            "Error: --heldout-tools: every tool is held out",
        ),
    ],
)
def test_generate_errors_are_one_line(tmp_path: Path, args: list[str], error: str) -> None:
    out = tmp_path / "out"
    code, _, err = _main(["generate", "--out", str(out), "-q", *args])
    assert code == 1
    assert err.startswith(error) and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert not out.exists()


def test_bad_template_via_cli(tmp_path: Path) -> None:
    tpl = tmp_path / "tpl" / "get_stock_price"
    tpl.mkdir(parents=True)
    (tpl / "terse.jinja").write_text("{# comment #}\n{{ ticker }} price {% if x %}\n")
    code, _, err = _main(
        ["generate", "--out", str(tmp_path / "o"), "-q", "--templates", str(tmp_path / "tpl")]
    )
    assert code == 1
    assert err.startswith(f"Error: {tpl / 'terse.jinja'}:2: ")


def test_specs_validate(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["specs", "validate", str(Path(__file__).parent / "fixtures" / "specs")]
    )
    assert result.exit_code == 0, result.output
    assert "book_room  required: room, date  optional: attendees" in result.output
    assert "5 tool(s), 0 problem(s)" in result.output
    (tmp_path / "bad.json").write_text(
        '{"name": "x", "parameters": {"type": "object", "properties": {"a": {"enum": []}}}}'
    )
    code, out, err = _main(["specs", "validate", str(tmp_path)])
    assert code == 1
    assert "bad.json: $.parameters.properties.a.enum: enum is empty" in err
    assert "0 tool(s), 1 problem(s)" in out
