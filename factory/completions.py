"""Read a completion: its text, the tool calls it makes, and the requests it puts to the user.

Input: a completion as a model or trainer hands it over (text, bytes, a chat message or a list
of messages). Output: the calls as ``{"name", "arguments"}`` dicts (None when it makes none),
the sentences that ask the user for something, and what it did overall (call / ask / refuse).
:mod:`factory.reward` scores these; :mod:`factory.metrics` and :mod:`factory.checks` read them.

>>> parse_calls('<TOOLCALL>[{"name": "f", "arguments": {"x": 1}}]</TOOLCALL>')
[{'name': 'f', 'arguments': {'x': 1}}]
>>> classify("Which city do you mean?")
'ask'

Every reader here runs once per completion in GRPO, so the usual shapes take short paths
(one closed call tag, a list of well-formed calls) that give what the general path gives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from json.scanner import make_scanner
from typing import Any, Literal

_fast_loads: Callable[[str], Any] | None
try:
    from orjson import loads as _fast_loads
except ImportError:  # a dependency, but the reward reads the same without it
    _fast_loads = None

Did = Literal["call", "ask", "refuse"]
Call = dict[str, Any]

# Questions and declines are looked for in the last this-many characters (the answer follows
# any reasoning); calls are looked for everywhere.
PROSE_LIMIT = 4096
_MAX_BARE_TRIES = 32  # JSON start positions tried in bare text

# <TOOLCALL>[...]</TOOLCALL> and <tool_call>{...}</tool_call> tags, opening or closing
_TAG_RE = re.compile(r"<(/?)(?:toolcall|tool_call)>", re.I)
_OPEN_TAG_RE = re.compile(r"<(?:toolcall|tool_call)>", re.I)
_FENCE_RE = re.compile(r"```[\w-]*[ \t]*\n?(.*?)(?:```|\Z)", re.S)
_JSON_START_RE = re.compile(r"[\[{]")
# The decoder's scanner reads one JSON value at an offset (C speed, no wrapper frames).
_SCAN: Callable[[str, int], tuple[Any, int]] = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
# orjson reads a block that is one JSON value twice as fast and the same, but for integers past
# 64 bits (it makes them floats): a block with 19 digits in a row is left to json.
_DIGIT_MAP = bytes(48 if 48 <= b < 58 else 32 for b in range(256))  # ASCII digits to "0"
_LONG_NUMBER = b"0" * 19

_SENTENCE_RE = re.compile(r"[^.!?\n]+[.!?]*")
_INTERROGATIVE_RE = re.compile(
    r"^(?:\W*)(?:so|and|but|also|ok|okay|sure|great)?[\s,]*"
    r"(?:what|which|where|when|who|whom|whose|how|could|can|would|will|do|does|did|is|are|"
    r"should|may|might|shall)\b(?!'|\s+not\b)"
)
_REQUEST_START_RE = re.compile(
    r"\W*(?:(?:please|kindly)\s+)?(?:provide|specify|tell me|let me know|share|give me|"
    r"send me|clarify|confirm|enter|include|mention)\b"
)
# A sentence that opens as a question or as a request: one match instead of two.
_ASKING_START_RE = re.compile(f"(?:{_INTERROGATIVE_RE.pattern})|(?:{_REQUEST_START_RE.pattern})")
_REQUEST_INSIDE_RE = re.compile(
    r"\bplease\s+(?:provide|specify|tell|let me know|share|give|send|clarify|confirm|enter|"
    r"include|mention)\b"
    r"|\bi(?:'d| would| will)? need (?:to know )?(?:the|your|a|an|which|what|more|some)\b"
)
# Questions that offer help rather than ask for input ("Is there anything else ...?").
_OFFER_RE = re.compile(
    r"\b(?:anything else|something else|else (?:i|we) can|(?:can|may|shall) (?:i|we) help|"
    r"how (?:can|may) (?:i|we)|instead|other (?:questions?|requests?|ways?)|"
    r"is there (?:another|something|anything))\b"
)


# --- text ------------------------------------------------------------------------------------


def completion_text(completion: Any) -> str:
    """The assistant text of a completion: a string, bytes, a message or a list of messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, bytes | bytearray):
        return bytes(completion).decode("utf-8", errors="replace")
    if isinstance(completion, Mapping):
        return _message_text(completion)
    if isinstance(completion, list | tuple):
        return "\n".join(_message_text(m) for m in completion if isinstance(m, Mapping))
    return ""


