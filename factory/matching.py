"""Strict credit for predicted tool calls against the true ones.

Input: calls as ``{"name", "arguments"}`` dicts (what :mod:`factory.completions` reads), the
true calls with a flag per call (:func:`is_plain`), and optionally the tool schemas. Output: a
credit in [0, 1]: 1.0 for the same calls in any order (50 == 50.0, but "50" != 50 and True
!= 1), partial credit for a call with the right name and some right arguments, where a near miss
("50" for 50) counts half an argument and an optional argument equal to its default counts as
absent. :mod:`factory.reward` scores execute rows with :func:`match_calls`.

>>> truth = [{"name": "f", "arguments": {"x": 2, "y": "a"}}]
>>> match_calls([{"name": "f", "arguments": {"y": "a", "x": 2.0}}], truth, (True,), None)
1.0
>>> match_calls([{"name": "f", "arguments": {"x": "2"}}], truth, (True,), None)
0.4125
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import permutations
from typing import Any

# absolute imports: verl loads factory/reward.py by path
from factory.completions import Call, loads_json

# Partial credit for a call with the right name: NAME_CREDIT plus ARGS_CREDIT times the share of
# right arguments. A near miss ("50" for 50) counts half an argument. The top of the range stays
# below 0.9, so only the exact call earns 1.0.
NAME_CREDIT = 0.25
ARGS_CREDIT = 0.65
NEAR_MISS = 0.5

_NUMBERS = (int, float)
_MAX_EXACT_MATCHING = 6  # above this many calls on one side, match greedily


# --- values ----------------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Type-aware equality: 50 == 50.0, but "50" != 50, True != 1 and "[1]" != [1]."""
    ta = type(a)
    if ta is type(b):
        if ta is dict:
            if len(a) != len(b):
                return False
            for key, value in a.items():
                if key not in b or not same(value, b[key]):
                    return False
            return True
        if ta is list:
            return len(a) == len(b) and all(map(same, a, b))
        return bool(a == b)
    # type(True) is bool, so only real numbers pass here
    return ta in _NUMBERS and type(b) in _NUMBERS and bool(a == b)


_JSON_WORDS = {"true": True, "false": False, "null": None}


def loose(value: Any) -> Any:
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
                return loose(decoded)
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
        return [loose(v) for v in value]
    if isinstance(value, dict):
        return {str(k).casefold(): loose(v) for k, v in value.items()}
    return value


def is_plain(value: Any) -> bool:
    """Whether ``x == value`` implies ``same(x, value)`` for every JSON value ``x``.

    ``==`` differs from :func:`same` only where a boolean meets a number (True == 1.0), so a
    value without booleans, without numbers equal to 0 or 1 (and without NaN) is plain.
    """
    kind = type(value)
    if kind is dict:
        return all(map(is_plain, value.values()))
    if kind is list:
        return all(map(is_plain, value))
    if kind is int or kind is float:
        return bool(value != 0 and value != 1 and value == value)
    return kind is str or value is None


# --- calls -----------------------------------------------------------------------------------


# Defaults by tool name, per tools tuple (what prompt_tools returns), by id: the tuples are kept
# alive beside, so no other object takes one's id while its entry lives.
_DEFAULTS: dict[int, dict[str, dict[str, Any]]] = {}
_DEFAULTS_KEPT: list[Any] = []


def tool_defaults(tools: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """The defaults of each tool's optional parameters, by tool name (memoized for tuples)."""
    index = _DEFAULTS.get(id(tools))
    if index is not None:
        return index
    index = {}
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
    if isinstance(tools, tuple):
        if len(_DEFAULTS_KEPT) > 256:
            _DEFAULTS.clear()
            _DEFAULTS_KEPT.clear()
        _DEFAULTS_KEPT.append(tools)
        _DEFAULTS[id(tools)] = index
    return index


def _drop_defaults(args: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    if args.keys().isdisjoint(defaults):
        return args
    return {k: v for k, v in args.items() if not (k in defaults and same(v, defaults[k]))}


def call_credit(pred: Call, truth: Call, plain: bool, tools: Sequence[Any] | None) -> float:
    """Strict credit for one predicted call against one true call (``plain``: its arguments')."""
    if pred["name"] != truth["name"]:
        return 0.0
    got, want = pred["arguments"], truth["arguments"]
    # ``==`` (C speed) is looser than same (True == 1), so it can only rule a match out,
    # unless the truth is plain
    if got == want and (plain or same(got, want)):
        return 1.0
    if type(got) is not dict or type(want) is not dict:
        return NAME_CREDIT
    if tools:
        index = _DEFAULTS.get(id(tools))
        defaults = (tool_defaults(tools) if index is None else index).get(truth["name"])
    else:
        defaults = None
    if defaults:
        got, want = _drop_defaults(got, defaults), _drop_defaults(want, defaults)
        if got == want and (plain or same(got, want)):  # fewer plain values are plain
            return 1.0
    if plain:  # then == is same: a call that only adds or only leaves out arguments is quick
        if want.items() <= got.items():
            return NAME_CREDIT + ARGS_CREDIT * len(want) / len(got)
        if got.items() <= want.items():
            return NAME_CREDIT + ARGS_CREDIT * len(got) / len(want)
    shared = got.keys() & want.keys()
    right = 0.0  # a sum of halves and ones: exact in any order
    for key in shared:
        a, b = got[key], want[key]
        kind = type(a)
        if kind is type(b) and kind is not dict and kind is not list:  # same, without a call
            if a == b:
                right += 1.0
                continue
        elif same(a, b):
            right += 1.0
            continue
        if loose(a) == loose(b):
            right += NEAR_MISS
    return NAME_CREDIT + ARGS_CREDIT * right / (len(got) + len(want) - len(shared))


def match_calls(
    pred: list[Call], truth: list[Call] | None, plain: Sequence[bool], tools: Sequence[Any] | None
) -> float:
    """Best one-to-one matching of predicted to true calls, as a share of the larger side.

    ``plain`` holds :func:`is_plain` of each true call's arguments.
    """
    if not pred or not truth:
        return 0.0
    if len(pred) == 1 == len(truth):
        return call_credit(pred[0], truth[0], plain[0], tools)
    truths = list(zip(truth, plain, strict=True))
    credit = [[call_credit(p, t, f, tools) for t, f in truths] for p in pred]
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
