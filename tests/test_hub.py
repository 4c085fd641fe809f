"""`toolfactory push`: the Hub folder loads with `datasets`; the upload against a local Hub."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from factory.cli import main

TOKEN = "hf_unitTestToken0123456789abcdefXYZ"
REPO = "alice/tool-calls"


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def toolfactory(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Run]:
    """Run the console script in-process (so `main()` turns errors into `Error:` lines)."""

    def run(*args: str | Path) -> Run:
        monkeypatch.setattr(sys, "argv", ["toolfactory", *map(str, args)])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def dataset(default_dataset: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "ds"
    shutil.copytree(default_dataset, folder)
    return folder


@pytest.fixture
def no_cached_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))


# --- the Hub folder -------------------------------------------------------------------------


def test_dry_run_folder_loads_with_datasets(
    toolfactory: Callable[..., Run], dataset: Path, no_cached_login: None
) -> None:
    import datasets

    result = toolfactory("push", str(dataset), "--repo", REPO, "--dry-run")
    assert result.exit_code == 0, result.output
    hub = dataset / "hub"
    assert str(hub) in result.stdout
    assert sorted(p.relative_to(hub).as_posix() for p in hub.rglob("*") if p.is_file()) == [
        "README.md",
        "audit.json",
        "data/test.parquet",
        "data/train.parquet",
        "jsonl/heldout.jsonl",
        "jsonl/train.jsonl",
        "manifest.json",
    ]

    ds = datasets.load_dataset(str(hub), cache_dir=str(dataset.parent / "hf-cache"))
    assert {name: split.num_rows for name, split in ds.items()} == {"train": 1500, "test": 300}
    original = [json.loads(line) for line in (dataset / "heldout.jsonl").open(encoding="utf-8")]
    for got, want in zip(ds["test"], original, strict=True):
        assert got["prompt"] == want["prompt"]
        assert got["reward_model"] == want["reward_model"]
        assert got["extra_info"] == want["extra_info"]
    assert ds["train"].features["extra_info"]["tools"].feature.dtype == "string"


def test_openai_format_columns_and_no_cache_mixup(dataset: Path, tmp_path: Path) -> None:
    """A second `hub/` folder with the same splits must not be served from the first's cache."""
    import datasets

    from factory.generate import GenerateConfig, generate
    from factory.hub import push

    other = tmp_path / "openai"
    generate(GenerateConfig(out=other, fmt="openai"))
    cache = str(tmp_path / "hf-cache")
    first = datasets.load_dataset(str(push(dataset, REPO, dry_run=True)[0]), cache_dir=cache)
    second = datasets.load_dataset(str(push(other, REPO, dry_run=True)[0]), cache_dir=cache)
    assert "messages" not in first["train"].column_names
    row = json.loads((other / "train.jsonl").open(encoding="utf-8").readline())
    got = second["train"][0]
    assert got["messages"][2]["tool_calls"] == row["messages"][2]["tool_calls"]
    assert json.loads(got["tools"]) == row["tools"]  # one JSON string: each tool has its own shape


def test_card_is_written_from_the_audit(dataset: Path) -> None:
    from factory.hub import push

    folder, url = push(dataset, REPO, dry_run=True)
    assert url is None
    card = (folder / "README.md").read_text(encoding="utf-8")
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["configs"][0]["data_files"] == [
        {"split": "train", "path": "data/train.parquet"},
        {"split": "test", "path": "data/test.parquet"},
    ]
    assert meta["license"] == "apache-2.0" and meta["size_categories"] == ["1K<n<10K"]
    splits = {s["name"]: s["num_examples"] for s in meta["dataset_info"]["splits"]}
    assert splits == {"train": 1500, "test": 300}
    assert "tool-calling" in meta["tags"] and meta["task_categories"] == ["text-generation"]
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert "| train | 1500 | 900 (60.0%, target 60%) | 375 (25.0%, target 25%)" in body
    assert "| test | `get_stock_price` |" in body and "| train | `search_flights` |" in body
    assert f"config_hash: `{manifest['config_hash']}`" in body and "seed: `0`" in body
    assert f'load_dataset("{REPO}")' in body and "GRPOTrainer" in body
    assert "compute_score" in body and "all checks passed" in body
    assert json.loads((folder / "audit.json").read_text())["ok"] is True


