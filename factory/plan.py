"""The plan: how many rows of each behavior, which tools go to held-out, what each row is.

Counts use exact largest-remainder apportionment (1,500 at 60/25/15 -> 900/375/225). Inside
each behavior, rows rotate through tools and the three registers so every (tool, register)
pair appears equally often. Each split draws from one RNG seeded from (seed, split): a row's
content depends on the rows before it (their draws, and which prompts they already took), so
a shard replays the rows before its slice to match the whole run exactly.

    >>> apportion(1500, (60, 25, 15))
    [900, 375, 225]
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from .errors import ConfigError
from .specs import ToolSpec
from .templates import REGISTERS

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem

_T = TypeVar("_T")

BEHAVIORS: tuple[str, ...] = ("execute", "clarify", "refuse")
SPLITS: tuple[str, ...] = ("train", "heldout")


def parse_mix(text: str) -> tuple[float, float, float]:
    """'60/25/15' -> (60, 25, 15); three non-negative numbers with a positive sum."""
    parts = text.replace(",", "/").split("/")
    try:
        nums = tuple(float(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--mix {text!r}: expected three numbers like 60/25/15") from None
    if len(nums) != 3 or any(n < 0 for n in nums) or sum(nums) <= 0:
        raise ConfigError(f"--mix {text!r}: expected three non-negative numbers like 60/25/15")
    return nums[0], nums[1], nums[2]


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` by ``weights`` exactly (largest remainder; ties go to the first)."""
    s = sum(weights)
    quotas = [total * w / s for w in weights]
    counts = [int(q) for q in quotas]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def pick_heldout(
    tools: list[ToolSpec], names: list[str] | None, seed: int
) -> tuple[list[ToolSpec], list[ToolSpec]]:
    """(train tools, held-out tools); without names, a seeded ~20% pick (at least one)."""
    by_name = {t.name: t for t in tools}
    if names:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ConfigError(
                f"--heldout-tools: unknown tool {unknown[0]!r} "
                f"(known: {', '.join(sorted(by_name))})"
            )
        held = set(names)
    else:
        if len(tools) < 2:
            raise ConfigError(
                f"need at least 2 tools to split train / held-out by tool, got {len(tools)}"
            )
        k = max(1, round(0.2 * len(tools)))
        ranked = sorted(by_name, key=lambda n: hashlib.sha256(f"{seed}:{n}".encode()).hexdigest())
        held = set(ranked[:k])
    train = [t for t in tools if t.name not in held]
    heldout = [t for t in tools if t.name in held]
    if not train:
        raise ConfigError("--heldout-tools: every tool is held out, so train has no tool")
    return train, heldout


def behavior_order(size: int, mix: Sequence[float], seed: int, split: str) -> bytes:
    """Per-row behavior codes (0 execute, 1 clarify, 2 refuse), shuffled so the file is mixed."""
    counts = apportion(size, mix)
    order = bytearray()
    for code, n in enumerate(counts):
        order.extend(bytes([code]) * n)
    random.Random(f"{seed}:{split}:order").shuffle(order)
    return bytes(order)


def rotation(items: Sequence[_T]) -> list[tuple[_T, str]]:
    """One full turn of a behavior's rotation: the k-th row of the behavior takes
    ``turn[k % len(turn)]``, so every (item, register) pair comes equally often."""
    return [(item, reg) for reg in REGISTERS for item in items]


def is_multi(rank: int, share: float) -> bool:
    """Whether the rank-th execute row is a two-call row (exactly ``share`` of them)."""
    return int((rank + 1) * share) > int(rank * share)


class Rng(random.Random):
    """The generator's RNG: ``random.Random`` whose integer draws scale one ``random()``.

    ``choice``, ``randrange``, ``randint``, ``sample`` and ``shuffle`` then cost one C call
    each instead of a rejection loop over ``getrandbits`` run in Python; the bias this adds is
    below n / 2**53, far under anything a dataset can show.
    """

    def _randbelow(self, n: int) -> int:
        return int(self.random() * n)

    # randrange and randint with int arguments, without the argument checks and the two
    # calls they go through (same draws; anything else goes to random.Random).
    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if step == 1 and type(start) is int:
            if stop is None:
                if start > 0:
                    return int(self.random() * start)
            elif type(stop) is int and stop > start:
                return start + int(self.random() * (stop - start))
        return super().randrange(start, stop, step)

    def randint(self, a: int, b: int) -> int:
        if type(a) is int and type(b) is int and b >= a:
            return a + int(self.random() * (b - a + 1))
        return super().randint(a, b)

    def choice(self, seq: SupportsLenAndGetItem[_T]) -> _T:
        return seq[int(self.random() * len(seq))]

    def sample(
        self, population: Sequence[_T], k: int, *, counts: Iterable[int] | None = None
    ) -> list[_T]:
        """``random.Random.sample``, same draws; a short list skips its checks (an ABC
        ``isinstance`` that costs more than the draws)."""
        n = len(population)
        if type(population) is not list or counts is not None or not 0 <= k <= 5 or n > 21:
            return super().sample(population, k, counts=counts)
        if k > n:
            raise ValueError("Sample larger than population or is negative")
        pool = population.copy()  # the pool method random.Random uses for n <= 21, k <= 5
        random = self.random
        result = []
        for i in range(k):
            j = int(random() * (n - i))
            result.append(pool[j])
            pool[j] = pool[n - i - 1]
        return result


def split_seed(seed: int, split: str) -> int:
    """The seed of one split's RNG."""
    return seed * 1_000_003 + SPLITS.index(split) * 1_000_000_007
