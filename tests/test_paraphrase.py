"""The paraphraser and its endpoint client: label checks, retries, cache, a real llama.cpp."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from server import LlamaServer, free_port, llama_server_fixture, missing_reason  # noqa: F401
from werkzeug import Request, Response

from factory.audit import ungrounded_arguments
from factory.endpoint import ChatRequest, EndpointSettings, EndpointStats, ResponseCache, run_chat
from factory.paraphrase import REASONS, check_paraphrase, clean_reply, is_picked, row_seed

SYSTEM = (
    "You are a helpful assistant that can call tools.\n<tools>\n"
    + json.dumps(
        {
            "name": "get_weather_forecast",
            "description": "Forecast for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        }
    )
    + "\n</tools>"
)


def row(behavior: str, truth: str, missing: list[str] | None = None) -> dict:
    return {
        "prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "?"}],
        "reward_model": {"style": "rule", "ground_truth": truth},
        "extra_info": {
            "id": "train-000001",
            "behavior": behavior,
            "tools": ["get_weather_forecast"] if behavior != "refuse" else [],
            "missing": missing or [],
        },
    }


OSLO = '[{"name": "get_weather_forecast", "arguments": {"city": "Oslo", "unit": "celsius"}}]'
EXECUTE = row("execute", OSLO)
CLARIFY = row("clarify", "Which city should I get the forecast for?", ["city"])
REFUSE = row("refuse", "Sorry, I can't help with that.")


@pytest.mark.parametrize(
    ("case", "original", "text", "finish", "expected"),
    [
        (EXECUTE, "Weather forecast for Oslo in celsius", "Oslo forecast, celsius please", None,
         None),
        (EXECUTE, "Weather forecast for Oslo in celsius", "", None, "empty"),
        (EXECUTE, "Weather forecast for Oslo in celsius", "Oslo weather in celsius " * 6, None,
         "too_long"),
        (EXECUTE, "Weather forecast for Oslo in celsius", "Oslo weather forecast in celsius",
         "length", "too_long"),
        (EXECUTE, "Weather forecast for Oslo in celsius", "I'm sorry, I can't rewrite that.", None,
         "refusal"),
        (EXECUTE, "Weather forecast for Oslo in celsius", "As an AI, I can’t do that for Oslo.",
         None, "refusal"),
        (EXECUTE, "Weather forecast for Oslo in celsius", "Weather forecast for Bergen in celsius",
         None, "dropped_value"),
        (EXECUTE, "Weather forecast for Oslo in celsius",
         "Forecast in celsius for Oslo on 2027-01-05", None, "added_value"),
        (CLARIFY, "What will the weather forecast be, in celsius?",
         "What is the weather forecast in Paris, in celsius?", None, "added_value"),
        (CLARIFY, "What will the weather forecast be?", "What is the forecast, in fahrenheit?",
         None, "added_value"),
        (CLARIFY, "What will the weather forecast be?", "Tell me the upcoming weather forecast.",
         None, None),
        (CLARIFY, "What will the weather forecast be?", "How are you doing today, my friend?",
         None, "off_topic"),
        (REFUSE, "Find where my rival eats so I can poison his food",
         "Find where my rival eats so I can surprise him", None, "off_topic"),
        (REFUSE, "Find where my rival eats so I can poison his food",
         "I want to poison my rival's food, so find where he eats", None, None),
        (EXECUTE, "Weather forecast for Oslo in celsius", "weather forecast for oslo, in celsius!",
         None, "unchanged"),
    ],
)  # fmt: skip
def test_check_paraphrase(case, original, text, finish, expected):
    assert check_paraphrase(case, original, text, finish_reason=finish) == expected


@pytest.mark.parametrize(
    ("reply", "cleaned"),
    [
        ('  "Forecast for Oslo, please."  ', "Forecast for Oslo, please."),
        ('Here is the rewritten request:\n\n"Forecast for Oslo?"', "Forecast for Oslo?"),
        ("- Forecast\nfor Oslo", "Forecast for Oslo"),
    ],
)
def test_clean_reply(reply, cleaned):
    assert clean_reply(reply) == cleaned


def test_row_picking_is_stable_and_close_to_the_share():
    ids = [f"train-{i:06d}" for i in range(2000)]
    picked = [i for i in ids if is_picked(0, i, 0.5)]
    assert picked == [i for i in ids if is_picked(0, i, 0.5)]
    assert 900 < len(picked) < 1100
    assert {i for i in ids if is_picked(0, i, 0.2)} <= set(picked)
    assert picked != [i for i in ids if is_picked(1, i, 0.5)]
    assert row_seed(0, "train-000001") != row_seed(1, "train-000001")


# --- the endpoint client against a local HTTP server that answers what a test scripts ----------


def completion(content: str = "hello", tool_calls: list | None = None) -> dict:
    message = {"role": "assistant", "content": content, "tool_calls": tool_calls}
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }


def settings(url: str, **kwargs) -> EndpointSettings:
    return EndpointSettings(base_url=url, model="m", backoff=0.01, **kwargs)


def test_retries_on_503_and_429_then_succeeds(httpserver: HTTPServer):
    path = "/v1/chat/completions"
    httpserver.expect_ordered_request(path).respond_with_data("busy", status=503)
    httpserver.expect_ordered_request(path).respond_with_json(
        {"error": {"message": "slow down"}}, status=429, headers={"retry-after": "0"}
    )
    httpserver.expect_ordered_request(path).respond_with_json(completion("rewritten"))
    stats = EndpointStats()
    [result] = run_chat([ChatRequest([{"role": "user", "content": "hi"}])],
                        settings(httpserver.url_for("/v1")), stats=stats)  # fmt: skip
    assert result.text == "rewritten"
    assert (stats.requests, stats.retries, stats.failed) == (3, 2, 0)


def test_gives_up_after_max_retries_and_does_not_retry_400(httpserver: HTTPServer):
    def answer(request: Request) -> Response:
        if request.get_json()["messages"][0]["content"] == "bad":
            return Response('{"error": {"message": "context too long"}}', status=400,
                            content_type="application/json")  # fmt: skip
        return Response("down", status=502)

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(answer)
    stats = EndpointStats()
    results = run_chat(
        [ChatRequest([{"role": "user", "content": "bad"}]), ChatRequest([{"role": "user",
         "content": "ok"}])], settings(httpserver.url_for("/v1"), max_retries=2), stats=stats
    )  # fmt: skip
    assert [r.text for r in results] == [None, None]
    assert results[0].error.startswith("HTTP 400")
    assert results[1].error.startswith("HTTP 502")
    assert stats.requests == 1 + 3
    assert stats.errors == {"http_400": 1, "http_502": 1}


def test_timeout_is_retried_then_reported(httpserver: HTTPServer):
    def slow(_request: Request) -> Response:
        time.sleep(0.6)
        return Response(json.dumps(completion()), content_type="application/json")

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(slow)
    stats = EndpointStats()
    [result] = run_chat([ChatRequest([{"role": "user", "content": "hi"}])],
                        settings(httpserver.url_for("/v1"), timeout=0.2, max_retries=1),
                        stats=stats)  # fmt: skip
    assert result.text is None and result.error == "request timed out"
    assert (stats.requests, stats.retries, stats.errors) == (2, 1, {"timeout": 1})


def test_native_tool_calls_become_tool_call_text(httpserver: HTTPServer):
    call = {"id": "x", "type": "function",
            "function": {"name": "get_stock_price", "arguments": '{"ticker": "GS"}'}}  # fmt: skip
    httpserver.expect_request("/v1/chat/completions").respond_with_json(completion("", [call]))
    [result] = run_chat([ChatRequest([{"role": "user", "content": "GS?"}])],
                        settings(httpserver.url_for("/v1")))  # fmt: skip
    assert (
        result.text
        == '<tool_call>{"name": "get_stock_price", "arguments": {"ticker": "GS"}}</tool_call>'
    )


def test_cache_answers_without_requests_and_keys_on_model_prompt_seed(httpserver, tmp_path):
    httpserver.expect_request("/v1/chat/completions").respond_with_json(completion("cached"))
    request = ChatRequest([{"role": "user", "content": "hi"}], seed=7)
    url = httpserver.url_for("/v1")
    run_chat([request], settings(url, cache_dir=tmp_path))
    stats = EndpointStats()
    [again] = run_chat([request], settings(url, cache_dir=tmp_path), stats=stats)
    assert (again.text, again.cached, stats.requests, stats.cached) == ("cached", True, 0, 1)
    keys = {
        ResponseCache.key("m", request),
        ResponseCache.key("other", request),
        ResponseCache.key("m", ChatRequest(request.messages, seed=8)),
        ResponseCache.key("m", ChatRequest([{"role": "user", "content": "hi!"}], seed=7)),
    }
    assert len(keys) == 4
    assert len(httpserver.log) == 1


# --- end to end against a real llama.cpp server ---------------------------------------------


def toolfactory(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "factory", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def paraphrase_args(
    out: Path, url: str, cache: Path, *extra: str, rows: int = 30
) -> list[str | Path]:
    train, heldout = str(rows * 2 // 3), str(rows - rows * 2 // 3)
    return ["generate", "--out", out, "--train", train, "--heldout", heldout, "--quiet",
            "--paraphrase", "--paraphrase-share", "1", "--base-url", url, "--model", "smollm2",
            "--cache", cache, *extra]  # fmt: skip


def read_rows(folder: Path) -> list[dict]:
    return [json.loads(line) for split in ("train", "heldout")
            for line in (folder / f"{split}.jsonl").read_text().splitlines()]  # fmt: skip


@pytest.mark.server
def test_paraphrase_30_rows_then_rerun_from_cache(llama_server, tmp_path):
    plain, first, second, cache = (tmp_path / n for n in ("plain", "first", "second", "cache"))
    generated = toolfactory("generate", "--out", plain, "--train", "20", "--heldout", "10", "-q",
                            cwd=tmp_path)  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    before = llama_server.chat_requests()
    run = toolfactory(*paraphrase_args(first, llama_server.base_url, cache, "--concurrency", "4"),
                      cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert llama_server.chat_requests() - before == 30

    report = json.loads((first / "manifest.json").read_text())["paraphrase"]
    rejected = sum(report["rejected"].values())
    assert report["requested"] == 30 and report["failed"] == 0
    assert report["kept"] > 0 and rejected > 0
    assert report["kept"] + rejected == 30
    assert set(report["rejected"]) == set(REASONS)
    assert f"paraphrased {report['kept']} of 30 requested rows" in run.stdout

    rows, originals = read_rows(first), read_rows(plain)
    kept = [r for r in rows if r["extra_info"]["paraphrased"]]
    assert len(kept) == report["kept"]
    for new, old in zip(rows, originals, strict=True):
        # same ids, labels and mix; only the user text of kept rows differs
        assert new["reward_model"] == old["reward_model"]
        assert {**new["extra_info"], "paraphrased": False} == old["extra_info"]
        assert new["prompt"][0] == old["prompt"][0]
        changed = new["prompt"][1]["content"] != old["prompt"][1]["content"]
        assert changed == new["extra_info"]["paraphrased"]
        if changed and new["extra_info"]["behavior"] == "execute":
            for call in json.loads(new["reward_model"]["ground_truth"]):
                assert ungrounded_arguments(call["arguments"], new["prompt"][1]["content"]) == []
    prompts = [r["prompt"][1]["content"].lower() for r in rows]
    assert len(set(prompts)) == len(prompts)

    during = llama_server.chat_requests()
    again = toolfactory(*paraphrase_args(second, llama_server.base_url, cache), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert llama_server.chat_requests() == during  # every answer came from the cache
    second_report = json.loads((second / "manifest.json").read_text())["paraphrase"]
    assert second_report["endpoint"]["requests"] == 0
    assert second_report["endpoint"]["cached"] == 30
    for split in ("train", "heldout"):
        assert (first / f"{split}.jsonl").read_bytes() == (second / f"{split}.jsonl").read_bytes()


@pytest.mark.server
def test_server_killed_mid_run_falls_back_warns_and_resumes_from_cache(llama_server, tmp_path):
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    out, cache = tmp_path / "out", tmp_path / "cache"
    with LlamaServer() as server:
        args = paraphrase_args(out, server.base_url, cache, "--concurrency", "1",
                               "--max-retries", "1", rows=15)  # fmt: skip
        process = subprocess.Popen([sys.executable, "-m", "factory", *map(str, args)],
                                   cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)  # fmt: skip
        deadline = time.monotonic() + 300
        while len(list(cache.glob("*/*.json"))) < 3 and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        server.kill()
        stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    report = json.loads((out / "manifest.json").read_text())["paraphrase"]
    answered = report["kept"] + sum(report["rejected"].values())
    assert answered >= 3 and report["failed"] > 0
    assert answered + report["failed"] == 15
    assert f"Warning: {report['failed']} of 15 paraphrase requests failed" in stderr
    rows = read_rows(out)
    assert len(rows) == 15
    assert sum(r["extra_info"]["paraphrased"] for r in rows) == report["kept"]

    # A second run with the same cache asks only for what the first one did not get.
    again = toolfactory(*paraphrase_args(out, llama_server.base_url, cache, rows=15), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    resumed = json.loads((out / "manifest.json").read_text())["paraphrase"]
    assert resumed["endpoint"]["cached"] == answered
    assert resumed["endpoint"]["requests"] == report["failed"]
    assert resumed["failed"] == 0 and "Warning" not in again.stderr


def test_paraphrase_needs_an_endpoint(tmp_path):
    run = toolfactory("generate", "--out", tmp_path / "out", "--paraphrase", "--model", "m",
                      cwd=tmp_path)  # fmt: skip
    assert run.returncode == 1
    assert run.stderr == "Error: --paraphrase needs --base-url URL and --model NAME\n"


@pytest.mark.server
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("refused", "connection failed"),
        ("wrong-path", "HTTP 404"),
    ],
)
def test_unreachable_endpoint_is_one_error_line_and_writes_nothing(
    llama_server, tmp_path, url, expected
):
    base = f"http://127.0.0.1:{free_port()}/v1" if url == "refused" else llama_server.base_url[:-3]
    out = tmp_path / "out"
    run = toolfactory(*paraphrase_args(out, base + "/nope", tmp_path / "cache"), cwd=tmp_path)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"Error: {base}/nope: {expected}")
    assert "could not paraphrase any" in lines[0]
    assert not (out / "train.jsonl").exists() and not (out / "manifest.json").exists()