def _message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        text = "".join(
            str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p
        )
    else:
        text = content if isinstance(content, str) else ""
    tool_calls = message.get("tool_calls")
    if isinstance(tool_calls, list) and tool_calls:
        blocks = []
        for tc in tool_calls:
            try:
                blocks.append("<tool_call>" + json.dumps(tc, default=str) + "</tool_call>")
            except (TypeError, ValueError):
                continue
        text = text + "\n" + "\n".join(blocks)
    return text


# --- calls -----------------------------------------------------------------------------------


def _call_from(obj: Any) -> Call | None:
    """One ``{"name", "arguments"}`` call from a parsed JSON object, or None if it is not one."""
    if type(obj) is not dict:
        return None
    if "name" not in obj and type(obj.get("function")) is dict:
        obj = obj["function"]  # OpenAI tool_calls entry
    name = obj.get("name")
    if type(name) is not str:
        return None
    if len(obj) == 2 and type(obj.get("arguments")) is dict and name == name.strip():
        call: Call = obj  # already a call: no copy
        return call
    args = obj["arguments"] if "arguments" in obj else obj.get("parameters", {})
    if isinstance(args, str):  # OpenAI style: arguments as a JSON string
        stripped = args.strip()
        if not stripped:
            args = {}
        else:
            try:
                args = json.loads(stripped)
            except (ValueError, RecursionError):
                pass
    elif args is None:
        args = {}
    return {"name": name.strip(), "arguments": args}


def _calls_from_json(obj: Any) -> list[Call] | None:
    """The calls in a parsed JSON value (a call, a list of calls, a message with tool_calls)."""
    if type(obj) is dict:
        if type(obj.get("tool_calls")) is not list:
            call = _call_from(obj)
            return [call] if call is not None else None
        obj = obj["tool_calls"]
    if type(obj) is not list:
        return None
    calls = []
    for item in obj:
        # a call already in shape is kept as it is (what _call_from does, without the frame)
        if type(item) is dict and len(item) == 2 and type(item.get("arguments")) is dict:
            name = item.get("name")
            if type(name) is str and name == name.strip():
                calls.append(item)
                continue
        call = _call_from(item)
        if call is not None:
            calls.append(call)
    return calls or None


def _decode(text: str) -> Any:
    """The first JSON value in ``text`` (leading prose skipped), or None."""
    first = text[:1]
    if first == "[" or first == "{":  # the usual call block: no search
        start = 0
    else:
        match = _JSON_START_RE.search(text)
        if match is None:
            return None
        start = match.start()
    try:
        return _SCAN(text, start)[0]
    except (StopIteration, ValueError, RecursionError):
        return None


def _tagged_blocks(text: str) -> list[str]:
    """The contents of call tags; a tag left open runs to the next tag or the end."""
    parts = _TAG_RE.split(text)  # [before, "" or "/", after, "" or "/", after, ...]
    return [parts[i + 1] for i in range(1, len(parts), 2) if not parts[i]]


def _calls_in_blocks(blocks: Iterable[str]) -> list[Call]:
    calls: list[Call] = []
    for block in blocks:
        found = _calls_from_json(_decode(block))
        if found:
            calls.extend(found)
    return calls


def _calls_in_bare(text: str) -> list[Call] | None:
    for tries, match in enumerate(_JSON_START_RE.finditer(text)):
        if tries >= _MAX_BARE_TRIES:
            break
        try:
            value = _SCAN(text, match.start())[0]
        except (StopIteration, ValueError, RecursionError):
            continue
        found = _calls_from_json(value)
        if found:
            return found
    return None


def parse_calls(text: Any) -> list[Call] | None:
    """The tool calls in a completion, or None when it makes no call.

    Reads ``<TOOLCALL>[...]</TOOLCALL>``, ``<tool_call>{...}</tool_call>`` blocks, fenced JSON,
    then bare JSON (a list or object anywhere in the text). A call tag whose content is not a
    call gives ``[]``: the model tried to call. Each call is ``{"name", "arguments"}``.

    >>> parse_calls('Sure. <tool_call>{"name": "f", "parameters": {"x": 1}}</tool_call>')
    [{'name': 'f', 'arguments': {'x': 1}}]
    """
    return calls_in_text(text if type(text) is str else completion_text(text))


