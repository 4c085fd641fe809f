"""Optional LLM paraphraser: rewrite a share of user prompts without corrupting their labels.

Input: chunks of generated rows of one split (``Paraphraser.rewrite(split, rows)``, called by
:func:`factory.generate.generate`). Output: the same rows in the same order; for each row picked
(a stable share of rows, chosen from the seed and the row id) the user text is sent to an
OpenAI-compatible endpoint through :mod:`factory.endpoint` and the rewrite replaces it only if it
passes :func:`check_paraphrase`; kept rows get ``extra_info.paraphrased = true``. Rejected and
failed rows keep their template text, so the mix, splits and ids never change.

A rewrite is rejected (reason in brackets) when it is empty [empty], longer than three times the
original or cut off by the token limit [too_long], a refusal of the task [refusal], drops an
argument value of the gold call [dropped_value], states a value-like token (number, date, code,
proper name, enum value) the original did not [added_value] - which also keeps every ``missing``
argument of a clarify row missing -, loses what the request is about [off_topic: the words of
the row's tool name, most of its content words, or for refuse rows any content word, since their
label rests on the wording], is the original again [unchanged], or repeats another prompt of
the dataset [duplicate].

Example::

    endpoint = EndpointSettings(base_url="http://127.0.0.1:8080/v1", model="smollm2")
    manifest = generate(GenerateConfig(out=Path("out")), paraphraser=Paraphraser(endpoint))
    manifest["paraphrase"]  # {"requested": 900, "kept": 512, "rejected": {...}, ...}
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections import Counter
from typing import Any

from .endpoint import ChatRequest, ChatResult, EndpointSettings, EndpointStats, run_chat
from .errors import EndpointError
from .formats import tools_from_system

REASONS = (
    "empty",
    "too_long",
    "refusal",
    "dropped_value",
    "added_value",
    "off_topic",
    "unchanged",
    "duplicate",
)

INSTRUCTIONS = (
    "You rewrite requests that a user sends to an assistant. Reply with the same request in "
    "different words, as one message from the user. Keep every name, number, date, code and "
    "value exactly as written, and add nothing new. Reply with the rewritten request only."
)

_REFUSAL_RE = re.compile(
    r"\b(i can ?not|i can['’]?t|i['’]?m sorry|i am sorry|i['’]?m unable|i am unable|"
    r"i won['’]?t|as an ai|language model|i['’]?m not able|i am not able)\b",
    re.I,
)
_LABEL_LINE_RE = re.compile(r"^[^\n]{0,80}:\s*\n", re.S)
_WORD_RE = re.compile(r"[\w'-]+", re.U)
_DIGITS_RE = re.compile(r"\d+(?:[.,:/-]\d+)*")
_SENTENCE_START_RE = re.compile(r"(?:^|[.!?]\s+|[\"'(]\s*)([A-Z][\w'-]*)")
_STOPWORDS = frozenset(
    "about also and are can could for from have help into just like need needs please should "
    "that the them then there they this what when where which will with would your you".split()
)


def _unit(text: str) -> float:
    """A stable number in [0, 1) from text (sha256, so it never depends on PYTHONHASHSEED)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16) / 16**15


def row_seed(seed: int, row_id: str) -> int:
    """The per-row seed of a request: the config seed and the row id (part of the cache key)."""
    return int(hashlib.sha256(f"{seed}:{row_id}".encode()).hexdigest()[:8], 16)


def is_picked(seed: int, row_id: str, share: float) -> bool:
    """Whether the row is one of the ``share`` of rows sent for rewriting (stable per row)."""
    return _unit(f"{seed}:{row_id}:paraphrase") < share


def normalize_prompt(text: str) -> str:
    """Lowercased words only: two prompts that differ in case or punctuation are duplicates."""
    return " ".join(_WORD_RE.findall(text.lower()))


def clean_reply(text: str) -> str:
    """Strip what models wrap around a rewrite: a leading ``Here is ...:`` line and quotes."""
    text = text.strip()
    if _LABEL_LINE_RE.match(text) and text.count("\n") >= 1:
        text = _LABEL_LINE_RE.sub("", text, count=1).strip()
    text = text.lstrip("-*> ").strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    return " ".join(text.split())


def _value_tokens(text: str) -> set[str]:
    """Numbers, dates, codes and mid-sentence capitalized words, lowercased."""
    tokens = {m.group(0).lower() for m in _DIGITS_RE.finditer(text)}
    starts = {m.start(1) for m in _SENTENCE_START_RE.finditer(text)}
    for match in _WORD_RE.finditer(text):
        word = match.group(0)
        if word[0].isupper() and match.start() not in starts and word not in ("I", "I'm", "I'd"):
            tokens.add(word.lower())
    return tokens


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD_RE.findall(text)}


