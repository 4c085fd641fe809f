"""Audit a written dataset: counts against the target mix, leakage, duplicates, gold-call checks.

Input: an output folder (``train.jsonl``, ``heldout.jsonl``, optional ``manifest.json``) or
JSONL files, ours or a foreign dataset in the same row layout (rows with only ``prompt`` and
``reward_model`` get an inferred behavior: a call list is execute, an answer that asks the
user for something is clarify, anything else refuse). Output: an :class:`AuditReport` with
tables and checks; ``ok`` is true when every check passes. One streaming pass (in parallel
slices for big files) parses the rows and runs the per-row checks; polars does the counting,
the duplicate search (normalized text, MinHash with LSH bands across splits) and the prompt
statistics, so a million rows take well under a minute.

    >>> report = audit([Path("outputs/default")])          # doctest: +SKIP
    >>> report.ok, [c.name for c in report.checks if c.count]  # doctest: +SKIP

The grounding helpers (:func:`value_in_text`, :func:`ungrounded_arguments`) import nothing
heavy; the paraphraser uses them to decide whether a rewrite still states every value.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DatasetError

if TYPE_CHECKING:
    import polars as pl
    from rich.console import RenderableType

# --- grounding: is an argument value stated in the user text? ------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
# Any word may be a month: _month_number decides, forgiving one typo ("Macrh", "Arpil").
_MONTH = r"([a-z]{3,9})\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_DATE_RES = [
    # "march 5, 2027", "mar. 5th 2027"
    (re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+(\d{{4}})\b"), (3, 1, 2)),
    # "5 march 2027", "5th of march, 2027"
    (re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+(\d{{4}})\b"), (3, 2, 1)),
    # "2027-03-05", "2027/03/05" (also the date part of "2027-03-05t10:00")
    (re.compile(r"(?<![\w.])(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)"), (1, 2, 3)),
]
# "03/05/2027" is March 5 in the US and 3 May elsewhere: both readings are kept.
_SLASH_DATE_RE = re.compile(r"(?<![\w.])(\d{1,2})[/.](\d{1,2})[/.](\d{4})\b")
# A number may follow a letter ("x8" travellers) but not a digit, a separator or a date token.
_NUMBER_RE = re.compile(r"(?<![\d.,])(?<!date)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")
_NON_WORD_RE = re.compile(r"[\W_]+")
_YEAR_RE = re.compile(r"\d{4}")
_DIGIT_RE = re.compile(r"\d")


def _date_token(year: int, month: int, day: int) -> str:
    if 1 <= month <= 12 and 1 <= day <= 31:
        return f" date{year:04d}{month:02d}{day:02d} "
    return f" {year} {month} {day} "


def _month_number(word: str) -> int | None:
    if word in _MONTHS:
        return _MONTHS[word]
    if len(word) < 5:
        return None
    for name, number in _MONTHS.items():
        if len(name) >= 5 and _one_typo(word, name):
            return number
    return None


def _one_typo(a: str, b: str) -> bool:
    """Whether ``a`` is ``b`` with one letter changed, added, dropped, or two swapped."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _replace_date(order: tuple[int, int, int]) -> Any:
    def replace(match: re.Match[str]) -> str:
        year, month, day = (match.group(i) for i in order)
        number = int(month) if month.isdigit() else _month_number(month)
        if number is None:
            return match.group(0)
        return _date_token(int(year), number, int(day))

    return replace


def _replace_slash_date(match: re.Match[str]) -> str:
    first, second, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    us, world = _date_token(year, first, second), _date_token(year, second, first)
    return us if us == world else us + world


def _replace_number(match: re.Match[str]) -> str:
    whole = match.group(1).replace(",", "").lstrip("0") or "0"
    # The decimal point becomes "d" so the punctuation pass keeps "1500.5" one word.
    fraction = (match.group(2) or "").rstrip("0").rstrip(".").replace(".", "d")
    return f" {whole}{fraction} "


_DATE_REPLACERS = [(pattern, _replace_date(order)) for pattern, order in _DATE_RES] + [
    (_SLASH_DATE_RE, _replace_slash_date)
]


def normalize_text(text: str) -> str:
    """Lowercase, dates to one token, numbers canonical (``1,500.50`` → ``1500.5``), words only.

    The result starts and ends with a space so phrases can be matched on word boundaries.
    """
    text = text.lower()
    if _YEAR_RE.search(text):  # every date form has a four-digit year
        for pattern, replace in _DATE_REPLACERS:
            text = pattern.sub(replace, text)
    if _DIGIT_RE.search(text):
        text = _NUMBER_RE.sub(_replace_number, text)
    return " " + " ".join(_NON_WORD_RE.sub(" ", text).split()) + " "


