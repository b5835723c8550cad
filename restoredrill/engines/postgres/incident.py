"""`incident find` on PostgreSQL: the transactions that changed the most rows, from the WAL
archive alone.

An incident is usually one transaction (the DELETE without its WHERE). Counting heap
records per committed xid finds it without a restore; `recover --incident-xid` then restores
to just before and just after exactly that transaction. From WAL alone a table is only a
relfilenode; with a read-only DSN of production they are named (pg_filenode_relation)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from restoredrill.drill.incident_models import (
    FindRequest,
    Incident,
    IncidentReport,
    Recent,
    TableChanges,
    Top,
    in_window,
)
from restoredrill.engines.postgres.basebackups import list_base_backups
from restoredrill.engines.postgres.incident_commands import recover_command
from restoredrill.engines.postgres.incident_names import REL_ID, RelName, RelNamer, wanted
from restoredrill.engines.postgres.incident_storage import storage_incident
from restoredrill.engines.postgres.majors import wal_tools
from restoredrill.engines.postgres.tools import find_pg_tools
from restoredrill.engines.postgres.wal_archive import WalArchive, scan_archive
from restoredrill.engines.postgres.wal_stats import Counts, RelFile, TxChanges, committed_changes
from restoredrill.errors import ConfigError
from restoredrill.lsn import format_lsn, segment_of
from restoredrill.models import WalSegment

# Commit records are written in (almost) commit-time order: a commit stamped before --until
# cannot appear much after one stamped later, so reading stops this far past the window.
UNTIL_SLACK = timedelta(seconds=60)


def _check(request: FindRequest) -> None:
    if request.dsn is None:
        named = [t for t in request.tables if not REL_ID.match(t.strip())]
        if named:
            raise ConfigError(
                f"--table {named[0]}: the WAL archive knows tables only by relfilenode; give "
                "--dsn (production, read-only) to match names, or --table DBOID/RELFILENODE"
            )


def _segments(
    archive: WalArchive, base_backups: Path | None
) -> tuple[list[list[WalSegment]], list[str]]:
    """Contiguous runs of segments along the newest timeline, from the oldest base backup's
    start (or the archive's first segment), and the names of the segments missing between."""
    if base_backups is not None:
        backups = list_base_backups(base_backups, archive.backup_histories)
        if not backups:
            raise ConfigError(f"--base-backups {base_backups}: no base backups found")
        oldest = backups[0]
        reachable = archive.reachable_timelines(oldest.timeline, oldest.start_lsn)
        steps = archive.path_to(max(reachable, default=oldest.timeline))
        first: int | None = segment_of(oldest.start_lsn, archive.segment_size)
    else:
        steps = archive.path_to(max(archive.timelines()))
        on_path = [
            segno
            for step in steps
            for segno in archive.segments.get(step.timeline, {})
            if archive.timeline_for_segment(steps, segno) == step.timeline
        ]
        first = min(on_path, default=None)
    head = archive.head_segno(steps)
    if first is None or head is None or head < first:
        raise ConfigError(f"--wal-archive {archive.root}: no WAL segments to read")
    present, missing = archive.chain(steps, first, head)
    runs: list[list[WalSegment]] = []
    for segment in present:
        if runs and runs[-1][-1].segno + 1 == segment.segno:
            runs[-1].append(segment)
        else:
            runs.append([segment])
    return runs, missing


def _incident(tx: TxChanges, namer: RelNamer, tables: Sequence[str]) -> Incident | None:
    per_table: dict[tuple[str, bool], tuple[RelFile, RelName, Counts]] = {}
    for rel, counts in sorted(tx.rels.items()):
        name = namer.name(rel)
        if not wanted(name, rel, tables):
            continue
        key = (name.label, name.toast)
        if key in per_table:
            per_table[key][2].add(counts)
        else:
            per_table[key] = (rel, name, Counts(counts.inserted, counts.updated, counts.deleted))
    if not per_table:
        return None
    changes = [
        TableChanges(
            table=name.label,
            database_oid=rel.db,
            relfilenode=rel.node,
            named=name.table is not None,
            toast=name.toast,
            inserted=c.inserted,
            updated=c.updated,
            deleted=c.deleted,
        )
        for rel, name, c in per_table.values()
    ]
    changes.sort(key=lambda t: (t.toast, -(t.inserted + t.updated + t.deleted), t.table))
    rows = sum(t.inserted + t.updated + t.deleted for t in changes if not t.toast)
    return Incident(
        xid=tx.xid,
        commit_time=tx.commit_time,
        commit_lsn=format_lsn(tx.commit_lsn),
        rows=rows,
        tables=changes,
    )


def _recover(request: FindRequest, incident: Incident) -> str:
    assert incident.xid is not None
    named = [t.table for t in incident.tables if t.named and not t.toast]
    return recover_command(request, incident.xid, named)


def find_wal_incidents(request: FindRequest) -> IncidentReport:
    """The ``request.top`` committed transactions that changed the most rows, biggest first."""
    _check(request)
    assert request.wal_archive is not None
    archive = scan_archive(request.wal_archive)
    runs, missing = _segments(archive, request.base_backups)
    tools = find_pg_tools(request.pg_bin)
    if runs:
        tools = wal_tools(runs[0][0], tools)
    stop_after = request.until + UNTIL_SLACK if request.until is not None else None
    top, dropped = Top(request.top), Recent(request.top)
    aborted = unfinished = scanned = 0
    with RelNamer(request.dsn) as namer:
        for run in runs:
            changes, totals = committed_changes(tools, run, stop_after)
            for tx in changes:
                if not in_window(tx.commit_time, request):
                    continue
                incident = _incident(tx, namer, request.tables)
                if incident is not None:
                    top.offer(incident)
                storage = storage_incident(tx, namer, request)
                if storage is not None:
                    dropped.offer(storage)
            aborted, unfinished = aborted + totals.aborted, unfinished + totals.unfinished
            scanned += totals.segments
        notes = [*namer.notes, *dropped.notes()]
    ranked = top.ranked()
    if request.dsn is None:
        notes.append("tables are shown as rel DBOID/RELFILENODE; --dsn (read-only) names them")
    if unfinished:
        notes.append(
            f"{unfinished} transaction(s) changed rows but have no commit or abort record in "
            "the archive (still running, or not archived yet): not listed"
        )
    if missing:
        notes.append(
            f"WAL segment {missing[0]} is missing"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + ": transactions written there are not counted"
        )
    return IncidentReport(
        wal_archive=str(request.wal_archive),
        since=request.since,
        until=request.until,
        tables=list(request.tables),
        names_resolved=request.dsn is not None,
        segments_scanned=scanned,
        first_segment=runs[0][0].name if runs else None,
        last_segment=runs[-1][-1].name if runs else None,
        missing_segments=missing,
        transactions=top.seen,
        aborted=aborted,
        unfinished=unfinished,
        incidents=ranked,
        recover_command=_recover(request, ranked[0]) if ranked else None,
        notes=notes,
        storage=dropped.listed(),
    )
