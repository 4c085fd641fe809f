"""The reward: one table per rule, wrappers, the reference tiers, fuzzing, hacking, TRL and verl."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.formats import render_calls, system_prompt
from factory.reward import (
    ARGS_CREDIT,
    ASK_CREDIT,
    NAME_CREDIT,
    NEAR_MISS,
    PROSE_CREDIT,
    classify,
    compute_score,
    parse_calls,
    prompt_tools,
    score,
    trl_reward,
    trl_reward_aws,
)

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = [
    json.loads(p.read_text())["function"] for p in sorted((ROOT / "tool_specs").glob("*/*.json"))
]
SYSTEM = system_prompt([json.dumps({"type": "function", "function": s}) for s in SCHEMAS], "aws")

CONVERT = {"name": "currency_convert", "arguments": {"amount": 50, "from": "EUR", "to": "USD"}}
WEATHER = {"name": "get_weather_forecast", "arguments": {"city": "Paris"}}
STDEV = {"name": "calculate_standard_deviation", "arguments": {"numbers": [10, 20, 30, 40, 50]}}


def truth(*calls: dict[str, Any]) -> str:
    return json.dumps(list(calls))


def tagged(*calls: dict[str, Any]) -> str:
    return "<TOOLCALL>" + json.dumps(list(calls)) + "</TOOLCALL>"


def args(call: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {"name": call["name"], "arguments": {**call["arguments"], **changes}}


def partial(right: float, keys: int) -> float:
    return NAME_CREDIT + ARGS_CREDIT * right / keys


# --- parsing: every wrapper reads the same -----------------------------------------------------


def wrappers(calls: list[dict[str, Any]]) -> dict[str, str]:
    as_string = [{"name": c["name"], "arguments": json.dumps(c["arguments"])} for c in calls]
    return {
        "toolcall": "<TOOLCALL>" + json.dumps(calls) + "</TOOLCALL>",
        "toolcall, prose around": "Sure!\n<TOOLCALL>" + json.dumps(calls) + "</TOOLCALL>\nDone.",
        "toolcall unclosed": "<TOOLCALL>" + json.dumps(calls),
        "qwen blocks": render_calls(calls, "qwen"),
        "fenced json": "Here you go:\n```json\n" + json.dumps(calls) + "\n```",
        "bare list": json.dumps(calls),
        "bare list in prose": "Calling now: " + json.dumps(calls) + " (hope that helps)",
        "bare object" if len(calls) == 1 else "bare tool_calls": json.dumps(
            calls[0] if len(calls) == 1 else {"tool_calls": calls}
        ),
        "openai string arguments": json.dumps(as_string),
        "openai tool_calls entries": json.dumps(
            [{"type": "function", "function": c} for c in as_string]
        ),
        "parameters key": json.dumps(
            [{"name": c["name"], "parameters": c["arguments"]} for c in calls]
        ),
    }


@pytest.mark.parametrize("calls", [[CONVERT], [WEATHER, STDEV]], ids=["one call", "two calls"])
def test_every_wrapper_parses_to_the_same_calls(calls: list[dict[str, Any]]) -> None:
    for name, text in wrappers(calls).items():
        assert parse_calls(text) == calls, name


@pytest.mark.parametrize(
    "pred",
    [
        [CONVERT],
        [args(CONVERT, amount="50")],
        [args(CONVERT, to="GBP")],
        [{"name": "currency_convert", "arguments": {}}],
        [CONVERT, WEATHER],
        [{"name": "translate_text", "arguments": {"text": "hi"}}],
    ],
)
@pytest.mark.parametrize("mode", ["strict", "aws"])
def test_score_does_not_depend_on_the_wrapper(pred: list[dict[str, Any]], mode: str) -> None:
    scores = {n: score(t, truth(CONVERT), mode=mode) for n, t in wrappers(pred).items()}
    assert len(set(scores.values())) == 1, scores


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I can't help with that.",
        "Which city? {not json}",
        '{"city": "Paris"}',  # JSON but not a call
        "[1, 2, 3]",
        "```python\nprint('hi')\n```",
    ],
)
def test_no_call_is_none(text: str) -> None:
    assert parse_calls(text) is None


@pytest.mark.parametrize("text", ["<TOOLCALL>oops</TOOLCALL>", "<tool_call>{</tool_call>"])
def test_call_markup_without_a_call_is_an_attempt(text: str) -> None:
    assert parse_calls(text) == []
    assert classify(text) == "call"
    assert score(text, "I can't help.", behavior="refuse") == 0.0


# --- strict: execute ---------------------------------------------------------------------------

EXECUTE_CASES = [
    # (id, completion, truth, tools, expected)
    ("exact", tagged(CONVERT), truth(CONVERT), None, 1.0),
    (
        "key order",
        tagged(
            {"name": "currency_convert", "arguments": {"to": "USD", "from": "EUR", "amount": 50}}
        ),
        truth(CONVERT),
        None,
        1.0,
    ),
    ("int as float", tagged(args(CONVERT, amount=50.0)), truth(CONVERT), None, 1.0),
    (
        "number as string",
        tagged(args(CONVERT, amount="50")),
        truth(CONVERT),
        None,
        partial(2 + NEAR_MISS, 3),
    ),
    (
        "list as string",
        tagged(args(STDEV, numbers="[10, 20, 30, 40, 50]")),
        truth(STDEV),
        None,
        partial(NEAR_MISS, 1),
    ),
    (
        "list as prose string",
        tagged(args(STDEV, numbers="10, 20, 30, 40, 50")),
        truth(STDEV),
        None,
        partial(NEAR_MISS, 1),
    ),
    (
        "string case",
        tagged(args(WEATHER, city="paris")),
        truth(WEATHER),
        None,
        partial(NEAR_MISS, 1),
    ),
    (
        "bool for int is a near miss",
        tagged(args(WEATHER, days=True)),
        truth(args(WEATHER, days=1)),
        None,
        partial(1 + NEAR_MISS, 2),
    ),
    ("wrong value", tagged(args(CONVERT, to="GBP")), truth(CONVERT), None, partial(2, 3)),
    (
        "missing argument",
        tagged({"name": "currency_convert", "arguments": {"amount": 50, "from": "EUR"}}),
        truth(CONVERT),
        None,
        partial(2, 3),
    ),
    ("extra argument", tagged(args(WEATHER, units="kelvin")), truth(WEATHER), None, partial(1, 2)),
    (
        "empty arguments",
        tagged({"name": "currency_convert", "arguments": {}}),
        truth(CONVERT),
        None,
        NAME_CREDIT,
    ),
    (
        "arguments not a dict",
        tagged({"name": "currency_convert", "arguments": "oops"}),
        truth(CONVERT),
        None,
        NAME_CREDIT,
    ),
    (
        "wrong tool",
        tagged({"name": "translate_text", "arguments": CONVERT["arguments"]}),
        truth(CONVERT),
        None,
        0.0,
    ),
    ("no call", "The rate is 1.08.", truth(CONVERT), None, 0.0),
    ("asks instead", "Which currency?", truth(CONVERT), None, 0.0),
    (
        "default equals absent",
        tagged(args(WEATHER, days=3, units="celsius")),
        truth(WEATHER),
        SCHEMAS,
        1.0,
    ),
    ("truth gives the default", tagged(WEATHER), truth(args(WEATHER, days=3)), SCHEMAS, 1.0),
    (
        "default counts without schemas",
        tagged(args(WEATHER, days=3)),
        truth(WEATHER),
        None,
        partial(1, 2),
    ),
    ("non-default optional", tagged(args(WEATHER, days=5)), truth(WEATHER), SCHEMAS, partial(1, 2)),
    ("two calls, swapped", tagged(STDEV, WEATHER), truth(WEATHER, STDEV), None, 1.0),
    ("one of two calls", tagged(WEATHER), truth(WEATHER, STDEV), None, 0.5),
    ("one extra call", tagged(WEATHER, STDEV), truth(WEATHER), None, 0.5),
    (
        "duplicate tool, both",
        tagged(args(WEATHER, city="Rome"), WEATHER),
        truth(WEATHER, args(WEATHER, city="Rome")),
        None,
        1.0,
    ),
    (
        "duplicate tool, same call twice",
        tagged(WEATHER, WEATHER),
        truth(WEATHER, args(WEATHER, city="Rome")),
        None,
        (1.0 + NAME_CREDIT) / 2,
    ),
    (
        "duplicate tool, once",
        tagged(WEATHER),
        truth(WEATHER, args(WEATHER, city="Rome")),
        None,
        0.5,
    ),
]


@pytest.mark.parametrize(
    ("completion", "gold", "tools", "expected"),
    [case[1:] for case in EXECUTE_CASES],
    ids=[case[0] for case in EXECUTE_CASES],
)
def test_strict_execute(completion: str, gold: str, tools: Any, expected: float) -> None:
    assert score(completion, gold, behavior="execute", tools=tools) == pytest.approx(expected)


def test_near_misses_never_earn_full_credit() -> None:
    for text, _, _, _ in [
        c[1:] for c in EXECUTE_CASES if c[0] in ("number as string", "list as string")
    ]:
        assert 0.0 < score(text, truth(CONVERT, STDEV)) < 1.0
    assert max(partial(k - NEAR_MISS, k) for k in range(1, 20)) < 0.9


# --- strict: clarify and refuse ----------------------------------------------------------------

ASK_CITY = "Which city would you like the forecast for?"
CLARIFY_CASES = [
    # (id, completion, missing, tools, expected)
    ("asks for the argument by name", ASK_CITY, ["city"], None, 1.0),
    (
        "asks with description words",
        "Sure, which place should I check?",
        ["city"],
        None,
        ASK_CREDIT,
    ),
    ("asks where, schema says city", "Where are you?", ["city"], SCHEMAS, 1.0),
    ("asks for a date", "When do you want to leave?", ["date"], SCHEMAS, 1.0),
    ("asks for an amount", "How much do you want to change?", ["amount"], SCHEMAS, 1.0),
    ("name with underscore", "What price range suits you?", ["price_range"], None, 1.0),
    ("terse interrogative, no mark", "Which ticker", ["ticker"], None, 1.0),
    ("imperative request", "Please provide the ticker symbol.", ["ticker"], None, 1.0),
    (
        "asks the wrong thing",
        "How many days should I cover?",
        ["city"],
        SCHEMAS,
        ASK_CREDIT,
    ),
    ("generic question", "Could you give me more details?", ["city"], SCHEMAS, ASK_CREDIT),
    (
        "one of two missing",
        "Which airport are you leaving from?",
        ["origin", "date"],
        SCHEMAS,
        ASK_CREDIT + (1 - ASK_CREDIT) / 2,
    ),
    ("both missing", "From which airport, and on what date?", ["origin", "date"], SCHEMAS, 1.0),
    ("refuses instead", "I'm sorry, I can't help with that.", ["city"], SCHEMAS, 0.0),
    (
        "offer is not a question for input",
        "Is there anything else I can help you with?",
        ["city"],
        SCHEMAS,
        0.0,
    ),
    (
        "calls instead",
        tagged({"name": "get_weather_forecast", "arguments": {}}),
        ["city"],
        SCHEMAS,
        0.0,
    ),
    ("calls with a guess", tagged(WEATHER) + " Which city?", ["city"], SCHEMAS, 0.0),
    ("empty", "", ["city"], SCHEMAS, 0.0),
]


@pytest.mark.parametrize(
    ("completion", "missing", "tools", "expected"),
    [case[1:] for case in CLARIFY_CASES],
    ids=[case[0] for case in CLARIFY_CASES],
)
def test_strict_clarify(completion: str, missing: list[str], tools: Any, expected: float) -> None:
    got = score(completion, ASK_CITY, behavior="clarify", missing=missing, tools=tools)
    assert got == pytest.approx(expected)


def test_clarify_without_missing_compares_with_the_gold_question() -> None:
    assert score("What city do you mean?", ASK_CITY, behavior="clarify") == 1.0
    assert score("What do you mean?", ASK_CITY, behavior="clarify") == ASK_CREDIT


REFUSAL = "I'm sorry, but I can't help with that request."
REFUSE_CASES = [
    ("declines", REFUSAL, 1.0),
    ("declines, curly apostrophe", "Sorry, I can\u2019t do that.", 1.0),
    ("declines and offers help", REFUSAL + " Is there anything else I can help you with?", 1.0),
    ("declines and suggests", "That would be illegal, so I won't search for it.", 1.0),
    ("prose without declining", "Sure, here is how you could do it.", PROSE_CREDIT),
    ("asks for arguments", "Could you give me more details?", 0.0),
    ("declines but asks for arguments", "I can't do that yet. Which city do you mean?", 0.0),
    ("calls", tagged(WEATHER), 0.0),
    ("empty", "   ", 0.0),
]


@pytest.mark.parametrize(
    ("completion", "expected"), [c[1:] for c in REFUSE_CASES], ids=[c[0] for c in REFUSE_CASES]
)
def test_strict_refuse(completion: str, expected: float) -> None:
    assert score(completion, "I can't help with that.", behavior="refuse") == expected


@pytest.mark.parametrize(
    ("completion", "did"),
    [
        (tagged(WEATHER), "call"),
        ("Which city?", "ask"),
        ("Can you tell me the city", "ask"),
        ("Can't do that.", "refuse"),
        ("Do not ask me that.", "refuse"),
        (REFUSAL + " Can I help with something else?", "refuse"),
        ([{"role": "assistant", "content": "Which city?"}], "ask"),
        (None, "refuse"),
    ],
)
def test_classify(completion: Any, did: str) -> None:
    assert classify(completion) == did


def test_behavior_is_inferred_from_the_truth() -> None:
    assert score(tagged(WEATHER), truth(WEATHER)) == 1.0
    assert score(ASK_CITY, "Which city?", missing=["city"]) == 1.0
    assert score(REFUSAL, "I can't help with that.") == 1.0
    assert score(tagged(WEATHER), "I can't help with that.") == 0.0


# --- aws: the reference tiers ------------------------------------------------------------------


def reference_reward(completion: str, ground_truth: str) -> float:
    """The reference document's reward, literally: <TOOLCALL> JSON and its tiered comparison."""
    match = re.search(r"<TOOLCALL>(.*?)</TOOLCALL>", completion, re.S)
    try:
        gt_tools = json.loads(ground_truth)
    except ValueError:  # natural-language truth: right when no call is made
        return 0.0 if match else 1.0
    if not match:
        return 0.0
    try:
        pred_tools = json.loads(match.group(1))
    except ValueError:
        return 0.0
    if isinstance(pred_tools, dict):
        pred_tools = [pred_tools]
    pred_tools = [t for t in pred_tools if isinstance(t, dict)]

    # Compare tool names
    pred_names = {tool.get("name", "") for tool in pred_tools}
    gt_names = {tool.get("name", "") for tool in gt_tools}

    if pred_names == gt_names:
        # Right function(s) - check if arguments also match
        perfect_match = True
        for pred_tool in pred_tools:
            for gt_tool in gt_tools:
                if pred_tool.get("name") == gt_tool.get("name"):
                    if pred_tool.get("arguments") != gt_tool.get("arguments"):
                        perfect_match = False
        score = 1.0 if perfect_match else 0.5
    elif pred_names & gt_names:
        # Partial overlap in function names
        score = 0.5
    else:
        # Wrong function entirely
        score = 0.0
    return score