@lru_cache(maxsize=65_536)
def _needle(value: str | float) -> str:
    """The normalized form of an argument value (values repeat: cities, codes, dates)."""
    if isinstance(value, str):
        return normalize_text(value)
    return normalize_text(_number_text(abs(value)))


def _number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = repr(value)
    return text if "e" not in text else format(value, "f")


def value_in_text(value: Any, text: str) -> bool:
    """Whether ``value`` (a gold argument value) is stated in ``text``.

    Case, whitespace and punctuation are ignored; numbers match in any usual form (``1500``,
    ``1,500``, ``1500.0``); dates match ISO and written forms (``2027-03-05``, ``March 5,
    2027``, ``5 March 2027``); booleans and nulls always count as stated (they are said in
    words); a list needs each element stated, an object each value.

    >>> value_in_text(1500.5, "Convert $1,500.50 to euros")
    True
    >>> value_in_text("2027-03-05", "Flights on 5 March 2027, please")
    True
    """
    return _grounded(value, normalize_text(text), text)


def ungrounded_arguments(arguments: dict[str, Any], text: str) -> list[str]:
    """Names of the arguments whose values :func:`value_in_text` does not find in ``text``.

    >>> ungrounded_arguments({"amount": 50, "from": "EUR", "to": "USD"}, "Convert 50 EUR to GBP")
    ['to']
    """
    haystack = normalize_text(text)
    return [name for name, value in arguments.items() if not _grounded(value, haystack, text)]


def _grounded(value: Any, haystack: str, raw: str) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return _needle(value) in haystack
    if isinstance(value, str):
        needle = _needle(value)
        if needle.strip():
            return needle in haystack
        # Only symbols ("$$"): compare the raw characters.
        return value.strip().lower() in raw.lower()
    if isinstance(value, list):
        return all(_grounded(item, haystack, raw) for item in value)
    if isinstance(value, dict):
        return all(_grounded(item, haystack, raw) for item in value.values())
    return True


# --- the per-row pass: parse, label, check gold calls and clarify rows -----------------------

BEHAVIORS = ("execute", "clarify", "refuse")
DEFAULT_MIX = (60.0, 25.0, 15.0)
FOREIGN_TOLERANCE = 1.0  # percentage points allowed off the target mix for foreign data
NEAR_DUPLICATE_JACCARD = 0.7  # word uni+bigram Jaccard at which two prompts are near-duplicates
_EXAMPLES = 5
_SHARD_RE = re.compile(r"-\d+-of-\d+$")


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


@dataclass
class AuditReport:
    """Everything the audit measured; ``ok`` when every check passes."""

    paths: list[str]
    rows: int
    splits: dict[str, int]
    source: str  # "toolfactory", "foreign" or "mixed"
    inferred: int  # rows whose behavior label was inferred from the ground truth
    target_mix: list[float]
    tolerance: float
    manifest: dict[str, Any] | None
    tables: dict[str, list[dict[str, Any]]]
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


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


_Block = tuple[Path, int, int, int]  # file, start byte, end byte, line number at start
_BLOCK_BYTES = 32 << 20
_PARALLEL_BYTES = 64 << 20  # below this, starting processes costs more than it saves


def _blocks(path: Path) -> Iterator[_Block]:
    """Slices of about 32 MiB that end on a line break, with their first line number."""
    try:
        handle = path.open("rb")
    except OSError as err:
        raise DatasetError(f"{path}: cannot read ({err.strerror})") from err
    with handle:
        start, line = 0, 1
        while chunk := handle.read(_BLOCK_BYTES):
            chunk += handle.readline()  # finish the last line
            yield path, start, start + len(chunk), line
            start += len(chunk)
            line += chunk.count(b"\n")


def _scan_block(block: _Block) -> _Scanner:
    return _Scanner().scan(block)


def _scan(files: list[Path], workers: int | None) -> _Scanner:
    """Scan every file; big inputs go to worker processes one slice at a time."""
    blocks = [block for path in files for block in _blocks(path)]
    size = sum(end - start for _, start, end, _ in blocks)
    workers = min(workers or os.cpu_count() or 1, len(blocks), 8)
    scanner = _Scanner()
    if workers <= 1 or size < _PARALLEL_BYTES:
        for block in blocks:
            scanner.scan(block)
        return scanner
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor

    # fork where it is safe (Linux): spawn would re-run the caller's main module, which breaks
    # scripts without an `if __name__ == "__main__"` guard. The workers use no polars, so
    # polars threads in the parent do not matter to them.
    method = "fork" if sys.platform == "linux" else "spawn"
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        for part in pool.map(_scan_block, blocks):
            scanner.merge(part)
    return scanner


