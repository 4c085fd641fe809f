"""Dataset card and Hugging Face Hub push: an audited output folder in, a Hub-ready folder out.

``build_hub_folder`` writes ``DIR/hub/``: ``data/train.parquet`` and ``data/test.parquet`` (the
held-out split), the JSONL files as generated under ``jsonl/``, ``manifest.json``, the audit as
``audit.json``, and a ``README.md`` dataset card whose YAML ``configs`` name the two splits and
whose body is written from the measured audit. ``push`` audits, builds, then uploads the folder
with ``huggingface_hub`` (``HfApi.create_repo`` + ``upload_folder``)::

    push(Path("outputs/default"), "me/toolcalls", dry_run=True)   # -> outputs/default/hub

The held-out split is published as ``test``: it is the split TRL scripts evaluate on
(``dataset_test_split="test"``), the split name every Hub tool recognizes from a file name, and
it says what the rows are for (never train on them). ``extra_info.split`` keeps ``heldout``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .audit import audit, dataset_files
from .checks import BEHAVIORS
from .errors import ConfigError, DatasetError, HubError
from .report import AuditReport, report_json

if TYPE_CHECKING:
    import pyarrow as pa

# File stem (shard suffix removed) -> Hub split name.
SPLIT_NAMES = {"train": "train", "heldout": "test", "test": "test", "validation": "validation"}
_REPO_RE = re.compile(r"^[\w.-]+/[\w.-]+$")
_SHARD_RE = re.compile(r"-\d+-of-\d+$")
_BATCH = 20_000


def _schema(extra_info_keys: list[str], columns: list[str]) -> pa.Schema:
    """The parquet schema of the row contract; unknown columns are kept as JSON strings."""
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    known_info: dict[str, pa.DataType] = {
        "id": pa.string(),
        "split": pa.string(),
        "behavior": pa.string(),
        "tools": pa.list_(pa.string()),
        "missing": pa.list_(pa.string()),
        "category": pa.string(),
        "template": pa.string(),
        "register": pa.string(),
        "paraphrased": pa.bool_(),
    }
    tool_call = pa.struct(
        [
            ("id", pa.string()),
            ("type", pa.string()),
            ("function", pa.struct([("name", pa.string()), ("arguments", pa.string())])),
        ]
    )
    known: dict[str, pa.DataType] = {
        "data_source": pa.string(),
        "prompt": pa.list_(message),
        "ability": pa.string(),
        "reward_model": pa.struct([("style", pa.string()), ("ground_truth", pa.string())]),
        "extra_info": pa.struct([(k, known_info.get(k, pa.string())) for k in extra_info_keys]),
        "messages": pa.list_(
            pa.struct(
                [
                    ("role", pa.string()),
                    ("content", pa.string()),
                    ("tool_calls", pa.list_(tool_call)),
                ]
            )
        ),
    }
    return pa.schema([(c, known.get(c, pa.string())) for c in columns])


def _read_rows(files: list[Path]) -> Iterator[dict[str, Any]]:
    """The JSON objects of ``files``; lines the audit reported as malformed are left out."""
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict):
                    yield row


def _layout(files: list[Path]) -> tuple[list[str], list[str]]:
    """(top-level columns, extra_info keys) in first-seen order over all rows."""
    columns: dict[str, None] = {}
    info_keys: dict[str, None] = {}
    for row in _read_rows(files):
        columns.update(dict.fromkeys(row))
        if isinstance(row.get("extra_info"), dict):
            info_keys.update(dict.fromkeys(row["extra_info"]))
    return list(columns), list(info_keys)


def _arrow_row(row: dict[str, Any], schema: pa.Schema) -> dict[str, Any]:
    import pyarrow as pa

    out = {}
    for field in schema:
        value = row.get(field.name)
        if field.type == pa.string() and value is not None and not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False)  # e.g. `tools`: one shape per tool
        elif field.name == "extra_info" and isinstance(value, dict):
            value = {
                k: json.dumps(v) if t.type == pa.string() and not isinstance(v, str | None) else v
                for k, t, v in ((f.name, f, value.get(f.name)) for f in field.type)
            }
        out[field.name] = value
    return out


def write_parquet(files: list[Path], path: Path) -> tuple[int, int]:
    """Write the rows of ``files`` to one parquet file (nested columns kept).

    Returns the row count and the size of the rows in memory (Arrow bytes).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns, info_keys = _layout(files)
    schema = _schema(info_keys, columns)
    rows = nbytes = 0

    def write(batch: list[dict[str, Any]]) -> None:
        nonlocal rows, nbytes
        try:
            table = pa.Table.from_pylist(batch, schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            names = ", ".join(p.name for p in files)
            raise DatasetError(f"{names}: rows do not fit the row layout ({err})") from err
        writer.write_table(table)
        rows, nbytes = rows + table.num_rows, nbytes + table.nbytes

    with pq.ParquetWriter(path, schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in _read_rows(files):
            batch.append(_arrow_row(row, schema))
            if len(batch) >= _BATCH:
                write(batch)
                batch = []
        if batch:
            write(batch)
    return rows, nbytes


def _size_category(n: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if n < limit:
            return label
    return "10M<n<100M"


def dataset_card(
    report: AuditReport,
    repo_id: str,
    splits: dict[str, str],
    sizes: dict[str, tuple[int, int, int]],
) -> str:
    """README.md for the Hub: YAML metadata, then the measured mix, tools, checks, usage.

    Args:
        splits: Hub split name -> parquet path inside the folder.
        sizes: Hub split name -> (rows, bytes in memory, parquet bytes).
    """
    import yaml

    name = repo_id.split("/")[-1]
    meta = {
        "license": "apache-2.0",
        "pretty_name": name,
        "language": ["en"],
        "task_categories": ["text-generation"],
        "tags": ["tool-calling", "function-calling", "synthetic", "rlvr", "grpo", "toolfactory"],
        "size_categories": [_size_category(report.rows)],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": p} for s, p in splits.items()],
            }
        ],
        # Sizes also keep `datasets`' cache apart: it keys a local folder on this YAML only,
        # so two `hub/` folders with the same `configs` would otherwise share one cache entry.
        "dataset_info": {
            "splits": [
                {"name": s, "num_bytes": sizes[s][1], "num_examples": sizes[s][0]} for s in splits
            ],
            "download_size": sum(size[2] for size in sizes.values()),
            "dataset_size": sum(size[1] for size in sizes.values()),
        },
    }
    hub_split = {k: SPLIT_NAMES.get(k, k) for k in report.splits}
    lines = [
        "---",
        yaml.safe_dump(meta, sort_keys=False).strip(),
        "---",
        "",
        f"# {name}",
        "",
        "Synthetic tool-calling rows in three behaviors: **execute** (every required argument is "
        "given; the answer is the JSON call list), **clarify** (a required argument is missing; "
        "the answer asks for it) and **refuse** (harmful or out of scope; the answer declines). "
        "The held-out split (`test`) uses tools that never appear in `train`, so it measures "
        f"generalization to unseen tools. Built with toolfactory {__version__}.",
        "",
        "## Splits and behavior mix (measured)",
        "",
        "| split | rows | " + " | ".join(BEHAVIORS) + " |",
        "|---|---:|" + "---:|" * len(BEHAVIORS),
    ]
    for split, rows in report.splits.items():
        cells = [
            f"{r['count']} ({r['share']:.1f}%, target {r['target']:g}%)"
            for r in report.tables["mix"]
            if r["split"] == split
        ]
        lines.append(f"| {hub_split[split]} | {rows} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Tools per split",
        "",
        "| split | tool | " + " | ".join(BEHAVIORS) + " |",
        "|---|---|" + "---:|" * len(BEHAVIORS),
    ]
    for r in report.tables["tools"]:
        lines.append(
            f"| {hub_split.get(r['split'], r['split'])} | `{r['tool']}` | "
            + " | ".join(str(r[b]) for b in BEHAVIORS)
            + " |"
        )
    categories: dict[str, list[str]] = {}
    for r in report.tables["categories"]:
        categories.setdefault(hub_split.get(r["split"], r["split"]), []).append(
            f"{r['category']} ({r['count']})"
        )
    lines += ["", "## Refusal categories", ""]
    lines += [f"- **{s}**: {', '.join(c)}" for s, c in categories.items()] or ["(none)"]
    lines += [
        "",
        "## Audit",
        "",
        f"`toolfactory audit`: {'all checks passed' if report.ok else 'SOME CHECKS FAILED'}.",
        "",
    ]
    for check in report.checks:
        lines.append(f"- {'✅' if check.ok else '❌'} {check.title}: {check.count}")
    lines += [
        "",
        "| split | mean chars | median | p95 | distinct-1 | distinct-2 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in report.tables["lengths"]:
        lines.append(
            f"| {hub_split.get(r['split'], r['split'])} | {r['chars_mean']} | {r['chars_median']}"
            f" | {r['chars_p95']} | {r['distinct_1']} | {r['distinct_2']} |"
        )
    manifest = report.manifest or {}
    lines += ["", "## Provenance", ""]
    for key in (
        "toolfactory_version",
        "seed",
        "config_hash",
        "format",
        "date_anchor",
        "paraphrased",
    ):
        if key in manifest:
            lines.append(f"- {key}: `{manifest[key]}`")
    lines.append(
        "- files: `jsonl/` holds the rows exactly as generated; `manifest.json` the "
        "full configuration and spec hashes; `audit.json` the audit report."
    )
    train_file = splits.get("train", "data/train.parquet")
    test_file = splits.get("test", "data/test.parquet")
    lines += [
        "",
        "## Row format",
        "",
        "`prompt` (system message listing the tools + user message), `reward_model.ground_truth` "
        "(a JSON call list for execute, the reference answer otherwise), `data_source`, "
        "`ability`, `extra_info` (`id`, `split`, `behavior`, `tools`, `missing`, `category`, "
        "`template`, `register`, `paraphrased`). The layout is verl's; TRL passes "
        "`reward_model` and `extra_info` to reward functions as keyword arguments.",
        "",
        "## Load",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("{repo_id}")',
        'print(ds["train"][0]["prompt"], ds["test"].num_rows)',
        "```",
        "",
        "## Train with TRL (GRPO)",
        "",
        "```python",
        "from datasets import load_dataset",
        "from trl import GRPOConfig, GRPOTrainer",
        "from factory.reward import trl_reward  # pip install toolfactory",
        "",
        f'train = load_dataset("{repo_id}", split="train")',
        "trainer = GRPOTrainer(",
        '    model="Qwen/Qwen2.5-0.5B-Instruct",',
        "    reward_funcs=trl_reward,",
        "    train_dataset=train,",
        '    args=GRPOConfig(output_dir="grpo", num_generations=8),',
        ")",
        "trainer.train()",
        "```",
        "",
        "## Train with verl",
        "",
        "The parquet files are verl-ready; download them and point the trainer at them and at "
        "the reward:",
        "",
        "```bash",
        f"hf download {repo_id} --repo-type dataset --local-dir {name} && cd {name}",
        'REWARD=$(python -c "import factory.reward as m; print(m.__file__)")',
        "python -m verl.trainer.main_ppo algorithm.adv_estimator=grpo \\",
        f"  data.train_files={train_file} data.val_files={test_file} \\",
        "  custom_reward_function.path=$REWARD \\",
        "  custom_reward_function.name=compute_score",
        "```",
        "",
    ]
    return "\n".join(lines)


def build_hub_folder(dataset: Path, report: AuditReport, repo_id: str) -> Path:
    """Write ``dataset/hub/`` (parquet, JSONL, card, manifest, audit); replace it atomically."""
    files, _ = dataset_files([dataset])
    by_split: dict[str, list[Path]] = {}
    for path in files:
        stem = _SHARD_RE.sub("", path.stem.lower())
        by_split.setdefault(SPLIT_NAMES.get(stem, stem), []).append(path)
    out = dataset / "hub"
    tmp = dataset / f".hub.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / "data").mkdir(parents=True)
        (tmp / "jsonl").mkdir()
        splits, sizes = {}, {}
        for split, paths in by_split.items():
            parquet = tmp / "data" / f"{split}.parquet"
            rows, nbytes = write_parquet(paths, parquet)
            splits[split] = f"data/{split}.parquet"
            sizes[split] = (rows, nbytes, parquet.stat().st_size)
            for path in paths:
                shutil.copyfile(path, tmp / "jsonl" / path.name)
        if (dataset / "manifest.json").is_file():
            shutil.copyfile(dataset / "manifest.json", tmp / "manifest.json")
        (tmp / "audit.json").write_text(report_json(report) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(
            dataset_card(report, repo_id, splits, sizes), encoding="utf-8"
        )
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def push(
    dataset: Path,
    repo_id: str,
    *,
    private: bool = False,
    dry_run: bool = False,
    force: bool = False,
) -> tuple[Path, str | None]:
    """Audit ``dataset``, build its Hub folder, upload it unless ``dry_run``.

    Returns the folder and the repository URL (None for a dry run). Raises HubError when the
    audit fails (unless ``force``), the token is missing, or the Hub refuses or is unreachable.
    """
    if not _REPO_RE.match(repo_id):
        raise ConfigError(f"--repo {repo_id!r}: expected OWNER/NAME")
    token = None if dry_run else _token()  # before any work: a missing login fails fast
    report = audit([dataset])
    if not report.ok and not force:
        failed = ", ".join(f"{c.name} ({c.count})" for c in report.checks if c.count)
        raise HubError(
            f"{dataset}: the audit fails ({failed}); see `toolfactory audit {dataset}` "
            "or pass --force"
        )
    folder = build_hub_folder(dataset, report, repo_id)
    if token is None:
        return folder, None
    return folder, upload(folder, repo_id, private=private, token=token)


def _token() -> str:
    """HF_TOKEN, else the cached `hf auth login` token."""
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
    return token


def upload(folder: Path, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
    """Create the dataset repository if needed and upload ``folder`` (token: default login)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    token = token or _token()
    # Passed explicitly: huggingface_hub reads HF_ENDPOINT once, at import time.
    endpoint = os.environ.get("HF_ENDPOINT") or None
    network_errors: tuple[type[Exception], ...] = (*_transport_errors(), OSError)
    api = HfApi(endpoint=endpoint, token=token)
    where = api.endpoint
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(
            folder_path=folder,
            repo_id=repo_id,
            repo_type="dataset",
            commit_message=f"Upload dataset built with toolfactory {__version__}",
        )
    except ValueError as err:  # the Hub's README.md metadata validation
        raise HubError(
            f"{repo_id}: the Hub rejected the dataset card: {_first_line(str(err))}"
        ) from err
    except RepositoryNotFoundError as err:
        raise HubError(f"{repo_id}: repository not found or not writable at {where}") from err
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        reason = "token rejected" if status in (401, 403) else f"HTTP {status}"
        message = _first_line(str(err)).replace(token, "***")
        raise HubError(f"{repo_id}: the Hub refused the upload ({reason}): {message}") from err
    except network_errors as err:
        message = _first_line(str(err)).replace(token, "***")
        raise HubError(f"cannot reach the Hub at {where}: {message}") from err
    return f"{where.rstrip('/')}/datasets/{repo_id}"


def _transport_errors() -> tuple[type[Exception], ...]:
    """Connection errors of whichever HTTP client this huggingface_hub version uses."""
    import importlib

    errors: list[type[Exception]] = []
    for module in ("httpx2", "httpx", "requests"):
        try:
            lib = importlib.import_module(module)
        except ImportError:
            continue
        errors.append(getattr(lib, "HTTPError", None) or lib.RequestException)
    return tuple(errors)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no details"
