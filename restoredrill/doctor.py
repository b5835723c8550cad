"""`restoredrill doctor`: what this machine has for drills, one line per finding.

Each finding says what was looked for, what was found, and — when something is missing —
what it costs (which commands cannot run) and how to get it. Only a missing PostgreSQL
server is a problem (the demo and every PostgreSQL drill need it); the rest are notes."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import humanize

from restoredrill.errors import RestoreDrillError
from restoredrill.models import Frozen

Status = Literal["ok", "note", "problem"]


class Finding(Frozen):
    subject: str
    status: Status
    detail: str


class DoctorReport(Frozen):
    format: Literal["restoredrill-doctor/1"] = "restoredrill-doctor/1"
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return all(f.status != "problem" for f in self.findings)


def _postgres() -> list[Finding]:
    from restoredrill.engines.postgres.tools import find_pg_tools

    try:
        tools = find_pg_tools()
    except RestoreDrillError as exc:
        return [Finding(subject="PostgreSQL server", status="problem", detail=str(exc))]
    found = [
        Finding(
            subject="PostgreSQL server",
            status="ok",
            detail=f"{tools.version} in {tools.bindir}",
        )
    ]
    for tool in ("pg_waldump", "pg_verifybackup", "pg_controldata"):
        present = (tools.bindir / tool).is_file()
        found.append(
            Finding(
                subject=tool,
                status="ok" if present else "problem",
                detail=str(tools.bindir / tool) if present else f"not in {tools.bindir}",
            )
        )
    return found


def _mariadb() -> list[Finding]:
    from restoredrill.engines.mysql.tools import find_mysql_tools

    try:
        tools = find_mysql_tools()
    except RestoreDrillError as exc:
        return [Finding(subject="MariaDB/MySQL server", status="note", detail=f"{exc}")]
    backup = tools.backup or "not installed: physical (mariabackup) snapshots cannot restore"
    return [
        Finding(subject="MariaDB/MySQL server", status="ok", detail=tools.version),
        Finding(subject="mariadb-backup", status="ok" if tools.backup else "note", detail=backup),
    ]


def _on_path(name: str, cost: str) -> Finding:
    where = shutil.which(name)
    return Finding(
        subject=name,
        status="ok" if where else "note",
        detail=where or f"not on PATH: {cost}",
    )


def _users() -> list[Finding]:
    if os.geteuid() != 0:
        return [Finding(subject="OS users", status="ok", detail="not root: servers run as you")]
    found = []
    for user, engine in (("postgres", "PostgreSQL"), ("mysql", "MariaDB")):
        try:
            pwd.getpwnam(user)
            found.append(Finding(subject=f"OS user {user}", status="ok", detail="present"))
        except KeyError:
            found.append(
                Finding(
                    subject=f"OS user {user}",
                    status="note",
                    detail=f"missing: as root, {engine} sandboxes need it (or --os-user)",
                )
            )
    return found


def _docker() -> Finding:
    if shutil.which("docker") is None:
        return Finding(subject="Docker", status="note", detail="not installed: --sandbox docker")
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Finding(subject="Docker", status="note", detail=f"docker info failed: {exc}")
    if done.returncode != 0:
        return Finding(
            subject="Docker", status="note", detail="no engine answers: --sandbox docker unusable"
        )
    return Finding(subject="Docker", status="ok", detail=f"engine {done.stdout.strip()}")


def _sandbox_dir() -> Finding:
    from restoredrill.sandboxes.labels import sandbox_root

    try:
        root = sandbox_root()
    except OSError as exc:
        return Finding(subject="sandbox directory", status="problem", detail=str(exc))
    free = humanize.naturalsize(shutil.disk_usage(root).free, binary=True)
    writable = os.access(root, os.W_OK)
    return Finding(
        subject="sandbox directory",
        status="ok" if writable else "problem",
        detail=f"{root} ({free} free; RESTOREDRILL_SANDBOX_DIR moves it)"
        if writable
        else f"{root} is not writable (set RESTOREDRILL_SANDBOX_DIR)",
    )


def _ledger(path: Path | None) -> Finding:
    from restoredrill.ledger import SCHEMA_VERSION, Ledger

    try:
        with Ledger(path) as ledger:
            count = len(ledger.entries(limit=1_000_000))
            where = ledger.path
    except RestoreDrillError as exc:
        return Finding(subject="ledger", status="problem", detail=str(exc))
    return Finding(
        subject="ledger",
        status="ok",
        detail=f"{where} (schema {SCHEMA_VERSION}, {count} entries; RESTOREDRILL_LEDGER moves it)",
    )


def diagnose(ledger_path: Path | None = None) -> DoctorReport:
    """Look at this machine (read-only, except that the ledger and the sandbox directory are
    created if missing, as any command would)."""
    steps: list[Callable[[], list[Finding]]] = [
        _postgres,
        _mariadb,
        lambda: [
            _on_path("pgbackrest", "pgBackRest repositories cannot restore"),
            _on_path("lz4", "lz4-compressed backups cannot be read"),
            _on_path("zstd", "zstd-compressed backups cannot be read"),
        ],
        _users,
        lambda: [_docker(), _sandbox_dir(), _ledger(ledger_path)],
    ]
    return DoctorReport(findings=[finding for step in steps for finding in step()])
