"""factory.hf: local greedy generation with a tiny random Qwen2 model."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.errors import ModelError
from factory.hf import generate_completions, load_model
from tests.tinymodel import build_tiny_qwen

PROMPTS = [
    [{"role": "system", "content": "You can call tools."}, {"role": "user", "content": "hi"}],
    [{"role": "user", "content": "Convert 50 EUR to USD and then search flights to Rome"}],
    [{"role": "user", "content": "Weather in Paris?"}],
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen(tmp_path_factory.mktemp("tiny"))


def test_greedy_is_deterministic_and_batch_independent(tiny: Path) -> None:
    model, tok = load_model(tiny, device="cpu")
    one_by_one = [generate_completions(model, tok, [p], max_new_tokens=12)[0] for p in PROMPTS]
    batched = generate_completions(model, tok, PROMPTS, batch_size=3, max_new_tokens=12)
    assert batched == one_by_one
    assert all(isinstance(t, str) and t for t in batched)
    assert not any("<|im_start|>" in t for t in batched)


def test_generation_leaves_train_mode_and_restores_it(tiny: Path) -> None:
    model, tok = load_model(tiny, device="cpu")
    model.train()
    model.gradient_checkpointing_enable()
    reference, _ = load_model(tiny, device="cpu")
    got = generate_completions(model, tok, PROMPTS[:1], max_new_tokens=8)
    assert got == generate_completions(reference, tok, PROMPTS[:1], max_new_tokens=8)
    assert model.training
    assert not reference.training


def test_missing_folder_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no config.json"):
        load_model(tmp_path / "nope")
