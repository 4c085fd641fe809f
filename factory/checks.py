"""The audit's checks and the rules one row is held to.

Input: one row's ground truth, the JSON Schemas of its tools and its user text. Output: its
behavior label and gold calls (:func:`infer_behavior` for rows without labels: a call list is
execute, a request for information clarify, anything else refuse), the first schema error of a
call's arguments, and whether a clarify row's ``missing`` argument seems stated after all.
:func:`_new_checks` lists every check the audit reports; :mod:`factory.scan` applies the rules
to each row.

    >>> infer_behavior('[{"name": "get_weather", "arguments": {"city": "Oslo"}}]')
    ('execute', [{'name': 'get_weather', 'arguments': {'city': 'Oslo'}}])
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .grounding import normalize_text

BEHAVIORS = ("execute", "clarify", "refuse")
_EXAMPLES = 5


@dataclass(slots=True)
class Check:
    """One audit check: how many rows fail it and the first few of them."""

    name: str
    title: str
    count: int = 0
    examples: list[str] = field(default_factory=list)
    note: str = ""

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append(example)

    @property
    def ok(self) -> bool:
        return self.count == 0


def _new_checks() -> dict[str, Check]:
    checks = [
        Check("malformed", "malformed rows (bad JSON, missing keys)"),
        Check("mix", "behavior mix off target"),
        Check("leakage", "tool or refusal category in more than one split"),
        Check("duplicates", "duplicate user prompts within a split"),
        Check("cross_split_duplicates", "exact or near-duplicate prompts across splits"),
        Check("gold_unparseable", "execute ground truth is not a JSON call list"),
        Check("gold_unknown_tool", "gold call names a tool absent from the system prompt"),
        Check("gold_schema", "gold call arguments fail the tool's JSON Schema"),
        Check("gold_ungrounded", "gold argument values not stated in the user text"),
        Check("clarify_not_required", "clarify `missing` is not a required argument of its tool"),
        Check(
            "clarify_stated",
            "clarify `missing` argument seems stated in the user text",
            note="heuristic: enum values, dates, numbers and pattern-shaped codes (e.g. IATA) "
            "are looked for; free-text arguments such as a city are not checked",
        ),
    ]
    return {c.name: c for c in checks}


def parse_calls(ground_truth: str, loads: Any = json.loads) -> list[dict[str, Any]] | None:
    """The gold calls of an execute row, or None when ``ground_truth`` is not a call list."""
    text = ground_truth.strip()
    if not text.startswith(("[", "{")):
        return None
    try:
        calls = loads(text)
    except ValueError:
        return None
    if isinstance(calls, dict):
        calls = [calls]
    if not isinstance(calls, list) or not calls:
        return None
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            return None
        if not isinstance(call.setdefault("arguments", {}), dict):
            return None
    return calls


def infer_behavior(ground_truth: str, loads: Any = json.loads) -> tuple[str, list[Any] | None]:
    """(behavior, gold calls) for a row without labels: calls are execute, else the reward's
    reading of the answer decides (a request for information is clarify, anything else refuse).
    """
    calls = parse_calls(ground_truth, loads)
    if calls is not None:
        return "execute", calls
    from .reward import classify
    from .reward import parse_calls as parse_completion

    did = classify(ground_truth)
    if did == "call":  # a wrapped call such as <TOOLCALL>[...]</TOOLCALL>
        return "execute", parse_completion(ground_truth)
    return ("clarify" if did == "ask" else "refuse"), None


class _ToolCheck:
    """A tool's JSON Schema, validated fast: flat object schemas check each value once."""

    def __init__(self, schema: dict[str, Any]) -> None:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError
        from jsonschema.validators import validator_for

        cls = validator_for(schema, default=Draft202012Validator)
        self.broken: str | None = None
        try:
            cls.check_schema(schema)
        except SchemaError as err:
            self.broken = f"tool schema is invalid: {err.message}"
        self.validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
        props = schema.get("properties")
        flat = (
            schema.get("type") == "object"
            and isinstance(props, dict)
            and set(schema)
            <= {
                "type",
                "properties",
                "required",
                "additionalProperties",
                "description",
                "title",
                "$schema",
            }
            and schema.get("additionalProperties", True) in (True, False)
            and "$ref" not in json.dumps(schema)
        )
        # Arguments repeat a lot (cities, currencies, dates): a flat schema is valid exactly
        # when the required keys are there and each value is valid, so values are cached.
        self.props = (
            {k: cls(v, format_checker=cls.FORMAT_CHECKER) for k, v in props.items()}
            if flat and isinstance(props, dict)
            else None
        )
        self.required = set(schema.get("required", []))
        self.closed = schema.get("additionalProperties") is False
        self.cache: dict[tuple[str, Any], bool] = {}

    def error(self, arguments: dict[str, Any]) -> str | None:
        if self.broken:
            return self.broken
        if self.props is not None and self._flat_ok(arguments):
            return None
        if self.props is None and self.validator.is_valid(arguments):
            return None
        from jsonschema.exceptions import best_match

        err = best_match(self.validator.iter_errors(arguments))
        if err is None:
            return None
        where = "/".join(str(p) for p in err.absolute_path)
        return f"{where}: {err.message}"[:120] if where else err.message[:120]

    def _flat_ok(self, arguments: dict[str, Any]) -> bool:
        assert self.props is not None
        if not self.required <= arguments.keys():
            return False
        for key, value in arguments.items():
            validator = self.props.get(key)
            if validator is None:
                if self.closed:
                    return False
                continue
            cache_key = (key, _value_key(value))
            ok = self.cache.get(cache_key)
            if ok is None:
                if len(self.cache) > 200_000:
                    self.cache.clear()
                ok = self.cache[cache_key] = validator.is_valid(value)
            if not ok:
                return False
        return True


