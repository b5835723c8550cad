"""Drill history: every restore, verify and drill is recorded in a SQLite file.

Default location: the user's data directory; ``--ledger PATH`` or RESTOREDRILL_LEDGER override.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field

from restoredrill.errors import ConfigError
from restoredrill.models import LedgerEntry, PhaseTiming

SCHEMA = """
CREATE TABLE IF NOT EXISTS drills (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    database     TEXT NOT NULL,
    source       TEXT NOT NULL,
    target       TEXT NOT NULL,
    verdict      TEXT NOT NULL,
    rto_seconds  REAL,
    rpo_seconds  REAL,
    phases       TEXT NOT NULL,
    details      TEXT NOT NULL
)
"""


# The ledger's schema version lives in SQLite's user_version. Each step takes the file from
# the version before it to its own; a file from before versioning (0) already has the table,
# which step 1 creates only if missing. Add a step (never edit one) to change the schema.
MIGRATIONS: dict[int, tuple[str, ...]] = {1: (SCHEMA,)}
SCHEMA_VERSION = max(MIGRATIONS)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"the ledger {path} has schema version {version}, newer than this restoredrill "
            f"knows ({SCHEMA_VERSION}): upgrade restoredrill, or give another --ledger"
        )
    for step in range(version + 1, SCHEMA_VERSION + 1):
        with conn:  # one transaction per step: a failed step leaves the previous version
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step:d}")


def default_ledger_path() -> Path:
    configured = os.environ.get("RESTOREDRILL_LEDGER")
    if configured:
        return Path(configured)
    return Path(platformdirs.user_data_dir("restoredrill")) / "ledger.db"


class Ledger:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_ledger_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path)
            _migrate(self._conn, self.path)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the ledger {self.path}: {exc}") from exc

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(
        self,
        kind: Literal["restore", "verify", "drill", "reapply", "recover"],
        database: str,
        source: str,
        target: str,
        verdict: str,
        phases: Sequence[PhaseTiming] = (),
        rto_seconds: float | None = None,
        rpo_seconds: float | None = None,
        details: dict[str, Any] | None = None,
        started_at: datetime | None = None,
    ) -> int:
        cursor = self._conn.execute(
            "INSERT INTO drills (kind, started_at, database, source, target, verdict,"
            " rto_seconds, rpo_seconds, phases, details) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                kind,
                (started_at or datetime.now(UTC)).isoformat(),
                database,
                source,
                target,
                verdict,
                rto_seconds,
                rpo_seconds,
                json.dumps([p.model_dump(mode="json") for p in phases]),
                json.dumps(details or {}, default=str),
            ),
        )
        self._conn.commit()
        return int(cursor.lastrowid or 0)

    def entries(self, limit: int = 50, database: str | None = None) -> list[LedgerEntry]:
        query = "SELECT id, kind, started_at, database, source, target, verdict, rto_seconds,"
        query += " rpo_seconds, phases FROM drills"
        params: list[Any] = []
        if database is not None:
            query += " WHERE database = ?"
            params.append(database)
        query += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        rows = self._conn.execute(query, params).fetchall()
        return [
            LedgerEntry(
                id=row[0],
                kind=row[1],
                started_at=datetime.fromisoformat(row[2]),
                database=row[3],
                source=row[4],
                target=row[5],
                verdict=row[6],
                rto_seconds=row[7],
                rpo_seconds=row[8],
                phases=[PhaseTiming.model_validate(p) for p in json.loads(row[9])],
            )
            for row in rows
        ]

    def records(
        self,
        since: datetime | None = None,
        database: Sequence[str] | None = None,
        kind: str | None = None,
    ) -> list[LedgerRecord]:
        """Entries with their ``details``, oldest first (for reports)."""
        query = "SELECT id, kind, started_at, database, source, target, verdict, rto_seconds,"
        query += " rpo_seconds, phases, details FROM drills WHERE 1 = 1"
        params: list[Any] = []
        if kind is not None:
            query += " AND kind = ?"
            params.append(kind)
        if database:
            query += f" AND database IN ({', '.join('?' for _ in database)})"
            params.extend(database)
        rows = self._conn.execute(query + " ORDER BY id", params).fetchall()
        found = [
            LedgerRecord(
                id=row[0],
                kind=row[1],
                started_at=datetime.fromisoformat(row[2]),
                database=row[3],
                source=row[4],
                target=row[5],
                verdict=row[6],
                rto_seconds=row[7],
                rpo_seconds=row[8],
                phases=[PhaseTiming.model_validate(p) for p in json.loads(row[9])],
                details=json.loads(row[10] or "{}"),
            )
            for row in rows
        ]
        if since is not None:
            found = [r for r in found if _aware(r.started_at) >= since]
        return found


class LedgerRecord(LedgerEntry):
    """A ledger entry with its ``details`` (evidence: backup, target, checks, differences)."""

    details: dict[str, Any] = Field(default_factory=dict)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
