"""Manifests against a real PostgreSQL: one snapshot, restore points, atomic files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from psycopg import sql

from restoredrill.drill.manifest import (
    create_manifest,
    load_manifest,
    manifest_to_file,
    write_manifest,
)
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, free_port
from restoredrill.errors import ConfigError, DatabaseUnavailable
from restoredrill.lsn import format_lsn


def _populate(cluster: LocalPostgres) -> None:
    with cluster.connect() as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 500) g")
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier("My Schema")))
        conn.execute(
            sql.SQL("CREATE TABLE {} (v text)").format(sql.Identifier("My Schema", 'we"ird Table'))
        )
        conn.execute(
            sql.SQL("INSERT INTO {} VALUES (NULL), (''), ('x')").format(
                sql.Identifier("My Schema", 'we"ird Table')
            )
        )


def test_round_trip(pg_cluster: LocalPostgres, tmp_path: Path) -> None:
    _populate(pg_cluster)
    manifest = create_manifest(pg_cluster.dsn())
    assert set(manifest.tables) == {"public.orders", 'My Schema.we"ird Table'}
    assert manifest.tables["public.orders"].rows == 500
    assert manifest.tables['My Schema.we"ird Table'].rows == 3
    assert manifest.engine == "postgres"
    assert manifest.snapshot_lsn is not None
    assert manifest.restore_point is None and manifest.restore_point_lsn is None
    assert manifest.created_at.tzinfo is not None

    path = tmp_path / "m.json"
    write_manifest(manifest, path)
    assert load_manifest(path) == manifest
    assert json.loads(path.read_text())["format"] == "restoredrill-manifest/1"
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temporary files left


def test_restore_point_is_created(pg_cluster: LocalPostgres) -> None:
    _populate(pg_cluster)
    manifest = create_manifest(pg_cluster.dsn(), restore_point="before upgrade")
    assert manifest.restore_point == "before upgrade"
    assert manifest.snapshot_lsn is not None and manifest.restore_point_lsn is not None
    assert manifest.restore_point_lsn > manifest.snapshot_lsn
    with pg_cluster.connect() as conn:
        conn.execute("SELECT pg_switch_wal()")  # flush it so pg_waldump can read it
    done = subprocess.run(
        [
            pg_cluster.tools.path("pg_waldump"),
            "--path",
            str(pg_cluster.datadir / "pg_wal"),
            "--start",
            format_lsn(manifest.snapshot_lsn),
            "--end",
            format_lsn(manifest.restore_point_lsn),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "RESTORE_POINT before upgrade" in done.stdout


def test_restore_point_needs_the_privilege(pg_cluster: LocalPostgres) -> None:
    with pg_cluster.connect() as conn:
        conn.execute("CREATE ROLE reader LOGIN")
    with pytest.raises(ConfigError, match="cannot create restore point"):
        create_manifest(pg_cluster.dsn(user="reader"), restore_point="x")
    with pytest.raises(ConfigError, match="1 to 63 characters"):
        create_manifest(pg_cluster.dsn(), restore_point="x" * 64)


def test_selected_tables_and_unknown_table(pg_cluster: LocalPostgres) -> None:
    _populate(pg_cluster)
    manifest = create_manifest(pg_cluster.dsn(), tables=["orders"])
    assert list(manifest.tables) == ["public.orders"]
    quoted = create_manifest(pg_cluster.dsn(), tables=['"My Schema"."we""ird Table"'])
    assert list(quoted.tables) == ['My Schema.we"ird Table']
    with pytest.raises(ConfigError, match="unknown table 'nope'"):
        create_manifest(pg_cluster.dsn(), tables=["nope"])


def test_refuses_to_overwrite_unless_forced(pg_cluster: LocalPostgres, tmp_path: Path) -> None:
    _populate(pg_cluster)
    out = tmp_path / "m.json"
    out.write_text("keep me")
    with pytest.raises(ConfigError, match="already exists"):
        manifest_to_file(pg_cluster.dsn(), out, restore_point="never")
    assert out.read_text() == "keep me"
    manifest = manifest_to_file(pg_cluster.dsn(), out, force=True)
    assert load_manifest(out) == manifest
    with pytest.raises(ConfigError, match="does not exist"):
        write_manifest(manifest, tmp_path / "missing" / "m.json")


def test_garbage_files_are_config_errors(tmp_path: Path) -> None:
    cases = {
        "binary.json": b"\x00\xff\xfe garbage",
        "text.json": b"not json at all",
        "list.json": b"[1, 2, 3]",
        "other.json": json.dumps({"format": "something-else/1"}).encode(),
        "partial.json": json.dumps({"format": "restoredrill-manifest/1", "tables": {}}).encode(),
        "badrows.json": json.dumps(
            {
                "format": "restoredrill-manifest/1",
                "database": "x",
                "engine": "postgres",
                "created_at": "2024-01-01T00:00:00Z",
                "snapshot_lsn": None,
                "restore_point": None,
                "restore_point_lsn": None,
                "tables": {"public.t": {"rows": "many", "checksum": "0"}},
            }
        ).encode(),
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ConfigError) as info:
            load_manifest(path)
        assert "\n" not in str(info.value), name
        assert str(path) in str(info.value)
    with pytest.raises(ConfigError, match="cannot read manifest"):
        load_manifest(tmp_path / "absent.json")


def test_unreachable_database() -> None:
    dsn = f"host=127.0.0.1 port={free_port()} dbname=x user=x connect_timeout=2"
    with pytest.raises(DatabaseUnavailable, match="cannot connect"):
        create_manifest(dsn)
