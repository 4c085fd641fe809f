"""The generation pipeline: specs + templates + plan -> rows streamed to JSONL, then a manifest.

    >>> manifest = generate(GenerateConfig(out=Path("outputs/default")))   # doctest: +SKIP
    >>> manifest["counts"]["train"]["behavior"]
    {'execute': 900, 'clarify': 375, 'refuse': 225}

Rows stream to a temporary file in the output folder and are renamed into place only when the
whole run succeeded, so an error never leaves a half-written dataset behind.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import __version__
from .behaviors import Builder, Example
from .errors import ConfigError
from .formats import dumps_row, make_row, openai_tool, row_pieces, system_prompt
from .plan import (
    BEHAVIORS,
    Rng,
    apportion,
    behavior_order,
    is_multi,
    pick_heldout,
    rotation,
    split_seed,
)
from .specs import BUNDLED_SPECS, ToolSpec, load_specs, specs_hash
from .templates import Library, load_library
from .values import DATE_ANCHOR, Pools

_MAX_ATTEMPTS = 64
# Rows per write: about 150 KB, which the join, the sha256 and the write then read from the CPU
# cache (256 rows, over 1 MB, ran 8% slower). A paraphrase batch is larger, to keep enough
# requests in flight.
_CHUNK = 32
_PARAPHRASE_CHUNK = 256
# Every byte but [0-9a-z] (see _prompt_key).
_NOT_ALNUM = bytes(b for b in range(256) if not (48 <= b <= 57 or 97 <= b <= 122))

Progress = Callable[[str, int, int], None]
_Kind = tuple[str, str, tuple[str, ...], str | None]  # behavior, register, tools, category


class Draft(NamedTuple):
    """One planned, built row before it is written: the fields of
    :func:`~factory.formats.make_row` in its order, and the tools the system prompt lists."""

    row_id: str
    split: str
    behavior: str
    system: str
    user: str
    ground_truth: str
    tools: tuple[str, ...]
    missing: tuple[str, ...]
    category: str | None
    template: str
    register: str
    listed: list[str]


class Paraphraser(Protocol):
    """What ``generate`` needs from an optional rewriter (see :mod:`factory.paraphrase`)."""

    def rewrite(self, split: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]: ...

    def report(self) -> dict[str, Any]: ...


class GenerateConfig(BaseModel):
    """Every option of a generation run (recorded in the manifest)."""

    model_config = ConfigDict(extra="forbid")

    specs: list[Path] = Field(default_factory=list)
    heldout_tools: list[str] | None = None
    train: int = Field(1500, ge=1)
    heldout: int = Field(300, ge=0)
    mix: tuple[float, float, float] = (60.0, 25.0, 15.0)
    seed: int = 0
    fmt: Literal["aws", "qwen", "openai"] = "aws"
    out: Path = Path("outputs/default")
    multi_share: float = Field(0.1, ge=0.0, le=1.0)
    templates: list[Path] = Field(default_factory=list)
    max_tools: int = Field(8, ge=1)
    shard: tuple[int, int] | None = None

    @field_validator("shard")
    @classmethod
    def _check_shard(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and not (v[1] >= 1 and 0 <= v[0] < v[1]):
            raise ValueError("shard must be i/n with 0 <= i < n")
        return v

    def hash(self) -> str:
        data = self.model_dump(mode="json", exclude={"out", "shard"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _prompt_key(text: str) -> int:
    """Prompts that differ only in case, spacing, punctuation or where words break share a key
    ("What's the weather?" and "whats the weather" are one prompt).

    The key hashes the [0-9a-z] characters of the lowercased text, every other one (non-ASCII
    included) left out. It is coarser than the audit's duplicate key (words of the lowercased
    text), so rows it lets through pass the audit; deleting bytes is 3x faster than re-joining
    words.
    """
    return hash(text.lower().encode("ascii", "replace").translate(None, _NOT_ALNUM))


class _Split:
    """One split's tools, categories and system prompts, ready for the row loop."""

    def __init__(self, name: str, tools: list[ToolSpec], lib: Library, cfg: GenerateConfig):
        self.name = name
        self.tools = tools
        self.clarify_tools = [t for t in tools if t.required]
        self.categories = lib.category_splits[name]
        self.fmt = cfg.fmt
        self.max_tools = cfg.max_tools
        self.schemas = {
            t.name: openai_tool(t.name, t.description, t.public_schema()) for t in tools
        }
        self.lines = {n: json.dumps(s, ensure_ascii=False) for n, s in self.schemas.items()}
        self.names = list(self.lines)
        self.fixed = (
            system_prompt(list(self.lines.values()), cfg.fmt)
            if len(tools) <= cfg.max_tools
            else None
        )

    def sampled_system(
        self, row_tools: tuple[str, ...], rng: random.Random
    ) -> tuple[str, list[str]]:
        """When the split has more tools than a prompt lists (no ``fixed`` prompt): a system
        prompt listing the row's tools among a sample of the others, and those tool names."""
        others = [n for n in self.lines if n not in row_tools]
        names = [*row_tools, *rng.sample(others, self.max_tools - len(row_tools))]
        rng.shuffle(names)
        return system_prompt([self.lines[n] for n in names], self.fmt), names


