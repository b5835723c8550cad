"""`incident find`: the transactions that changed the most rows, read from the log archive
alone (no restore). An incident is usually one transaction (the DELETE without its WHERE);
`recover` then restores to just before and just after exactly that transaction.

The archive given says which reader counts the rows (sandboxes/registry.py): the WAL
archive's (engines/postgres/incident.py) or the binlog archive's (engines/mysql/incident.py)."""

from __future__ import annotations

from restoredrill.drill.incident_models import DEFAULT_TOP, FindRequest, Incident, IncidentReport
from restoredrill.errors import ConfigError, InvalidTarget
from restoredrill.sandboxes.registry import incident_finder


def _check(request: FindRequest) -> None:
    for option, value in (("--since", request.since), ("--until", request.until)):
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise InvalidTarget(f"{option} has no time zone")
    if request.since and request.until and request.until <= request.since:
        raise InvalidTarget("--until must be later than --since")
    if request.top < 1:
        raise ConfigError("--top must be at least 1")
    if (request.wal_archive is None) == (request.binlog_archive is None):
        raise ConfigError("give the archive: --wal-archive (PostgreSQL) or --binlog-archive")


def find_incidents(request: FindRequest) -> IncidentReport:
    """The ``request.top`` committed transactions that changed the most rows, biggest first."""
    _check(request)
    archive = "binlog" if request.binlog_archive is not None else "wal"
    return incident_finder(archive)(request)


__all__ = ["DEFAULT_TOP", "FindRequest", "Incident", "IncidentReport", "find_incidents"]
