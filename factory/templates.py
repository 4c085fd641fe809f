"""Jinja phrasing templates: discovery, compilation, slot checks and rendering.

Layout under a templates folder (``templates/`` is bundled; ``--templates DIR`` comes first)::

    <tool>/formal.jinja, casual.jinja, terse.jinja   one template per line; a line that leaves
                                                    out a required slot is a clarify template
    <tool>/refuse.jinja                             "[category] request" lines that misuse the tool
    _generic/<register>.jinja                       fallback; slots: action, details, tool
    _refuse/<category>.jinja                        harmful / out-of-scope requests
    _refuse/answers.jinja                           "[category] answer" or "[*] answer"
    _refuse/splits.json                             {"train": [...], "heldout": [...]} categories

Blank lines and lines starting with ``{#`` are skipped; a template id is ``file#line``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import StrictUndefined, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from .errors import TemplateError
from .specs import ROOT, ToolSpec

BUNDLED_TEMPLATES = ROOT / "templates"
REGISTERS: tuple[str, ...] = ("formal", "casual", "terse")
GENERIC_SLOTS = frozenset({"action", "details", "tool"})
REFUSE_SLOTS = frozenset({"city", "person", "person_possessive", "company", "ticker"})
_CATEGORY_RE = re.compile(r"^\[([A-Za-z0-9_*-]+)\]\s*(.+)$")


def _plural(count: Any, singular: str, plural: str | None = None) -> str:
    """``{{ days|plural('day') }}`` -> ``1 day`` / ``5 days`` (count is the value's text)."""
    word = singular if str(count).strip() == "1" else (plural or singular + "s")
    return f"{count} {word}"


def make_env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )
    env.filters["plural"] = _plural
    return env


Render = Callable[[dict[str, Any]], str]


def compile_fast(ast: nodes.Template, env: SandboxedEnvironment) -> Render | None:
    """A plain-Python renderer for a line made of text, ``{{ expr }}`` and ``{% if expr %}``
    blocks, where an expression is a name, a constant or a constant-argument filter over them.

    The line becomes one Python expression over the values ``v`` (``'in ' + str(v['city'])``):
    the same text as Jinja, which writes ``str(value)`` when autoescape is off, several times
    faster. None for any other construct, which then renders through Jinja.
    """
    consts: list[Any] = []
    code = _text_code(ast.body, env, consts)
    if code is None:
        return None
    # Template text enters the code only through repr(), constants and filters through ``c``.
    try:
        render: Render = eval(f"lambda v: {code}", {"c": consts, "str": str})
    except (SyntaxError, RecursionError):  # absurdly deep nesting: leave it to Jinja
        return None
    return render


def _text_code(body: list[nodes.Node], env: SandboxedEnvironment, consts: list[Any]) -> str | None:
    """Output nodes and ifs as one string expression (None: another construct)."""
    terms = []
    for node in body:
        for child in node.nodes if isinstance(node, nodes.Output) else [node]:
            if isinstance(child, nodes.TemplateData):
                term: str | None = repr(child.data)
            elif isinstance(child, nodes.If):
                term = _if_code(child, env, consts)
            else:
                value = _value_code(child, env, consts)
                term = None if value is None else f"str({value})"
            if term is None:
                return None
            terms.append(term)
    return " + ".join(terms) or "''"


def _if_code(node: nodes.If, env: SandboxedEnvironment, consts: list[Any]) -> str | None:
    """``{% if %}`` / ``{% elif %}`` / ``{% else %}`` as nested conditional expressions."""
    code = _text_code(node.else_, env, consts)
    for arm in reversed([node, *node.elif_]):
        test = _value_code(arm.test, env, consts)
        body = _text_code(arm.body, env, consts)
        if code is None or test is None or body is None:
            return None
        code = f"({body} if {test} else {code})"
    return code