def _check_mix(cfg: GenerateConfig, splits: list[_Split]) -> None:
    sizes = {"train": cfg.train, "heldout": cfg.heldout}
    for split in splits:
        if sizes[split.name] == 0:
            continue
        counts = dict(zip(BEHAVIORS, apportion(sizes[split.name], cfg.mix), strict=True))
        if counts["clarify"] and not split.clarify_tools:
            raise ConfigError(
                f"--mix {'/'.join(f'{m:g}' for m in cfg.mix)}: clarify rows need a tool with a "
                f"required parameter, and no {split.name} tool has one "
                f"({', '.join(t.name for t in split.tools)})"
            )


def iter_drafts(
    split: _Split,
    builder: Builder,
    cfg: GenerateConfig,
    size: int,
    seen: set[int],
    start: int = 0,
    stop: int | None = None,
    until: int | None = None,
) -> Iterator[Draft]:
    """Rows ``start..stop`` of one split, de-duplicated against ``seen``.

    Rows outside the range, up to ``until``, are still built and only remembered in ``seen``:
    each row's draws continue the split's RNG stream and which draw a row keeps depends on the
    prompts before it (in this split and the ones before), so a shard replays them to match the
    whole run exactly.
    """
    order = behavior_order(size, cfg.mix, cfg.seed, split.name)
    stop = size if stop is None else stop
    until = stop if until is None else until
    rng = Rng(split_seed(cfg.seed, split.name))
    name = split.name
    tools = split.tools
    fixed, names = split.fixed, split.names  # the system prompt when every row lists all tools
    new_draft = tuple.__new__

    def two_calls(tool: ToolSpec, register: str, rng: random.Random) -> Example:
        second = tool if rng.random() < 0.3 else rng.choice(tools)
        return builder.multi(tool, second, register, rng)

    def refusal(category: str, register: str, rng: random.Random) -> Example:
        return builder.refuse(category, tools, register, rng)

    single, clarify, refuse = (
        rotation(tools),
        rotation(split.clarify_tools),
        rotation(split.categories),
    )
    share = cfg.multi_share
    ranks = [0, 0, 0]
    multi_rank = 0  # two-call rows so far: they rotate apart from single calls
    subject: Any  # a tool, or a refusal category
    build: Callable[[Any, str, random.Random], Example]
    for index in range(until):
        code = order[index]
        rank = ranks[code]
        ranks[code] = rank + 1
        if code == 0:
            if is_multi(rank, share):
                subject, register = single[multi_rank % len(single)]
                multi_rank += 1
                build = two_calls
            else:
                subject, register = single[(rank - multi_rank) % len(single)]
                build = builder.execute
        elif code == 1:
            subject, register = clarify[rank % len(clarify)]
            build = builder.clarify
        else:
            subject, register = refuse[rank % len(refuse)]
            build = refusal
        for _ in range(_MAX_ATTEMPTS):
            example = build(subject, register, rng)
            key = _prompt_key(example[0])  # the user text
            if key not in seen:
                seen.add(key)
                break
        else:
            raise ConfigError(
                f"cannot build a distinct {BEHAVIORS[code]} prompt for "
                f"{', '.join(example[2]) or example[4]} in {split.name} after "
                f"{_MAX_ATTEMPTS} tries: add templates or ask for fewer rows"
            )
        if start <= index < stop:
            system, listed = (
                (fixed, names) if fixed is not None else split.sampled_system(example[2], rng)
            )
            yield new_draft(  # Draft(...) without its keyword handling, 2.5x faster
                Draft,
                (
                    f"{name}-{index:06d}",
                    name,
                    BEHAVIORS[code],
                    system,
                    *example,  # user, ground_truth, tools, missing, category, template
                    register,
                    listed,
                ),
            )


