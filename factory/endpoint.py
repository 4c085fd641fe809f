"""Talk to any OpenAI-compatible chat endpoint: many requests at once, retried, cached on disk.

Input: a list of :class:`ChatRequest` (messages, sampling, a per-row seed) and the
:class:`EndpointSettings` (URL, model, concurrency, retries, timeout, cache folder). Output: one
:class:`ChatResult` per request, in order. Requests run concurrently up to ``concurrency`` on the
``openai`` package's async client; timeouts, refused connections, 429 and 5xx answers are retried
with exponential backoff; after ``give_up_after`` connection failures in a row the endpoint is
treated as down and the remaining requests fail at once instead of each waiting out its retries.
Successful answers are stored under ``cache_dir`` keyed by (model, messages, sampling, seed), so a
re-run sends no request and an interrupted run resumes where it stopped.

Example::

    settings = EndpointSettings(base_url="http://127.0.0.1:8080/v1", model="smollm2")
    request = ChatRequest(messages=[{"role": "user", "content": "Hi"}], seed=7, max_tokens=16)
    [result] = run_chat([request], settings)
    result.text  # "Hello! How can I help you today?"
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .formats import render_calls

CACHE_VERSION = 1


@dataclass(slots=True, frozen=True)
class EndpointSettings:
    """Where to send requests and how hard to try."""

    base_url: str
    model: str
    api_key: str = ""
    concurrency: int = 8
    max_retries: int = 3
    timeout: float = 60.0
    cache_dir: Path | None = None
    backoff: float = 0.5  # seconds before the first retry; doubles on each further retry
    give_up_after: int = 5  # connection failures in a row before the endpoint counts as down


@dataclass(slots=True, frozen=True)
class ChatRequest:
    """One chat completion: the messages plus sampling; ``seed`` is part of the cache key."""

    messages: list[dict[str, str]]
    seed: int = 0
    temperature: float = 0.0
    max_tokens: int = 256


@dataclass(slots=True, frozen=True)
class ChatResult:
    """The answer text (``None`` when every attempt failed) and where it came from."""

    text: str | None
    finish_reason: str | None = None
    cached: bool = False
    error: str | None = None


@dataclass(slots=True)
class EndpointStats:
    """Counters over one or more :func:`run_chat` calls (``requests`` counts HTTP attempts)."""

    requests: int = 0
    answered: int = 0
    cached: int = 0
    retries: int = 0
    failed: int = 0
    first_error: str | None = None
    errors: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "answered": self.answered,
            "cached": self.cached,
            "retries": self.retries,
            "failed": self.failed,
            "errors": dict(sorted(self.errors.items())),
        }


def endpoint_settings(
    *,
    base_url: str | None,
    model: str | None,
    api_key: str = "",
    concurrency: int = 8,
    max_retries: int = 3,
    timeout: float = 60.0,
    cache: Path | None = None,
    needed_by: str = "this command",
) -> EndpointSettings:
    """Settings from command-line options; a URL and a model are required."""
    from .errors import ConfigError

    if not base_url or not model:
        raise ConfigError(f"{needed_by} needs --base-url URL and --model NAME")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"--base-url {base_url!r}: expected http://HOST:PORT/v1")
    return EndpointSettings(
        base_url=base_url.rstrip("/"),
        model=model,
        api_key=api_key,
        concurrency=concurrency,
        max_retries=max_retries,
        timeout=timeout,
        cache_dir=cache,
    )


class ResponseCache:
    """One small JSON file per answer under ``folder`` (written atomically, so a kill is safe)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @staticmethod
    def key(model: str, request: ChatRequest) -> str:
        payload = {
            "v": CACHE_VERSION,
            "model": model,
            "messages": request.messages,
            "seed": request.seed,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            value = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) and isinstance(value.get("text"), str) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(value, fh, ensure_ascii=False)
        os.replace(tmp, path)


def run_chat(
    requests: list[ChatRequest],
    settings: EndpointSettings,
    *,
    stats: EndpointStats | None = None,
    on_result: Callable[[int, ChatResult], None] | None = None,
) -> list[ChatResult]:
    """Answer every request (cache first, then the endpoint); never raises for endpoint errors.

    ``on_result(index, result)`` is called as each answer arrives (for progress bars).
    """
    return asyncio.run(_run_all(requests, settings, stats or EndpointStats(), on_result))


def describe_error(err: BaseException) -> str:
    """A one-line description of an endpoint failure (status code or connection problem)."""
    from openai import APIConnectionError, APIStatusError, APITimeoutError

    if isinstance(err, APITimeoutError):
        return "request timed out"
    if isinstance(err, APIConnectionError):
        cause = err.__cause__
        detail = f": {cause}" if cause and str(cause) else ""
        return f"connection failed{detail}"
    if isinstance(err, APIStatusError):
        return f"HTTP {err.status_code}: {_short(err.message)}"
    return f"{type(err).__name__}: {_short(str(err))}"


