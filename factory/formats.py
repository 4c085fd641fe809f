"""Row layout and answer formats: the JSONL contract between generate, reward, audit, hub, train.

One JSONL line per example (verl-compatible; the keys of the reference dataset)::

    {"data_source": "toolfactory",
     "prompt": [{"role": "system", "content": "<tools + answer format>"},
                {"role": "user", "content": "Convert 50 EUR to USD"}],
     "ability": "tool_calling",
     "reward_model": {"style": "rule",
                      "ground_truth": "[{\\"name\\": \\"currency_convert\\", ...}]"},
     "extra_info": {"id": "train-000042", "split": "train", "behavior": "execute",
                    "tools": ["currency_convert"], "missing": [], "category": null,
                    "template": "currency_convert/terse.jinja#3", "register": "terse",
                    "paraphrased": false}}

- ``reward_model.ground_truth`` is always a string: for ``execute`` the JSON list of
  ``{"name", "arguments"}`` calls, otherwise the natural-language answer (a clarifying question
  for ``clarify``, a polite refusal for ``refuse``).
- ``extra_info.tools``: the tools the row is about (the called tools for execute, the tool whose
  argument is missing for clarify, the misused tool or ``[]`` for refuse).
- ``extra_info.missing``: the required arguments absent from the user text (clarify only).
- ``extra_info.category``: the refusal category (refuse only), else null.
- The system prompt lists the tools of the row's split, one JSON object per line between
  ``<tools>`` and ``</tools>`` (:func:`tools_from_system` reads them back), then the answer format.

Formats change only the answer instructions: ``aws`` wraps calls in
``<TOOLCALL>[...]</TOOLCALL>``; ``qwen`` writes one ``<tool_call>{...}</tool_call>`` per call;
``openai`` uses the ``qwen`` text and adds ``messages`` (system, user, assistant with
``tool_calls`` or ``content``) and ``tools`` (OpenAI tools list) columns for SFT.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

Format = Literal["aws", "qwen", "openai"]
FORMATS: tuple[str, ...] = ("aws", "qwen", "openai")
DATA_SOURCE = "toolfactory"
ABILITY = "tool_calling"

_INSTRUCTIONS = {
    "aws": (
        "If the request gives every required argument, respond with only the call(s), "
        'exactly like this: <TOOLCALL>[{"name": "tool_name", "arguments": {"arg": "value"}}]'
        "</TOOLCALL> (several calls go in the same list)."
    ),
    "qwen": (
        "If the request gives every required argument, respond with only the call(s), one block "
        'per call, exactly like this: <tool_call>{"name": "tool_name", "arguments": '
        '{"arg": "value"}}</tool_call>'
    ),
}
_INSTRUCTIONS["openai"] = _INSTRUCTIONS["qwen"]

_DECISION = (
    "If a required argument is missing, do not call a tool: ask the user a short question for "
    "exactly what is missing.\n"
    "If the request is harmful, unethical or outside what these tools are for, do not call a "
    "tool: politely refuse."
)

_TOOLS_RE = re.compile(r"<tools>\s*(.*?)\s*</tools>", re.S)


def openai_tool(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI tools-list entry for one tool."""
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


TOOLS_INTRO = "one JSON schema per line:"  # the words right before the <tools> block


def system_prompt(tool_lines: list[str], fmt: str) -> str:
    """The system message: the tools (pre-serialized JSON lines) and the answer format."""
    return (
        "You are a helpful assistant that can call tools. You have access to these tools, "
        + TOOLS_INTRO
        + "\n<tools>\n"
        + "\n".join(tool_lines)
        + "\n</tools>\n\n"
        + _INSTRUCTIONS[fmt]
        + "\n"
        + _DECISION
    )


_HOLE = "\x00system\x00"
_HOLE_JSON = json.dumps(_HOLE)
_str = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) uses for str


class _Escaped(dict[str, str]):
    """JSON literals of the strings rows repeat: the system prompt, names, labels, template ids.

    ``_ESCAPED[text]`` escapes a string the first time only; a non-string raises TypeError.
    """

    def __missing__(self, text: str) -> str:
        if len(self) > 4096:
            self.clear()
        encoded = self[text] = _str(text)
        return encoded


_ESCAPED = _Escaped()
_escaped = _ESCAPED.__getitem__


def dumps_row(row: dict[str, Any]) -> str:
    """``json.dumps(row, ensure_ascii=False)``, with the long system prompt escaped once per run
    (every row of a split shares it). Generation writes plain rows with :func:`row_pieces`; this
    serves rows a paraphraser rewrote and the ``openai`` layout.
    """
    system = row["prompt"][0]
    content = system["content"]
    encoded = _escaped(content)
    system["content"] = _HOLE
    try:
        text = json.dumps(row, ensure_ascii=False)
    finally:
        system["content"] = content
    return text.replace(_HOLE_JSON, encoded, 1)


