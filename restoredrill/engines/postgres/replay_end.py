"""Did replay reach where the plan said the archive reaches?

PostgreSQL ends archive recovery quietly at the first record it cannot read (a damaged page
or a bad CRC looks to it like the end of WAL) and then promotes: a `latest` restore of a
damaged archive starts up fine with data missing. So after every restore the LSN replay
really ended at is compared with the plan's, and the server log names what stopped it."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from datetime import datetime

from restoredrill.errors import RecoveryIncomplete
from restoredrill.lsn import (
    format_lsn,
    parse_lsn,
    parse_segment_name,
    segment_name,
    segment_of,
)
from restoredrill.models import RestorePlan

# xlogreader's complaints about WAL it could not read (PostgreSQL 15 wording).
_COMPLAINTS = (
    "invalid record length",
    "incorrect resource manager data checksum",
    "record with invalid length",
    "invalid resource manager ID",
    "record with incorrect prev-link",
    "missing contrecord",
    "there is no contrecord flag",
    "too long",
    "invalid xl_info",
    "out-of-order block_id",
    "invalid block_id",
    "invalid compression",
    "invalid magic number",
    "invalid info bits",
    "unexpected pageaddr",
    "unexpected timeline ID",
    "out-of-sequence timeline ID",
    "invalid contrecord length",
)
_AT_LSN = re.compile(r" at ([0-9A-F]{1,8}/[0-9A-F]{1,8})")
_IN_SEGMENT = re.compile(r"in log segment ([0-9A-F]{24})")
_RESTORED = re.compile(r'restored log file "([0-9A-F]{24})" from archive')
_LAST_XACT = re.compile(r"last completed transaction was at log time ([^\n]+)")


def expected_end(plan: RestorePlan) -> tuple[int, bool] | None:
    """Where replay must reach, and whether reaching it exactly is enough.

    ``expected_end_lsn`` is an end position (replay must reach it); without it, a `latest`
    restore falls back to the archive head, which is the *start* of the archive's last
    record: replay must get past it."""
    if plan.expected_end_lsn is not None:
        return plan.expected_end_lsn, True
    if plan.target.kind == "latest" and plan.archive_head_lsn is not None:
        return plan.archive_head_lsn, False
    return None


def first_unreadable(log: str, timeline: int | None, segment_size: int) -> tuple[str, str] | None:
    """(segment name, server's complaint) of the first WAL replay could not read."""
    for line in log.splitlines():
        _, marker, complaint = line.partition("LOG:")
        if not marker or not any(c in complaint for c in _COMPLAINTS):
            continue
        complaint = complaint.strip()
        named = _IN_SEGMENT.search(complaint)
        if named is not None:
            return named.group(1), complaint
        at = _AT_LSN.search(complaint)
        if at is not None:
            return _segment_for(log, parse_lsn(at.group(1)), timeline, segment_size), complaint
    return None


def _segment_for(log: str, lsn: int, timeline: int | None, segment_size: int) -> str:
    """The archived file holding ``lsn``: the one the server restored for that segment
    number (right timeline included), else named from the plan's timeline."""
    segno = segment_of(lsn, segment_size)
    restored: list[str] = _RESTORED.findall(log)
    for name in reversed(restored):
        if parse_segment_name(name, segment_size)[1] == segno:
            return name
    return segment_name(timeline or 1, segno, segment_size)


def last_transaction(log: str, replayed: datetime | None) -> str:
    """The phrase after "last transaction recovered": its time, or why there is none."""
    if replayed is not None:
        return replayed.isoformat(sep=" ")
    found = _LAST_XACT.findall(log)
    return str(found[-1]).strip() if found else "(none: no transaction replayed past the base)"


def check_replay_end(
    plan: RestorePlan,
    recovered_to: int | None,
    last_xact: datetime | None,
    log: str,
    segment_size: int,
) -> None:
    """Raise RecoveryIncomplete when replay ended before where the plan said it must reach."""
    wanted = expected_end(plan)
    if wanted is None:
        return
    lsn, inclusive = wanted
    if recovered_to is not None and (recovered_to >= lsn if inclusive else recovered_to > lsn):
        return
    timeline = plan.target_timeline or (plan.base_backup.timeline if plan.base_backup else None)
    ended = format_lsn(recovered_to) if recovered_to is not None else "an unknown position"
    where = "the archive head" if plan.target.kind == "latest" else "the target"
    bad = first_unreadable(log, timeline, segment_size)
    if bad is not None:
        cause = f"WAL segment {bad[0]} could not be read ({bad[1]})"
    elif recovered_to is not None:
        name = _segment_for(log, recovered_to, timeline, segment_size)
        cause = f"replay stopped in WAL segment {name}"
    else:
        cause = "the server did not say why"
    raise RecoveryIncomplete(
        f"replay ended at {ended}, before {where} {format_lsn(lsn)}: {cause}; "
        f"last transaction recovered {last_transaction(log, last_xact)}"
    )


@contextlib.contextmanager
def naming_the_damage(
    plan: RestorePlan, log: Callable[[], str], segment_size: int
) -> Iterator[None]:
    """PostgreSQL's own "recovery ended before configured recovery target was reached"
    does not say why: add the segment it could not read and the last transaction it got."""
    try:
        yield
    except RecoveryIncomplete as exc:
        text = log()
        timeline = plan.target_timeline or (plan.base_backup.timeline if plan.base_backup else None)
        bad = first_unreadable(text, timeline, segment_size)
        if bad is None or "could not be read" in str(exc):
            raise
        raise RecoveryIncomplete(
            f"{exc}: WAL segment {bad[0]} could not be read ({bad[1]}); "
            f"last transaction recovered {last_transaction(text, None)}"
        ) from exc
