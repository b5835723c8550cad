"""The restore's speed levers keep its guarantees: the WAL read in place is exactly the
planned segments and the archive is never written; progress is shown on a terminal only;
`restore` imports only its own command's code."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.models import PhaseTiming, RecoveryTarget
from restoredrill.osuser import server_user
from tests.pgsetup import (
    Production,
    archived_segments,
    cli,
    counter_rows,
    production,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prod(pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    with production(pg_tools, tmp_path_factory.mktemp("speed-prod")) as made:
        made.insert(3)
        made.backup("tar.gz", "tar", "gzip")
        made.insert(3)
        made.switch()
        made.insert(2)
        made.switch()
        yield made


def snapshot(archive: Path) -> dict[str, tuple[str, int, int, int, float]]:
    """Every archive file's content hash, owner, group, mode and mtime."""
    found = {}
    for path in sorted(archive.iterdir()):
        info = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        found[path.name] = (digest, info.st_uid, info.st_gid, info.st_mode, info.st_mtime)
    return found


def test_wal_is_read_in_place_and_the_archive_is_left_untouched(prod: Production) -> None:
    run_as = server_user()
    segments = archived_segments(prod.archive)
    assert all(run_as.can_read(s) for s in segments), "the fixture's archive is readable"
    before = snapshot(prod.archive)
    request = RestoreRequest(prod.backups / "tar.gz", prod.archive, RecoveryTarget(kind="latest"))
    with restored(request) as done:
        assert counter_rows(done.dsn()) == list(range(1, 9))
        staging = done.sandbox.work / "wal"
        staged = sorted(p for p in staging.iterdir() if len(p.name) == 24)
        planned = done.result.plan.wal_range
        assert planned is not None and len(staged) == planned.segments
        # links to the archive's own files (no copy), exactly the planned segments
        assert all(p.is_symlink() for p in staged)
        assert {os.readlink(p) for p in staged} <= {str(s) for s in segments}
        fetch = next(p for p in done.result.phases if p.name == "fetch WAL")
        assert fetch.detail is not None and "read in place" in fetch.detail
    assert snapshot(prod.archive) == before  # not a byte, owner, mode or mtime changed


def test_an_archive_the_server_user_cannot_read_is_copied(prod: Production, tmp_path: Path) -> None:
    if server_user().uid is None:
        pytest.skip("runs as the server user itself: every file we read, it reads")
    archive = tmp_path / "private-archive"
    archive.mkdir(mode=0o700)  # root's only: the server user cannot read it in place
    for path in prod.archive.iterdir():
        (archive / path.name).write_bytes(path.read_bytes())
    request = RestoreRequest(prod.backups / "tar.gz", archive, RecoveryTarget(kind="latest"))
    with restored(request) as done:
        assert counter_rows(done.dsn()) == list(range(1, 9))
        staged = [p for p in (done.sandbox.work / "wal").iterdir() if len(p.name) == 24]
        assert staged and not any(p.is_symlink() for p in staged)


class Recorder:
    def __init__(self) -> None:
        self.progress: dict[str, list[tuple[int, int | None]]] = {}

    def phase_started(self, name: str) -> None:
        pass

    def phase_finished(self, timing: PhaseTiming) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def phase_progress(self, name: str, done: int, total: int | None) -> None:
        self.progress.setdefault(name, []).append((done, total))


def test_progress_inside_base_and_replay_phases(prod: Production) -> None:
    recorder = Recorder()
    request = RestoreRequest(prod.backups / "tar.gz", prod.archive, RecoveryTarget(kind="latest"))
    with restored(request, recorder) as done:
        wal_bytes = done.result.plan.wal_range.bytes if done.result.plan.wal_range else 0
    base = recorder.progress["restore base"]
    size = sum(p.stat().st_size for p in (prod.backups / "tar.gz").glob("*.tar.gz"))
    assert all(total == size for _, total in base)
    assert [d for d, _ in base] == sorted(d for d, _ in base)  # never goes back
    replay = recorder.progress["replay WAL"]
    assert all(total == wal_bytes and done <= wal_bytes for done, total in replay)


def test_piped_and_json_restores_show_no_progress(
    prod: Production, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--base-backups", str(prod.backups / "tar.gz"), "--wal-archive", str(prod.archive)]
    code, out, err = cli(["restore", *args, "--target", "latest", "--json"], capsys)
    assert code == 0, err
    assert err == ""
    code, out, err = cli(["restore", *args, "--target", "latest"], capsys)
    assert code == 0, err
    assert "ETA" not in err and "ETA" not in out


def test_restore_imports_only_its_own_command() -> None:
    code = (
        "import sys\n"
        "from restoredrill.cli.app import main\n"
        "try:\n    main(['restore', '--help'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pymysql', 'restoredrill.cli.'))"
        " and m.split('.')[-1] not in ('app', 'commands', 'lazy', 'documents', 'choices',"
        " 'options', 'restore', 'restore_run', 'sources', 'source_options', 'sandbox_options',"
        " 'target_options')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "--target-time" in done.stdout  # the help of the restore command itself