class _Scanner:
    """One pass over the rows: columns for polars, per-row checks as it goes."""

    def __init__(self) -> None:
        self.loads = _json_loads()
        self.checks = _new_checks()
        self.columns: dict[str, list[Any]] = {
            k: [] for k in ("id", "split", "behavior", "tools", "register", "category", "user")
        }
        self.ours = 0
        self.inferred = 0
        self.listed: dict[str, set[str]] = {}  # split -> tools listed in its system prompts
        self._systems: dict[str, dict[str, dict[str, Any]]] = {}
        self._tool_checks: dict[int, _ToolCheck] = {}

    def scan(self, block: _Block) -> _Scanner:
        """Parse and check the lines of one slice of a file; return self."""
        path, start, end, first_line = block
        split_default = _SHARD_RE.sub("", path.stem.lower())
        name, loads, row = path.name, self.loads, self._row
        try:
            with path.open("rb") as handle:
                handle.seek(start)
                data = handle.read(end - start)
        except OSError as err:
            raise DatasetError(f"{path}: cannot read ({err.strerror})") from err
        for lineno, line in enumerate(data.split(b"\n"), first_line):
            try:
                parsed = loads(line)
            except ValueError:
                if line.strip():  # blank lines are allowed
                    self.checks["malformed"].add(f"{name}:{lineno}: not valid JSON")
                continue
            problem = row(parsed, name, lineno, split_default)
            if problem:
                self.checks["malformed"].add(f"{name}:{lineno}: {problem}")
        return self

    def merge(self, other: _Scanner) -> None:
        """Append another slice's columns and findings (slices arrive in file order)."""
        for key, values in other.columns.items():
            self.columns[key] += values
        for name, check in other.checks.items():
            mine = self.checks[name]
            mine.examples += check.examples[: _EXAMPLES - len(mine.examples)]
            mine.count += check.count
        self.ours += other.ours
        self.inferred += other.inferred
        for split, names in other.listed.items():
            self.listed.setdefault(split, set()).update(names)

    def __getstate__(self) -> dict[str, Any]:  # what a worker process sends back
        return {k: getattr(self, k) for k in ("checks", "columns", "ours", "inferred", "listed")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _row(self, row: Any, name: str, lineno: int, split_default: str) -> str | None:
        if not isinstance(row, dict):
            return "not a JSON object"
        prompt = row.get("prompt")
        if not isinstance(prompt, list):
            return "missing key 'prompt'"
        system, user = "", None
        for message in prompt:
            if not isinstance(message, dict) or not isinstance(message.get("content"), str):
                return "prompt message without string 'content'"
            if message.get("role") == "user":
                user = message["content"]
            elif message.get("role") == "system" and not system:
                system = message["content"]
        if user is None:
            return "prompt has no user message"
        reward_model = row.get("reward_model")
        truth = reward_model.get("ground_truth") if isinstance(reward_model, dict) else None
        if not isinstance(truth, str):
            return "missing key 'reward_model.ground_truth'"
        info = row.get("extra_info")
        info = info if isinstance(info, dict) else {}
        behavior = info.get("behavior")
        calls = None
        if behavior not in BEHAVIORS:
            behavior, calls = infer_behavior(truth, self.loads)
            self.inferred += 1
        elif behavior == "execute":
            calls = parse_calls(truth, self.loads)
        row_id = str(info.get("id") or f"{name}:{lineno}")
        split = str(info.get("split") or split_default)
        tools = info.get("tools")
        if not isinstance(tools, list):
            tools = [c["name"] for c in calls] if calls else []
        self.ours += row.get("data_source") == "toolfactory"
        schemas = self._system_tools(system)
        self.listed.setdefault(split, set()).update(schemas)
        if behavior == "execute":
            self._check_execute(row_id, user, calls, schemas)
        elif behavior == "clarify" and "missing" in info:
            self._check_clarify(row_id, user, info, [str(t) for t in tools], schemas)
        cols = self.columns
        cols["id"].append(row_id)
        cols["split"].append(split)
        cols["behavior"].append(behavior)
        cols["tools"].append("\n".join(str(t) for t in tools))  # one string: far faster to load
        cols["register"].append(info.get("register"))
        cols["category"].append(info.get("category") if behavior == "refuse" else None)
        cols["user"].append(user)
        return None

    def _system_tools(self, system: str) -> dict[str, dict[str, Any]]:
        tools = self._systems.get(system)
        if tools is None:
            from .formats import tools_from_system

            if len(self._systems) > 10_000:  # every prompt different: do not hold them all
                self._systems.clear()
                self._tool_checks.clear()
            tools = self._systems[system] = {t["name"]: t for t in tools_from_system(system)}
        return tools

    def _tool_check(self, schema: dict[str, Any]) -> _ToolCheck:
        # Keyed by identity: the schema dicts live in self._systems for as long as this does.
        check = self._tool_checks.get(id(schema))
        if check is None:
            check = self._tool_checks[id(schema)] = _ToolCheck(schema.get("parameters") or {})
        return check

    def _check_execute(
        self,
        row_id: str,
        user: str,
        calls: list[dict[str, Any]] | None,
        schemas: dict[str, dict[str, Any]],
    ) -> None:
        if calls is None:
            self.checks["gold_unparseable"].add(row_id)
            return
        haystack = normalize_text(user)
        for call in calls:
            name, arguments = call["name"], call["arguments"]
            schema = schemas.get(name)
            if schemas and schema is None:
                self.checks["gold_unknown_tool"].add(f"{row_id} ({name})")
            elif schema is not None:
                error = self._tool_check(schema).error(arguments)
                if error:
                    self.checks["gold_schema"].add(f"{row_id} ({name}: {error})")
            missing = [k for k, v in arguments.items() if not _grounded(v, haystack, user)]
            if missing:
                self.checks["gold_ungrounded"].add(f"{row_id} ({name}: {', '.join(missing)})")

    def _check_clarify(
        self,
        row_id: str,
        user: str,
        info: dict[str, Any],
        tools: list[str],
        schemas: dict[str, dict[str, Any]],
    ) -> None:
        missing = [str(m) for m in info.get("missing") or []]
        if not missing:
            self.checks["clarify_not_required"].add(f"{row_id} (no missing argument recorded)")
            return
        if not schemas:  # a system prompt without a tool list: nothing to compare against
            return
        for name in missing:
            params = next(
                (
                    schemas[t].get("parameters") or {}
                    for t in tools
                    if t in schemas
                    and name in (schemas[t].get("parameters") or {}).get("properties", {})
                ),
                None,
            )
            if params is None or name not in params.get("required", []):
                self.checks["clarify_not_required"].add(f"{row_id} ({name})")
            elif _looks_stated(name, params, user, missing):
                self.checks["clarify_stated"].add(f"{row_id} ({name})")


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


# --- the whole audit: files in, report out -------------------------------------------------


def _json_loads() -> Any:
    try:
        import orjson
    except ImportError:  # orjson is a dependency, but the audit still works without it
        return json.loads
    return orjson.loads


def dataset_files(paths: Sequence[Path]) -> tuple[list[Path], dict[str, Any] | None]:
    """The JSONL files to audit (train first) and the manifest of a folder, if it has one."""
    files: list[Path] = []
    manifest: dict[str, Any] | None = None
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise DatasetError(f"{path}: no .jsonl files in this folder")
            files += found
            if (path / "manifest.json").is_file():
                try:
                    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
                except ValueError as err:
                    raise DatasetError(f"{path / 'manifest.json'}: not valid JSON ({err})") from err
        elif path.is_file():
            files.append(path)
        else:
            raise DatasetError(f"{path}: no such file or folder")
    order = {"train": 0, "heldout": 1, "test": 2}
    files.sort(key=lambda p: (order.get(_SHARD_RE.sub("", p.stem.lower()), 3), p.name))
    return files, manifest


def audit(
    paths: Sequence[Path],
    *,
    tolerance: float | None = None,
    mix: Sequence[float] | None = None,
    workers: int | None = None,
) -> AuditReport:
    """Audit the datasets at ``paths`` (folders or JSONL files).

    Args:
        tolerance: percentage points a behavior share may be off the target; default exact
            (the largest-remainder counts) for our own rows, 1 point for foreign data.
        mix: target execute/clarify/refuse shares; default the manifest's, else 60/25/15.
        workers: processes that parse big inputs (32 MiB slices); default one per CPU.

    Raises DatasetError when nothing readable is there (a missing path, no parseable row).
    """
    files, manifest = dataset_files(paths)
    scanner = _scan(files, workers)
    n = len(scanner.columns["id"])
    if n == 0:
        first = scanner.checks["malformed"].examples[:1]
        raise DatasetError(f"{files[0]}: no readable rows" + (f" ({first[0]})" if first else ""))
    source = "toolfactory" if scanner.ours == n else "foreign" if scanner.ours == 0 else "mixed"
    if mix is None:
        mix = (manifest or {}).get("config", {}).get("mix") or DEFAULT_MIX
    if tolerance is None:
        tolerance = 0.0 if source == "toolfactory" else FOREIGN_TOLERANCE
    if scanner.inferred:
        scanner.checks[
            "mix"
        ].note = f"behavior labels of {scanner.inferred} rows were inferred from the ground truth"

    import polars as pl

    df = pl.DataFrame(
        scanner.columns,
        schema={
            "id": pl.String,
            "split": pl.String,
            "behavior": pl.String,
            "tools": pl.String,
            "register": pl.String,
            "category": pl.String,
            "user": pl.String,
        },
    )
    scanner.columns.clear()
    # The normalized prompt: duplicate key, and the words of distinct-n and MinHash.
    key = pl.col("user").str.to_lowercase().str.replace_all(r"[\W_]+", " ").str.strip_chars()
    df = df.with_columns(key=key)
    checks = scanner.checks
    tables = _tables(df, [float(m) for m in mix], tolerance, checks["mix"])
    _leakage(df, scanner.listed, checks["leakage"])
    _duplicates(df, checks["duplicates"], checks["cross_split_duplicates"])
    splits = dict(df.group_by("split", maintain_order=True).len().iter_rows())
    return AuditReport(
        paths=[str(p) for p in files],
        rows=n,
        splits=splits,
        source=source,
        inferred=scanner.inferred,
        target_mix=[float(m) for m in mix],
        tolerance=float(tolerance),
        manifest=_manifest_summary(manifest),
        tables=tables,
        checks=list(checks.values()),
    )


def _manifest_summary(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    if manifest is None:
        return None
    keys = ("toolfactory_version", "seed", "config_hash", "date_anchor", "spec_hashes")
    summary = {k: manifest[k] for k in keys if k in manifest}
    config = manifest.get("config") or {}
    summary["format"] = config.get("fmt")
    summary["paraphrased"] = "paraphrase" in manifest
    return summary


def _tool_list() -> pl.Expr:
    import polars as pl

    return pl.col("tools").str.split("\n").alias("tool")


def _tables(
    df: pl.DataFrame, mix: list[float], tolerance: float, check: Check
) -> dict[str, list[dict[str, Any]]]:
    """Counts per split × behavior / tool / register / category, lengths, distinct-n."""
    import polars as pl

    from .plan import apportion

    target = dict(zip(BEHAVIORS, mix, strict=True))
    total = sum(mix)
    mix_rows = []
    per_split: dict[str, dict[str, int]] = {}
    for split, behavior, count in (
        df.group_by("split", "behavior", maintain_order=True).len().iter_rows()
    ):
        per_split.setdefault(split, {})[behavior] = count
    for split, counts in per_split.items():
        n = sum(counts.values())
        expected = dict(zip(BEHAVIORS, apportion(n, mix), strict=True))
        for behavior in BEHAVIORS:
            count = counts.get(behavior, 0)
            share = 100 * count / n
            goal = 100 * target[behavior] / total
            off = count != expected[behavior] if tolerance == 0 else abs(share - goal) > tolerance
            if off:
                check.add(
                    f"{split}: {behavior} {count} ({share:.1f}%), target {goal:g}% "
                    f"(= {expected[behavior]} of {n})"
                )
            mix_rows.append(
                {
                    "split": split,
                    "behavior": behavior,
                    "count": count,
                    "share": round(share, 2),
                    "target": round(goal, 2),
                    "expected": expected[behavior],
                    "ok": not off,
                }
            )
    tools = (
        df.select("split", "behavior", _tool_list())
        .explode("tool")
        .filter(pl.col("tool") != "")
        .group_by("split", "tool", maintain_order=True)
        .agg(
            [(pl.col("behavior") == b).sum().alias(b) for b in BEHAVIORS] + [pl.len().alias("rows")]
        )
        .sort("split", "tool")
    )
    registers = (
        df.drop_nulls("register")
        .group_by("split", "register", maintain_order=True)
        .len("count")
        .sort("split", "register")
    )
    categories = (
        df.filter(pl.col("behavior") == "refuse")
        .group_by("split", "category", maintain_order=True)
        .len("count")
        .sort("split", "category", nulls_last=True)
    )
    words = pl.when(pl.col("key") == "").then(0).otherwise(pl.col("key").str.count_matches(" ") + 1)
    stats = (
        df.select("split", pl.col("user").str.len_chars().alias("chars"), words.alias("words"))
        .group_by("split", maintain_order=True)
        .agg(
            pl.col("chars").min().alias("chars_min"),
            pl.col("chars").mean().round(1).alias("chars_mean"),
            pl.col("chars").median().alias("chars_median"),
            pl.col("chars").quantile(0.95).alias("chars_p95"),
            pl.col("chars").max().alias("chars_max"),
            pl.col("words").mean().round(1).alias("words_mean"),
        )
    )
    long = (
        df.select("split", pl.col("key").str.split(" ").alias("w"))
        .with_row_index("row")
        .explode("w")
        .filter(pl.col("w") != "")
        .with_columns(h=pl.col("w").hash(7))
    )
    bigram = pl.when(pl.col("row") == pl.col("row").shift(-1)).then(
        pl.col("h") * 1_000_003 + pl.col("h").shift(-1)
    )
    distinct = (
        long.with_columns(b=bigram)
        .group_by("split", maintain_order=True)
        .agg(
            (pl.col("h").n_unique() / pl.len()).round(4).alias("distinct_1"),
            (pl.col("b").drop_nulls().n_unique() / pl.col("b").count())
            .round(4)
            .alias("distinct_2"),
        )
    )
    lengths = stats.join(distinct, on="split", how="left", maintain_order="left")
    return {
        "mix": mix_rows,
        "tools": tools.to_dicts(),
        "registers": registers.to_dicts(),
        "categories": categories.to_dicts(),
        "lengths": lengths.to_dicts(),
    }


def _leakage(df: pl.DataFrame, listed: dict[str, set[str]], check: Check) -> None:
    """Tools (about a row or listed in its system prompt) and categories in two splits.

    A leaked tool or category belongs to the split with most of its rows; the rows of the
    other splits are the offending ones.
    """
    import polars as pl

    tools = df.select("id", "split", _tool_list()).explode("tool").filter(pl.col("tool") != "")
    cats = df.drop_nulls("category").select("id", "split", pl.col("category").alias("tool"))
    leaked: dict[str, list[str]] = {}
    offending = []
    for kind, frame in (("tools", tools), ("categories", cats)):
        counts = frame.group_by("tool", "split").len()
        splits: dict[str, dict[str, int]] = {}
        for name, split, n in counts.iter_rows():
            splits.setdefault(name, {})[split] = n
        if kind == "tools":
            for split, names in listed.items():
                for name in names:
                    splits.setdefault(name, {}).setdefault(split, 0)
        for name, per_split in sorted(splits.items()):
            if len(per_split) > 1:
                leaked.setdefault(kind, []).append(name)
                home = max(per_split, key=lambda s: per_split[s])
                offending.append(
                    frame.filter((pl.col("tool") == name) & (pl.col("split") != home)).select("id")
                )
    if not leaked:
        return
    rows = pl.concat(offending).unique(maintain_order=True)["id"].to_list()
    check.count = len(rows) or len(leaked.get("tools", []))
    check.examples = rows[:_EXAMPLES] or [f"listed: {t}" for t in leaked["tools"][:_EXAMPLES]]
    check.note = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in leaked.items())


def _duplicates(df: pl.DataFrame, within: Check, across: Check) -> None:
    """Exact duplicates (normalized text) within and across splits; near ones across splits."""
    import polars as pl

    keyed = df.select("id", "split", "key")
    groups = (
        keyed.group_by("split", "key", maintain_order=True)
        .agg(pl.col("id"))
        .filter(pl.col("id").list.len() > 1)
    )
    for ids in groups["id"].to_list():
        for row_id in ids[1:]:
            within.add(f"{row_id} = {ids[0]}")
    cross = (
        keyed.group_by("key", maintain_order=True)
        .agg(pl.col("id"), pl.col("split").n_unique().alias("n"))
        .filter(pl.col("n") > 1)
    )
    for ids in cross["id"].to_list():
        across.add(" = ".join(ids[:3]))
    if keyed["split"].n_unique() > 1:
        for a, b, score in _near_duplicates(keyed):
            across.add(f"{a} ~ {b} (jaccard {score:.2f})")
    across.note = (
        f"near-duplicate: word uni+bigram Jaccard >= {NEAR_DUPLICATE_JACCARD} "
        f"(MinHash, {_BANDS} bands x {_ROWS} rows)"
    )


_BANDS, _ROWS = 7, 3
_PER_BUCKET = 50  # rows kept per LSH bucket and split: bounds the candidate pairs


def _near_duplicates(keyed: pl.DataFrame) -> list[tuple[str, str, float]]:
    """Pairs of prompts in different splits whose word uni+bigram Jaccard is high.

    MinHash signatures come from polars hashing of the shingles under 21 cheap permutations
    ``(h ^ a) * b mod 2**64``; rows sharing a band of 3 minima are candidates, and each
    candidate pair is confirmed with the exact Jaccard.
    """
    import random

    import polars as pl

    rng = random.Random(0)
    perms = [(rng.getrandbits(64), rng.getrandbits(64) | 1) for _ in range(_BANDS * _ROWS)]
    distinct = keyed.unique(["split", "key"], maintain_order=True).with_row_index("row")
    long = (
        distinct.select("row", pl.col("key").str.split(" ").alias("w"))
        .explode("w")
        .with_columns(h=pl.col("w").hash(11))
    )
    same_row = pl.col("row") == pl.col("row").shift(-1)
    shingles = pl.concat(
        [
            long.select("row", s=pl.col("h")),
            long.select(
                "row", s=pl.when(same_row).then(pl.col("h") * 31 + pl.col("h").shift(-1))
            ).drop_nulls(),
        ]
    )
    signature = (
        shingles.lazy()
        .with_columns(
            ((pl.col("s") ^ pl.lit(a, pl.UInt64)) * pl.lit(b, pl.UInt64)).alias(f"m{i}")
            for i, (a, b) in enumerate(perms)
        )
        .group_by("row")
        .agg(pl.exclude("s").min())
        .collect(engine="streaming")  # 30 hash columns over every shingle: keep memory flat
    )
    bands = pl.concat(
        [
            signature.select(
                "row",
                pl.lit(band, pl.UInt8).alias("band"),
                pl.struct([f"m{band * _ROWS + j}" for j in range(_ROWS)]).hash(3).alias("bucket"),
            )
            for band in range(_BANDS)
        ]
    ).join(distinct.select("row", "split"), on="row")
    bands = bands.filter(pl.int_range(pl.len()).over("band", "bucket", "split") < _PER_BUCKET)
    multi = bands.group_by("band", "bucket").agg(pl.col("split").n_unique().alias("n"))
    bands = bands.join(
        multi.filter(pl.col("n") > 1).select("band", "bucket"), on=["band", "bucket"]
    )
    pairs = (
        bands.join(bands, on=["band", "bucket"], suffix="_b")
        .filter(pl.col("split") < pl.col("split_b"))
        .select("row", "row_b")
        .unique()
    )
    # The share of equal minima estimates the Jaccard: drop clear misses before the exact one.
    columns = [f"m{i}" for i in range(_BANDS * _ROWS)]
    other = signature.rename({"row": "row_b", **{c: f"{c}_b" for c in columns}})
    agree = pl.sum_horizontal(pl.col(c) == pl.col(f"{c}_b") for c in columns) / len(columns)
    pairs = (
        pairs.join(signature, on="row")
        .join(other, on="row_b")
        .filter(agree >= NEAR_DUPLICATE_JACCARD - 0.2)
        .select("row", "row_b")
        .sort("row", "row_b")
    )
    keys = distinct["key"].to_list()
    ids = distinct["id"].to_list()
    found = []
    for a, b in pairs.iter_rows():
        if keys[a] == keys[b]:
            continue  # an exact duplicate, already reported
        score = _jaccard(keys[a], keys[b])
        if score >= NEAR_DUPLICATE_JACCARD:
            found.append((ids[a], ids[b], score))
    return found


def _jaccard(a: str, b: str) -> float:
    def shingles(text: str) -> set[str]:
        words = text.split()
        return set(words) | {f"{x} {y}" for x, y in zip(words, words[1:], strict=False)}

    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0


# --- rendering: rich tables, JSON, a standalone HTML page ----------------------------------


def _pivot(rows: list[dict[str, Any]], key: str, value: str = "count") -> dict[str, dict[str, Any]]:
    """{split: {key: value}} from table records."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        out.setdefault(row["split"], {})[str(row[key])] = row[value]
    return out


def render_report(report: AuditReport) -> RenderableType:
    """The report as rich tables: header, mix, tools, registers, categories, lengths, checks."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = []
    head = f"{report.rows} rows ({report.source}) from {', '.join(report.paths)}"
    if report.inferred:
        head += f"\nbehavior labels inferred from the ground truth for {report.inferred} rows"
    parts.append(Text(head, style="bold"))

    mix = Table(title="Behavior mix (count / share vs target)")
    mix.add_column("split")
    for behavior in BEHAVIORS:
        mix.add_column(behavior, justify="right")
    mix.add_column("rows", justify="right")
    by_split: dict[str, list[dict[str, Any]]] = {}
    for row in report.tables["mix"]:
        by_split.setdefault(row["split"], []).append(row)
    for split, rows in by_split.items():
        cells = [
            Text(
                f"{r['count']} / {r['share']:.1f}% ({r['target']:g}%)",
                style="" if r["ok"] else "bold red",
            )
            for r in rows
        ]
        mix.add_row(split, *cells, str(report.splits.get(split, 0)))
    parts.append(mix)

    tools = Table(title="Tools per split (rows about each tool)")
    for column in ("split", "tool", *BEHAVIORS, "rows"):
        tools.add_column(column, justify="left" if column in ("split", "tool") else "right")
    for row in report.tables["tools"]:
        tools.add_row(*(str(row[c]) for c in ("split", "tool", *BEHAVIORS, "rows")))
    parts.append(tools)

    for name, key in (("registers", "register"), ("categories", "category")):
        pivot = _pivot(report.tables[name], key)
        if not pivot:
            continue
        table = Table(title=f"{'Registers' if key == 'register' else 'Refusal categories'}")
        table.add_column("split")
        table.add_column(key)
        table.add_column("count", justify="right")
        for split, counts in pivot.items():
            for item, count in counts.items():
                table.add_row(split, item, str(count))
        parts.append(table)

    lengths = Table(title="User prompts: characters and distinct-n")
    columns = [
        "split",
        "chars_min",
        "chars_mean",
        "chars_median",
        "chars_p95",
        "chars_max",
        "words_mean",
        "distinct_1",
        "distinct_2",
    ]
    for column in columns:
        lengths.add_column(
            column.replace("chars_", ""), justify="left" if column == "split" else "right"
        )
    for row in report.tables["lengths"]:
        lengths.add_row(*(str(row[c]) for c in columns))
    parts.append(lengths)

    checks = Table(title="Checks")
    for column in ("check", "result", "rows", "first offending rows"):
        checks.add_column(column, justify="right" if column == "rows" else "left")
    for check in report.checks:
        result = Text("ok", style="green") if check.ok else Text("FAIL", style="bold red")
        detail = "\n".join(check.examples)
        if check.note and (not check.ok or check.name == "mix"):
            detail = (detail + "\n" if detail else "") + f"[{check.note}]"
        checks.add_row(check.title, result, str(check.count), detail)
    parts.append(checks)
    verdict = "all checks passed" if report.ok else "some checks failed"
    parts.append(Text(verdict, style="bold green" if report.ok else "bold red"))
    return Group(*parts)


def report_json(report: AuditReport) -> str:
    """The whole report as indented JSON."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)


def _figure_png(report: AuditReport, kind: str) -> str:
    """A base64 PNG chart: the behavior mix against the target, or rows per tool."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    if kind == "mix":
        splits = list(report.splits)
        width = 0.8 / (len(splits) + 1)
        for i, split in enumerate(splits):
            shares = _pivot(report.tables["mix"], "behavior", "share").get(split, {})
            xs = [j + i * width for j in range(len(BEHAVIORS))]
            ax.bar(xs, [shares.get(b, 0) for b in BEHAVIORS], width, label=split)
        xs = [j + len(splits) * width for j in range(len(BEHAVIORS))]
        total = sum(report.target_mix)
        ax.bar(
            xs,
            [100 * m / total for m in report.target_mix],
            width,
            label="target",
            color="lightgray",
            edgecolor="gray",
        )
        ax.set_xticks([j + width * len(splits) / 2 for j in range(len(BEHAVIORS))], BEHAVIORS)
        ax.set_ylabel("% of split")
        ax.set_title("Behavior mix")
    else:
        rows = report.tables["tools"]
        labels = [f"{r['tool']} ({r['split']})" for r in rows]
        left = [0] * len(rows)
        for behavior in BEHAVIORS:
            values = [r[behavior] for r in rows]
            ax.barh(labels, values, left=left, label=behavior)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.invert_yaxis()
        ax.set_xlabel("rows")
        ax.set_title("Rows per tool and behavior")
        fig.set_figheight(max(2.5, 0.35 * len(rows) + 1))
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _html_table(rows: list[dict[str, Any]]) -> str:
    from html import escape

    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{escape(str(k))}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row.values()) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def write_html(report: AuditReport, path: Path) -> None:
    """A standalone page (charts embedded as PNG, no network) with every table and check."""
    import os
    from html import escape

    checks = [
        {
            "check": c.title,
            "result": "ok" if c.ok else "FAIL",
            "rows": c.count,
            "first offending rows": "; ".join(c.examples),
            "note": c.note,
        }
        for c in report.checks
    ]
    sections = [
        f"<h1>toolfactory audit: {'passed' if report.ok else 'FAILED'}</h1>",
        f"<p>{report.rows} rows ({escape(report.source)}) from "
        f"{escape(', '.join(report.paths))}</p>",
        f"<p>behavior labels inferred for {report.inferred} rows</p>" if report.inferred else "",
        f'<img alt="behavior mix" src="data:image/png;base64,{_figure_png(report, "mix")}">',
        f'<img alt="rows per tool" src="data:image/png;base64,{_figure_png(report, "tools")}">',
        "<h2>Checks</h2>",
        _html_table(checks),
    ]
    for name in ("mix", "tools", "registers", "categories", "lengths"):
        sections += [f"<h2>{escape(name)}</h2>", _html_table(report.tables[name])]
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
    )
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>toolfactory audit</title>'
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
