"""Audit throughput at scale: how long `toolfactory audit` takes on about a million rows.

The generator's bundled templates give a few thousand distinct prompts, so the big dataset is
the default dataset (1,500 + 300 rows) repeated, each copy made distinct by a letters-only tag
in the user text (digits or capital codes would look like argument values to the checks) and
a fresh id. Every row still goes through every check; the tagged copies also exercise the
duplicate search at full size. The file is built once under ``outputs/bench-audit/`` and
reused.

    python benchmarks/bench_audit.py                 # 556 copies = 1,000,800 rows
    python benchmarks/bench_audit.py --copies 56     # 100,800 rows
    python benchmarks/bench_audit.py --workers 1     # parse in this process only
"""

from __future__ import annotations

import argparse
import json
import resource
import string
import time
from pathlib import Path

from factory.audit import audit
from factory.generate import GenerateConfig, generate


def tag(k: int) -> str:
    letters = string.ascii_lowercase
    out = ""
    while True:
        k, r = divmod(k, 26)
        out += letters[r]
        if k == 0:
            return out


def build(out: Path, copies: int) -> None:
    base = out / "base"
    generate(GenerateConfig(out=base))
    (out / "manifest.json").write_bytes((base / "manifest.json").read_bytes())
    for split in ("train", "heldout"):
        rows = [json.loads(line) for line in (base / f"{split}.jsonl").open(encoding="utf-8")]
        tmp = out / f".{split}.jsonl.tmp"
        with tmp.open("w", encoding="utf-8") as fh:
            n = 0
            for copy in range(copies):
                suffix = f" (ref {tag(copy)})" if copy else ""
                for row in rows:
                    row = json.loads(json.dumps(row))
                    row["prompt"][1]["content"] += suffix
                    row["extra_info"]["id"] = f"{split}-{n:07d}"
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                    n += 1
        tmp.rename(out / f"{split}.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=556)
    parser.add_argument("--out", type=Path, default=Path("outputs/bench-audit"))
    parser.add_argument("--workers", type=int, default=None, help="parsing processes [CPUs]")
    args = parser.parse_args()
    out = args.out / f"x{args.copies}"
    if not (out / "heldout.jsonl").exists():
        out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        build(out, args.copies)
        print(f"built {out} in {time.perf_counter() - start:.1f}s")
    size = sum(p.stat().st_size for p in out.glob("*.jsonl"))
    start = time.perf_counter()
    report = audit([out], workers=args.workers)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    failed = [f"{c.name}={c.count}" for c in report.checks if c.count]
    print(
        f"audited {report.rows:,} rows ({size / 1e9:.2f} GB) in {seconds:.1f}s "
        f"= {report.rows / seconds:,.0f} rows/s, peak RSS {peak:,.0f} MiB "
        f"(largest worker {worker_peak:,.0f} MiB), "
        f"ok={report.ok} {' '.join(failed)}"
    )


if __name__ == "__main__":
    main()
