"""The audit's per-row pass: read JSONL files, parse and label every row, check it as it goes.

Input: the JSONL files to audit. Output: a scanner that holds the columns polars counts (id,
split, behavior, tools, register, category, user), the tools each split's system prompts list,
and the per-row findings (malformed rows, gold calls, clarify rows). Files are read in slices
of about 32 MiB that end on a line break; inputs over 64 MiB are scanned by worker processes
(one per CPU, at most 8), whose slices merge back in file order, so the result does not depend
on the number of workers.

    >>> scanner = _scan([Path("outputs/default/train.jsonl")], workers=1)  # doctest: +SKIP
    >>> scanner.checks["gold_ungrounded"].count  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .checks import (
    _EXAMPLES,
    BEHAVIORS,
    _looks_stated,
    _new_checks,
    _ToolCheck,
    infer_behavior,
    parse_calls,
)
from .errors import DatasetError
from .grounding import _grounded, normalize_text

_SHARD_RE = re.compile(r"-\d+-of-\d+$")
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


def _json_loads() -> Any:
    try:
        import orjson
    except ImportError:  # orjson is a dependency, but the audit still works without it
        return json.loads
    return orjson.loads