def mutate(calls: list[dict[str, Any]], rng: random.Random, names: list[str]) -> str:
    """A plausible model answer near the gold calls: right, a near miss, or wrong."""
    calls = json.loads(json.dumps(calls))
    kind = rng.randrange(12)
    if kind == 1:
        rng.shuffle(calls)
    elif kind == 2 and calls[0]["arguments"]:
        key = rng.choice(sorted(calls[0]["arguments"]))
        calls[0]["arguments"][key] = str(calls[0]["arguments"][key])
    elif kind == 3 and calls[0]["arguments"]:
        del calls[0]["arguments"][rng.choice(sorted(calls[0]["arguments"]))]
    elif kind == 4:
        calls[0]["arguments"]["extra"] = rng.randint(0, 9)
    elif kind == 5:
        calls[0]["name"] = rng.choice(names)
    elif kind == 6:
        calls.append({"name": rng.choice(names), "arguments": {}})
    elif kind == 7 and len(calls) > 1:
        calls.pop()
    elif kind == 8:
        for call in calls:
            call["arguments"] = {
                k: float(v) if type(v) is int else v for k, v in call["arguments"].items()
            }
    elif kind == 9:
        return rng.choice(["Which one do you mean?", "I can't help with that.", ""])
    elif kind == 10:
        return "<TOOLCALL>not json</TOOLCALL>"
    return rng.choice(["", "Sure. "]) + "<TOOLCALL>" + json.dumps(calls) + "</TOOLCALL>"