def row_of(draft: Draft, split: _Split) -> dict[str, Any]:
    """The row (a dict in the layout of :mod:`factory.formats`) of one draft."""
    fields = draft._asdict()
    listed = fields.pop("listed")
    fields["tools"], fields["missing"] = list(draft.tools), list(draft.missing)
    schemas = [split.schemas[n] for n in listed] if split.fmt == "openai" else None
    return make_row(**fields, fmt=split.fmt, tool_schemas=schemas)


def _draft_pieces(drafts: list[Draft]) -> list[bytes]:
    """The JSONL bytes of drafts in the plain layout, without building row dicts."""
    pieces: list[bytes] = []
    add = pieces.extend
    for d in drafts:
        add(row_pieces(*d[:-1]))
    return pieces


def _file_name(split: str, cfg: GenerateConfig) -> str:
    if cfg.shard is None:
        return f"{split}.jsonl"
    i, n = cfg.shard
    return f"{split}-{i:05d}-of-{n:05d}.jsonl"


def _write_split(
    path: Path,
    drafts: Iterator[Draft],
    total: int,
    split: _Split,
    paraphraser: Paraphraser | None,
    progress: Progress | None,
) -> tuple[dict[str, Counter[str]], str]:
    """Stream rows into ``path``; return counters and the file's sha256.

    Without a paraphraser, rows in the ``aws`` / ``qwen`` layout go straight from drafts to
    bytes; otherwise each becomes a row dict first (paraphrasing rewrites them, ``openai`` adds
    columns).
    """
    kinds: Counter[_Kind] = Counter()
    digest = hashlib.sha256()
    done = 0
    direct = paraphraser is None and split.fmt != "openai"
    with path.open("wb") as fh:

        def flush(batch: list[Draft]) -> None:
            nonlocal done
            # Paraphrasing rewrites the user text only: the drafts' kinds are the rows' kinds.
            kinds.update([(d.behavior, d.register, d.tools, d.category) for d in batch])
            if direct:
                data = b"".join(_draft_pieces(batch))
            else:
                rows = [row_of(d, split) for d in batch]
                if paraphraser is not None:
                    rows = paraphraser.rewrite(split.name, rows)
                data = "".join([dumps_row(row) + "\n" for row in rows]).encode()
            digest.update(data)
            fh.write(data)
            done += len(batch)
            if progress is not None:
                progress(split.name, done, total)

        chunk = _CHUNK if paraphraser is None else _PARAPHRASE_CHUNK
        while True:  # the last chunk is short (or empty)
            batch = list(islice(drafts, chunk))
            flush(batch)
            if len(batch) < chunk:
                break
    return _counts(kinds), digest.hexdigest()


