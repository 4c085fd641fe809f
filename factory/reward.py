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

The rules live with their jobs: :mod:`factory.completions` reads a completion (its calls and
requests), :mod:`factory.matching` gives call credit, :mod:`factory.asking` clarify and refuse
credit. This module reads each ground truth once, picks the rule for the row and adapts it to
TRL and verl; its public names are the reward's whole interface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any, Literal, NamedTuple

# absolute imports: verl loads this file by path
from factory.asking import (
    ASK_CREDIT,
    PROSE_CREDIT,
    clarify_credit,
    gold_refusal_credit,
    gold_requests,
    refusal_credit,
    requests_of,
)
from factory.completions import (
    Call,
    Did,
    calls_in_block,
    calls_in_text,
    classify,
    completion_text,
    makes_call,
    only_block,
    parse_calls,
)
from factory.formats import tools_from_system
from factory.matching import (
    ARGS_CREDIT,
    NAME_CREDIT,
    NEAR_MISS,
    call_credit,
    is_plain,
    match_calls,
)

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

# Credit constants live beside their rules: NAME_CREDIT, ARGS_CREDIT and NEAR_MISS in
# factory.matching, ASK_CREDIT and PROSE_CREDIT in factory.asking.


# --- ground truth ----------------------------------------------------------------------------


class _Truth(NamedTuple):  # not a dataclass: those need sys.modules, and verl loads us loose
    """A ground truth read once: its calls (None for natural language), per call whether its
    arguments are plain (see :func:`is_plain`), and the text of its calls when a completion that
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
    plain = tuple(is_plain(c["arguments"]) for c in calls)
    # A policy trained on the dataset mostly answers with the gold text itself: score that
    # text once here. A perfect score needs every call matched by the first, schema-free
    # check of call_credit, so it holds for any tools; anything less is scored each time.
    verbatim = match_calls(calls_in_block(stripped), calls, plain, None) == 1.0
    return _Truth(calls, plain, stripped if verbatim else None)


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
        requests = gold_requests(truth) if verbatim else requests_of(text)
        if requests and type(tools) is _Schemas:  # the schemas name what to ask for
            tools = tools.read()
        return clarify_credit(requests, truth, names, tools)
    if behavior == "refuse":
        return gold_refusal_credit(truth) if verbatim else refusal_credit(text)
    return 0.0


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
            calls = gold.calls
            if not calls:
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
            if len(pred) == 1 == len(calls):  # the usual answer: one call
                return call_credit(pred[0], calls[0], gold.plain[0], tools)
            return match_calls(pred, calls, gold.plain, tools)
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
