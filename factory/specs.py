"""Load tool specs in any common format and normalize them to :class:`ToolSpec`.

Accepted per file (one tool or a list; a folder is read recursively, ``*.json`` only):
OpenAI tools (``{"type": "function", "function": {...}}``), bare functions
(``{name, description, parameters}``), MCP (``inputSchema``, also ``{"tools": [...]}``) and
BFCL style (``"type": "dict"``, ``"float"``, ``"tuple"``, ``"any"``).

    >>> [t.name for t in load_specs([BUNDLED_SPECS / "heldout"])]
    ['calculate_standard_deviation', 'get_stock_price', 'search_restaurants']
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from .errors import SpecError

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_SPECS = ROOT / "tool_specs"

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_BFCL_TYPES = {
    "dict": "object",
    "float": "number",
    "tuple": "array",
    "int": "integer",
    "bool": "boolean",
    "str": "string",
    "list": "array",
    "double": "number",
}
_JSON_TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}
_HINT_KEYS = {"faker", "choices", "ask"}


class ToolSpec(BaseModel):
    """One tool: a name, a description and a JSON Schema (``type: object``) for its arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    parameters: dict[str, Any]
    source: str

    @property
    def properties(self) -> dict[str, dict[str, Any]]:
        props: dict[str, dict[str, Any]] = self.parameters.get("properties", {})
        return props

    # Worked out once per tool (the row builders read them for every row).
    @cached_property
    def required(self) -> tuple[str, ...]:
        return tuple(self.parameters.get("required", []))

    @cached_property
    def optional(self) -> tuple[str, ...]:
        return tuple(p for p in self.properties if p not in self.required)

    def public_schema(self) -> dict[str, Any]:
        """The parameters without ``x-factory`` hints (what the model is shown)."""
        return _strip_hints(self.parameters)  # type: ignore[no-any-return]


def _strip_hints(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_hints(v) for k, v in node.items() if k != "x-factory"}
    if isinstance(node, list):
        return [_strip_hints(v) for v in node]
    return node


def spec_files(path: Path) -> list[Path]:
    """The spec files under ``path`` (itself if a file), sorted for determinism."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*.json") if p.is_file())
    if path.is_file():
        return [path]
    raise SpecError(f"{path}: no such file or folder")


def _raw_tools(data: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (json path, tool dict) for every tool in a parsed file."""
    if isinstance(data, list):
        for i, item in enumerate(data):
            yield from _raw_tools(item, f"{where}[{i}]")
    elif isinstance(data, dict) and isinstance(data.get("tools"), list) and "name" not in data:
        yield from _raw_tools(data["tools"], f"{where}.tools")
    elif isinstance(data, dict) and data.get("type") == "function" and "function" in data:
        yield f"{where}.function", data["function"]
    elif isinstance(data, dict):
        yield where, data
    else:
        raise SpecError(f"{where}: expected a tool object or a list of tools")


def _normalize_schema(node: Any, path: str) -> Any:
    """Map BFCL types to JSON Schema and reject constructs the generator cannot sample."""
    if not isinstance(node, dict):
        raise SpecError(f"{path}: expected an object")
    out = dict(node)
    if "$ref" in out:
        raise SpecError(f"{path}: $ref is not supported (inline the schema)")
    for key in ("oneOf", "anyOf", "allOf"):
        if key in out and not (out.get("x-factory") or {}).get("choices"):
            raise SpecError(f"{path}: {key} needs an x-factory.choices sample hint")
    typ = out.get("type")
    if isinstance(typ, str):
        if typ == "any":
            out.pop("type")
        else:
            typ = out["type"] = _BFCL_TYPES.get(typ, typ)
            if typ not in _JSON_TYPES:
                raise SpecError(f"{path}.type: unknown type {typ!r}")
    if "enum" in out and (not isinstance(out["enum"], list) or not out["enum"]):
        raise SpecError(f"{path}.enum: enum is empty")
    lo, hi = out.get("minimum"), out.get("maximum")
    if isinstance(lo, int | float) and isinstance(hi, int | float) and lo > hi:
        raise SpecError(f"{path}: minimum {lo} is greater than maximum {hi}")
    hints = out.get("x-factory")
    if hints is not None:
        if not isinstance(hints, dict) or set(hints) - _HINT_KEYS:
            extra = sorted(set(hints) - _HINT_KEYS) if isinstance(hints, dict) else hints
            raise SpecError(f"{path}.x-factory: unknown hint {extra} (known: ask, choices, faker)")
    if isinstance(out.get("properties"), dict):
        out["properties"] = {
            k: _normalize_schema(v, f"{path}.properties.{k}") for k, v in out["properties"].items()
        }
    if isinstance(out.get("items"), dict):
        out["items"] = _normalize_schema(out["items"], f"{path}.items")
    if typ == "array" and isinstance(out.get("items"), list):  # BFCL tuples
        out["items"] = _normalize_schema(out["items"][0] if out["items"] else {}, f"{path}.items")
    return out