def make_pairs(
    rows: list[dict[str, Any]], n: int, seed: int = 0
) -> list[tuple[str, dict[str, Any]]]:
    """``n`` (completion, row) pairs: gold answers, near misses and wrong answers of every kind."""
    rng = random.Random(seed)
    names = sorted({t["name"] for r in rows for t in prompt_tools(r["prompt"])})
    pairs = []
    for _ in range(n):
        row = rng.choice(rows)
        gold = row["reward_model"]["ground_truth"]
        if row["extra_info"]["behavior"] == "execute":
            completion = mutate(json.loads(gold), rng, names)
        elif rng.random() < 0.7:
            completion = rng.choice([gold, "Which one?", "Sorry, no.", "Sure! Here it is."])
        else:
            completion = tagged({"name": rng.choice(names), "arguments": {}})
        pairs.append((completion, row))
    return pairs


@pytest.mark.parametrize(
    ("completion", "gold", "expected"),
    [
        (tagged(STDEV), truth(STDEV), 1.0),
        (tagged(args(STDEV, numbers="10, 20, 30, 40, 50")), truth(STDEV), 0.5),  # the near miss
        (tagged(args(CONVERT, amount=50.0)), truth(CONVERT), 1.0),
        (tagged(WEATHER), truth(WEATHER, STDEV), 0.5),  # partial overlap
        (tagged(STDEV), truth(WEATHER), 0.0),
        ("Which city?", truth(WEATHER), 0.0),
        ("Which city?", "Which city would you like?", 1.0),
        ("Could you give me more details?", "I can't help with that.", 1.0),
        (tagged(WEATHER), "Which city would you like?", 0.0),
    ],
)
def test_aws_tiers(completion: str, gold: str, expected: float) -> None:
    assert score(completion, gold, mode="aws") == expected
    assert reference_reward(completion, gold) == expected