def test_push_refuses_a_failing_dataset_unless_forced(
    toolfactory: Callable[..., Run], dataset: Path
) -> None:
    rows = (dataset / "train.jsonl").read_text(encoding="utf-8").splitlines()
    (dataset / "train.jsonl").write_text("\n".join(rows + [rows[0]]) + "\n", encoding="utf-8")
    result = toolfactory("push", str(dataset), "--repo", REPO, "--dry-run")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "the audit fails (duplicates (1));" in (
        result.stderr
    )
    assert not (dataset / "hub").exists()
    forced = toolfactory("push", str(dataset), "--repo", REPO, "--dry-run", "--force")
    assert forced.exit_code == 0
    assert "SOME CHECKS FAILED" in (dataset / "hub" / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--repo", "no-owner"], "--repo 'no-owner': expected OWNER/NAME"),
        (["--repo", "a/b", "--dry-run"], "no such file or folder"),
    ],
)
def test_bad_arguments_one_line(
    toolfactory: Callable[..., Run], tmp_path: Path, args: list[str], message: str
) -> None:
    result = toolfactory("push", tmp_path / "missing", *args)
    assert result.exit_code != 0 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- the upload against a local Hub ---------------------------------------------------------


class FakeHub:
    """Serves the Hub API calls `create_repo` + `upload_folder` make, records what arrives."""

    def __init__(self, server: HTTPServer, *, known_repo: str = REPO) -> None:
        self.server = server
        self.known_repo = known_repo
        self.commits: list[list[dict[str, Any]]] = []
        self.created: list[dict[str, Any]] = []
        self.validated: list[dict[str, Any]] = []
        server.expect_request("/api/validate-yaml", method="POST").respond_with_handler(
            self.validate_yaml
        )
        server.expect_request("/api/repos/create", method="POST").respond_with_handler(self.create)
        server.expect_request(
            re.compile(r"^/api/datasets/[^/]+/[^/]+/preupload/main$"), method="POST"
        ).respond_with_handler(self.preupload)
        server.expect_request(
            re.compile(r"^/api/datasets/[^/]+/[^/]+/commit/main$"), method="POST"
        ).respond_with_handler(self.commit)

    def _repo(self, request: Request) -> str:
        return "/".join(request.path.split("/")[3:5])

    def create(self, request: Request) -> Response:
        self.created.append(request.get_json())
        url = self.server.url_for(f"/datasets/{REPO}")
        return Response(json.dumps({"url": url}), status=200, content_type="application/json")

    def validate_yaml(self, request: Request) -> Response:
        self.validated.append(request.get_json())
        return Response(json.dumps({"errors": [], "warnings": []}), content_type="application/json")

    def preupload(self, request: Request) -> Response:
        if self._repo(request) != self.known_repo:
            return Response(
                json.dumps({"error": "Repository not found"}),
                status=404,
                headers={"X-Error-Code": "RepoNotFound"},
                content_type="application/json",
            )
        files = request.get_json()["files"]
        answer = {
            "files": [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                for f in files
            ]
        }
        return Response(json.dumps(answer), status=200, content_type="application/json")

    def commit(self, request: Request) -> Response:
        lines = [json.loads(line) for line in request.get_data().splitlines() if line.strip()]
        self.commits.append(lines)
        oid = "0123456789abcdef0123456789abcdef01234567"
        body = {
            "commitUrl": self.server.url_for(f"/datasets/{REPO}/commit/{oid}"),
            "commitOid": oid,
            "pullRequestUrl": None,
        }
        return Response(json.dumps(body), status=200, content_type="application/json")

    def files(self) -> dict[str, bytes]:
        out = {}
        for commit in self.commits:
            for op in commit:
                if op["key"] == "file":
                    out[op["value"]["path"]] = base64.b64decode(op["value"]["content"])
        return out