def _counts(kinds: Counter[_Kind]) -> dict[str, Counter[str]]:
    """Rows per behavior, tool, register and refusal category."""
    counts: dict[str, Counter[str]] = {
        k: Counter() for k in ("behavior", "tool", "register", "category")
    }
    for (behavior, register, tools, category), n in kinds.items():
        counts["behavior"][behavior] += n
        counts["register"][register] += n
        for tool in tools:
            counts["tool"][tool] += n
        if category:
            counts["category"][category] += n
    return counts


def load_inputs(cfg: GenerateConfig) -> tuple[list[ToolSpec], list[ToolSpec], Library]:
    """(train tools, held-out tools, templates) for a config."""
    if cfg.specs:
        tools = load_specs(cfg.specs)
        heldout_names = cfg.heldout_tools
    else:
        held_dir = BUNDLED_SPECS / "heldout"
        tools = load_specs([BUNDLED_SPECS / "train", held_dir])
        heldout_names = cfg.heldout_tools or [
            t.name for t in tools if Path(t.source).parent == held_dir
        ]
    train_tools, heldout_tools = pick_heldout(tools, heldout_names, cfg.seed)
    return train_tools, heldout_tools, load_library(tools, cfg.templates)


def generate(
    cfg: GenerateConfig,
    *,
    paraphraser: Paraphraser | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Build the dataset described by ``cfg`` into ``cfg.out``; return the manifest."""
    train_tools, heldout_tools, lib = load_inputs(cfg)
    splits = [_Split("train", train_tools, lib, cfg), _Split("heldout", heldout_tools, lib, cfg)]
    _check_mix(cfg, splits)
    builder = Builder(train_tools + heldout_tools, lib, Pools(cfg.seed))
    sizes = {"train": cfg.train, "heldout": cfg.heldout}
    cfg.out.mkdir(parents=True, exist_ok=True)
    seen: set[int] = set()
    temps: list[tuple[Path, Path]] = []
    manifest: dict[str, Any] = {
        "toolfactory_version": __version__,
        "config": cfg.model_dump(mode="json"),
        "config_hash": cfg.hash(),
        "seed": cfg.seed,
        "date_anchor": DATE_ANCHOR.isoformat(),
        "spec_hashes": specs_hash(train_tools + heldout_tools),
        "tools": {s.name: [t.name for t in s.tools] for s in splits},
        "refusal_categories": {s.name: s.categories for s in splits},
        "counts": {},
        "files": {},
    }
    # Everything loaded so far (Faker, pools, templates) lives as long as the run: out of the
    # collector's sight, each collection only walks the objects of the rows in flight. A caller
    # that froze objects itself (a pre-fork server) keeps its freeze: we leave gc alone then.
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        for split in splits:
            final = cfg.out / _file_name(split.name, cfg)
            tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
            temps.append((tmp, final))
            size = sizes[split.name]
            start, stop = _shard_range(size, cfg.shard)
            last = split is splits[-1]
            drafts = iter_drafts(
                split, builder, cfg, size, seen, start, stop, stop if last else size
            )
            counts, digest = _write_split(tmp, drafts, stop - start, split, paraphraser, progress)
            manifest["counts"][split.name] = {
                "rows": sum(counts["behavior"].values()),
                **{k: dict(sorted(c.items())) for k, c in counts.items()},
            }
            manifest["files"][split.name] = {"path": final.name, "sha256": digest}
        if paraphraser is not None:
            manifest["paraphrase"] = paraphraser.report()
        mname = "manifest.json" if cfg.shard is None else f"manifest-{cfg.shard[0]:05d}.json"
        mfinal = cfg.out / mname
        mtmp = mfinal.with_name(f".{mname}.tmp-{os.getpid()}")
        temps.append((mtmp, mfinal))
        mtmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for tmp, final in temps:
            os.replace(tmp, final)
    finally:
        if freeze:
            gc.unfreeze()
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
    return manifest


def _shard_range(size: int, shard: tuple[int, int] | None) -> tuple[int, int]:
    if shard is None:
        return 0, size
    i, n = shard
    return size * i // n, size * (i + 1) // n