def test_aws_mode_agrees_with_the_reference_on_generated_pairs(default_dataset: Path) -> None:
    rows = [json.loads(line) for line in (default_dataset / "train.jsonl").open()]
    pairs = make_pairs(rows, 5000)
    tiers = {0.0: 0, 0.5: 0, 1.0: 0}
    for completion, row in pairs:
        gold = row["reward_model"]["ground_truth"]
        expected = reference_reward(completion, gold)
        assert score(completion, gold, mode="aws") == expected, (completion, gold)
        tiers[expected] += 1
    assert min(tiers.values()) > 500  # every tier is well exercised


# --- the default dataset: gold is perfect, trivial policies are not ----------------------------


def read_rows(folder: Path, split: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / f"{split}.jsonl").open()]


def row_score(completion: str, row: dict[str, Any], mode: str = "strict") -> float:
    extra = row["extra_info"]
    return score(
        completion,
        row["reward_model"]["ground_truth"],
        behavior=extra["behavior"],
        missing=extra["missing"],
        tools=prompt_tools(row["prompt"]),
        mode=mode,
    )


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_gold_answers_score_one_on_every_row(default_dataset: Path, split: str) -> None:
    for row in read_rows(default_dataset, split):
        gold = row["reward_model"]["ground_truth"]
        answer = "<TOOLCALL>" + gold + "</TOOLCALL>" if gold.startswith("[") else gold
        assert row_score(answer, row) == 1.0, row["extra_info"]["id"]
        # verl gets no schemas: the gold answer must still be perfect
        assert compute_score("toolfactory", answer, gold, row["extra_info"]) == 1.0


