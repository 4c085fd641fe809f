"""The reward: find the tool calls in a completion and score them against a row's ground truth.

Input: a completion (text, bytes, or chat messages) and the row's ``reward_model.ground_truth``
(a JSON list of calls for ``execute``, a clarifying question or a refusal otherwise), plus the
row's ``behavior``, ``missing`` arguments and, optionally, the tool schemas. Output: a float in
[0, 1]. :func:`score` never raises: garbage of any kind scores 0.0.

Two modes. ``strict`` (default, what GRPO trains on) matches calls as a multiset with
type-aware values and gives partial credit; clarify needs a question for the missing argument,
refuse needs a decline without a call or a request for arguments. ``aws`` reproduces the
reference tiers (1.0 / 0.5 / 0.0). The README's reward section has the exact table.

>>> truth = '[{"name": "currency_convert", "arguments": {"amount": 50, "to": "USD"}}]'
>>> score('<TOOLCALL>[{"name": "currency_convert", '
...       '"arguments": {"to": "USD", "amount": 50.0}}]</TOOLCALL>', truth)
1.0
>>> score("Which currency should I convert to?", "Which currency?", behavior="clarify",
...       missing=["to"])
1.0

Adapters: :func:`trl_reward` is a TRL ``GRPOTrainer`` reward function; :func:`compute_score` is
verl's custom reward signature.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import permutations
from operator import itemgetter
from typing import Any, Literal, NamedTuple

# absolute imports: verl loads this file by path
from factory.completions import (
    Call,
    Did,
    calls_in_block,
    calls_in_text,
    classify,
    completion_text,
    loads_json,
    makes_call,
    only_block,
    parse_calls,
    requests_in,
    requests_in_tail,
    tail,
)
from factory.formats import tools_from_system

__all__ = [
    "ARGS_CREDIT",
    "ASK_CREDIT",
    "NAME_CREDIT",
    "NEAR_MISS",
    "PROSE_CREDIT",
    "Call",
    "Did",
    "classify",
    "compute_score",
    "infer_behavior",
    "parse_calls",
    "prompt_tools",
    "score",
    "trl_reward",
    "trl_reward_aws",
]

Mode = Literal["strict", "aws"]

# Strict partial credit for a call with the right name: NAME_CREDIT plus ARGS_CREDIT times the
# share of right arguments. A near miss ("50" for 50) counts half an argument. The top of the
# range stays below 0.9, so only the exact call earns 1.0.
NAME_CREDIT = 0.25
ARGS_CREDIT = 0.65
NEAR_MISS = 0.5
# Clarify: a question that asks for none of the missing arguments still beats a call.
ASK_CREDIT = 0.2
# Refuse: text that neither calls, asks nor declines (e.g. an answer in prose).
PROSE_CREDIT = 0.5

_NUMBERS = (int, float)
_MAX_EXACT_MATCHING = 6  # above this many calls on one side, match greedily

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


# --- value comparison ------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    """Type-aware equality: 50 == 50.0, but "50" != 50, True != 1 and "[1]" != [1]."""
    ta = type(a)
    if ta is type(b):
        if ta is dict:
            if len(a) != len(b):
                return False
            for key, value in a.items():
                if key not in b or not _same(value, b[key]):
                    return False
            return True
        if ta is list:
            return len(a) == len(b) and all(map(_same, a, b))
        return bool(a == b)
    # type(True) is bool, so only real numbers pass here
    return ta in _NUMBERS and type(b) in _NUMBERS and bool(a == b)


_JSON_WORDS = {"true": True, "false": False, "null": None}


def _loose(value: Any) -> Any:
    """A lenient form for near misses: numbers as floats, JSON-in-strings decoded, case folded."""
    if isinstance(value, str):
        text = value.strip()
        first = text[:1]
        if first and first in '[{"-0123456789tfn':
            if first in "tfn":  # as JSON, only these three words (saves raising on "tokyo")
                decoded = _JSON_WORDS.get(text, text)
            else:
                try:
                    decoded = loads_json(text)
                except (ValueError, RecursionError):
                    decoded = text
            if not isinstance(decoded, str):
                return _loose(decoded)
        if "," in text:  # "10, 20, 30" for [10, 20, 30]
            parts = [p.strip() for p in text.strip("[]()").split(",")]
            try:
                return [float(p) for p in parts]
            except ValueError:
                return [p.casefold() for p in parts]
        # float() needs a sign, a digit, a point, inf or nan first (saves raising on "THB")
        if first and (first in "+-.iInN" or first.isdecimal()):
            try:
                return float(text)
            except ValueError:
                pass
        return text.casefold()
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [_loose(v) for v in value]
    if isinstance(value, dict):
        return {str(k).casefold(): _loose(v) for k, v in value.items()}
    return value


# Words that name an argument (stems), those of them made of several words ("how many"), and
# whether "where" is one of them.
Ask = tuple[frozenset[str], tuple[str, ...], bool]
ToolIndex = tuple[dict[str, dict[str, Any]], dict[str, Ask]]
_INDEX_CACHE: dict[int, ToolIndex] = {}
_INDEX_KEPT: list[Any] = []


def _tool_index(tools: Sequence[Any]) -> ToolIndex:
    """Per tools list: the optional parameters' defaults by tool, and a memo of clarify targets.

    Memoized for tuples (what :func:`prompt_tools` returns) by id: the tuples are kept alive
    beside, so no other object takes one's id while its entry lives.
    """
    hit = _INDEX_CACHE.get(id(tools))
    if hit is not None:
        return hit
    index: dict[str, dict[str, Any]] = {}
    for tool in tools:
        fn = tool.get("function", tool) if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            continue
        params = fn.get("parameters") or fn.get("inputSchema") or {}
        props = params.get("properties") if isinstance(params, dict) else None
        if not isinstance(props, dict):
            continue
        required = params.get("required") or ()
        index[fn["name"]] = {
            key: prop["default"]
            for key, prop in props.items()
            if isinstance(prop, dict) and "default" in prop and key not in required
        }
    result: ToolIndex = (index, {})
    if isinstance(tools, tuple):
        if len(_INDEX_KEPT) > 256:
            _INDEX_CACHE.clear()
            _INDEX_KEPT.clear()
        _INDEX_KEPT.append(tools)
        _INDEX_CACHE[id(tools)] = result
    return result


class _Truth(NamedTuple):  # not a dataclass: those need sys.modules, and verl loads us loose
    """A ground truth read once: its calls (None for natural language), per call whether its
    arguments are plain (see :func:`_plain`), and the text of its calls when a completion that
    puts just that text in its call tag scores 1.0 whatever the tools (None otherwise)."""

    calls: list[Call] | None
    plain: tuple[bool, ...]
    verbatim: str | None


_TRUTHS: dict[str, _Truth] = {}


def _truth(ground_truth: str) -> _Truth:
    """The calls of a ground truth string (a JSON list of calls), or None for natural language.

    Cached: a dataset repeats each ground truth once per GRPO generation and epoch.
    """
    gold = _TRUTHS.get(ground_truth)
    if gold is None:
        if len(_TRUTHS) >= 65536:
            _TRUTHS.clear()
        gold = _TRUTHS[ground_truth] = _read_truth(ground_truth)
    return gold


def _read_truth(ground_truth: str) -> _Truth:
    stripped = ground_truth.strip()
    if not stripped.startswith(("[", "{", "<", "`")):
        return _Truth(None, (), None)
    calls = parse_calls(stripped) or None
    if calls is None:
        return _Truth(None, (), None)
    gold = _Truth(calls, tuple(_plain(c["arguments"]) for c in calls), None)
    # A policy trained on the dataset mostly answers with the gold text itself: score that
    # text once here. A perfect score needs every call matched by the first, schema-free
    # check of _call_credit, so it holds for any tools; anything less is scored each time.
    if _match_calls(calls_in_block(stripped), gold, None) == 1.0:
        return gold._replace(verbatim=stripped)
    return gold


def _plain(value: Any) -> bool:
    """Whether ``x == value`` implies ``_same(x, value)`` for every JSON value ``x``.

    ``==`` differs from :func:`_same` only where a boolean meets a number (True == 1.0), so a
    value without booleans, without numbers equal to 0 or 1 (and without NaN) is plain.
    """
    kind = type(value)
    if kind is dict:
        return all(map(_plain, value.values()))
    if kind is list:
        return all(map(_plain, value))
    if kind is int or kind is float:
        return bool(value != 0 and value != 1 and value == value)
    return kind is str or value is None


def _drop_defaults(args: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    if args.keys().isdisjoint(defaults):
        return args
    return {k: v for k, v in args.items() if not (k in defaults and _same(v, defaults[k]))}


def _call_credit(pred: Call, truth: Call, plain: bool, tools: Sequence[Any] | None) -> float:
    """Strict credit for one predicted call against one true call (``plain``: its arguments')."""
    if pred["name"] != truth["name"]:
        return 0.0
    got, want = pred["arguments"], truth["arguments"]
    # ``==`` (C speed) is looser than _same (True == 1), so it can only rule a match out,
    # unless the truth is plain
    if got == want and (plain or _same(got, want)):
        return 1.0
    if type(got) is not dict or type(want) is not dict:
        return NAME_CREDIT
    if tools:
        defaults = (_INDEX_CACHE.get(id(tools)) or _tool_index(tools))[0].get(truth["name"])
    else:
        defaults = None
    if defaults:
        got, want = _drop_defaults(got, defaults), _drop_defaults(want, defaults)
        if got == want and (plain or _same(got, want)):  # fewer plain values are plain
            return 1.0
    if plain:  # then == is _same: a call that only adds or only leaves out arguments is quick
        if want.items() <= got.items():
            return NAME_CREDIT + ARGS_CREDIT * len(want) / len(got)
        if got.items() <= want.items():
            return NAME_CREDIT + ARGS_CREDIT * len(got) / len(want)
    shared = got.keys() & want.keys()
    right = 0.0  # a sum of halves and ones: exact in any order
    for key in shared:
        a, b = got[key], want[key]
        kind = type(a)
        if kind is type(b) and kind is not dict and kind is not list:  # _same, without a call
            if a == b:
                right += 1.0
                continue
        elif _same(a, b):
            right += 1.0
            continue
        if _loose(a) == _loose(b):
            right += NEAR_MISS
    return NAME_CREDIT + ARGS_CREDIT * right / (len(got) + len(want) - len(shared))


def _match_calls(pred: list[Call], gold: _Truth, tools: Sequence[Any] | None) -> float:
    """Best one-to-one matching of predicted to true calls, as a share of the larger side."""
    truth, plain = gold.calls, gold.plain
    if not pred or not truth:
        return 0.0
    if len(pred) == 1 == len(truth):
        return _call_credit(pred[0], truth[0], plain[0], tools)
    truths = list(zip(truth, plain, strict=True))
    credit = [[_call_credit(p, t, f, tools) for t, f in truths] for p in pred]
    n_pred, n_truth = len(pred), len(truth)
    if min(n_pred, n_truth) == 1:
        best = max(map(max, credit))
    elif n_pred == 2 == n_truth:  # the two ways to pair them, as the permutations add them
        best = max(credit[0][0] + credit[1][1], credit[1][0] + credit[0][1])
    elif max(n_pred, n_truth) <= _MAX_EXACT_MATCHING:
        if n_pred >= n_truth:
            best = max(
                sum(credit[p][t] for t, p in enumerate(perm))
                for perm in permutations(range(n_pred), n_truth)
            )
        else:
            best = max(
                sum(credit[p][t] for p, t in enumerate(perm))
                for perm in permutations(range(n_truth), n_pred)
            )
    else:
        pairs = sorted(
            ((c, p, t) for p, row in enumerate(credit) for t, c in enumerate(row)), reverse=True
        )
        used_p: set[int] = set()
        used_t: set[int] = set()
        best = 0.0
        for c, p, t in pairs:
            if p not in used_p and t not in used_t:
                used_p.add(p)
                used_t.add(t)
                best += c
    return best / max(n_pred, n_truth)


# --- clarify ---------------------------------------------------------------------------------


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
    memo = _tool_index(tools)[1] if isinstance(tools, tuple) else {}
    ask = memo.get(missing)
    if ask is None:
        ask = memo[missing] = _ask(_schema_targets(missing, tools))
    if ask[0]:
        return ask
    return _ask(_arg_targets(missing, "", "", "") | _gold_targets(truth))


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


def _requests(text: str) -> Requests:
    """The requests of a completion, each with the stems of its words."""
    stems = _STEMS.__getitem__
    return tuple([(s, frozenset(map(stems, _WORD_RE.findall(s)))) for s in requests_in(text)])


_gold_requests = lru_cache(maxsize=4096)(_requests)  # a gold question given as the answer


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


def _clarify_score(requests: Requests, truth: str, missing: Sequence[Any], tools: Any) -> float:
    if not requests:
        return 0.0
    names = [m for m in missing if isinstance(m, str) and m]
    if not names:  # no record of what is missing: compare with the gold question's words
        gold = _gold_targets(truth)
        if not gold:
            return 1.0
        return 1.0 if _asks_for(requests, _ask(gold)) else ASK_CREDIT
    if type(tools) is _Schemas:
        tools = tools.read()
    covered = 0
    for name in names:
        if _asks_for(requests, _targets(name, tools, truth)):
            covered += 1
    if covered == len(names):
        return 1.0
    return ASK_CREDIT + (1.0 - ASK_CREDIT) * covered / len(names)


# --- scoring ---------------------------------------------------------------------------------


def infer_behavior(ground_truth: str, missing: Any = None) -> str:
    """The behavior a row wants, from its ground truth when ``extra_info`` does not say.

    >>> infer_behavior('[{"name": "f", "arguments": {}}]'), infer_behavior("Which city?")
    ('execute', 'clarify')
    """
    if _truth(ground_truth).calls:
        return "execute"
    if missing or "?" in ground_truth:
        return "clarify"
    return "refuse"


def _aws_score(pred: list[Call] | None, truth_calls: list[Call] | None) -> float:
    """The reference tiers, literally (sets of names; arguments compared with ``!=``)."""
    if truth_calls is None:
        return 1.0 if pred is None else 0.0
    pred = pred or []
    pred_names = {c["name"] for c in pred}
    truth_names = {c["name"] for c in truth_calls}
    if pred_names == truth_names:
        perfect = all(
            p["arguments"] == t["arguments"]
            for p in pred
            for t in truth_calls
            if p["name"] == t["name"]
        )
        return 1.0 if perfect else 0.5
    return 0.5 if pred_names & truth_names else 0.0


def _strict_score(text: str, truth: str, behavior: str, missing: Any, tools: Any) -> float:
    """Clarify and refuse rows (execute rows are a call matching)."""
    if makes_call(text):  # a call where the row wanted a question or a refusal
        return 0.0
    # The gold answer itself is read once (a policy trained on the dataset often gives it).
    verbatim = text == truth
    if behavior == "clarify":
        names = missing if isinstance(missing, list | tuple) else []
        requests = _gold_requests(truth) if verbatim else _requests(text)
        return _clarify_score(requests, truth, names, tools)
    if behavior == "refuse":
        return _gold_refusal(truth) if verbatim else _refusal(text)
    return 0.0


def _refusal(text: str) -> float:
    """Refuse credit for text that makes no call."""
    prose = tail(text)
    if _WORD_RE.search(prose) is None or requests_in_tail(prose):  # empty, wordless or asking
        return 0.0
    return 1.0 if _DECLINE_RE.search(prose) else PROSE_CREDIT


_gold_refusal = lru_cache(maxsize=4096)(_refusal)


class _Schemas(Sequence[dict[str, Any]]):
    """A prompt's tool schemas, read on first use: most completions are scored without them."""

    __slots__ = ("prompt", "tools")

    def __init__(self, prompt: Any) -> None:
        self.prompt = prompt
        self.tools: tuple[dict[str, Any], ...] | None = None

    def read(self) -> tuple[dict[str, Any], ...]:
        if self.tools is None:
            try:
                self.tools = prompt_tools(self.prompt)
            except Exception:  # a malformed prompt only loses the schemas
                self.tools = ()
        return self.tools

    def __getitem__(self, index: Any) -> Any:
        return self.read()[index]

    def __len__(self) -> int:
        return len(self.read())


def score(
    completion: Any,
    ground_truth: Any,
    *,
    behavior: str | None = None,
    missing: Sequence[str] | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    mode: str = "strict",
) -> float:
    """Reward in [0, 1] for one completion against one ground truth; never raises.

    Args:
        behavior: ``execute``, ``clarify`` or ``refuse`` (inferred from the truth when None).
        missing: the arguments a clarify row leaves out (``extra_info.missing``).
        tools: tool schemas (function dicts with ``parameters``): an optional argument equal
            to its default then counts as absent, and descriptions name missing arguments.
        mode: ``strict`` (partial credit, hard to game) or ``aws`` (the reference tiers).
    """
    try:
        text = completion if type(completion) is str else completion_text(completion)
        truth = ground_truth if type(ground_truth) is str else completion_text(ground_truth)
        gold = _TRUTHS.get(truth) or _truth(truth)
        if mode != "strict":
            return _aws_score(calls_in_text(text), gold.calls) if mode == "aws" else 0.0
        if behavior not in ("execute", "clarify", "refuse"):
            behavior = infer_behavior(truth, missing)
        if behavior == "execute":
            if not gold.calls:
                return 0.0
            block = only_block(text)  # the usual answer: one call tag
            if block is None:
                pred = calls_in_text(text)
            elif block == gold.verbatim:
                return 1.0
            else:
                pred = calls_in_block(block)
            if not pred:
                return 0.0
            if type(tools) is _Schemas:
                tools = tools.read()
            if len(pred) == 1 == len(gold.calls):  # the usual answer: one call
                return _call_credit(pred[0], gold.calls[0], gold.plain[0], tools)
            return _match_calls(pred, gold, tools)
        value = _strict_score(text, truth, behavior, missing, tools)
        return value if 0.0 <= value <= 1.0 else min(1.0, max(0.0, value))
    except Exception:  # the reward must be total: anything unexpected scores 0.0
        return 0.0


# --- adapters --------------------------------------------------------------------------------


# Schemas by system prompt string object. The strings are kept alive beside, so no other
# object takes one's id while its entry lives; values alone keep each lookup to one line.
_SYSTEM_CACHE: dict[int, tuple[dict[str, Any], ...]] = {}
_SYSTEM_KEPT: list[str] = []


def _tools_in(system: str) -> tuple[dict[str, Any], ...]:
    """The schemas of a system prompt, parsed once per string object and once per text."""
    tools = _SYSTEM_CACHE.get(id(system))
    if tools is None:
        tools = _tools_by_text(system)
        if len(_SYSTEM_KEPT) >= 4096:
            _SYSTEM_CACHE.clear()
            _SYSTEM_KEPT.clear()
        _SYSTEM_KEPT.append(system)
        _SYSTEM_CACHE[id(system)] = tools
    return tools


@lru_cache(maxsize=1024)
def _tools_by_text(system: str) -> tuple[dict[str, Any], ...]:
    return tuple(tools_from_system(system))


_ROLE_CONTENT = itemgetter("role", "content")


def prompt_tools(prompt: Any) -> tuple[dict[str, Any], ...]:
    """Tool schemas listed in a prompt's system message (plain or conversational prompt)."""
    if type(prompt) is list and prompt and type(prompt[0]) is dict:  # the usual layout, fast
        try:
            role, content = _ROLE_CONTENT(prompt[0])
        except KeyError:
            pass
        else:
            # looked up before the role is compared, so both reads overlap (only live strings
            # have their ids there)
            tools = _SYSTEM_CACHE.get(id(content))
            if role == "system" and type(content) is str:
                return tools if tools is not None else _tools_in(content)
    if isinstance(prompt, str):
        return _tools_in(prompt) if "<tools>" in prompt else ()
    if isinstance(prompt, list | tuple):
        for message in prompt:
            if isinstance(message, dict) and message.get("role") == "system":
                content = message.get("content")
                if isinstance(content, str):
                    return _tools_in(content)
    return ()


def _column(values: Any, n: int) -> list[Any]:
    if isinstance(values, list | tuple) and len(values) == n:
        return list(values)
    return [None] * n


def _rewards(prompts: Any, completions: Any, mode: str, kwargs: dict[str, Any]) -> list[float]:
    completions = list(completions or [])
    n = len(completions)
    prompts = _column(prompts, n)
    reward_models = _column(kwargs.get("reward_model"), n)
    extra_infos = _column(kwargs.get("extra_info"), n)
    out = []
    for prompt, completion, rm, extra in zip(
        prompts, completions, reward_models, extra_infos, strict=True
    ):
        truth = rm.get("ground_truth") if isinstance(rm, dict) else None
        extra = extra if isinstance(extra, dict) else {}
        out.append(
            score(
                completion,
                truth,
                behavior=extra.get("behavior"),
                missing=extra.get("missing"),
                tools=_Schemas(prompt),
                mode=mode,
            )
        )
    return out


def trl_reward(prompts: Any, completions: Any, **kwargs: Any) -> list[float]:
    """Strict reward as a TRL ``GRPOTrainer`` reward function (one float per completion).

    Reads the ``reward_model`` and ``extra_info`` dataset columns that TRL passes as keyword
    lists and the tool schemas from each prompt's system message; completions may be plain
    strings or conversational (``[{"role": "assistant", "content": ...}]``).

    >>> trl_reward(["p"], ["<TOOLCALL>[]</TOOLCALL>"], reward_model=[{"ground_truth": "No."}],
    ...            extra_info=[{"behavior": "refuse"}])
    [0.0]
    """
    return _rewards(prompts, completions, "strict", kwargs)


def trl_reward_aws(prompts: Any, completions: Any, **kwargs: Any) -> list[float]:
    """The reference tiers (``mode="aws"``) as a TRL reward function, for comparison runs."""
    return _rewards(prompts, completions, "aws", kwargs)


def compute_score(
    data_source: Any,
    solution_str: Any,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> float:
    """verl reward: set ``custom_reward_function.path=factory/reward.py`` (``compute_score``).

    >>> compute_score("toolfactory", "I'm sorry, I can't help with that.", "I can't help.",
    ...               {"behavior": "refuse"})
    1.0
    """
    extra = extra_info if isinstance(extra_info, Mapping) else {}
    return score(
        solution_str,
        ground_truth,
        behavior=extra.get("behavior"),
        missing=extra.get("missing"),
        mode=str(kwargs.get("mode", "strict")),
    )
