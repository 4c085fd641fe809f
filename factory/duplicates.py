"""Duplicate prompts: exact ones within and across splits, near ones across splits.

Input: a polars frame of the audited rows with their normalized prompt (``id``, ``split``,
``key``: lowercase words separated by single spaces). Output: the offending rows added to the
``duplicates`` and ``cross_split_duplicates`` checks. Near-duplicates are pairs whose word
uni+bigram Jaccard is at least :data:`NEAR_DUPLICATE_JACCARD`: MinHash signatures with LSH bands
find the candidates, the exact Jaccard confirms each one.

    >>> _jaccard("weather in oslo", "weather in oslo today")  # 5 shingles shared of 7
    0.7142857142857143
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .checks import Check

if TYPE_CHECKING:
    import polars as pl

NEAR_DUPLICATE_JACCARD = 0.7  # word uni+bigram Jaccard at which two prompts are near-duplicates


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
