"""Spec loading: every accepted format normalizes to one ToolSpec shape; bad specs fail clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory.errors import SpecError
from factory.specs import BUNDLED_SPECS, load_specs, validate_path

SPECS = Path(__file__).parent / "fixtures" / "specs"


@pytest.mark.parametrize(
    ("file", "names"),
    [
        ("openai_tools.json", ["send_email"]),
        ("bare.json", ["create_ticket"]),
        ("mcp.json", ["get_time", "book_room"]),
        ("bfcl.json", ["loan_payment"]),
    ],
)
def test_each_format_loads(file: str, names: list[str]) -> None:
    tools = load_specs([SPECS / file])
    assert [t.name for t in tools] == names
    for tool in tools:
        assert tool.parameters["type"] == "object"
        assert set(tool.required) <= set(tool.properties)
        assert tool.source.endswith(file)


def test_bfcl_types_become_json_schema() -> None:
    (tool,) = load_specs([SPECS / "bfcl.json"])
    props = tool.properties
    assert props["principal"]["type"] == "number"
    assert props["extras"]["type"] == "array"
    assert props["extras"]["items"]["type"] == "number"
    assert "type" not in props["note"]


def test_folder_is_read_recursively_and_sorted() -> None:
    tools = load_specs([SPECS])
    assert [t.name for t in tools] == [
        "create_ticket",
        "loan_payment",
        "get_time",
        "book_room",
        "send_email",
    ]


def test_public_schema_drops_hints() -> None:
    (tool,) = [t for t in load_specs([BUNDLED_SPECS / "train"]) if t.name == "get_weather_forecast"]
    assert "x-factory" in tool.properties["city"]
    assert "x-factory" not in json.dumps(tool.public_schema())


def _write(tmp_path: Path, data: object, name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


_OK_PARAMS = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", "spec.json:1: invalid JSON"),
        ({"description": "x", "parameters": _OK_PARAMS}, "$.name: expected a tool name"),
        (
            {"name": "t", "parameters": {"type": "object", "properties": {"a": {"type": "str2"}}}},
            "$.parameters.properties.a.type: unknown type 'str2'",
        ),
        (
            {"name": "t", "parameters": {"type": "object", "properties": {"a": {"enum": []}}}},
            "$.parameters.properties.a.enum: enum is empty",
        ),
        (
            {"name": "t", "parameters": {"type": "object", "properties": {"a": {"$ref": "#/x"}}}},
            "$.parameters.properties.a: $ref is not supported",
        ),
        (
            {"name": "t", "parameters": {"type": "object", "properties": {"a": {"oneOf": []}}}},
            "$.parameters.properties.a: oneOf needs an x-factory.choices sample hint",
        ),
        (
            {"name": "t", "parameters": {"type": "object", "properties": {}, "required": ["zz"]}},
            "$.parameters.required: unknown parameter(s) ['zz'] (tool 't')",
        ),
        (
            {
                "name": "t",
                "parameters": {
                    "type": "object",
                    "properties": {"a": {"type": "integer", "minimum": 5, "maximum": 1}},
                },
            },
            "minimum 5 is greater than maximum 1",
        ),
        (
            {
                "name": "t",
                "parameters": {
                    "type": "object",
                    "properties": {"a": {"type": "string", "x-factory": {"fakr": "city"}}},
                },
            },
            "x-factory: unknown hint ['fakr']",
        ),
        (
            [{"type": "function", "function": {"name": "t", "parameters": {"type": "array"}}}],
            "$[0].function.parameters.type: must be 'object' (tool 't')",
        ),
    ],
)
def test_bad_spec_names_file_and_path(tmp_path: Path, data: object, message: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(SpecError) as err:
        load_specs([path])
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


def test_duplicate_tool_names(tmp_path: Path) -> None:
    one = {"name": "dup", "parameters": _OK_PARAMS}
    _write(tmp_path, one, "a.json")
    _write(tmp_path, one, "b.json")
    with pytest.raises(
        SpecError, match=r"b\.json: duplicate tool name 'dup' \(also in .*a\.json\)"
    ):
        load_specs([tmp_path])


def test_missing_path() -> None:
    with pytest.raises(SpecError, match="nowhere: no such file or folder"):
        load_specs([Path("nowhere")])


def test_validate_reports_every_problem(tmp_path: Path) -> None:
    _write(tmp_path, "{bad", "a.json")
    _write(tmp_path, {"name": "ok_tool", "parameters": _OK_PARAMS}, "b.json")
    _write(
        tmp_path,
        {"name": "no_req", "description": "d", "parameters": {"type": "object", "properties": {}}},
        "c.json",
    )
    tools, problems = validate_path(tmp_path)
    assert [t.name for t in tools] == ["ok_tool", "no_req"]
    assert any("a.json:1: invalid JSON" in p for p in problems)
    assert any("'ok_tool' has no description" in p for p in problems)
    assert any("'no_req' has no required parameter" in p for p in problems)
