"""MySQL-family live rules against a real MariaDB server started by the test (own datadir,
free port on 127.0.0.1 — never the machine's own service), with binary logging on and off."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from restoredrill.checks.registry import REGISTRY, Policy
from restoredrill.engines.mysql import checks as rules
from restoredrill.engines.postgres.sandbox_local import free_port
from tests.pgsetup import cli

pytestmark = pytest.mark.slow

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
if not (Path(MARIADBD).exists() and Path(INSTALL_DB).exists()):
    pytest.skip("MariaDB server binaries are not installed", allow_module_level=True)


@contextlib.contextmanager
def mariadb(root: Path, extra: list[str]) -> Iterator[str]:
    """Start mariadbd on a free loopback port; yields a mysql:// URL."""
    port = free_port()
    user = ["--user=mysql"] if os.geteuid() == 0 else []
    argv = [
        MARIADBD,
        "--no-defaults",
        f"--datadir={root / 'data'}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--socket={root / 'mysqld.sock'}",
        f"--pid-file={root / 'mysqld.pid'}",
        f"--log-error={root / 'error.log'}",
        "--skip-grant-tables",
        "--innodb-buffer-pool-size=16M",
        *user,
        *extra,
    ]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"mysql://root@127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                rules.connect(url).close()
                break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (root / "error.log").read_text(errors="replace")[-2000:]
                    raise AssertionError(f"mariadbd did not start:\n{log}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def datadir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="restoredrill-test-mariadb-", dir="/tmp"))
    try:
        if os.geteuid() == 0:
            entry = pwd.getpwnam("mysql")
            os.chown(root, entry.pw_uid, entry.pw_gid)
        user = ["--user=mysql"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [
                INSTALL_DB,
                "--no-defaults",
                f"--datadir={root / 'data'}",
                "--skip-test-db",
                "--auth-root-authentication-method=normal",
                *user,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_binary_logging_configured_for_pitr(
    datadir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binlog = [
        f"--log-bin={datadir / 'binlog'}",
        "--server-id=1",
        "--binlog-format=ROW",
        "--binlog-row-image=FULL",
        f"--binlog-expire-logs-seconds={14 * 86400}",
    ]
    with mariadb(datadir, binlog) as url:
        code, out, err = cli(
            ["check", "--engine", "mysql", "--dsn", url, "--rpo", "5m", "--max-backup-age", "7d"],
            capsys,
        )
        assert code == 0, out + err
        code, out, _ = cli(
            ["check", "--engine", "mysql", "--dsn", url, "--max-backup-age", "30d", "--json"],
            capsys,
        )
    assert code == 1  # logs expire after 14 days, backups may be 30 days old
    found = {c["rule"]: c for c in json.loads(out)["checks"]}
    assert found["mysql.log_bin"]["status"] == "ok"
    assert found["mysql.binlog_expiry"]["status"] == "failed"
    assert "shorter than the recovery window" in found["mysql.binlog_expiry"]["detail"]


def test_binary_logging_off(datadir: Path) -> None:
    extra = ["--binlog-format=MIXED", "--binlog-row-image=MINIMAL", "--expire-logs-days=1"]
    extra.append("--binlog-checksum=NONE")
    with mariadb(datadir, extra) as url:
        conn = rules.connect(url)  # any DB-API connection will do
        try:
            facts = rules.live_facts(conn, "test")
        finally:
            conn.close()
    policy = Policy(now=datetime.now(UTC), rpo_seconds=300, max_backup_age_seconds=3 * 86400)
    found = {c.rule: c for c in REGISTRY.run("mysql", facts, policy)}
    assert {rule: str(c.status) for rule, c in found.items()} == {
        "mysql.log_bin": "failed",
        "mysql.binlog_format": "failed",
        "mysql.binlog_row_image": "failed",
        "mysql.binlog_checksum": "failed",
        "mysql.binlog_expiry": "failed",
    }
    assert "no point-in-time recovery" in found["mysql.log_bin"].detail
