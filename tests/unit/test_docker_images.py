"""Default images of docker sandboxes: the server version the backup or dump records."""

from __future__ import annotations

from pathlib import Path

import pytest

from restoredrill.engines.mysql import sandbox_docker as mysql_docker
from restoredrill.engines.postgres import sandbox_docker as postgres_docker
from restoredrill.engines.postgres.sandbox_docker import postgres_image_for
from restoredrill.errors import SandboxError


def test_base_backup_version(tmp_path: Path) -> None:
    (tmp_path / "PG_VERSION").write_text("16\n")
    assert postgres_image_for(tmp_path) == "postgres:16"


def test_plain_pg_dump(tmp_path: Path) -> None:
    dump = tmp_path / "d.sql"
    dump.write_text("--\n-- Dumped from database version 15.13 (Debian 15.13-0+deb12u1)\n")
    assert postgres_docker.dump_image(dump) == "postgres:15"


def test_custom_pg_dump(tmp_path: Path) -> None:
    dump = tmp_path / "d.dump"
    dump.write_bytes(b"PGDMP\x01\x0f\x00\x04\x08\x01\x01\x00\x00\x00\x08postgres\x00\x0516.4 (x)")
    assert postgres_docker.dump_image(dump) == "postgres:16"


def test_mariadb_dump_header(tmp_path: Path) -> None:
    dump = tmp_path / "d.sql"
    dump.write_text("-- Server version\t10.11.6-MariaDB-0+deb12u1\n")
    assert mysql_docker.dump_image(dump, "mariadb") == "mariadb:10.11"


def test_no_version_asks_for_image(tmp_path: Path) -> None:
    dump = tmp_path / "d.sql"
    dump.write_text("SELECT 1;\n")
    with pytest.raises(SandboxError, match="pass --image"):
        postgres_docker.dump_image(dump)
