"""Checksum bisection over key ranges (the steps 1-3 of drill/diff.py's docstring): split,
count + checksum both sides per range, split again where they differ; then hand the
differing ranges to drill/diff_rows.py (leaves fetched whole, dense ranges listed)."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from restoredrill.drill.diff_rows import Bucket, Progress, RowComparer
from restoredrill.drill.diff_sides import DiffOptions, Shape, Sides
from restoredrill.engines.ranges import KeyRange, KeyText
from restoredrill.timing import ProgressListener


@dataclass
class Split:
    bucket: Bucket
    side: str
    step: int


class Bisection:
    def __init__(
        self,
        sides: Sides,
        shape: Shape,
        where: Any,
        options: DiffOptions,
        listener: ProgressListener,
    ) -> None:
        self.sides = sides
        self.engine = sides.engine
        self.shape = shape
        self.where = where
        self.options = options
        self.listener = listener
        self.stats = Progress()
        self.rows = RowComparer(sides, shape, where, options, self.stats)

    # -- steps --

    def _split(self, splits: list[Split]) -> tuple[list[Bucket], list[Bucket]]:
        """Children of every split range, from ONE boundaries statement per side used; and
        the ranges that could not be split (all their rows share one key: fetched as is)."""
        rows: dict[str, list[Any]] = {"restored": [], "production": []}
        per_statement = max(1, self.engine.max_ranges_per_statement)
        by_side = {side: [s for s in splits if s.side == side] for side in rows}
        for start in range(0, max(len(v) for v in by_side.values()), per_statement):
            jobs: dict[str, tuple[Any, list[Any]]] = {}
            for side, mine in by_side.items():
                part = mine[start : start + per_statement]
                if part:
                    query, params = self.engine.boundaries_query(
                        self.shape.table,
                        self.shape.key,
                        self.where,
                        [s.bucket.range for s in part],
                        [s.step for s in part],
                    )
                    jobs[side] = (query, params)
            done = self.sides.run(jobs)
            for side, side_rows in done.items():  # range indexes are per statement
                rows[side].extend((int(r[0]) + start, *r[1:]) for r in side_rows)
        children: list[Bucket] = []
        stuck: list[Bucket] = []
        for side in ("restored", "production"):
            mine = [s for s in splits if s.side == side]
            points: dict[int, list[KeyText]] = {i: [] for i in range(len(mine))}
            for row in rows.get(side, []):
                bound = tuple(str(v) for v in row[2:])
                seen = points[int(row[0])]
                if not seen or seen[-1] != bound:  # equal keys cannot be separated
                    seen.append(bound)
            for i, split in enumerate(mine):
                parent = split.bucket
                edges: list[KeyText | None] = [parent.range.lo, *points[i], parent.range.hi]
                if parent.range.lo is not None and points[i] and points[i][0] == parent.range.lo:
                    edges.pop(1)
                if len(edges) == 2:
                    stuck.append(parent)
                    continue
                for j in range(len(edges) - 1):
                    children.append(Bucket(KeyRange(edges[j], edges[j + 1]), (*parent.path, j)))
        return children, stuck

    def _check(self, buckets: list[Bucket]) -> list[Bucket]:
        """Count + checksum every bucket on both sides; returns the ones that differ."""
        differing: list[Bucket] = []
        step = max(1, min(self.options.check_chunk_ranges, self.engine.max_ranges_per_statement))
        for start in range(0, len(buckets), step):
            chunk = buckets[start : start + step]
            ranges = [b.range for b in chunk]
            query = self.engine.checksum_query(
                self.shape.table, self.shape.key, self.shape.compared, self.where, ranges
            )
            rows = self.sides.run({"restored": query, "production": query})
            sums: dict[str, dict[int, tuple[int, int]]] = {}
            for side, side_rows in rows.items():
                sums[side] = {int(r[0]): (int(r[1]), int(r[2])) for r in side_rows}
            for i, bucket in enumerate(chunk):
                r_count, r_hash = sums["restored"].get(i, (0, 0))
                p_count, p_hash = sums["production"].get(i, (0, 0))
                bucket.restored, bucket.production = r_count, p_count
                self.stats.hashed_restored += r_count
                self.stats.hashed_production += p_count
                if (r_count, r_hash) != (p_count, p_hash):
                    differing.append(bucket)
        self.stats.buckets_checked += len(buckets)
        return differing

    # -- driver --

    def run(self, estimate: int | None, estimate_side: str) -> None:
        options = self.options
        threshold = max(1, options.fetch_threshold)
        whole = Bucket(KeyRange(None, None), ())
        splits: list[Split] = []
        pending: list[Bucket] = []
        if estimate is not None and estimate > threshold:
            parts = min(options.first_level_buckets, math.ceil(estimate / threshold))
            splits.append(Split(whole, estimate_side, max(1, math.ceil(estimate / parts))))
        else:
            pending.append(whole)
        leaves: list[Bucket] = []
        dense: list[Bucket] = []
        first = True
        while splits or pending:
            if splits:
                children, stuck = self._split(splits)
                pending.extend(children)
                leaves.extend(stuck)
                splits = []
            started = time.monotonic()
            differing = self._check(pending)
            self.stats.levels += 1
            if first:
                self.stats.scan_seconds = time.monotonic() - started
                self.stats.rows_restored = sum(b.restored for b in pending)
                self.stats.rows_production = sum(b.production for b in pending)
                first = False
            self.listener.note(
                f"{self.shape.table.display}: level {self.stats.levels}: "
                f"{len(differing)} of {len(pending)} range(s) differ"
            )
            crowded = self._crowded(pending, differing)
            pending = []
            for bucket in differing:
                if bucket.size <= threshold:
                    leaves.append(bucket)
                    continue
                if bucket.path[:-1] in crowded and bucket.size <= options.dense_max_rows:
                    dense.append(bucket)
                    continue
                parts = min(options.max_fanout, math.ceil(bucket.size / threshold))
                side = "restored" if bucket.restored >= bucket.production else "production"
                step = math.ceil(bucket.size / max(2, parts))
                splits.append(Split(bucket, side, step))
        if dense:
            self.listener.note(
                f"{self.shape.table.display}: {len(dense)} dense range(s): listing (key, hash)"
            )
        # in key order, so that the rows are spooled in key order (drill/diff_spool.py)
        self.rows.list_dense(sorted(dense, key=lambda b: b.path))
        self.rows.fetch_leaves(sorted(leaves, key=lambda b: b.path))

    def _crowded(self, checked: list[Bucket], differing: list[Bucket]) -> set[tuple[int, ...]]:
        """Parents (paths) of which at least ``dense_fraction`` of the ranges differ (of at
        least 4 ranges: one range alone that differs says nothing about density)."""
        siblings = Counter(b.path[:-1] for b in checked)
        hits = Counter(b.path[:-1] for b in differing)
        fraction = self.options.dense_fraction
        return {
            path
            for path, n in hits.items()
            if siblings[path] >= 4 and n >= fraction * siblings[path]
        }


__all__ = ["Bisection"]
