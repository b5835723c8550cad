"""A full sandbox disk during a MariaDB restore is an infrastructure error (exit 3) that
names the directory, what was needed and what was free — not a corrupt backup (exit 1)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mysqlsetup import production
from tests.pgsetup import cli, private_sandbox_root, sandbox_dirs

pytestmark = pytest.mark.slow


def _servers_under(root: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(root).encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.fixture
def snapshot(tmp_path: Path) -> Iterator[tuple[Path, Path, int]]:
    """A mariabackup snapshot and its binlog archive; yields (snapshots, archive, size)."""
    with production() as prod:
        prod.insert(3)
        (tmp_path / "snapshots").mkdir()
        backup = prod.backup(tmp_path / "snapshots" / "b")
        prod.flush()
        prod.insert(2)
        archive = prod.archive(tmp_path / "archive")
        size = sum(p.stat().st_size for p in backup.rglob("*") if p.is_file())
        yield tmp_path / "snapshots", archive, size


def test_full_sandbox_disk_restoring_mariabackup_is_exit_3(
    snapshot: tuple[Path, Path, int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    snapshots, archive, size = snapshot
    with private_sandbox_root() as root:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size // 2},mode=0711", "tmpfs", str(root)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
        try:
            monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
            args = ["restore", "--engine", "mariadb", "--snapshot", str(snapshots)]
            args += ["--binlog-archive", str(archive), "--target", "latest"]
            code, out, err = cli(args, capsys)
            assert code == 3, out + err
            message = err.strip().splitlines()[-1]
            assert f"sandbox directory {root}/" in message
            assert "(No space left on device during restore base)" in message
            assert "needed about" in message and "free" in message
            assert sandbox_dirs(root) == [] and _servers_under(root) == []
        finally:
            subprocess.run(["umount", "-l", str(root)], check=False)
