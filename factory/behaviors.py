"""Build one execute / clarify / refuse example from a tool, a register and the split's RNG.

Every builder returns an :class:`Example`; values come from :mod:`factory.values`, phrasing
from :mod:`factory.templates`, greetings, sign-offs and typos from :mod:`factory.dressing`.
Execute gold calls hold exactly the arguments the user text states; clarify rows leave at
least one required argument out and ask for it; refuse rows are harmful or out-of-scope
requests (many of them misuse a listed tool) with a polite answer.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .dressing import (
    FRAMINGS,
    JOINERS,
    dress,
    end_sentence,
    lower_first,
    register_refusal,
    starts_with_value,
)
from .specs import ToolSpec
from .templates import REGISTERS, Library, Line
from .values import Pools, Sampler, Value, join_words, sampler

_str = json.encoder.encode_basestring  # json.dumps(text, ensure_ascii=False) of one string

_VERB_S = {
    "returns": "return",
    "gets": "get",
    "fetches": "fetch",
    "finds": "find",
    "retrieves": "retrieve",
    "searches": "search",
    "computes": "compute",
    "calculates": "calculate",
    "creates": "create",
    "sends": "send",
    "lists": "list",
    "converts": "convert",
    "looks": "look",
    "checks": "check",
    "provides": "provide",
    "translates": "translate",
    "generates": "generate",
    "updates": "update",
}
_CLARIFY_LEADS = ("", "", "I can help with that. ", "Sure! ")


# One built example before it becomes a row: (user text, ground truth, tools, missing, refusal
# category, template id). A plain tuple: built once per attempt, 6x faster than a NamedTuple.
# ``tools`` and ``missing`` are tuples too: often the same objects row after row, ready as keys.
Example = tuple[str, str, tuple[str, ...], tuple[str, ...], str | None, str]


def _label(name: str, schema: dict[str, Any]) -> str:
    """A short noun phrase for a parameter: its description if short, else its name."""
    desc = re.sub(r"\s*\(.*?\)", "", str(schema.get("description", ""))).strip().rstrip(".")
    if desc and len(desc.split()) <= 8:
        return lower_first(desc)
    return name.replace("_", " ")


def tool_action(tool: ToolSpec) -> str:
    """The tool's description as an imperative phrase ('get the weather forecast for a city')."""
    first = re.split(r"(?<=[.!?])\s", tool.description.strip(), maxsplit=1)[0].rstrip(".!? ")
    if not first:
        return f"use {tool.name.replace('_', ' ')}"
    head, _, rest = first.partition(" ")
    verb = _VERB_S.get(head.lower(), head.lower() if head[:1].isupper() else head)
    return f"{verb} {rest}".strip()


def _call_head(tool: ToolSpec) -> str:
    """The JSON of a gold call up to its first argument."""
    return f'{{"name": {_str(tool.name)}, "arguments": {{'


def ask_question(tool: ToolSpec, missing: Sequence[str], rng: random.Random) -> str:
    """The clarifying question for the missing arguments (``x-factory.ask`` or built)."""
    asks = []
    plain = []
    for p in missing:
        schema = tool.properties[p]
        hint = (schema.get("x-factory") or {}).get("ask")
        if hint:
            asks.append(str(hint))
        else:
            plain.append(_label(p, schema))
    if plain:
        asks.append(f"Could you tell me the {join_words(plain, 'and the')}?")
    return rng.choice(_CLARIFY_LEADS) + " ".join(asks)


_Draw = tuple[str, str, Sampler, bool]  # parameter, its JSON key text, sampler, always drawn


@dataclass(slots=True, frozen=True)
class _Phrasing:
    """A template line with the draws its slots need, in the schema's property order, and the
    required parameters it leaves out (a clarify line's ``missing``)."""

    line: Line
    draws: tuple[_Draw, ...]
    missing: tuple[str, ...] = ()


