"""Sandboxes always go away: after success, after an error in the caller's block, on
SIGTERM mid-restore; --keep leaves one running for `sandbox gc --all`; `sandbox gc` cleans
up after a killed run but never touches a live one."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.postgres.sandbox_local import local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.targets import parse_target
from tests.pgsetup import (
    CLI,
    Production,
    assert_nothing_left,
    counter_rows,
    kill_quietly,
    postgres_pids_under,
    private_sandbox_root,
    production,
    run_cli,
    sandbox_dirs,
    sandboxes_of,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prod(pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    with production(pg_tools, tmp_path_factory.mktemp("teardown-prod")) as made:
        made.insert(2)
        made.backup("tar", "tar")
        made.next_second()
        for _ in range(2):
            made.insert(2)
            made.switch()
        yield made


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with private_sandbox_root() as root:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        yield root


def restore_args(prod: Production, *extra: str) -> list[str]:
    return [
        "restore",
        "--base-backups",
        str(prod.backups / "tar"),
        "--wal-archive",
        str(prod.archive),
        "--target",
        "latest",
        *extra,
    ]


def test_sandbox_removed_after_success(prod: Production, sandboxes: Path) -> None:
    request = RestoreRequest(prod.backups / "tar", prod.archive, parse_target(target="latest"))
    with restored(request) as done:
        assert counter_rows(done.dsn()) == list(range(1, prod.rows + 1))
        assert sandbox_dirs(sandboxes) == [done.sandbox.root]
        assert len(postgres_pids_under(sandboxes)) == 1
    assert_nothing_left(sandboxes)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(done.dsn(), connect_timeout=2)


def test_sandbox_removed_after_an_error_in_the_block(prod: Production, sandboxes: Path) -> None:
    request = RestoreRequest(prod.backups / "tar", prod.archive, parse_target(target="latest"))
    with pytest.raises(ZeroDivisionError), restored(request) as done:
        assert done.sandbox.is_running()
        _ = 1 / 0
    assert_nothing_left(sandboxes)


@pytest.mark.parametrize("when", ["sandbox created", "server started"])
def test_sigterm_mid_restore_exits_130_and_removes_the_sandbox(
    prod: Production, sandboxes: Path, when: str
) -> None:
    proc = subprocess.Popen(
        [str(CLI), *restore_args(prod)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def ready() -> bool:
            dirs = sandbox_dirs(sandboxes)
            if when == "sandbox created":
                return bool(dirs)
            return bool(dirs) and (dirs[0] / "data" / "postmaster.pid").exists()

        assert wait_for(ready, timeout=60, interval=0.005), "the restore never got there"
        assert proc.poll() is None, "the restore finished before it could be interrupted"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        kill_quietly(proc.pid)
    assert proc.returncode == 130, err
    assert err.strip() == "restoredrill: error: terminated (SIGTERM)"
    assert out == ""
    assert_nothing_left(sandboxes)


def test_keep_leaves_it_running_until_gc_all(prod: Production, sandboxes: Path) -> None:
    done = run_cli(restore_args(prod, "--keep", "--json"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["kept"] is True
    assert counter_rows(result["dsn"]) == list(range(1, prod.rows + 1))
    (kept,) = sandbox_dirs(sandboxes)
    assert kept.name == result["sandbox_id"]
    assert len(postgres_pids_under(sandboxes)) == 1

    listed = sandboxes_of(run_cli(["sandbox", "list", "--json"]).stdout)
    assert [(s["label"]["id"], s["label"]["keep"], s["owner_alive"]) for s in listed] == [
        (kept.name, True, False)
    ]
    plain_gc = run_cli(["sandbox", "gc", "--json"])
    assert plain_gc.returncode == 0 and sandboxes_of(plain_gc.stdout) == []
    assert kept.is_dir()

    gc_all = run_cli(["sandbox", "gc", "--all", "--json"])
    assert gc_all.returncode == 0, gc_all.stderr
    assert [s["label"]["id"] for s in sandboxes_of(gc_all.stdout)] == [kept.name]
    assert_nothing_left(sandboxes)


def test_gc_removes_a_killed_runs_leftover_but_not_a_live_sandbox(
    prod: Production, sandboxes: Path, pg_tools: PgTools
) -> None:
    with local_postgres("live", tools=pg_tools) as live:
        live.initdb()
        live.start()
        proc = subprocess.Popen(
            [str(CLI), *restore_args(prod)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:

            def server_started() -> bool:
                return any(
                    (d / "data" / "postmaster.pid").exists()
                    for d in sandbox_dirs(sandboxes)
                    if d != live.root
                )

            assert wait_for(server_started, timeout=60, interval=0.005)
            proc.send_signal(signal.SIGSTOP)  # freeze it mid-restore, then kill it outright
            (leftover,) = [d for d in sandbox_dirs(sandboxes) if d != live.root]
            assert leftover.is_dir(), "the restore finished before it could be killed"
            proc.kill()
            proc.wait(timeout=30)
        finally:
            kill_quietly(proc.pid)
        # its server outlived it (waited for: a child the server has just forked shows the
        # server's own command line until it names itself, and was counted once in CI)
        assert wait_for(lambda: len(postgres_pids_under(leftover)) == 1, timeout=10)

        gc = run_cli(["sandbox", "gc", "--json"])
        assert gc.returncode == 0, gc.stderr
        assert [s["label"]["id"] for s in sandboxes_of(gc.stdout)] == [leftover.name]
        assert not leftover.exists()
        assert postgres_pids_under(leftover) == []
        # the live sandbox (its owner, this test, still runs) is untouched
        assert sandbox_dirs(sandboxes) == [live.root]
        with live.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert_nothing_left(sandboxes)
