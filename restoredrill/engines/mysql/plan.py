"""The MariaDB / MySQL dry run: choose a snapshot, read the binlog chain from its coordinates
(event headers only), resolve the target to a transaction boundary, and run the preflight
checks — missing binlog files, gaps in the sequence or the index, damaged files, an event
whose CRC32 does not match (every event replay reads is checked), a dump cut short, a target
outside the binlogs or before the snapshot all fail here, before anything is provisioned.

Targets: a time (binlog event times have one-second resolution: an inclusive target replays
the events stamped up to its second, an exclusive one those stamped before it), a binlog
position FILE:POS (replay stops before the transaction at or around it), a GTID (inclusive:
up to and including that transaction), ``latest`` (the end of the archive) and ``immediate``
(the snapshot alone, no replay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from restoredrill.engines.mysql.binlog import (
    BinlogArchive,
    BinlogFile,
    Txn,
    read_binlog,
    split_position,
)
from restoredrill.engines.mysql.binlog_crc import checksum_check, first_bad_event, verify_range
from restoredrill.engines.mysql.snapshots import coordinates
from restoredrill.engines.mysql.source import MysqlSource, open_mysql_source
from restoredrill.errors import InvalidTarget
from restoredrill.models import (
    BinlogRange,
    CheckStatus,
    MysqlSnapshot,
    PreflightCheck,
    RecoveryTarget,
    RestorePlan,
)

Key = tuple[int, int]  # (file sequence number, byte offset)


@dataclass
class MysqlPlanOutcome:
    """The printable plan, plus what a restore needs to carry it out."""

    plan: RestorePlan
    snapshot: MysqlSnapshot | None = None
    files: list[BinlogFile] = field(default_factory=list)  # to stage and replay, in order
    start_position: int = 4
    stop_position: int | None = None  # in files[-1]; None = to its end
    stop_datetime: datetime | None = None
    stop_file: str | None = None  # where the restore ends (FILE:POS recorded in the sandbox)
    stop_pos: int | None = None
    last_txn: Txn | None = None  # the last transaction the restore holds
    replayed: int = 0  # transactions replayed
    source_server_id: int | None = None


@dataclass
class _Checks:
    items: list[PreflightCheck] = field(default_factory=list)

    def ok(self, name: str, detail: str) -> None:
        self.items.append(PreflightCheck(name=name, status=CheckStatus.OK, detail=detail))

    def fail(self, name: str, detail: str) -> None:
        self.items.append(PreflightCheck(name=name, status=CheckStatus.FAILED, detail=detail))

    def warn(self, name: str, detail: str) -> None:
        self.items.append(PreflightCheck(name=name, status=CheckStatus.WARNING, detail=detail))


def _seq(name: str) -> int:
    return int(name.rsplit(".", 1)[1])


def _base(name: str) -> str:
    return name.rsplit(".", 1)[0]


def _utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def stop_epoch(target: RecoveryTarget) -> int:
    """The first binlog second NOT replayed for a time target (mariadb-binlog --stop-datetime)."""
    assert target.time is not None
    moment = target.time.timestamp()
    return math.floor(moment) + 1 if target.inclusive else math.ceil(moment)


@dataclass
class _Chain:
    files: list[BinlogFile]
    blocker: str | None  # why the chain ends before the archive head (gap, damage)

    def txns(self) -> list[tuple[BinlogFile, Txn]]:
        return [(f, t) for f in self.files for t in f.txns]

    def file(self, seq: int) -> BinlogFile | None:
        return next((f for f in self.files if f.seq == seq), None)


def _read_chain(archive: BinlogArchive, first_seq: int) -> _Chain:
    """Files first_seq … head, stopping at the first gap or damaged file."""
    files: list[BinlogFile] = []
    head = archive.head_seq
    seq = first_seq
    while head is not None and seq <= head:
        path = archive.local(seq)
        if path is None:
            return _Chain(files, f"binlog file {archive.name(seq)} is missing from the archive")
        info = read_binlog(path)
        files.append(info)
        if info.damage is not None:
            return _Chain(files, first_bad_event(info) or info.damage)
        if seq != head and not info.closed:
            return _Chain(
                files,
                first_bad_event(info)
                or f"binlog {info.name} has no closing rotate event (a truncated copy?)",
            )
        seq += 1
    return _Chain(files, None)


def _last_before(chain: _Chain, key: Key) -> Txn | None:
    found = None
    for f, t in chain.txns():
        if (f.seq, t.end) <= key:
            found = t
    return found


def plan_mysql(
    snapshot_path: Path | str,
    binlog_dir: Path | str,
    target: RecoveryTarget,
    source: MysqlSource | None = None,
) -> MysqlPlanOutcome:
    """The plan for restoring ``target`` from a snapshot and a binlog archive (local paths or
    s3:// URLs). A restore passes its open ``source``: the binlogs the plan fetched stay in
    its cache for replay; without one, a source is opened for the plan and closed after."""
    if target.kind in ("lsn", "xid", "name"):
        raise InvalidTarget(
            f"a {target.kind} target is PostgreSQL's; MariaDB/MySQL restore to --target-time, "
            "--target-position FILE:POS, --target-gtid, --target latest or --target immediate"
        )
    if source is None:
        opened = open_mysql_source(snapshot_path, binlog_dir)
        try:
            return plan_mysql(snapshot_path, binlog_dir, target, opened)
        finally:
            opened.close()
    snapshots = source.snapshots()
    archive = source.binlogs()
    binlog_dir = source.binlog_label()
    checks = _Checks()
    described = source.describe()

    head_time: datetime | None = None
    head_position: str | None = None

    def outcome(
        snapshot: MysqlSnapshot | None = None,
        expected: datetime | None = None,
        binlog_range: BinlogRange | None = None,
        logs_checked: bool = False,
    ) -> MysqlPlanOutcome:
        plan = RestorePlan(
            engine="mariadb",
            source=described,
            target=target,
            base_backup=None,
            wal_range=None,
            target_timeline=None,
            archive_head_lsn=None,
            archive_head_time=head_time,
            expected_last_commit_time=expected,
            checks=checks.items,
            snapshot=snapshot,
            binlog_range=binlog_range,
            archive_head_position=head_position,
            logs_checked=logs_checked,
        )
        return MysqlPlanOutcome(plan, snapshot=snapshot)

    if not snapshots:
        checks.fail("snapshot", f"no snapshots (dumps or mariabackup directories) in {described}")
        return outcome()
    usable = [(s, c) for s in snapshots if (c := coordinates(s)) is not None]
    if not usable:
        checks.fail(
            "snapshot",
            f"{snapshots[0].path} records no binlog coordinates (make dumps with "
            "--master-data=2 / --source-data=2, and keep mariabackup's xtrabackup_binlog_info)",
        )
        return outcome()
    usable.sort(key=lambda sc: (_seq(sc[1][0]), sc[1][1]))
    oldest_name, oldest_pos = usable[0][1]
    if not archive.files:
        checks.fail("binlog chain", f"no binlog files in {binlog_dir}")
        return outcome(snapshot=usable[0][0])
    if archive.base != _base(oldest_name):
        checks.fail(
            "binlog chain",
            f"the archive holds {archive.base}.* but the snapshot's coordinates name "
            f"{oldest_name}: not the same server's binlogs",
        )
        return outcome(snapshot=usable[0][0])
    oldest_key: Key = (_seq(oldest_name), oldest_pos)
    if oldest_key[0] not in archive.files:
        earliest = archive.name(min(archive.files))
        checks.fail(
            "binlog chain",
            f"the archive lacks {oldest_name}, where the snapshot's coordinates point "
            f"(earliest archived: {earliest})",
        )
        return outcome(snapshot=usable[0][0])
    chain = _read_chain(archive, oldest_key[0])
    txns = chain.txns()
    head_file = chain.files[-1]
    head_txn = txns[-1][1] if txns else None
    head_time = head_txn.time if head_txn else None
    head_position = f"{head_file.name}:{head_file.end}"
    reach = head_txn.time.isoformat() if head_txn else "unknown"

    # --- where replay stops -------------------------------------------------------------
    stop: Key
    stop_dt: datetime | None = None
    after = [(f, t) for f, t in txns if (f.seq, t.start) >= oldest_key]
    if target.kind == "latest":
        if chain.blocker is not None:
            checks.fail("binlog chain", f"{chain.blocker}; latest reachable time {reach}")
            return outcome(snapshot=usable[-1][0])
        stop = (head_file.seq, head_file.end)
    elif target.kind == "immediate":
        stop = (_seq(usable[-1][1][0]), usable[-1][1][1])
    elif target.kind == "time":
        x = stop_epoch(target)
        stop_dt = datetime.fromtimestamp(x, UTC)
        first = next(((f, t) for f, t in after if t.last_time >= x), None)
        if first is None:
            if chain.blocker is not None:
                checks.fail("binlog chain", f"{chain.blocker}; latest reachable time {reach}")
            else:
                checks.fail(
                    "target before archive head",
                    f"target {target.describe()} is after the archive head: the last "
                    f"transaction in the binlogs is at {reach}",
                )
            return outcome(snapshot=usable[-1][0])
        stop = (first[0].seq, first[1].start)
    elif target.kind == "position":
        assert target.position is not None
        name, pos = split_position(target.position)
        if _base(name) != archive.base:
            checks.fail("target in binlogs", f"{name} is not one of {archive.base}.* files")
            return outcome(snapshot=usable[0][0])
        found = chain.file(_seq(name))
        if found is None or pos > found.end or pos < 4:
            where = (
                f"{chain.blocker} before it"
                if chain.blocker and _seq(name) > head_file.seq
                else f"the archive ends at {head_position}"
            )
            if _seq(name) < oldest_key[0]:
                where = f"it is before the oldest snapshot ({oldest_name}:{oldest_pos})"
            checks.fail(
                "target in binlogs", f"position {name}:{pos} is outside the binlogs: {where}"
            )
            return outcome(snapshot=usable[0][0])
        boundary = next((t.start for t in found.txns if t.start >= pos), found.end)
        inside = found.txn_at(pos)
        if inside is not None and inside.start != pos:
            boundary = inside.start
            checks.warn(
                "target position",
                f"{name}:{pos} is inside transaction {inside.gtid or '?'} "
                f"({inside.start}-{inside.end}); replay stops before it",
            )
        stop = (found.seq, boundary)
    else:  # gtid
        wanted = (target.gtid or "").strip()
        hit = next(((f, t) for f, t in txns if t.gtid == wanted), None)
        if hit is None:
            blocker = f"; {chain.blocker}" if chain.blocker else ""
            gtids = [t.gtid for _, t in txns if t.gtid]
            seen = f" (GTIDs {gtids[0]} … {gtids[-1]})" if gtids else ""
            checks.fail("target in binlogs", f"GTID {wanted} is not in the binlogs{seen}{blocker}")
            return outcome(snapshot=usable[0][0])
        stop = (hit[0].seq, hit[1].end if target.inclusive else hit[1].start)

    if stop < oldest_key:
        checks.fail(
            "target after snapshot",
            f"target {target.describe()} is before the oldest snapshot "
            f"({usable[0][0].path} at {oldest_name}:{oldest_pos})",
        )
        return outcome(snapshot=usable[0][0])
    snapshot, (start_name, start_pos) = max(
        (sc for sc in usable if (_seq(sc[1][0]), sc[1][1]) <= stop),
        key=lambda sc: (_seq(sc[1][0]), sc[1][1]),
    )
    start_key: Key = (_seq(start_name), start_pos)
    before = _last_before(chain, start_key)
    snapshot = snapshot.model_copy(update={"time": before.time if before else None})
    if stop_dt is not None and before is not None and before.last_time >= stop_epoch(target):
        checks.fail(
            "target after snapshot",
            f"the snapshot {snapshot.path} already holds a transaction of {before.time.isoformat()}"
            f", after the target {target.describe()}",
        )
        return outcome(snapshot=snapshot)
    if snapshot.kind == "dump":
        source.check_dump(snapshot)  # a dump cut short is a corrupt backup (BackupCorrupt)
    checks.ok(
        "snapshot",
        f"{snapshot.path} ({snapshot.kind}"
        + (f", {snapshot.compression}" if snapshot.compression != "none" else "")
        + f", at {start_name}:{start_pos}"
        + (f", GTID {snapshot.gtid}" if snapshot.gtid else "")
        + ")",
    )

    files = [f for f in chain.files if start_key[0] <= f.seq <= stop[0]]
    replayed = [(f, t) for f, t in txns if (f.seq, t.start) >= start_key and (f.seq, t.end) <= stop]
    last_file = files[-1]
    stop_position: int | None = stop[1]
    if target.kind == "latest" or (stop[1] >= last_file.end and stop[0] == head_file.seq):
        stop_position = None
    total = sum(
        ((stop[1] if f.seq == stop[0] else f.end) - (start_pos if f.seq == start_key[0] else 4))
        for f in files
    )
    checks.ok(
        "binlog chain",
        f"{len(files)} file(s) {files[0].name} … {last_file.name}, continuous; "
        f"{len(replayed)} transaction(s) to replay",
    )
    crc = verify_range(files, start_pos, min(stop[1], last_file.end))
    checks.items.append(checksum_check(crc, len(files)))
    if crc.bad is not None:
        return outcome(snapshot=snapshot)
    if target.kind == "time":
        assert stop_dt is not None
        checks.ok("target before archive head", f"archive head {reach}")
        checks.warn(
            "time resolution",
            "binlog event times have one-second resolution: replay stops at the first event "
            f"stamped {stop_dt.isoformat()} or later",
        )
    if head_file.damage and head_file.seq == stop[0]:
        checks.warn("binlog chain", f"{head_file.damage} (the events before it are replayed)")
    elif chain.blocker is not None:
        checks.warn("binlog chain", f"{chain.blocker} (after the target: not needed here)")
    if archive.index is not None:
        archived = {p.name for p in archive.files.values()}
        pending = [n for n in archive.index if n not in archived and _seq(n) > head_file.seq]
        if pending:
            checks.warn(
                "binlog index",
                f"{len(pending)} file(s) in the index not archived yet ({pending[0]} …)",
            )
    last = replayed[-1][1] if replayed else before
    binlog_range = BinlogRange(
        first=files[0].name,
        last=last_file.name,
        files=len(files),
        bytes=max(0, total),
        start_position=start_pos,
        stop_position=stop_position,
        stop_datetime=stop_dt,
        transactions=len(replayed),
        last_gtid=last.gtid if last else None,
    )
    result = outcome(snapshot, last.time if last else None, binlog_range, crc.complete)
    result.files = files
    result.start_position = start_pos
    result.stop_position = stop_position
    result.stop_datetime = stop_dt
    result.stop_file = last_file.name
    result.stop_pos = min(stop[1], last_file.end)
    result.last_txn = last
    result.replayed = len(replayed)
    result.source_server_id = files[0].server_id
    return result