@pytest.fixture
def hub_env(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, no_cached_login: None) -> None:
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("").rstrip("/"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def test_upload_sends_the_folder_to_the_hub(
    toolfactory: Callable[..., Run], dataset: Path, httpserver: HTTPServer, hub_env: None
) -> None:
    import pyarrow.parquet as pq

    hub = FakeHub(httpserver)
    result = toolfactory("push", str(dataset), "--repo", REPO, "--private")
    assert result.exit_code == 0, result.output
    assert f"/datasets/{REPO}" in result.stdout
    assert TOKEN not in result.output

    assert hub.created == [
        {"name": "tool-calls", "organization": "alice", "visibility": "private", "type": "dataset"}
    ]
    for request, _ in httpserver.log:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    readme = (dataset / "hub" / "README.md").read_text(encoding="utf-8")
    assert hub.validated == [{"content": readme, "repoType": "dataset"}]
    assert len(hub.commits) == 1 and hub.commits[0][0]["key"] == "header"
    files = hub.files()
    local = {
        p.relative_to(dataset / "hub").as_posix(): p.read_bytes()
        for p in (dataset / "hub").rglob("*")
        if p.is_file()
    }
    assert files == local
    table = pq.read_table(io.BytesIO(files["data/train.parquet"]))
    assert table.num_rows == 1500
    assert table.column("extra_info")[0].as_py()["id"] == "train-000000"
    httpserver.check_assertions()


def test_unknown_repo_is_one_line(
    toolfactory: Callable[..., Run], dataset: Path, httpserver: HTTPServer, hub_env: None
) -> None:
    FakeHub(httpserver, known_repo="someone/else")
    result = toolfactory("push", str(dataset), "--repo", REPO)
    assert result.exit_code == 1
    endpoint = httpserver.url_for("").rstrip("/")
    assert result.stderr == f"Error: {REPO}: repository not found or not writable at {endpoint}\n"


def test_missing_token_is_one_line(
    toolfactory: Callable[..., Run], dataset: Path, no_cached_login: None
) -> None:
    result = toolfactory("push", str(dataset), "--repo", REPO)
    assert result.exit_code == 1
    assert result.stderr == "Error: no Hugging Face token: set HF_TOKEN or run `hf auth login`\n"
    assert not (dataset / "hub").exists()  # checked before any work


def test_network_failure_is_one_line(
    toolfactory: Callable[..., Run],
    dataset: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_cached_login: None,
) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    result = toolfactory("push", str(dataset), "--repo", REPO)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot reach the Hub at http://127.0.0.1:{port}")
    assert len(result.stderr.splitlines()) == 1 and TOKEN not in result.output


def test_rejected_token_is_one_line_without_the_token(
    toolfactory: Callable[..., Run], dataset: Path, httpserver: HTTPServer, hub_env: None
) -> None:
    denied = Response(
        json.dumps({"error": "Invalid credentials in Authorization header"}),
        status=401,
        content_type="application/json",
    )
    httpserver.expect_request("/api/repos/create", method="POST").respond_with_response(denied)
    httpserver.expect_request(f"/api/datasets/{REPO}", method="GET").respond_with_response(denied)
    result = toolfactory("push", str(dataset), "--repo", REPO)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {REPO}: the Hub refused the upload (token rejected)")
    assert len(result.stderr.splitlines()) == 1 and TOKEN not in result.output


def test_forced_push_leaves_out_bad_json_and_names_rows_that_do_not_fit(
    toolfactory: Callable[..., Run], dataset: Path
) -> None:
    import pyarrow.parquet as pq

    with (dataset / "train.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    result = toolfactory("push", str(dataset), "--repo", REPO, "--dry-run", "--force")
    assert result.exit_code == 0, result.output
    assert pq.read_metadata(dataset / "hub" / "data" / "train.parquet").num_rows == 1500

    with (dataset / "train.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"prompt": 5, "reward_model": {"ground_truth": "x"}}\n')
    result = toolfactory("push", str(dataset), "--repo", REPO, "--dry-run", "--force")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: train.jsonl: rows do not fit the row layout")
    assert (dataset / "hub" / "data" / "train.parquet").exists()  # the earlier folder is kept