def _value_code(node: nodes.Node, env: SandboxedEnvironment, consts: list[Any]) -> str | None:
    """A name, a constant or a filter with constant arguments (constants go in ``c``)."""
    if isinstance(node, nodes.Name):
        return f"v[{node.name!r}]"
    if isinstance(node, nodes.Const):
        consts.append(node.value)
        return f"c[{len(consts) - 1}]"
    if not isinstance(node, nodes.Filter) or node.node is None or node.dyn_args or node.dyn_kwargs:
        return None
    func = env.filters.get(node.name)
    inner = _value_code(node.node, env, consts)
    args = [*node.args, *(k.value for k in node.kwargs)]
    if func is None or hasattr(func, "jinja_pass_arg") or inner is None:
        return None
    if not all(isinstance(a, nodes.Const) for a in args):
        return None
    consts.append(func)
    call = [f"c[{len(consts) - 1}]({inner}"]
    for arg in node.args:
        consts.append(arg.as_const())
        call.append(f", c[{len(consts) - 1}]")
    for kw in node.kwargs:
        consts.append(kw.value.as_const())
        call.append(f", {kw.key}=c[{len(consts) - 1}]")
    return "".join(call) + ")"


@dataclass(slots=True)
class Line:
    """One template line: its source, the slots it reads and how it renders.

    ``fast`` is the plain-Python renderer when the line has one; the Jinja template is then
    compiled only if ever needed (an undefined name, a Jinja global), which keeps loading fast.
    """

    id: str
    source: str
    env: SandboxedEnvironment
    slots: frozenset[str]
    category: str | None = None
    fast: Render | None = None
    template: jinja2.Template | None = None

    def render(self, values: dict[str, Any]) -> str:
        if self.fast is not None:
            try:
                text = self.fast(values)
            except KeyError:
                pass  # an undefined name: Jinja raises the error users expect
            else:
                return _single_spaced(text)
        if self.template is None:
            self.template = self.env.from_string(self.source)
        # A shared context over (globals + values) skips the per-render dict merge that
        # Template.render does.
        template = self.template
        try:
            ctx = template.new_context({**template.globals, **values}, shared=True)
            return _single_spaced("".join(template.root_render_func(ctx)))
        except jinja2.TemplateError as err:
            raise TemplateError(f"{self.id}: {err}") from err


def _single_spaced(text: str) -> str:
    """``" ".join(text.split())``, skipped when the text is already single-spaced (no other
    whitespace is printable, so a printable text without double or edge spaces has none)."""
    if "  " in text or not text.isprintable() or text[:1] == " " or text[-1:] == " ":
        return " ".join(text.split())
    return text


@dataclass(slots=True)
class Library:
    """Every template a run can use, grouped the way the behavior builders need them."""

    tool_lines: dict[str, dict[str, list[Line]]] = field(default_factory=dict)
    misuse: dict[str, list[Line]] = field(default_factory=dict)
    generic: dict[str, list[Line]] = field(default_factory=dict)
    refuse: dict[str, list[Line]] = field(default_factory=dict)
    answers: dict[str, list[str]] = field(default_factory=dict)
    category_splits: dict[str, list[str]] = field(default_factory=dict)


