"""Row-level comparison of a diff (after bisection has narrowed the key ranges that differ).

Two ways to look at a differing range:

- a leaf (few rows): fetch every row of the range on both sides and compare their text forms;
- a dense range (most of its neighbours differ too, so bisecting further would fetch nearly
  every row leaf by leaf): list the range's rows as (row hash, key) on both sides — one text
  per range, split in C — compare these as sets (rows equal on both sides cancel out), and
  fetch whole only the rows whose (hash, key) differs; those are then compared by their text
  forms like a leaf's. A row with the same key and the same 64-bit hash on both sides is taken
  as equal, the trust the range checksums already put in the same hash. The listing goes
  ``dense_chunk_rows`` rows per statement per side, so it holds one chunk, never the table
  (the rows found different are kept, on disk: they are the diff; drill/diff_spool.py).

No ordering is shared between the servers or with Python: a range holds the same keys on both
sides by construction (the bisection's boundaries), and inside a range rows are matched by
key text, so a linguistic collation on a text key cannot make the two sides disagree.

``--where`` (the diff's ``where``) selects the keys to look at: a key is compared when its
row matches ``where`` on either side, and then compared whole with its other side's row
fetched by key *without* ``where``. So a row that matches on the restored side only is
"changed" when production still has it (with other values) and "lost" only when production
has no row with that key at all; likewise "new" is a row that matches in production and
whose key the restored database does not have.
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from restoredrill.drill.diff_sides import DiffOptions, Shape, Sides
from restoredrill.drill.diff_spool import Spool
from restoredrill.engines.ranges import KeyRange, KeyText
from restoredrill.errors import ConfigError, DatabaseUnavailable
from restoredrill.models import ChangedRow, RowValues

Row = tuple[str | None, ...]
Path = tuple[int, ...]
# a dense range: the differing keys listed on the restored side, on the production side,
# and those of the production side that the restored side did not list
_Range = tuple[Path, list[KeyText], list[KeyText], list[KeyText]]
_Submitted = dict[str, "Future[list[Any]]"]  # one statement per side, queued (Sides.submit)


@dataclass
class Bucket:
    range: KeyRange
    path: Path
    restored: int = 0
    production: int = 0

    @property
    def size(self) -> int:
        return max(self.restored, self.production)


@dataclass
class Progress:
    levels: int = 0
    buckets_checked: int = 0
    hashed_restored: int = 0
    hashed_production: int = 0
    fetched: int = 0
    listed: int = 0  # rows listed as (key, hash) in dense ranges, both sides
    dense_ranges: int = 0
    rows_restored: int = 0
    rows_production: int = 0
    scan_seconds: float = 0.0


@dataclass
class _Pending:
    """A key seen on one side (or with another hash): where it sorts, and the rows known."""

    path: Path
    n: int
    key: KeyText
    restored: Row | None = None
    production: Row | None = None


class RowComparer:
    def __init__(
        self, sides: Sides, shape: Shape, where: Any, options: DiffOptions, stats: Progress
    ) -> None:
        self.sides = sides
        self.engine = sides.engine
        self.shape = shape
        self.where = where
        self.options = options
        self.stats = stats
        self.found = Spool()  # on disk, one chunk in memory (drill/diff_spool.py)
        self._add_lost = self.found.adder("lost")
        self._add_new = self.found.adder("new")
        self._add_changed = self.found.adder("changed")
        self.names = [c.name for c in shape.columns]
        self.key_at = [self.names.index(c.name) for c in shape.key]
        self.compared_at = [self.names.index(c.name) for c in shape.compared]

    # -- shared --

    def _key(self, row: Row) -> KeyText:
        return tuple(row[k] for k in self.key_at)  # type: ignore[misc]  # keys are NOT NULL

    def _duplicate(self, key: KeyText) -> ConfigError:
        return ConfigError(
            f"the key ({', '.join(c.name for c in self.shape.key)}) of "
            f"{self.shape.table.display} is not unique: {key!r} appears twice"
        )

    def _index(self, rows: Sequence[Row]) -> dict[KeyText, Row]:
        if len(self.key_at) == 1:
            at = self.key_at[0]
            keys: Iterable[KeyText] = [(row[at],) for row in rows]  # type: ignore[misc]
        else:
            keys = map(operator.itemgetter(*self.key_at), rows)
        seen = dict(zip(keys, rows, strict=True))
        if len(seen) != len(rows):
            found: set[KeyText] = set()
            for row in rows:
                key = self._key(row)
                if key in found:
                    raise self._duplicate(key)
                found.add(key)
        return seen

    def _values(self, row: Row) -> RowValues:
        return dict(zip(self.names, row, strict=True))

    def _settle(self, path: Path, n: int, r: Row | None, p: Row | None) -> None:
        """Classify one key from its two rows (None: that side has no row with the key)."""
        if p is None:
            if r is not None:
                self._add_lost((path, n, dict(zip(self.names, r, strict=True))))
        elif r is None:
            self._add_new((path, n, dict(zip(self.names, p, strict=True))))
        else:
            differ = [self.names[c] for c in self.compared_at if r[c] != p[c]]
            if differ:
                changed = ChangedRow(
                    restored=self._values(r), production=self._values(p), columns=differ
                )
                self._add_changed((path, n, changed))

    def _fetch_keys(self, wanted: dict[str, list[KeyText]]) -> dict[str, dict[KeyText, Row]]:
        """Per side, the rows of the given keys (without --where), by key; a key the side
        does not have is absent from its dict."""
        return self._fetched(self._submit_fetches(wanted))

    def _submit_fetches(self, wanted: dict[str, list[KeyText]]) -> list[_Submitted]:
        """Queue the by-key fetches of ``wanted``, ``fetch_chunk_rows`` keys per statement
        per side; ``_fetched`` collects them."""
        step = max(1, self.options.fetch_chunk_rows)
        submitted: list[_Submitted] = []
        longest = max((len(keys) for keys in wanted.values()), default=0)
        for start in range(0, longest, step):
            jobs: dict[str, tuple[Any, list[Any]]] = {}
            for side, keys in wanted.items():
                part = keys[start : start + step]
                if part:
                    jobs[side] = self.engine.rows_by_keys_query(
                        self.shape.table, self.shape.key, self.shape.columns, part
                    )
            submitted.append(self.sides.submit(jobs))
        return submitted

    def _fetched(self, submitted: list[_Submitted]) -> dict[str, dict[KeyText, Row]]:
        found: dict[str, dict[KeyText, Row]] = {"restored": {}, "production": {}}
        for futures in submitted:
            for side, rows in self.sides.collect(futures).items():
                self.stats.fetched += len(rows)
                found[side].update(self._index(rows))
        return found

    def _by_keys(self, wanted: dict[str, list[_Pending]]) -> None:
        """Fetch, per side, the rows of the given keys (without --where) into the items."""
        found = self._fetch_keys({side: [i.key for i in items] for side, items in wanted.items()})
        for side, items in wanted.items():
            rows = found[side]
            for item in items:
                setattr(item, side, rows.get(item.key))

    # -- leaves: every row fetched --

    def fetch_leaves(self, leaves: list[Bucket]) -> None:
        for chunk in self._grouped(leaves, self.options.fetch_chunk_rows):
            self._fetch_chunk(chunk)
            self.found.flush()

    def _fetch_chunk(self, leaves: list[Bucket]) -> None:
        query = self.engine.fetch_query(
            self.shape.table,
            self.shape.key,
            self.shape.columns,
            self.where,
            [leaf.range for leaf in leaves],
        )
        rows = self.sides.run({"restored": query, "production": query})
        grouped: dict[str, dict[int, list[Row]]] = {}
        for side, side_rows in rows.items():
            grouped[side] = {}
            for row in side_rows:
                grouped[side].setdefault(int(row[0]), []).append(tuple(row[2:]))
            self.stats.fetched += len(side_rows)
        # keys seen on one side only: with --where, the other side may still have the row
        # (not matching --where there); it is fetched by key before deciding
        wanted: dict[str, list[_Pending]] = {"restored": [], "production": []}
        settled: list[_Pending] = []
        for i, leaf in enumerate(leaves):
            restored = grouped["restored"].get(i, [])
            production = grouped["production"].get(i, [])
            by_key = self._index(production)
            mine = self._index(restored)
            for n, row in enumerate(restored):
                key = self._key(row)
                item = _Pending(leaf.path, n, key, row, by_key.get(key))
                if item.production is None and self.where is not None:
                    wanted["production"].append(item)
                settled.append(item)
            for m, row in enumerate(production):
                key = self._key(row)
                if key in mine:
                    continue
                item = _Pending(leaf.path, m, key, None, row)
                if self.where is not None:
                    wanted["restored"].append(item)
                settled.append(item)
        if wanted["restored"] or wanted["production"]:
            self._by_keys(wanted)
        for item in settled:
            self._settle(item.path, item.n, item.restored, item.production)

    # -- dense ranges: (key, hash) listed, differing keys fetched --

    def list_dense(self, buckets: list[Bucket]) -> None:
        """Chunk by chunk, in a pipeline: each side is given its next statement before
        Python works on the last one's rows. Each side runs, in order: listing n, fetch
        n-1, listing n+1, fetch n...; a listing is queued when the one before it is
        collected, a fetch when its listing is compared, and chunk n-1 is classified while
        the servers list n+1 and fetch n. The restored side, which alone fetches the lost
        rows, does not wait on Python (it did: 1.9 s of 7.4 for 800,000 lost rows); memory
        holds about three chunks."""
        chunks = list(self._grouped(buckets, self.options.dense_chunk_rows))
        outstanding: list[_Submitted] = []  # queued and not collected: abandoned on error
        try:
            listing = self._queue(outstanding, self._listing_jobs(chunks[0])) if chunks else {}
            behind: tuple[list[_Range], list[_Submitted]] | None = None
            for n, chunk in enumerate(chunks):
                listed = self.sides.collect(listing)
                outstanding.remove(listing)
                if n + 1 < len(chunks):
                    listing = self._queue(outstanding, self._listing_jobs(chunks[n + 1]))
                ranges = self._differing(chunk, listed)
                del listed
                fetches = self._submit_fetches(self._wanted(ranges))
                outstanding += fetches
                if behind is not None:
                    self._settle_chunk(outstanding, *behind)
                behind = (ranges, fetches)
            if behind is not None:
                self._settle_chunk(outstanding, *behind)
        except BaseException:
            self.sides.abandon(*outstanding)
            raise

    def _queue(self, outstanding: list[_Submitted], jobs: dict[str, Any]) -> _Submitted:
        submitted = self.sides.submit(jobs)
        outstanding.append(submitted)
        return submitted

    def _settle_chunk(
        self, outstanding: list[_Submitted], ranges: list[_Range], fetches: list[_Submitted]
    ) -> None:
        found = self._fetched(fetches)
        for futures in fetches:
            outstanding.remove(futures)
        self._classify_ranges(ranges, found)
        self.found.flush()

    def _grouped(self, buckets: list[Bucket], rows: int) -> Iterable[list[Bucket]]:
        """Consecutive buckets of about ``rows`` rows, one statement's worth."""
        chunk: list[Bucket] = []
        rows_in_chunk = 0
        for bucket in buckets:
            chunk.append(bucket)
            rows_in_chunk += bucket.size
            if rows_in_chunk >= rows or len(chunk) >= self.engine.max_ranges_per_statement:
                yield chunk
                chunk, rows_in_chunk = [], 0
        if chunk:
            yield chunk

    def _listing_jobs(self, buckets: list[Bucket]) -> dict[str, tuple[Any, list[Any]]]:
        self.stats.dense_ranges += len(buckets)
        query = self.engine.hash_list_query(
            self.shape.table,
            self.shape.key,
            self.shape.compared,
            self.where,
            [b.range for b in buckets],
        )
        return {"restored": query, "production": query}

    def _differing(self, buckets: list[Bucket], rows: dict[str, list[Any]]) -> list[_Range]:
        """Per range, the keys of its differing listing lines, each side in key order."""
        # one listing text per range and side: rows "hash<TAB>key..." in key order. Split and
        # compared as sets (in C): rows equal on both sides cancel, and Python code only runs
        # per differing row.
        listings: dict[str, dict[int, list[str]]] = {}
        for side, side_rows in rows.items():
            listings[side] = {}
            for index, count, text in side_rows:
                if isinstance(text, bytes):
                    text = text.decode("utf-8")
                lines = text.split("\n") if text else []
                if len(lines) != int(count):  # a truncated listing must never pass as equal
                    raise DatabaseUnavailable(
                        f"{self.shape.table.display}: the {side} side listed {len(lines)} of "
                        f"{count} row(s) of a key range"
                    )
                listings[side][int(index)] = lines
                self.stats.listed += len(lines)
        del rows
        ranges: list[_Range] = []
        for index, bucket in enumerate(buckets):
            mine = listings["restored"].pop(index, [])
            theirs = listings["production"].pop(index, [])
            sets = (set(mine), set(theirs))
            for lines, unique in ((mine, sets[0]), (theirs, sets[1])):
                if len(unique) != len(lines):
                    raise self._duplicate(self._listed_key(Counter(lines).most_common(1)[0][0]))
            if sets[0] == sets[1]:
                continue
            ours = self._listed_keys([line for line in mine if line not in sets[1]])
            other = self._listed_keys([line for line in theirs if line not in sets[0]])
            seen = set(ours)
            ranges.append((bucket.path, ours, other, [k for k in other if k not in seen]))
        return ranges

    def _wanted(self, ranges: list[_Range]) -> dict[str, list[KeyText]]:
        """The keys whose rows each side must fetch to classify the ranges' keys."""
        wanted: dict[str, list[KeyText]] = {"restored": [], "production": []}
        for _, ours, other, theirs_only in ranges:
            if self.where is None:
                # every row of the range is listed: a key listed on one side only is absent
                # from the other, and a key on both sides is in both lists
                wanted["restored"] += ours
                wanted["production"] += other
            else:
                # with --where a key listed on one side may be on the other, not matching
                wanted["restored"] += ours + theirs_only
                wanted["production"] += ours + theirs_only
        return wanted

    def _classify_ranges(self, ranges: list[_Range], found: dict[str, dict[KeyText, Row]]) -> None:
        in_restored, in_production = found["restored"].get, found["production"].get
        names, add_lost, settle = self.names, self._add_lost, self._settle
        for path, ours, _, theirs_only in ranges:
            for keys in (ours, theirs_only):
                for n, key in enumerate(keys):
                    r, p = in_restored(key), in_production(key)
                    if p is None and r is not None:  # a lost row, inline: the usual case
                        add_lost((path, n, dict(zip(names, r, strict=True))))
                    else:
                        settle(path, n, r, p)

    def _listed_keys(self, lines: list[str]) -> list[KeyText]:
        if len(self.key_at) == 1:  # the common case, without a call per line
            texts = [line[line.index("\t") + 1 :] for line in lines]
            return [(_unescape(t),) if "\\" in t else (t,) for t in texts]
        return [self._listed_key(line) for line in lines]

    @staticmethod
    def _listed_key(line: str) -> KeyText:
        parts = line.split("\t")[1:]
        return tuple(_unescape(p) if "\\" in p else p for p in parts)


_ESCAPES = {"\\": "\\", "t": "\t", "n": "\n"}
_ESCAPED = re.compile(r"\\(.)")


def _unescape(text: str) -> str:
    return _ESCAPED.sub(lambda m: _ESCAPES[m.group(1)], text)


__all__ = ["Bucket", "DiffOptions", "Progress", "RowComparer"]
