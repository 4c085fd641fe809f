"""Shared fixtures: the default dataset built once per session, golden-file updating."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite tests/golden/* from the current code"
    )


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def default_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`toolfactory generate` with bundled defaults (1,500 train + 300 held-out rows)."""
    from factory.generate import GenerateConfig, generate

    out = tmp_path_factory.mktemp("default")
    generate(GenerateConfig(out=out))
    return out