def _value_key(value: Any) -> Any:
    """A hashable key that tells 1, 1.0 and true apart (JSON Schema does)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return (type(value), value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return (list, tuple((type(v), v) for v in value))
    return (object, json.dumps(value, sort_keys=True))


def _kind(schema: dict[str, Any]) -> str | None:
    """The shape of value a parameter takes, for spotting one in free text."""
    kind = schema.get("type")
    if schema.get("format") in ("date", "date-time"):
        return "date"
    if kind in ("number", "integer"):
        return "number"
    if kind == "array" and (schema.get("items") or {}).get("type") in ("number", "integer"):
        return "numbers"
    if kind == "string" and isinstance(schema.get("pattern"), str):
        return "pattern:" + str(schema["pattern"])
    return None


_DATE_TOKEN_RE = re.compile(r" (date\d{8}) ")
_NUMBER_TOKEN_RE = re.compile(r"(?<= )\d+(?:d\d+)?(?= )")
_CODE_RE = re.compile(r"\w[\w.]*\w")


def _looks_stated(name: str, params: dict[str, Any], user: str, missing: list[str]) -> bool:
    """Whether the text holds a value of the missing parameter's shape that nothing else claims.

    Conservative: a value counts only when the text has more values of that shape than the
    tool's other (non-missing) parameters of the same shape could account for.
    """
    props: dict[str, Any] = params.get("properties") or {}
    schema = props[name]
    haystack = normalize_text(user)
    for choice in schema.get("enum") or []:
        needle = normalize_text(str(choice))
        if len(needle.strip()) >= 3 and needle in haystack:
            return True
    kind = _kind(schema)
    if kind is None:
        return False
    others = sum(1 for k, p in props.items() if k not in missing and _kind(p) == kind)
    if kind == "date":
        found = len(set(_DATE_TOKEN_RE.findall(haystack)))
    elif kind in ("number", "numbers"):
        found = len(_NUMBER_TOKEN_RE.findall(haystack))
        if kind == "numbers":
            return found - others >= max(int(schema.get("minItems", 2)), 2)
    else:
        # Values of the tool's enum parameters ("NYSE" for an exchange) are not codes.
        taken = {str(c) for p in props.values() for c in p.get("enum") or []}
        pattern = re.compile(kind.removeprefix("pattern:"))
        words = {w.strip(".") for w in _CODE_RE.findall(user)}
        found = len({w for w in words if pattern.fullmatch(w) and w not in taken})
    return found > others