_ROW_HEAD = f'{{"data_source": {_str(DATA_SOURCE)}, "prompt": [{{"role": "system", "content": '
_ABILITY_JSON = _str(ABILITY)
_HEADS: dict[str, bytes] = {}
# The end of a row from "split" on: one per (template, register, tools...) seen.
_INFOS: dict[tuple[Any, ...], str] = {}


def row_pieces(
    row_id: str,
    split: str,
    behavior: str,
    system: str,
    user: str,
    ground_truth: str,
    tools: tuple[str, ...],
    missing: tuple[str, ...],
    category: str | None,
    template: str,
    register: str,
) -> tuple[bytes, bytes]:
    """The JSONL line of ``make_row(...)`` in the ``aws`` / ``qwen`` layout, newline included,
    as UTF-8 in two pieces: the head up to the system prompt (one object shared by every row
    with that prompt) and the rest. ``b"".join`` of them is ``dumps_row(row) + "\n"``, encoded.
    """
    head = _HEADS.get(system)
    if head is None:
        if len(_HEADS) > 256:
            _HEADS.clear()
        head = _HEADS[system] = (_ROW_HEAD + _str(system)).encode()
    key = (split, behavior, register, template, category, tools, missing)
    info = _INFOS.get(key)
    if info is None:
        if len(_INFOS) > 16384:  # about 3,000 for the bundled tools
            _INFOS.clear()
        category_json = "null" if category is None else _escaped(category)
        info = _INFOS[key] = (
            f'"split": {_escaped(split)}, "behavior": {_escaped(behavior)}, '
            f'"tools": [{", ".join(map(_escaped, tools))}], '
            f'"missing": [{", ".join(map(_escaped, missing))}], "category": {category_json}, '
            f'"template": {_escaped(template)}, "register": {_escaped(register)}, '
            '"paraphrased": false}}\n'
        )
    tail = (
        f'}}, {{"role": "user", "content": {_str(user)}}}], "ability": {_ABILITY_JSON}, '
        f'"reward_model": {{"style": "rule", "ground_truth": {_str(ground_truth)}}}, '
        f'"extra_info": {{"id": {_str(row_id)}, {info}'
    )
    return head, tail.encode()


def tools_from_system(text: str) -> list[dict[str, Any]]:
    """Read the tool schemas back from a system prompt (empty list if there are none).

    Accepts our ``<tools>`` block with one JSON object per line or a JSON list inside it;
    unparseable lines are skipped. Returns OpenAI tools entries' ``function`` dicts.
    """
    match = _TOOLS_RE.search(text or "")
    if not match:
        return []
    body = match.group(1)
    items: list[Any]
    try:
        parsed = json.loads(body)
        items = parsed if isinstance(parsed, list) else [parsed]
    except ValueError:
        items = []
        for line in body.splitlines():
            try:
                items.append(json.loads(line))
            except ValueError:
                continue
    out = []
    for item in items:
        if isinstance(item, dict):
            fn = item.get("function", item)
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                out.append(fn)
    return out


def render_calls(calls: list[dict[str, Any]], fmt: str) -> str:
    """The assistant text that makes these calls in the given format (used for SFT targets)."""
    if fmt == "aws":
        return "<TOOLCALL>" + json.dumps(calls, ensure_ascii=False) + "</TOOLCALL>"
    return "\n".join(
        "<tool_call>" + json.dumps(call, ensure_ascii=False) + "</tool_call>" for call in calls
    )


def make_row(
    *,
    row_id: str,
    split: str,
    behavior: str,
    system: str,
    user: str,
    ground_truth: str,
    tools: list[str],
    missing: list[str],
    category: str | None,
    template: str,
    register: str,
    fmt: str,
    tool_schemas: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Assemble one row in the contract layout (``openai`` adds ``messages`` + ``tools``)."""
    row: dict[str, Any] = {
        "data_source": DATA_SOURCE,
        "prompt": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": ground_truth},
        "extra_info": {
            "id": row_id,
            "split": split,
            "behavior": behavior,
            "tools": tools,
            "missing": missing,
            "category": category,
            "template": template,
            "register": register,
            "paraphrased": False,
        },
    }
    if fmt == "openai":
        row["messages"] = openai_messages(system, user, behavior, ground_truth)
        row["tools"] = tool_schemas or []
    return row


def openai_messages(system: str, user: str, behavior: str, ground_truth: str) -> list[Any]:
    """System, user and the gold assistant turn in OpenAI chat layout."""
    if behavior == "execute":
        calls = json.loads(ground_truth)
        assistant: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": f"call_{i}",
                    "type": "function",
                    "function": {
                        "name": c["name"],
                        "arguments": json.dumps(c["arguments"], ensure_ascii=False),
                    },
                }
                for i, c in enumerate(calls)
            ],
        }
    else:
        assistant = {"role": "assistant", "content": ground_truth}
    return [{"role": "system", "content": system}, {"role": "user", "content": user}, assistant]
