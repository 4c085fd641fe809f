"""Local transformers generation: load a causal LM folder and answer chat prompts greedily.

Used by ``toolfactory eval --hf-model PATH`` and by ``train/`` for its before/after evaluations::

    model, tokenizer = load_model("train/models/smollm2-135m")
    texts = generate_completions(model, tokenizer, [row["prompt"] for row in rows])

Generation is deterministic (greedy) and always runs with the model in eval mode, gradient
checkpointing off and the KV cache on: a model fresh out of a trainer is still in train mode with
checkpointing enabled, and greedy decoding in that state degenerates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ModelError


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(
    path: str | Path, device: str | None = None, *, dtype: str | None = None
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` from a local folder (or hub id already in the cache).

    bf16 on CUDA, fp32 on CPU unless ``dtype`` ("float32", "bfloat16") says otherwise (training
    keeps fp32 master weights); the tokenizer pads on the left for batched generation.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or _default_device()
    if isinstance(path, Path) or Path(path).exists():
        if not (Path(path) / "config.json").is_file():
            raise ModelError(f"{path}: not a model folder (no config.json)")
    torch_dtype = (
        getattr(torch, dtype)
        if dtype
        else (torch.bfloat16 if device.startswith("cuda") else torch.float32)
    )
    model: Any
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch_dtype)
    except (OSError, ValueError) as err:
        raise ModelError(f"{path}: cannot load model: {err}") from err
    prepare_tokenizer(tokenizer)
    model.to(device)
    return model, tokenizer


def prepare_tokenizer(tokenizer: Any) -> None:
    """Left padding and a pad token (the eos token when the tokenizer has none)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def generate_completions(
    model: Any,
    tokenizer: Any,
    prompts: list[list[dict[str, Any]]],
    *,
    batch_size: int = 8,
    max_new_tokens: int = 256,
) -> list[str]:
    """Greedy completions (assistant text only) for chat prompts, in input order."""
    import torch

    prepare_tokenizer(tokenizer)
    was_training = model.training
    model.eval()
    disable = getattr(model, "activation_checkpointing_disable", None) or getattr(
        model, "gradient_checkpointing_disable", None
    )
    if disable is not None:
        disable()
    model.config.use_cache = True
    texts = [
        tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]
    # Sorting by length keeps padding small inside each batch.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[str] = [""] * len(texts)
    device = next(model.parameters()).device
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer(
                [texts[i] for i in idx],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(device)
            with torch.no_grad():
                gen = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    use_cache=True,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                    temperature=None,
                    top_p=None,
                    top_k=None,
                )
            new = gen[:, enc["input_ids"].shape[1] :]
            for i, ids in zip(idx, new, strict=True):
                out[i] = tokenizer.decode(ids, skip_special_tokens=True).strip()
    finally:
        if was_training:
            model.train()
    return out