def _to_spec(raw: dict[str, Any], where: str, source: str) -> ToolSpec:
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SpecError(f"{where}.name: expected a tool name like 'get_weather', got {name!r}")
    at = f"{where} (tool {name!r})"
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise SpecError(f"{where}.description: expected a string (tool {name!r})")
    params = raw.get("parameters", raw.get("inputSchema", raw.get("input_schema")))
    if params is None:
        params = {"type": "object", "properties": {}}
    params = _normalize_schema(params, f"{where}.parameters")
    if params.get("type", "object") != "object":
        raise SpecError(f"{where}.parameters.type: must be 'object' (tool {name!r})")
    params["type"] = "object"
    props = params.setdefault("properties", {})
    required = params.get("required", [])
    if not isinstance(required, list) or any(r not in props for r in required):
        unknown = (
            [r for r in required if r not in props] if isinstance(required, list) else required
        )
        raise SpecError(
            f"{where}.parameters.required: unknown parameter(s) {unknown} (tool {name!r})"
        )
    try:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        Draft202012Validator.check_schema(params)
    except SchemaError as err:
        pointer = ".".join(str(p) for p in err.absolute_path)
        raise SpecError(
            f"{at}: invalid JSON Schema at parameters.{pointer}: {err.message}"
        ) from err
    return ToolSpec(name=name, description=description.strip(), parameters=params, source=source)


def load_file(path: Path) -> list[ToolSpec]:
    """Every tool in one spec file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(f"{path}: cannot read: {err}") from err
    except json.JSONDecodeError as err:
        raise SpecError(f"{path}:{err.lineno}: invalid JSON: {err.msg}") from err
    try:
        return [
            _to_spec(raw, f"{path}: $" + jp[1:], str(path)) for jp, raw in _raw_tools(data, "$")
        ]
    except SpecError as err:
        msg = str(err)
        raise SpecError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None


def load_specs(paths: Iterable[Path]) -> list[ToolSpec]:
    """Load and normalize every tool under ``paths``; duplicate names are an error."""
    tools: dict[str, ToolSpec] = {}
    for root in paths:
        for file in spec_files(Path(root)):
            for tool in load_file(file):
                if tool.name in tools:
                    first = tools[tool.name].source
                    raise SpecError(f"{file}: duplicate tool name {tool.name!r} (also in {first})")
                tools[tool.name] = tool
    if not tools:
        raise SpecError(f"no tool specs found in {', '.join(str(p) for p in paths)}")
    return list(tools.values())


def validate_path(path: Path) -> tuple[list[ToolSpec], list[str]]:
    """All tools that load and one message per problem (for ``toolfactory specs validate``)."""
    tools: list[ToolSpec] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    try:
        files = spec_files(path)
    except SpecError as err:
        return [], [str(err)]
    for file in files:
        try:
            loaded = load_file(file)
        except SpecError as err:
            problems.append(str(err))
            continue
        for tool in loaded:
            if tool.name in seen:
                problems.append(
                    f"{file}: duplicate tool name {tool.name!r} (also in {seen[tool.name]})"
                )
                continue
            seen[tool.name] = str(file)
            tools.append(tool)
            problems.extend(_lint(tool))
    if not files:
        problems.append(f"{path}: no *.json spec files found")
    return tools, problems


def _lint(tool: ToolSpec) -> list[str]:
    """Problems that do not stop loading but make weak data."""
    out = []
    if not tool.description:
        out.append(
            f"{tool.source}: tool {tool.name!r} has no description (generic phrasing suffers)"
        )
    if not tool.required:
        out.append(f"{tool.source}: tool {tool.name!r} has no required parameter: no clarify rows")
    return out


def specs_hash(tools: Iterable[ToolSpec]) -> dict[str, str]:
    """sha256 of each tool's normalized spec, for the manifest."""
    return {
        t.name: hashlib.sha256(
            json.dumps([t.description, t.parameters], sort_keys=True).encode()
        ).hexdigest()[:16]
        for t in tools
    }