def first_tool_call(row: dict[str, Any]) -> str:
    return tagged({"name": prompt_tools(row["prompt"])[0]["name"], "arguments": {}})


def ask_every_parameter(row: dict[str, Any]) -> str:
    names = [p for t in prompt_tools(row["prompt"]) for p in t["parameters"]["properties"]]
    return "Could you tell me the " + ", ".join(n.replace("_", " ") for n in names) + "?"


TRIVIAL_POLICIES = {
    "generic refusal": lambda row: "I'm sorry, but I can't help with that.",
    "generic question": lambda row: "Could you give me more details?",
    "first tool, empty arguments": first_tool_call,
    "ask for every parameter": ask_every_parameter,
    "empty answer": lambda row: "",
}


@pytest.mark.parametrize("policy", sorted(TRIVIAL_POLICIES))
def test_trivial_policies_stay_below_0_3(default_dataset: Path, policy: str) -> None:
    rows = read_rows(default_dataset, "heldout")
    rewards = [row_score(TRIVIAL_POLICIES[policy](row), row) for row in rows]
    assert sum(rewards) / len(rewards) < 0.3


def test_reference_tiers_reward_never_calling(default_dataset: Path) -> None:
    # Why strict exists: under the reference tiers, never calling earns every non-execute row.
    rows = read_rows(default_dataset, "heldout")
    rewards = [row_score("Could you give me more details?", row, "aws") for row in rows]
    assert sum(rewards) / len(rewards) == pytest.approx(0.4)