def calls_in_text(text: str) -> list[Call] | None:
    """:func:`parse_calls` for text that is already a ``str``."""
    if "<" in text:
        parts = _TAG_RE.split(text)
        if len(parts) == 5 and not parts[1] and parts[3]:  # one closed tag: the usual answer
            return _calls_from_json(_decode(parts[2])) or []
        tagged = [parts[i + 1] for i in range(1, len(parts), 2) if not parts[i]]
        if tagged:
            return _calls_in_blocks(tagged)
    elif "{" not in text:
        return None
    return _untagged_calls(text)


def only_block(text: str) -> str | None:
    """The content of the call tag of ``text`` when it has one, closed, and no other tag.

    Then ``calls_in_text(text) == calls_in_block(only_block(text))``.
    """
    # The usual answer, without the regex: one exact-case tag pair and no other "<" at all.
    head, tag, rest = text.partition("<TOOLCALL>")
    if tag and "<" not in head:
        block, end, tail = rest.partition("</TOOLCALL>")
        if end and "<" not in block and "<" not in tail:
            return block
    elif "<" not in text:
        return None
    parts = _TAG_RE.split(text)
    return parts[2] if len(parts) == 5 and not parts[1] and parts[3] else None


def calls_in_block(block: str) -> list[Call]:
    """What :func:`calls_in_text` reads in a completion whose only tag holds ``block``."""
    first = block[:1]
    if (first == "[" or first == "{") and _fast_loads is not None:
        try:  # the whole block is the value that _decode would read first, or it raises
            if _LONG_NUMBER in block.encode().translate(_DIGIT_MAP):
                raise ValueError("left to json")  # see _fast_json
            value = _fast_loads(block)
        except ValueError:
            value = _decode(block)
    else:
        value = _decode(block)
    return _calls_from_json(value) or []


def loads_json(text: str) -> Any:
    """``json.loads(text)``, faster where orjson reads the text the same."""
    try:
        return _fast_json(text)
    except ValueError:
        return json.loads(text)


def _fast_json(text: str) -> Any:
    """orjson's reading of a whole JSON text; ValueError where json might read it otherwise.

    json also reads NaN, Infinity, lone surrogates and deeper nesting, on which orjson raises.
    """
    if _fast_loads is None or _LONG_NUMBER in text.encode().translate(_DIGIT_MAP):
        raise ValueError("left to json")
    return _fast_loads(text)


def makes_call(text: str) -> bool:
    """Whether ``calls_in_text(text) is not None``; a call tag alone decides, unread."""
    if "<" in text:
        if "<TOOLCALL>" in text or _OPEN_TAG_RE.search(text) is not None:
            return True
    elif "{" not in text:
        return False
    return _untagged_calls(text) is not None


def _untagged_calls(text: str) -> list[Call] | None:
    if "```" in text:
        fenced = _calls_in_blocks(_FENCE_RE.findall(text))
        if fenced:
            return fenced
    return _calls_in_bare(text)


# --- requests --------------------------------------------------------------------------------


def tail(text: str) -> str:
    """Where questions and declines are looked for: the end of ``text``, lowercased."""
    return text[-PROSE_LIMIT:].lower().replace("\u2019", "'")


def requests_in(text: str) -> list[str]:
    """The sentences of ``text`` (lowercased) that ask the user for something."""
    return requests_in_tail(tail(text))


def requests_in_tail(prose: str) -> list[str]:
    """:func:`requests_in` for text that is already a :func:`tail`."""
    out = []
    for raw in _SENTENCE_RE.findall(prose):
        sentence = raw.strip(" \t\"'*_-")
        if (
            sentence.endswith("?")
            or _ASKING_START_RE.match(sentence)
            or (
                ("please" in sentence or "need" in sentence) and _REQUEST_INSIDE_RE.search(sentence)
            )
        ) and not (
            # every offer has one of these words; the regex alone tries each position
            (
                "else" in sentence
                or "help" in sentence
                or "how" in sentence
                or "instead" in sentence
                or "other" in sentence
                or "there" in sentence
            )
            and _OFFER_RE.search(sentence)
        ):
            out.append(sentence)
    return out


def classify(completion: Any) -> Did:
    """What a completion did: ``"call"`` a tool, ``"ask"`` the user, or ``"refuse"`` (neither).

    >>> classify("Which city do you mean?"), classify("I can't help with that.")
    ('ask', 'refuse')
    """
    try:
        text = completion_text(completion)
        if makes_call(text):
            return "call"
        return "ask" if requests_in(text) else "refuse"
    except Exception:  # classify is as total as score
        return "refuse"