def _content_stems(text: str) -> set[str]:
    return {w[:5] for w in _words(text) if len(w) >= 4 and w not in _STOPWORDS}


def _enum_values(tools: list[dict[str, Any]]) -> set[str]:
    values: set[str] = set()
    stack: list[Any] = [tool.get("parameters", {}) for tool in tools]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            values.update(str(v).lower() for v in node.get("enum", []) if isinstance(v, str | int))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return values


def _gold_calls(row: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        calls = json.loads(row["reward_model"]["ground_truth"])
    except (KeyError, TypeError, ValueError):
        return []
    return [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []


def check_paraphrase(
    row: dict[str, Any], original: str, text: str, *, finish_reason: str | None = None
) -> str | None:
    """Why the rewrite ``text`` of ``row``'s user prompt ``original`` must be rejected, or None.

    >>> row = {"reward_model": {"ground_truth": '[{"name": "f", "arguments": {"city": "Oslo"}}]'},
    ...        "extra_info": {"behavior": "execute", "missing": []}, "prompt": []}
    >>> check_paraphrase(row, "Weather in Oslo please", "How is the weather in Bergen?")
    'dropped_value'
    >>> check_paraphrase(row, "Weather in Oslo please", "Tell me the weather for Oslo.") is None
    True
    """
    from .grounding import ungrounded_arguments

    if not text.strip():
        return "empty"
    if finish_reason == "length" or len(text) > 3 * len(original):
        return "too_long"
    if _REFUSAL_RE.search(text) and not _REFUSAL_RE.search(original):
        return "refusal"
    if row.get("extra_info", {}).get("behavior") == "execute":
        for call in _gold_calls(row):
            arguments = call.get("arguments")
            if isinstance(arguments, dict) and ungrounded_arguments(arguments, text):
                return "dropped_value"
    system = next((m["content"] for m in row.get("prompt", []) if m.get("role") == "system"), "")
    before, after = _words(original), _words(text)
    added = _value_tokens(text) - _value_tokens(original) - before
    added |= (_enum_values(tools_from_system(system)) & after) - before
    if added:
        return "added_value"
    if _off_topic(row, original, text):
        return "off_topic"
    if normalize_prompt(text) == normalize_prompt(original):
        return "unchanged"
    return None


def _off_topic(row: dict[str, Any], original: str, text: str) -> bool:
    """Whether the rewrite lost what the request is about.

    A word of the row's tool names that the original uses must stay (a clarify row that no
    longer asks to translate is no longer a translate request). A refusal's label rests on
    its wording alone, so a refuse row must keep every content word; other rows a quarter.
    """
    before, after = _content_stems(original), _content_stems(text)
    info = row.get("extra_info", {})
    tool_stems = {w[:5] for name in info.get("tools") or [] for w in re.split(r"[_\W]+", name)}
    if tool_stems & before and not tool_stems & before & after:
        return True
    if info.get("behavior") == "refuse":
        return bool(before - after)
    return len(before) >= 3 and len(before & after) < 0.25 * len(before)


def _user_index(row: dict[str, Any]) -> int:
    for index, message in enumerate(row["prompt"]):
        if message.get("role") == "user":
            return index
    raise AssertionError(f"row {row['extra_info']['id']} has no user message")


class Paraphraser:
    """Rewrites a share of user prompts through an endpoint; see the module docstring.

    Args:
        endpoint: where to send requests (URL, model, concurrency, retries, timeout, cache).
        share: the fraction of rows sent for rewriting (0 to 1).
        seed: the dataset seed; with each row id it picks the rows and seeds the requests.
        progress: show a live progress bar (requested / kept / rejected / failed) on stderr.
    """

    def __init__(
        self,
        endpoint: EndpointSettings,
        *,
        share: float = 0.5,
        seed: int = 0,
        temperature: float = 0.7,
        progress: bool = False,
    ) -> None:
        self.endpoint = endpoint
        self.share = share
        self.seed = seed
        self.temperature = temperature
        self.stats = EndpointStats()
        self.kept = 0
        self.failed = 0
        self.requested = 0
        self.rejected: Counter[str] = Counter()
        self._seen: set[str] = set()
        self._progress: Any = None
        self._task: Any = None
        self._live: Counter[str] = Counter()
        self._show_progress = progress

    def request_for(self, row: dict[str, Any]) -> ChatRequest:
        """The chat request that asks for a rewrite of this row's user text."""
        text = row["prompt"][_user_index(row)]["content"]
        return ChatRequest(
            messages=[
                {"role": "system", "content": INSTRUCTIONS},
                {
                    "role": "user",
                    "content": "Rewrite this request with different wording, keeping all "
                    f"values:\n\n{text}",
                },
            ],
            seed=row_seed(self.seed, row["extra_info"]["id"]),
            temperature=self.temperature,
            # A rewrite over three times the original is rejected anyway; do not wait for it.
            max_tokens=min(256, 24 + len(text) // 2),
        )

    def rewrite(self, split: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows with the picked ones' user text rewritten where the rewrite is safe."""
        for row in rows:
            self._seen.add(normalize_prompt(row["prompt"][_user_index(row)]["content"]))
        picked = [
            i for i, r in enumerate(rows) if is_picked(self.seed, r["extra_info"]["id"], self.share)
        ]
        if not picked:
            return rows
        self.requested += len(picked)
        self._start_progress(len(picked))
        before = self.stats.answered + self.stats.cached
        results = run_chat(
            [self.request_for(rows[i]) for i in picked],
            self.endpoint,
            stats=self.stats,
            on_result=lambda index, result: self._advance(rows[picked[index]], result),
        )
        if self.stats.answered + self.stats.cached == before == 0:
            self.failed += len(picked)
            self._stop_progress()
            raise EndpointError(
                f"{self.endpoint.base_url}: {self.stats.first_error}; could not paraphrase "
                f"any of the {len(picked)} rows of the first {split} chunk"
            )
        out = list(rows)
        for index, result in zip(picked, results, strict=True):
            out[index] = self._apply(rows[index], result)
        self._refresh()
        return out

    def _apply(self, row: dict[str, Any], result: ChatResult) -> dict[str, Any]:
        if result.text is None:
            self.failed += 1
            return row
        user = _user_index(row)
        original = row["prompt"][user]["content"]
        text = clean_reply(result.text)
        reason = check_paraphrase(row, original, text, finish_reason=result.finish_reason)
        if reason is None and normalize_prompt(text) in self._seen:
            reason = "duplicate"
        if reason is not None:
            self.rejected[reason] += 1
            return row
        self._seen.add(normalize_prompt(text))
        self.kept += 1
        new = copy.deepcopy(row)
        new["prompt"][user]["content"] = text
        for message in new.get("messages") or []:
            if message.get("role") == "user" and message.get("content") == original:
                message["content"] = text
        new["extra_info"]["paraphrased"] = True
        return new

    def report(self) -> dict[str, Any]:
        """Counts for the manifest: requested, kept, rejected by reason, failed, endpoint use."""
        self._stop_progress()
        return {
            "model": self.endpoint.model,
            "base_url": self.endpoint.base_url,
            "share": self.share,
            "requested": self.requested,
            "kept": self.kept,
            "rejected": {reason: self.rejected[reason] for reason in REASONS},
            "failed": self.failed,
            "endpoint": self.stats.as_dict(),
        }

    def summary(self) -> str:
        """One line for the terminal: kept of requested, rejections by reason, failures."""
        reasons = ", ".join(f"{r} {n}" for r, n in self.rejected.most_common()) or "none"
        return (
            f"paraphrased {self.kept} of {self.requested} requested rows "
            f"(rejected: {reasons}; failed {self.failed}; cached {self.stats.cached}; "
            f"requests sent {self.stats.requests})"
        )

    def warning(self) -> str | None:
        """A one-line warning when some requests failed and their rows kept the template text."""
        if not self.failed:
            return None
        return (
            f"{self.failed} of {self.requested} paraphrase requests failed "
            f"({self.stats.first_error}); those rows keep their template text"
        )

    # --- progress bar ------------------------------------------------------------------------

    def _start_progress(self, n: int) -> None:
        if not self._show_progress:
            return
        if self._progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("paraphrase"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._progress.add_task("paraphrase", total=0, counts="")
            self._progress.start()
        self._progress.update(self._task, total=self.requested)

    def _advance(self, row: dict[str, Any], result: ChatResult) -> None:
        """Live counts as answers arrive (the duplicate check waits for the in-order pass)."""
        if self._progress is None:
            return
        if result.text is None:
            self._live["failed"] += 1
        else:
            original = row["prompt"][_user_index(row)]["content"]
            text = clean_reply(result.text)
            reason = check_paraphrase(row, original, text, finish_reason=result.finish_reason)
            self._live["kept" if reason is None else "rejected"] += 1
        self._progress.advance(self._task)
        self._show(self._live)

    def _refresh(self) -> None:
        self._live = Counter()
        self._show(self._live)

    def _show(self, live: Counter[str]) -> None:
        if self._progress is not None:
            kept = self.kept + live["kept"]
            rejected = sum(self.rejected.values()) + live["rejected"]
            failed = self.failed + live["failed"]
            counts = f"kept {kept}  rejected {rejected}  failed {failed}"
            self._progress.update(self._task, counts=counts)

    def _stop_progress(self) -> None:
        if self._progress is not None:
            self._refresh()
            self._progress.stop()
            self._progress = None
