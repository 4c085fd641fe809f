"""Training throughput on this machine: greedy generation tokens/s and GRPO steps/s.

Uses ``train/train.py``'s own GRPO stage (TRL ``GRPOTrainer`` + ``factory.reward.trl_reward``)
on rows of a generated dataset, with the tiny random Qwen2 of the tests or a real model folder:

    python benchmarks/bench_train.py                                  # tiny model, seconds
    python benchmarks/bench_train.py --model train/models/smollm2-135m --lora --steps 2

Prints one JSON line per measurement (``--json`` off prints a table).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from factory.generate import GenerateConfig, generate  # noqa: E402
from factory.hf import generate_completions, load_model  # noqa: E402
from tests.tinymodel import build_tiny_qwen  # noqa: E402


def train_module():
    spec = importlib.util.spec_from_file_location("train_script", ROOT / "train" / "train.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_script"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: a tiny random Qwen2)")
    parser.add_argument("--rows", type=int, default=16, help="held-out rows to generate for")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3, help="GRPO steps to time")
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=2, help="prompts per GRPO step")
    parser.add_argument("--lora", action="store_true")
    args = parser.parse_args()
    train = train_module()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        generate(GenerateConfig(out=data, train=60, heldout=max(args.rows, 10), seed=0))
        model_path = args.model or str(build_tiny_qwen(Path(tmp) / "tiny"))
        rows = train.read_rows(data / "heldout.jsonl")[: args.rows]
        model, tokenizer = load_model(model_path, dtype="float32")

        start = time.perf_counter()
        texts = generate_completions(
            model, tokenizer, [r["prompt"] for r in rows], max_new_tokens=args.new_tokens
        )
        seconds = time.perf_counter() - start
        tokens = sum(len(tokenizer(t, add_special_tokens=False).input_ids) for t in texts)
        prompt_tokens = sum(
            len(tokenizer(text, add_special_tokens=False).input_ids)
            for text in (
                tokenizer.apply_chat_template(
                    r["prompt"], tokenize=False, add_generation_prompt=True
                )
                for r in rows
            )
        ) / len(rows)
        print(
            json.dumps(
                {
                    "bench": "generate",
                    "model": model_path,
                    "rows": len(rows),
                    "mean_prompt_tokens": round(prompt_tokens),
                    "new_tokens": tokens,
                    "seconds": round(seconds, 2),
                    "tokens_per_s": round(tokens / seconds, 1),
                }
            )
        )

        cfg = train.load_config(
            None,
            {
                "model": model_path,
                "data": str(data),
                "out": str(Path(tmp) / "run"),
                "num_generations": args.generations,
                "prompts_per_step": args.prompts,
                "max_steps": args.steps,
                "max_completion_length": args.new_tokens,
                "lora": args.lora,
                "bf16": False,
            },
        )
        grpo = train.run_grpo(
            model, tokenizer, train.read_rows(data / "train.jsonl"), cfg, Path(tmp) / "run"
        )
        step_times = [e["step_time"] for e in grpo["log"] if "step_time" in e]
        print(
            json.dumps(
                {
                    "bench": "grpo",
                    "model": model_path,
                    "steps": grpo["steps"],
                    "completions_per_step": args.generations * args.prompts,
                    "seconds_per_step": grpo["seconds_per_step"],
                    "steps_per_s": round(grpo["steps"] / grpo["seconds"], 3),
                    "step_times": [round(float(t), 2) for t in step_times],
                }
            )
        )


if __name__ == "__main__":
    main()