def _short(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _error_kind(err: BaseException) -> str:
    from openai import APIConnectionError, APIStatusError, APITimeoutError

    if isinstance(err, APITimeoutError):
        return "timeout"
    if isinstance(err, APIConnectionError):
        return "connection"
    if isinstance(err, APIStatusError):
        return f"http_{err.status_code}"
    return "other"


def _retryable(err: BaseException) -> bool:
    from openai import APIConnectionError, APIStatusError

    if isinstance(err, APIConnectionError):
        return True
    return isinstance(err, APIStatusError) and (err.status_code == 429 or err.status_code >= 500)


def _retry_delay(err: BaseException, attempt: int, backoff: float) -> float:
    from openai import APIStatusError

    if isinstance(err, APIStatusError) and err.status_code == 429:
        retry_after = err.response.headers.get("retry-after", "")
        if retry_after.replace(".", "", 1).isdigit():
            return min(float(retry_after), 60.0)
    # Jitter keeps concurrent retries from hitting a recovering server all at once.
    return float(backoff * 2**attempt * random.uniform(0.5, 1.5))


def _message_text(message: Any) -> str:
    """The reply as text; native ``tool_calls`` become ``<tool_call>`` blocks the reward parses."""
    calls = []
    for call in getattr(message, "tool_calls", None) or []:
        function = getattr(call, "function", None)
        if function is None:
            continue
        try:
            arguments: Any = json.loads(function.arguments or "{}")
        except ValueError:
            arguments = function.arguments
        calls.append({"name": function.name, "arguments": arguments})
    content = message.content or ""
    if not calls:
        return str(content)
    rendered = render_calls(calls, "qwen")
    return f"{content.strip()}\n{rendered}" if content.strip() else rendered


@dataclass(slots=True)
class _Run:
    settings: EndpointSettings
    stats: EndpointStats
    cache: ResponseCache | None
    client: Any
    semaphore: asyncio.Semaphore
    connection_failures: int = 0
    down_reason: str | None = None

    async def answer(self, request: ChatRequest) -> ChatResult:
        key = ResponseCache.key(self.settings.model, request) if self.cache else ""
        if self.cache:
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.cached += 1
                return ChatResult(hit["text"], hit.get("finish_reason"), cached=True)
        async with self.semaphore:
            result = await self._send(request)
        if result.text is not None and self.cache:
            self.cache.put(key, {"text": result.text, "finish_reason": result.finish_reason})
        return result

    async def _send(self, request: ChatRequest) -> ChatResult:
        from openai import APIError

        attempt = 0
        while True:
            if self.down_reason is not None:
                return self._fail("endpoint_down", f"endpoint down ({self.down_reason})")
            self.stats.requests += 1
            try:
                response = await self.client.chat.completions.create(
                    model=self.settings.model,
                    messages=request.messages,
                    temperature=request.temperature,
                    max_tokens=request.max_tokens,
                    seed=request.seed,
                )
            except APIError as err:
                self._note_connection(err)
                if _retryable(err) and attempt < self.settings.max_retries and not self.down_reason:
                    self.stats.retries += 1
                    await asyncio.sleep(_retry_delay(err, attempt, self.settings.backoff))
                    attempt += 1
                    continue
                return self._fail(_error_kind(err), describe_error(err))
            self.connection_failures = 0
            if not response.choices:
                return self._fail("empty_response", "the endpoint returned no choices")
            choice = response.choices[0]
            self.stats.answered += 1
            return ChatResult(_message_text(choice.message), choice.finish_reason)

    def _note_connection(self, err: BaseException) -> None:
        from openai import APIConnectionError

        if isinstance(err, APIConnectionError):
            self.connection_failures += 1
            if self.connection_failures >= self.settings.give_up_after and not self.down_reason:
                self.down_reason = describe_error(err)
        else:
            self.connection_failures = 0

    def _fail(self, kind: str, message: str) -> ChatResult:
        self.stats.failed += 1
        self.stats.errors[kind] = self.stats.errors.get(kind, 0) + 1
        if self.stats.first_error is None:
            self.stats.first_error = message
        return ChatResult(None, error=message)


async def _run_all(
    requests: list[ChatRequest],
    settings: EndpointSettings,
    stats: EndpointStats,
    on_result: Callable[[int, ChatResult], None] | None,
) -> list[ChatResult]:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(
        base_url=settings.base_url,
        # Local servers ignore the key, but the client refuses to start without one.
        api_key=settings.api_key or "no-key",
        timeout=settings.timeout,
        max_retries=0,  # retries are ours: counted, backed off, cut short when the server is down
    )
    run = _Run(
        settings=settings,
        stats=stats,
        cache=ResponseCache(settings.cache_dir) if settings.cache_dir else None,
        client=client,
        semaphore=asyncio.Semaphore(max(1, settings.concurrency)),
    )

    async def one(index: int, request: ChatRequest) -> ChatResult:
        result = await run.answer(request)
        if on_result is not None:
            on_result(index, result)
        return result

    async with client:
        return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(requests))))
