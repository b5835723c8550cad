"""The ledger's schema is versioned (SQLite user_version) and migrated on open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from restoredrill.errors import ConfigError
from restoredrill.ledger import SCHEMA, SCHEMA_VERSION, Ledger


def version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_a_new_ledger_has_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger(path) as ledger:
        ledger.record("restore", database="d", source="s", target="latest", verdict="RESTORED")
    assert version(path) == SCHEMA_VERSION


def test_a_ledger_from_before_versioning_keeps_its_history(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # what restoredrill 0.1 wrote: the table, version 0
        conn.execute(SCHEMA)
        conn.execute(
            "INSERT INTO drills (kind, started_at, database, source, target, verdict, phases,"
            " details) VALUES ('drill', '2026-11-01T00:00:00+00:00', 'shop', 'file:/b',"
            " 'latest', 'PASS', '[]', '{}')"
        )
    with Ledger(path) as ledger:
        assert [e.database for e in ledger.entries()] == ["shop"]
    assert version(path) == SCHEMA_VERSION


def test_a_ledger_from_a_newer_restoredrill_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ConfigError, match="newer than this restoredrill knows"):
        Ledger(path)


def test_entries_of_one_or_several_databases(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.db") as ledger:
        for name in ("shop", "billing", "crm"):
            ledger.record("restore", database=name, source="s", target="latest", verdict="PASS")
        assert [e.database for e in ledger.entries()] == ["crm", "billing", "shop"]
        assert [e.database for e in ledger.entries(database="shop")] == ["shop"]
        both = ledger.entries(database=["shop", "crm"])
        assert [e.database for e in both] == ["crm", "shop"]
        assert ledger.entries(database=[]) == ledger.entries()
