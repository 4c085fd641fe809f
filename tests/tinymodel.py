"""A tiny random Qwen2 chat model built on the spot, for tests that need a real model.

``build_tiny_qwen(path)`` trains a small byte-level BPE tokenizer on a few lines of tool-calling
text, wraps it as a ``PreTrainedTokenizerFast`` with a ChatML chat template, and saves it with a
randomly initialised ``Qwen2ForCausalLM`` (hidden size 64, 2 layers). Nothing is downloaded; a
GRPO step with TRL takes about a tenth of a second on CPU.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = [
    "You are a helpful assistant that can call tools.",
    '<TOOLCALL>[{"name": "get_weather_forecast", "arguments": {"city": "Paris"}}]</TOOLCALL>',
    '<tool_call>{"name": "currency_convert", "arguments": {"amount": 50}}</tool_call>',
    "Which city do you mean? I can't help with that request, sorry.",
    "Convert 50 EUR to USD. Search flights from Berlin to Rome on 2025-06-01.",
    "Translate hello into German. What is the mean of 1, 2, 3? Find restaurants nearby.",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 {}[]<>\":,._-/?!'",
]


def build_tiny_qwen(path: Path, *, seed: int = 0, vocab_size: int = 512) -> Path:
    """Save a random tiny Qwen2 causal LM and its ChatML tokenizer under ``path``; return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_CORPUS * 20, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.padding_side = "left"
    tokenizer.save_pretrained(path)

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        initializer_range=0.2,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path)
    return path
