"""Paraphrase throughput against a local llama.cpp server: concurrency 1 vs 4 vs 8, then cached.

Generates a small dataset without paraphrasing, then sends every row (share 1.0) to the server
through :class:`factory.paraphrase.Paraphraser` with a fresh cache at each concurrency, and once
more with the warm cache. Prints a markdown table (rows/s, kept, requests sent). Without
``--base-url`` it starts its own server (SmolLM2-135M-Instruct from the ``serve`` extra), which
has one slot: llama-cpp-python's server runs one completion at a time, so concurrency can only
hide the client's and HTTP's share of the latency.

    python benchmarks/bench_paraphrase.py --rows 48
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from factory.endpoint import EndpointSettings  # noqa: E402
from factory.generate import GenerateConfig, generate  # noqa: E402
from factory.paraphrase import Paraphraser  # noqa: E402


def rows_of(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()]


def timed_run(rows: list[dict], settings: EndpointSettings) -> tuple[float, dict]:
    paraphraser = Paraphraser(settings, share=1.0, seed=0)
    start = time.perf_counter()
    paraphraser.rewrite("train", rows)
    return time.perf_counter() - start, paraphraser.report()


def bench(base_url: str, model: str, rows: list[dict], levels: list[int]) -> list[str]:
    table = [
        "| run | concurrency | rows | seconds | rows/s | kept | requests sent |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for level in levels:
            cache = Path(tmp) / f"cache-{level}"
            settings = EndpointSettings(base_url, model, concurrency=level, cache_dir=cache)
            seconds, report = timed_run(rows, settings)
            table.append(
                f"| cold | {level} | {len(rows)} | {seconds:.2f} | {len(rows) / seconds:.2f} "
                f"| {report['kept']} | {report['endpoint']['requests']} |"
            )
            print(table[-1], flush=True)
        seconds, report = timed_run(rows, settings)
        table.append(
            f"| cached | {levels[-1]} | {len(rows)} | {seconds:.3f} | {len(rows) / seconds:.0f} "
            f"| {report['kept']} | {report['endpoint']['requests']} |"
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=48, help="train rows to paraphrase")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--base-url", help="use this server instead of starting llama.cpp")
    parser.add_argument("--model", default="smollm2")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        generate(GenerateConfig(out=Path(tmp), train=args.rows, heldout=10, seed=0))
        rows = rows_of(Path(tmp))
    if args.base_url:
        table = bench(args.base_url, args.model, rows, args.concurrency)
    else:
        from server import LlamaServer

        with LlamaServer() as server:
            table = bench(server.base_url, server.model, rows, args.concurrency)
    print("\n".join(table))


if __name__ == "__main__":
    main()