def read_lines(
    env: SandboxedEnvironment, path: Path, label: str, *, categories: bool = False
) -> list[Line]:
    """Compile every template line of one file; syntax errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise TemplateError(f"{path}: cannot read: {err}") from err
    lines = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        src = raw.strip()
        if not src or src.startswith("{#"):
            continue
        category = None
        if categories:
            match = _CATEGORY_RE.match(src)
            if not match:
                raise TemplateError(f"{path}:{lineno}: expected '[category] text'")
            category, src = match.group(1), match.group(2)
        line_id = f"{label}#{lineno}"
        try:
            ast = env.parse(src)
            fast = compile_fast(ast, env)
            if fast is not None:  # text, names and ifs: every name is a slot
                slots = frozenset(node.name for node in ast.find_all(nodes.Name))
                lines.append(Line(line_id, src, env, slots, category, fast))
                continue
            template = env.from_string(ast)
        except jinja2.TemplateSyntaxError as err:
            raise TemplateError(f"{path}:{lineno}: {err.message}") from err
        slots = frozenset(meta.find_undeclared_variables(ast))
        lines.append(Line(line_id, src, env, slots, category, None, template))
    return lines


def _check_slots(lines: list[Line], allowed: frozenset[str], path: Path, what: str) -> None:
    for line in lines:
        unknown = sorted(line.slots - allowed)
        if unknown:
            lineno = line.id.rsplit("#", 1)[1]
            raise TemplateError(
                f"{path}:{lineno}: unknown slot {unknown[0]!r} ({what}; slots: "
                f"{', '.join(sorted(allowed)) or 'none'})"
            )


def _find(dirs: list[Path], rel: str) -> Path | None:
    for d in dirs:
        candidate = d / rel
        if candidate.is_file():
            return candidate
    return None


def load_library(tools: list[ToolSpec], extra_dirs: list[Path] | None = None) -> Library:
    """Load the templates for ``tools`` from ``extra_dirs`` first, then the bundled folder."""
    dirs = [Path(d) for d in (extra_dirs or [])] + [BUNDLED_TEMPLATES]
    for d in dirs[:-1]:
        if not d.is_dir():
            raise TemplateError(f"{d}: templates folder not found")
    env = make_env()
    lib = Library()
    for reg in REGISTERS:
        path = _find(dirs, f"_generic/{reg}.jinja")
        if path is None:
            raise TemplateError(f"no _generic/{reg}.jinja in {', '.join(map(str, dirs))}")
        lib.generic[reg] = read_lines(env, path, f"_generic/{reg}.jinja")
        _check_slots(lib.generic[reg], GENERIC_SLOTS, path, "generic template")
        if not lib.generic[reg]:
            raise TemplateError(f"{path}: no template lines")
    for tool in tools:
        allowed = frozenset(tool.properties)
        per_reg: dict[str, list[Line]] = {}
        for reg in REGISTERS:
            path = _find(dirs, f"{tool.name}/{reg}.jinja")
            if path is not None:
                lines = read_lines(env, path, f"{tool.name}/{reg}.jinja")
                _check_slots(lines, allowed, path, f"tool {tool.name!r}")
                per_reg[reg] = lines
        lib.tool_lines[tool.name] = per_reg
        path = _find(dirs, f"{tool.name}/refuse.jinja")
        if path is not None:
            lines = read_lines(env, path, f"{tool.name}/refuse.jinja", categories=True)
            _check_slots(lines, allowed, path, f"tool {tool.name!r}")
            lib.misuse[tool.name] = lines
    _load_refusals(env, dirs, lib)
    return lib


def _load_refusals(env: SandboxedEnvironment, dirs: list[Path], lib: Library) -> None:
    splits_path = _find(dirs, "_refuse/splits.json")
    if splits_path is None:
        raise TemplateError("no _refuse/splits.json in the templates folders")
    try:
        splits = json.loads(splits_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise TemplateError(f"{splits_path}:{err.lineno}: invalid JSON: {err.msg}") from err
    if not isinstance(splits, dict) or not all(
        isinstance(splits.get(k), list) and splits[k] for k in ("train", "heldout")
    ):
        raise TemplateError(f"{splits_path}: expected non-empty 'train' and 'heldout' lists")
    lib.category_splits = {k: [str(c) for c in splits[k]] for k in ("train", "heldout")}
    for category in lib.category_splits["train"] + lib.category_splits["heldout"]:
        path = _find(dirs, f"_refuse/{category}.jinja")
        if path is None:
            raise TemplateError(f"{splits_path}: category {category!r} has no {category}.jinja")
        lines = read_lines(env, path, f"_refuse/{category}.jinja")
        _check_slots(lines, REFUSE_SLOTS, path, f"refusal category {category!r}")
        lib.refuse[category] = lines
    answers_path = _find(dirs, "_refuse/answers.jinja")
    if answers_path is None:
        raise TemplateError("no _refuse/answers.jinja in the templates folders")
    for line in read_lines(env, answers_path, "_refuse/answers.jinja", categories=True):
        lib.answers.setdefault(line.category or "*", []).append(line.render({}))
    if "*" not in lib.answers:
        raise TemplateError(f"{answers_path}: needs at least one '[*] answer' line")
