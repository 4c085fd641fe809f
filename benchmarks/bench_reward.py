"""Reward throughput: completions scored per second, strict and aws modes beside the reference.

Builds the default dataset (or reads ``--data DIR``), draws ``--pairs`` (completion, row) pairs
of every kind (gold answers, near misses, wrong tools, questions, refusals, broken markup) with
the generator the tests use, and times, in the same run and on the same pairs:

- ``reference``: the reference document's reward, literally (``tests/test_reward.py``);
- ``aws``: ``score(..., mode="aws")``;
- ``strict``: ``score(...)`` with behavior, missing arguments and the prompt's tool schemas;
- ``strict via trl_reward``: the TRL adapter in batches of 64, as ``GRPOTrainer`` calls it.

Run: ``python benchmarks/bench_reward.py`` (about a minute on one core).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_reward import make_pairs, reference_reward  # noqa: E402

from factory.generate import GenerateConfig, generate  # noqa: E402
from factory.reward import prompt_tools, score, trl_reward  # noqa: E402


def best_rates(
    runs: dict[str, Callable[[int, int], object]], n: int, repeat: int, chunk: int = 2000
) -> dict[str, float]:
    """Completions per second of each scorer, from the fastest of ``repeat`` timings per chunk.

    The scorers take turns chunk by chunk, so a machine that other jobs slow down for a while
    slows them all alike; garbage collection is paused, as ``timeit`` does.
    """
    best = {name: [float("inf")] * ((n + chunk - 1) // chunk) for name in runs}
    gc.disable()
    try:
        for _ in range(repeat):
            for k, lo in enumerate(range(0, n, chunk)):
                for name, run in runs.items():
                    start = time.perf_counter()
                    run(lo, min(n, lo + chunk))
                    best[name][k] = min(best[name][k], time.perf_counter() - start)
    finally:
        gc.enable()
    return {name: n / sum(times) for name, times in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a dataset folder (default: build one)")
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data or Path(tmp)
        if args.data is None:
            generate(GenerateConfig(out=folder))
        rows = [
            json.loads(line)
            for split in ("train", "heldout")
            for line in (folder / f"{split}.jsonl").open()
        ]
    pairs = make_pairs(rows, args.pairs, seed=1)
    golds = [row["reward_model"]["ground_truth"] for _, row in pairs]
    texts = [completion for completion, _ in pairs]
    extras = [row["extra_info"] for _, row in pairs]
    prompts = [row["prompt"] for _, row in pairs]
    reward_models = [row["reward_model"] for _, row in pairs]

    def reference(lo: int, hi: int) -> list[float]:
        return [reference_reward(texts[i], golds[i]) for i in range(lo, hi)]

    def aws(lo: int, hi: int) -> list[float]:
        return [score(texts[i], golds[i], mode="aws") for i in range(lo, hi)]

    def strict(lo: int, hi: int) -> list[float]:
        return [
            score(
                texts[i],
                golds[i],
                behavior=extras[i]["behavior"],
                missing=extras[i]["missing"],
                tools=prompt_tools(prompts[i]),
            )
            for i in range(lo, hi)
        ]

    def strict_trl(lo: int, hi: int) -> list[float]:
        out: list[float] = []
        for i in range(lo, hi, 64):
            j = min(hi, i + 64)
            out += trl_reward(
                prompts[i:j],
                texts[i:j],
                reward_model=reward_models[i:j],
                extra_info=extras[i:j],
            )
        return out

    assert aws(0, len(pairs)) == reference(0, len(pairs)), "aws mode disagrees with the reference"
    runs = {
        "reference (literal)": reference,
        "aws": aws,
        "strict": strict,
        "strict via trl_reward": strict_trl,
    }
    rates = best_rates(runs, len(pairs), args.repeat)
    base = rates["reference (literal)"]
    print(
        f"{len(pairs):,} pairs, best of {args.repeat} per chunk, Python {sys.version.split()[0]}\n"
    )
    print("| Scorer | Completions/s | × reference |")
    print("|---|---:|---:|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:,.0f} | {rate / base:.2f} |")


if __name__ == "__main__":
    main()
