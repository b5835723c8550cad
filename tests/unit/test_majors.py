"""Picking the server binaries of a backup's major among several installations."""

from __future__ import annotations

from pathlib import Path

import pytest

from restoredrill.engines.postgres.majors import match_server
from restoredrill.engines.postgres.tools import PgTools, installed_servers

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