class Builder:
    """Example builders for one run: tools, templates and value pools bound once."""

    def __init__(self, tools: list[ToolSpec], lib: Library, pools: Pools) -> None:
        self.lib = lib
        self.pools = pools
        self.draws: dict[str, list[tuple[str, str, Sampler]]] = {}
        self.heads: dict[str, str] = {}
        self.names: dict[str, tuple[str]] = {}  # a row's tools when it is about one tool
        self.required: dict[str, frozenset[str]] = {}
        self.labels: dict[str, dict[str, str]] = {}
        self.actions: dict[str, str] = {}
        self.exec_lines: dict[tuple[str, str], list[_Phrasing]] = {}
        self.clar_lines: dict[tuple[str, str], list[_Phrasing]] = {}
        self.misuse: dict[str, list[_Phrasing]] = {}
        for tool in tools:
            props = tool.properties
            draws = self.draws[tool.name] = [
                (p, _str(p), sampler(s, p, pools)) for p, s in props.items()
            ]
            self.heads[tool.name] = _call_head(tool)
            self.names[tool.name] = (tool.name,)
            required = self.required[tool.name] = frozenset(tool.required)
            self.labels[tool.name] = {p: _label(p, s) for p, s in props.items()}
            self.actions[tool.name] = tool_action(tool)
            for reg in REGISTERS:
                lines = lib.tool_lines.get(tool.name, {}).get(reg, [])
                phrasings = [_phrasing(ln, draws, tool, required) for ln in lines]
                self.exec_lines[tool.name, reg] = [ph for ph in phrasings if not ph.missing]
                self.clar_lines[tool.name, reg] = [ph for ph in phrasings if ph.missing]
            self.misuse[tool.name] = [
                _phrasing(ln, draws, tool, ln.slots) for ln in lib.misuse.get(tool.name, [])
            ]
        self._misuse_by_key: dict[tuple[str, ...], list[tuple[ToolSpec, _Phrasing]]] = {}

    # -- execute -------------------------------------------------------------------------------

    def execute_call(
        self, tool: ToolSpec, register: str, rng: random.Random
    ) -> tuple[str, str, str, list[str]]:
        """(user text, gold call as JSON, template id, value texts) for one call of ``tool``.

        The call holds the required arguments, booleans, and the optional arguments whose
        words made it into the text (an empty slot of an ``if`` block may drop them).
        """
        phrasings = self.exec_lines[tool.name, register]
        if phrasings:
            phrasing = rng.choice(phrasings)
            line = phrasing.line
            drawn, ctx = _draw(phrasing.draws, rng)
            text = line.render(ctx)
            args = []
            texts = []
            for key, v, always in drawn:
                if always or v.text in text or v.value is True or v.value is False:
                    args.append(f"{key}: {v.json}")
                    texts.append(v.text)
        else:
            keep = set(tool.required)
            keep |= {p for p in tool.optional if rng.random() < 0.5}
            values = self._values(tool, keep, rng)
            line = rng.choice(self.lib.generic[register])
            text = self._generic(tool, line, values, register)
            args = [f"{_str(p)}: {v.json}" for p, v in values.items()]
            texts = _texts_of(values)
        return text, self.heads[tool.name] + ", ".join(args) + "}}", line.id, texts

    def execute(self, tool: ToolSpec, register: str, rng: random.Random) -> Example:
        text, call, tid, texts = self.execute_call(tool, register, rng)
        text = dress(text, register, texts, rng)
        return text, f"[{call}]", self.names[tool.name], (), None, tid

    def multi(
        self, first: ToolSpec, second: ToolSpec, register: str, rng: random.Random
    ) -> Example:
        """One request that needs two calls (same or different tools)."""
        text_a, call_a, tid_a, texts_a = self.execute_call(first, register, rng)
        for _ in range(8):
            text_b, call_b, tid_b, texts_b = self.execute_call(second, register, rng)
            if call_b != call_a:
                break
        joiner = rng.choice(JOINERS[register])
        protected = texts_a + texts_b
        b = text_b if starts_with_value(text_b, protected) else lower_first(text_b)
        text = joiner.format(a=end_sentence(text_a, register), b=b)
        text = dress(text, register, protected, rng)
        names = tuple(dict.fromkeys([first.name, second.name]))
        return text, f"[{call_a}, {call_b}]", names, (), None, f"{tid_a}+{tid_b}"

    # -- clarify -------------------------------------------------------------------------------

    def clarify(self, tool: ToolSpec, register: str, rng: random.Random) -> Example:
        phrasings = self.clar_lines[tool.name, register]
        if phrasings:
            phrasing = rng.choice(phrasings)
            line = phrasing.line
            missing = phrasing.missing
            drawn, ctx = _draw(phrasing.draws, rng)
            text = line.render(ctx)
            texts = [v.text for _, v, _ in drawn]
        else:
            required = list(tool.required)
            k = 2 if len(required) > 2 and rng.random() < 0.3 else 1
            missing = tuple(sorted(rng.sample(required, k), key=required.index))
            keep = {p for p in required if p not in missing}
            keep |= {p for p in tool.optional if rng.random() < 0.4}
            values = self._values(tool, keep, rng)
            line = rng.choice(self.lib.generic[register])
            text = self._generic(tool, line, values, register)
            texts = _texts_of(values)
        text = dress(text, register, texts, rng)
        question = ask_question(tool, missing, rng)
        return text, question, self.names[tool.name], missing, None, line.id

    # -- refuse --------------------------------------------------------------------------------

    def refuse(
        self, category: str, split_tools: list[ToolSpec], register: str, rng: random.Random
    ) -> Example:
        misuse = self._misuse_lines(category, split_tools)
        if misuse and rng.random() < 0.5:
            tool, phrasing = rng.choice(misuse)
            line = phrasing.line
            text = line.render(_draw(phrasing.draws, rng)[1])
            tools: tuple[str, ...] = self.names[tool.name]
        else:
            line = rng.choice(self.lib.refuse[category])
            text = line.render(self._refuse_context(line, rng))
            tools = ()
        if rng.random() < 0.5:
            framing = rng.choice(FRAMINGS).format(
                city=rng.choice(self.pools.get("city")),
                company=rng.choice(self.pools.get("company")),
            )
            text = framing + lower_first(text)
        text = register_refusal(text, register)
        text = dress(text, register, [], rng)
        specific = self.lib.answers.get(category, [])
        pool = specific if specific and rng.random() < 0.6 else self.lib.answers["*"]
        return text, rng.choice(pool), tools, (), category, line.id

    # -- helpers -------------------------------------------------------------------------------

    def _misuse_lines(
        self, category: str, split_tools: list[ToolSpec]
    ) -> list[tuple[ToolSpec, _Phrasing]]:
        """The split's tool lines that misuse a tool for ``category`` (worked out once)."""
        key = (category, *[t.name for t in split_tools])
        pairs = self._misuse_by_key.get(key)
        if pairs is None:
            pairs = self._misuse_by_key[key] = [
                (t, ph)
                for t in split_tools
                for ph in self.misuse[t.name]
                if ph.line.category == category
            ]
        return pairs

    def _values(self, tool: ToolSpec, keep: set[str], rng: random.Random) -> dict[str, Value]:
        """Sample the ``keep`` parameters, in the schema's order."""
        return {p: draw(rng) for p, _, draw in self.draws[tool.name] if p in keep}

    def _refuse_context(self, line: Line, rng: random.Random) -> dict[str, str]:
        ctx = {}
        for slot in sorted(line.slots):  # sorted: set order varies between processes
            if slot == "person_possessive":
                ctx[slot] = rng.choice(self.pools.get("person")) + "'s"
            else:
                ctx[slot] = rng.choice(self.pools.get(slot))
        return ctx

    def _generic(self, tool: ToolSpec, line: Line, values: dict[str, Value], register: str) -> str:
        labels = self.labels[tool.name]
        if register == "formal":
            details = join_words([f"the {labels[p]} is {v.text}" for p, v in values.items()])
        elif register == "casual":
            details = ", ".join(f"{labels[p]}: {v.text}" for p, v in values.items())
        else:
            details = ", ".join(f"{p.replace('_', ' ')} {v.text}" for p, v in values.items())
        ctx = {
            "action": self.actions[tool.name],
            "details": details,
            "tool": tool.name.replace("_", " "),
        }
        return line.render(ctx)


def _phrasing(
    line: Line, draws: list[tuple[str, str, Sampler]], tool: ToolSpec, always: frozenset[str]
) -> _Phrasing:
    """The draws of the parameters ``line`` uses; ``always`` ones every time, others half."""
    return _Phrasing(
        line,
        tuple((p, k, d, p in always) for p, k, d in draws if p in line.slots),
        tuple(p for p in tool.required if p not in line.slots),
    )


def _draw(
    draws: tuple[_Draw, ...], rng: random.Random
) -> tuple[list[tuple[str, Value, bool]], dict[str, str]]:
    """([(JSON key, value, always drawn)], template context): a slot not drawn renders empty."""
    drawn = []
    ctx = {}
    for p, key, draw, always in draws:
        if always or rng.random() < 0.5:
            v = draw(rng)
            drawn.append((key, v, always))
            ctx[p] = v.text
        else:
            ctx[p] = ""
    return drawn, ctx


def _texts_of(values: dict[str, Value]) -> list[str]:
    """The words that state the values: never touched by typos or re-casing."""
    return [v.text for v in values.values()]