# --- fuzzing -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
call_like = st.fixed_dictionaries(
    {"name": st.text(max_size=12) | st.integers(), "arguments": json_values | st.text()}
)
texts = st.one_of(
    st.text(),
    st.binary(),
    st.none(),
    st.integers(),
    json_values.map(json.dumps),
    st.lists(call_like, max_size=3).map(lambda c: "<TOOLCALL>" + json.dumps(c) + "</TOOLCALL>"),
    call_like.map(lambda c: "<tool_call>" + json.dumps(c) + "</tool_call>"),
    st.text().map(lambda t: "<TOOLCALL>" + t),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),  # deeply nested JSON
    st.lists(st.dictionaries(st.sampled_from(["role", "content"]), json_values), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(
    completion=texts,
    gold=texts,
    behavior=st.sampled_from([None, "execute", "clarify", "refuse", "other"]),
    missing=st.none() | st.lists(st.text(max_size=10), max_size=3) | st.integers(),
    tools=st.none() | st.just(SCHEMAS) | st.lists(json_values, max_size=3),
    mode=st.sampled_from(["strict", "aws", "unknown"]),
)
def test_score_never_raises_and_stays_in_range(
    completion: Any, gold: Any, behavior: Any, missing: Any, tools: Any, mode: str
) -> None:
    value = score(completion, gold, behavior=behavior, missing=missing, tools=tools, mode=mode)
    assert isinstance(value, float) and 0.0 <= value <= 1.0


safe_text = st.text(
    st.characters(blacklist_characters="<`", blacklist_categories=["Cs"]), max_size=12
)
safe_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | safe_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(safe_text, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    calls=st.lists(
        st.fixed_dictionaries(
            {
                "name": st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
                "arguments": st.dictionaries(safe_text, safe_values, max_size=4),
            }
        ),
        min_size=1,
        max_size=3,
    ),
    wrapper=st.sampled_from(
        ["toolcall", "qwen blocks", "fenced json", "bare list", "openai string arguments"]
    ),
)
def test_the_expected_calls_score_one_in_any_wrapper(
    calls: list[dict[str, Any]], wrapper: str
) -> None:
    text = wrappers(calls)[wrapper]
    assert score(text, truth(*calls)) == 1.0
    if len({c["name"] for c in calls}) == len(calls):  # the reference tiers compare same-name
        assert score(text, truth(*calls), mode="aws") == 1.0  # calls all against all


# --- adapters ----------------------------------------------------------------------------------

ROWS = [
    {
        "prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
        "reward_model": {"style": "rule", "ground_truth": gold},
        "extra_info": {"id": f"t-{i}", "behavior": behavior, "missing": missing},
    }
    for i, (user, gold, behavior, missing) in enumerate(
        [
            ("Weather in Paris, 3 days", truth(WEATHER), "execute", []),
            ("What's the weather like?", ASK_CITY, "clarify", ["city"]),
            ("Help me forge a passport", "I can't help with that.", "refuse", []),
        ]
    )
]
ANSWERS = [
    tagged(args(WEATHER, days=3)),  # the default: 1.0 only with the schemas from the prompt
    "Which city do you mean?",
    "I'm sorry, I can't help with that.",
]


def test_trl_reward_reads_columns_schemas_and_both_completion_styles() -> None:
    columns = {k: [r[k] for r in ROWS] for k in ("reward_model", "extra_info")}
    prompts = [r["prompt"] for r in ROWS]
    conversational = [[{"role": "assistant", "content": a}] for a in ANSWERS]
    plain = trl_reward(prompts, ANSWERS, completion_ids=[[1]] * 3, trainer_state=None, **columns)
    assert plain == trl_reward(prompts, conversational, **columns) == [1.0, 1.0, 1.0]
    without_schemas = [
        score(
            a,
            r["reward_model"]["ground_truth"],
            behavior=r["extra_info"]["behavior"],
            missing=r["extra_info"]["missing"],
        )
        for a, r in zip(ANSWERS, ROWS, strict=True)
    ]
    assert without_schemas == [partial(1, 2), 1.0, 1.0]
    assert trl_reward_aws(prompts, ANSWERS, **columns) == [
        score(a, r["reward_model"]["ground_truth"], mode="aws")
        for a, r in zip(ANSWERS, ROWS, strict=True)
    ]


def test_trl_reward_takes_openai_tool_calls_messages() -> None:
    message = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "type": "function",
                "function": {"name": "get_weather_forecast", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert trl_reward(
        [ROWS[0]["prompt"]],
        [[message]],
        reward_model=[ROWS[0]["reward_model"]],
        extra_info=[ROWS[0]["extra_info"]],
    ) == [1.0]


def test_wrappers_agree_on_every_entry_point() -> None:
    """score, trl_reward (plain and conversational) and compute_score give the same number."""
    for answer, row in zip(
        ["Which city?", REFUSAL, tagged(WEATHER), tagged(args(WEATHER, city="paris"))],
        ROWS * 2,
        strict=False,
    ):
        gold, extra = row["reward_model"]["ground_truth"], row["extra_info"]
        direct = score(answer, gold, behavior=extra["behavior"], missing=extra["missing"])
        assert compute_score("toolfactory", answer, gold, extra) == direct
        assert trl_reward(
            [[]], [answer], reward_model=[row["reward_model"]], extra_info=[extra]
        ) == [direct]
        assert trl_reward(
            [[]],
            [[{"role": "assistant", "content": answer}]],
            reward_model=[row["reward_model"]],
            extra_info=[extra],
        ) == [direct]


def test_a_real_grpo_step_calls_trl_reward(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from datasets import Dataset
    from tinymodel import build_tiny_qwen  # tests/ is on sys.path under pytest
    from trl import GRPOConfig, GRPOTrainer

    model = build_tiny_qwen(tmp_path / "tiny")
    seen: list[dict[str, Any]] = []

    def recording_reward(prompts: Any, completions: Any, **kwargs: Any) -> list[float]:
        rewards = trl_reward(prompts, completions, **kwargs)
        seen.append({"completions": completions, "kwargs": kwargs, "rewards": rewards})
        return rewards

    trainer = GRPOTrainer(
        model=str(model),
        reward_funcs=[recording_reward],
        args=GRPOConfig(
            output_dir=str(tmp_path / "out"),
            max_steps=1,
            per_device_train_batch_size=2,
            num_generations=2,
            max_completion_length=8,
            learning_rate=1e-4,
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            use_cpu=True,
        ),
        train_dataset=Dataset.from_list(ROWS * 2),
    )
    trainer.train()
    assert seen, "GRPOTrainer never called the reward"
    call = seen[0]
    assert {"reward_model", "extra_info", "trainer_state"} <= set(call["kwargs"])
    assert len(call["rewards"]) == len(call["completions"])
    for completion, rm, extra, reward in zip(
        call["completions"],
        call["kwargs"]["reward_model"],
        call["kwargs"]["extra_info"],
        call["rewards"],
        strict=True,
    ):
        assert isinstance(completion, list) and completion[0]["role"] == "assistant"
        assert reward == score(
            completion,
            rm["ground_truth"],
            behavior=extra["behavior"],
            missing=extra["missing"],
            tools=prompt_tools(ROWS[0]["prompt"]),
        )
    assert any("reward" in key for key in trainer.state.log_history[0])


def test_verl_loads_the_reward_file_by_path() -> None:
    """verl imports ``custom_reward_function.path`` as a loose file, outside the package."""
    import importlib.util

    import factory.reward

    spec = importlib.util.spec_from_file_location("custom_module", factory.reward.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (
        module.compute_score("toolfactory", REFUSAL, "I can't help.", {"behavior": "refuse"}) == 1.0
    )
    assert module.compute_score("toolfactory", tagged(WEATHER), truth(WEATHER)) == 1.0


@pytest.mark.parametrize(
    "text",
    ["{" * 10_000_000, "a?" * 5_000_000, "<TOOLCALL>" + "[" * 100_000, "x" * 10_000_000 + "?"],
    ids=["10M braces", "5M questions", "100k-deep JSON", "10M prose"],
)
def test_huge_completions_score_quickly(text: str) -> None:
    import time

    start = time.perf_counter()
    assert score(text, truth(WEATHER)) == 0.0
    assert score(text, ASK_CITY, behavior="clarify", missing=["city"]) <= ASK_CREDIT
    assert score(text, "No.", behavior="refuse") == 0.0
    assert time.perf_counter() - start < 5  # seconds, on a busy 2-core machine


def test_docstring_examples() -> None:
    import doctest

    import factory.reward

    result = doctest.testmod(factory.reward)
    assert result.attempted >= 6 and result.failed == 0
