"""Picking the server binaries of a backup's major among several installations."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from restoredrill.engines.postgres.majors import match_server, wal_tools
from restoredrill.engines.postgres.tools import PgTools, installed_servers
from restoredrill.errors import ConfigError
from restoredrill.models import WalSegment

BINARIES = ("initdb", "pg_ctl", "pg_controldata")


def _install(root: Path, version: str) -> Path:
    """A stand-in installation: binaries that answer --version like PostgreSQL's."""
    bindir = root / "lib" / "postgresql" / version.split(".")[0] / "bin"
    bindir.mkdir(parents=True)
    for name in (*BINARIES, "postgres"):
        script = bindir / name
        script.write_text(f"#!/bin/sh\necho 'postgres (PostgreSQL) {version}'\n")
        script.chmod(0o755)
    return bindir


@pytest.fixture
def two_majors(tmp_path: Path) -> str:
    _install(tmp_path, "14.11")
    _install(tmp_path, "16.2")
    return f"{tmp_path}/lib/postgresql/*/bin"


def test_the_backups_major_is_picked_among_the_installed(two_majors: str) -> None:
    found = installed_servers(two_majors)
    assert {"14", "16"} <= {s.major_name for s in found}
    first = PgTools(Path("/somewhere/15/bin"), "15.6")
    picked = match_server("14", first, lambda: found)
    assert isinstance(picked, PgTools) and picked.major_name == "14"
    assert picked.bindir == Path(two_majors.replace("*", "14"))
    assert match_server("15", first, lambda: found) is first
    assert match_server(None, first, lambda: found) is first


def test_an_explicit_pg_bin_is_never_swapped(two_majors: str) -> None:
    given = PgTools(Path("/opt/pg15/bin"), "15.6", explicit=True)
    line = match_server("14", given, lambda: installed_servers(two_majors))
    assert isinstance(line, str)
    assert "needs PostgreSQL 14" in line and "--pg-bin /opt/pg15/bin is PostgreSQL 15" in line
    assert f"pass --pg-bin {two_majors.replace('*', '14')}" in line


def test_no_installed_major_says_what_to_install(two_majors: str) -> None:
    line = match_server(
        "17", PgTools(Path("/x/15/bin"), "15.6"), lambda: installed_servers(two_majors)
    )
    assert isinstance(line, str)
    assert "needs PostgreSQL 17" in line and "14 (" in line and "16 (" in line
    assert "install it and pass --pg-bin /usr/lib/postgresql/17/bin" in line
    assert "--sandbox docker --image postgres:17" in line


def test_old_majors_are_spelled_as_pg_version_spells_them() -> None:
    assert PgTools(Path("/x"), "9.6.24").major_name == "9.6"
    assert PgTools(Path("/x"), "15.6").major_name == "15"


def _wal(tmp_path: Path, magic: int) -> WalSegment:
    path = tmp_path / "000000010000000000000003"
    path.write_bytes(struct.pack("<HHIQI4xQII", magic, 2, 1, 3 << 24, 0, 1, 1 << 24, 8192))
    return WalSegment(
        name=path.name, timeline=1, segno=3, path=str(path), compression="none", size_bytes=48
    )


def test_wal_alone_names_its_major_by_page_magic(two_majors: str, tmp_path: Path) -> None:
    """incident find has no PG_VERSION: the WAL's page magic picks the pg_waldump."""
    found = installed_servers(two_majors)
    first = PgTools(Path("/somewhere/16/bin"), "16.2")
    picked = wal_tools(_wal(tmp_path, 0xD10D), first, lambda: found)  # 14's magic
    assert picked.major_name == "14"
    assert wal_tools(_wal(tmp_path, 0xD113), first, lambda: found) is first
    assert wal_tools(_wal(tmp_path, 0xD1FF), first, lambda: found) is first  # not guessed
    with pytest.raises(ConfigError) as caught:
        wal_tools(_wal(tmp_path, 0xD106), first, lambda: found)  # 13: not installed
    message = str(caught.value)
    assert message.startswith(
        "WAL segment 000000010000000000000003 was written by PostgreSQL 13 (its page magic) "
        "and only its pg_waldump reads it; installed: "
    )
    assert f"14 ({two_majors.replace('*', '14')})" in message
    assert message.endswith("; install it and pass --pg-bin /usr/lib/postgresql/13/bin")
