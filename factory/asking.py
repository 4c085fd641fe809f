"""Clarify and refuse credit: does a completion ask for the missing argument, or decline?

Input: the requests of a completion (its sentences that ask the user for something, from
:mod:`factory.completions`), the row's gold answer, its missing arguments and, optionally, the
tool schemas. Output: a credit in [0, 1]. A clarify answer earns 1.0 when it asks for every
missing argument: a request names one when it has a word of the argument's name, schema
description or ask hint (stemmed; "where" and "when" count for places and dates) or, without a
schema, of the gold question. A refuse answer earns 1.0 when it declines without a request.

>>> clarify_credit(requests_of("Which currency should I convert to?"), "Which currency?",
...                ["to"], None)
1.0
>>> refusal_credit("I'm sorry, I can't help with that."), refusal_credit("Which city?")
(1.0, 0.0)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

# absolute imports: verl loads factory/reward.py by path
from factory.completions import requests_in, requests_in_tail, tail

# Clarify: a question that asks for none of the missing arguments still beats a call.
ASK_CREDIT = 0.2
# Refuse: text that neither calls, asks nor declines (e.g. an answer in prose).
PROSE_CREDIT = 0.5

_DECLINE_RE = re.compile(
    r"\b(?:sorry|apologi[sz]e|can't|cannot|can not|won't|will not|unable|not able|decline|"
    r"refuse|must not|shouldn't|should not|not (?:allowed|permitted|appropriate|possible|"
    r"designed|meant|intended|something|in a position)|against|illegal|unlawful|unethical|"
    r"harmful|unsafe|outside (?:of )?(?:my|what|the)|beyond|unfortunately|afraid|no tool|"
    r"not (?:a )?(?:supported|available)|do not have|don't have|isn't something|"
    r"not going to|i'm not|i am not)\b"
)
_WORD_RE = re.compile(r"[a-z0-9]+")

_STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be been before being below
    between both but by can could did do does doing down during each either else few for from
    further given had has have having he her here hers him his how i if in into is it its itself
    just least like make me more most must my need no nor not of off on once one only or other
    our out over own per please provide same say should so some specify such than that the their
    them then there these they this those through sure thanks thank happy glad help okay know
    tell let to too under until up use used using very want
    was we were what when where which while who whom whose why will with would you your yours
    e g eg ie etc value values given information detail details type kind optional optionally
    when omitted default list set get one two number""".split()
)
# Interrogatives that ask for a kind of argument without naming it.
_WHERE_HINTS = frozenset(
    "city location place address country destination origin airport region area "
    "neighbourhood neighborhood venue where".split()
)
_WHEN_HINTS = frozenset("date time day when departure arrival start end".split())


# --- clarify ---------------------------------------------------------------------------------

# Words that name an argument (stems), those of them made of several words ("how many"), and
# whether "where" is one of them.
Ask = tuple[frozenset[str], tuple[str, ...], bool]
# Asks by missing argument, per tools tuple (what prompt_tools returns), by id: the tuples are
# kept alive beside, so no other object takes one's id while its entry lives.
_ASKS: dict[int, dict[str, Ask]] = {}
_ASKS_KEPT: list[Any] = []


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) - len(suffix) >= 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


class _Stems(dict[str, str]):
    """Stems by word, filled on first use: ``map(_STEMS.__getitem__, words)`` runs at C speed."""

    def __missing__(self, word: str) -> str:
        if len(self) >= 65536:
            self.clear()
        stem = self[word] = _stem(word)
        return stem


_STEMS = _Stems()


def _content_stems(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in _WORD_RE.findall(text.lower()) if w not in _STOPWORDS)


@lru_cache(maxsize=4096)
def _arg_targets(name: str, description: str, ask: str, kind: str) -> frozenset[str]:
    """Stems that name an argument: its name's words, its description's and its ask hint's."""
    words = set(_content_stems(name.replace("_", " ").replace("-", " ")))
    words |= _content_stems(description) | _content_stems(ask)
    if not words:  # a name like "to" or "from": keep the name itself
        words.add(_stem(name.lower()))
    if words & _WHERE_HINTS:
        words.add("where")
    if words & _WHEN_HINTS or kind in ("date", "date-time", "time"):
        words.add("when")
    if kind in ("number", "integer"):
        words.add("how much")
        words.add("how many")
    return frozenset(words)


def _targets(missing: str, tools: Sequence[Any] | None, truth: str) -> Ask:
    """Words that name a missing argument: from its schema, else its name and the gold question.

    Without a schema (verl passes none) the content words of the gold question's requests also
    count, since a name alone ("origin", "amount") rarely appears in a natural question.
    """
    memo = _asks_memo(tools) if isinstance(tools, tuple) else {}
    ask = memo.get(missing)
    if ask is None:
        ask = memo[missing] = _ask(_schema_targets(missing, tools))
    if ask[0]:
        return ask
    return _ask(_arg_targets(missing, "", "", "") | _gold_targets(truth))


def _asks_memo(tools: tuple[Any, ...]) -> dict[str, Ask]:
    memo = _ASKS.get(id(tools))
    if memo is None:
        if len(_ASKS_KEPT) > 256:
            _ASKS.clear()
            _ASKS_KEPT.clear()
        _ASKS_KEPT.append(tools)
        memo = _ASKS[id(tools)] = {}
    return memo


def _schema_targets(missing: str, tools: Sequence[Any] | None) -> frozenset[str]:
    targets: set[str] = set()
    for tool in tools or ():
        fn = tool.get("function", tool) if isinstance(tool, Mapping) else None
        params = fn.get("parameters") if isinstance(fn, Mapping) else None
        props = params.get("properties") if isinstance(params, Mapping) else None
        prop = props.get(missing) if isinstance(props, Mapping) else None
        if isinstance(prop, Mapping):
            hint = prop.get("x-factory")
            ask = hint.get("ask", "") if isinstance(hint, Mapping) else ""
            kind = prop.get("format") or prop.get("type") or ""
            targets |= _arg_targets(missing, str(prop.get("description", "")), str(ask), str(kind))
    return frozenset(targets)


@lru_cache(maxsize=4096)
def _gold_targets(truth: str) -> frozenset[str]:
    return _content_stems(" ".join(requests_in(truth)))


Requests = tuple[tuple[str, frozenset[str]], ...]


def requests_of(text: str) -> Requests:
    """The requests of a completion, each with the stems of its words."""
    stems = _STEMS.__getitem__
    return tuple([(s, frozenset(map(stems, _WORD_RE.findall(s)))) for s in requests_in(text)])


gold_requests = lru_cache(maxsize=4096)(requests_of)  # a gold question given as the answer


@lru_cache(maxsize=4096)
def _ask(targets: frozenset[str]) -> Ask:
    return targets, tuple(t for t in targets if " " in t), "where" in targets


def _asks_for(requests: Requests, ask: Ask) -> bool:
    targets, phrases, where = ask
    for sentence, stems in requests:
        if not stems.isdisjoint(targets):
            return True
        if phrases and any(t in sentence for t in phrases):
            return True
        if where and sentence.startswith(("where", "from where")):
            return True
    return False


def clarify_credit(
    requests: Requests, truth: str, missing: Sequence[Any], tools: Sequence[Any] | None
) -> float:
    """Clarify credit for a completion that makes no call, from its requests."""
    if not requests:
        return 0.0
    names = [m for m in missing if isinstance(m, str) and m]
    if not names:  # no record of what is missing: compare with the gold question's words
        gold = _gold_targets(truth)
        if not gold:
            return 1.0
        return 1.0 if _asks_for(requests, _ask(gold)) else ASK_CREDIT
    covered = 0
    for name in names:
        if _asks_for(requests, _targets(name, tools, truth)):
            covered += 1
    if covered == len(names):
        return 1.0
    return ASK_CREDIT + (1.0 - ASK_CREDIT) * covered / len(names)


# --- refuse ----------------------------------------------------------------------------------


def refusal_credit(text: str) -> float:
    """Refuse credit for text that makes no call."""
    prose = tail(text)
    if _WORD_RE.search(prose) is None or requests_in_tail(prose):  # empty, wordless or asking
        return 0.0
    return 1.0 if _DECLINE_RE.search(prose) else PROSE_CREDIT


gold_refusal_credit = lru_cache(maxsize=4096)(refusal_credit)  # the gold refusal as the answer
