"""`sandbox gc` / `sandbox rm` signal only a sandbox's own server (pid + start time + data
directory, recorded when it started), never a process a stale pid names; they stay inside
their root; --dry-run changes nothing. Sandbox servers never see the caller's secrets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.sandbox_local import LocalMySQL, local_mysql
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.sandboxes import labels
from restoredrill.sandboxes.identity import ServerIdentity
from tests.pgsetup import private_sandbox_root, run_cli, sandboxes_of

pytestmark = pytest.mark.slow

DEAD_PID = 2**22 + 17  # above the default pid_max: no process has it
SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "aws-secret-never-in-a-server",
    "PGPASSWORD": "pg-password-never-in-a-server",
    "RESTOREDRILL_TEST_SECRET": "test-secret-never-in-a-server",
}


@pytest.fixture
def roots(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """(the sandbox root gc works on, another root holding the decoy "production")."""
    with private_sandbox_root() as root, private_sandbox_root() as elsewhere:
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        yield root, elsewhere


@pytest.fixture
def decoy(
    roots: tuple[Path, Path], pg_tools: PgTools, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalPostgres]:
    """A real running postgres outside the gc root, standing in for production; its label
    also says its owner is dead, so only staying inside the root protects its directory."""
    monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(roots[1]))
    with local_postgres("decoy-production", tools=pg_tools) as server:
        server.initdb()
        server.start()
        labels.write_label(server.root, server.label.model_copy(update={"owner_pid": DEAD_PID}))
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(roots[0]))
        yield server


@pytest.fixture
def sandbox(roots: tuple[Path, Path], pg_tools: PgTools) -> Iterator[LocalPostgres]:
    """A running sandbox in the gc root whose owner looks killed."""
    with local_postgres("leftover", tools=pg_tools) as server:
        server.initdb()
        server.start()
        _kill_owner(server.root, server.label)
        yield server


def _kill_owner(root: Path, label: labels.SandboxLabel) -> labels.SandboxLabel:
    dead = label.model_copy(update={"owner_pid": DEAD_PID})
    labels.write_label(root, dead)
    return dead


def _point_at(sandbox: LocalPostgres, pid: int, server: ServerIdentity | None) -> None:
    """Rewrite the sandbox's recorded server (label and postmaster.pid) to ``pid``."""
    label = labels.read_label(sandbox.root)
    assert label is not None
    labels.write_label(sandbox.root, label.model_copy(update={"server": server}))
    pidfile = sandbox.datadir / "postmaster.pid"
    lines = pidfile.read_text().splitlines()
    pidfile.write_text("\n".join([str(pid), *lines[1:]]) + "\n")


def _accepts(server: LocalPostgres) -> bool:
    with psycopg.connect(server.dsn(), connect_timeout=5) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def _running(pid: int) -> bool:
    return not labels._gone(pid)


def _identity(sandbox: LocalPostgres | LocalMySQL) -> ServerIdentity:
    label = labels.read_label(sandbox.root)
    assert label is not None and label.server is not None
    return label.server


@pytest.mark.parametrize(
    "recorded",
    ["decoy pid, our start time", "decoy pid and start time", "pid file only, no identity"],
)
def test_gc_never_signals_a_decoy_behind_a_stale_pid(
    roots: tuple[Path, Path], decoy: LocalPostgres, sandbox: LocalPostgres, recorded: str
) -> None:
    root, _ = roots
    own = _identity(sandbox)
    real = _identity(decoy)
    if recorded == "decoy pid, our start time":
        forged: ServerIdentity | None = own.model_copy(update={"pid": real.pid})
    elif recorded == "decoy pid and start time":  # only the data directory tells them apart
        forged = own.model_copy(update={"pid": real.pid, "create_time": real.create_time})
    else:  # a label written before identities were recorded
        forged = None
    _point_at(sandbox, real.pid, forged)

    gc = run_cli(["sandbox", "gc", "--root", str(root), "--json"])

    assert gc.returncode == 0, gc.stderr
    removed = sandboxes_of(gc.stdout)
    assert [(s["label"]["id"], s["server_pid"]) for s in removed] == [(sandbox.id, None)]
    note = f"sandbox {sandbox.id}: pid {real.pid} "
    lines = [ln for ln in gc.stderr.splitlines() if ln.startswith(note)]
    assert len(lines) == 1 and lines[0].endswith(
        ": not its server, left running; directory removed"
    ), gc.stderr
    assert not sandbox.root.exists()  # treated as dead all the same
    assert _running(real.pid) and _accepts(decoy)  # production untouched
    assert decoy.root.is_dir()  # and so is everything outside the gc root
    assert _running(own.pid)  # nothing signalled at all (teardown stops it)


def test_gc_leaves_its_own_pid_alone_when_the_start_time_differs(
    roots: tuple[Path, Path], sandbox: LocalPostgres
) -> None:
    root, _ = roots
    own = _identity(sandbox)
    _point_at(sandbox, own.pid, own.model_copy(update={"create_time": own.create_time - 3600}))

    gc = run_cli(["sandbox", "gc", "--root", str(root)])

    assert gc.returncode == 0, gc.stderr
    assert f"pid {own.pid} is a different process (it started at another time)" in gc.stderr
    assert not sandbox.root.exists()
    assert _running(own.pid)


def test_dry_run_changes_nothing_then_rm_removes_exactly_one(
    roots: tuple[Path, Path], sandbox: LocalPostgres, pg_tools: PgTools
) -> None:
    root, _ = roots
    own = _identity(sandbox)
    with local_postgres("other-leftover", tools=pg_tools) as other:
        other.initdb()
        other.start()
        _kill_owner(other.root, other.label)
        before = {p: (p / labels.LABEL_FILE).read_text() for p in (sandbox.root, other.root)}

        dry = run_cli(["sandbox", "gc", "--root", str(root), "--dry-run", "--json"])

        assert dry.returncode == 0, dry.stderr
        listed = {s["label"]["id"]: s["server_pid"] for s in sandboxes_of(dry.stdout)}
        assert listed == {sandbox.id: own.pid, other.id: _identity(other).pid}
        assert f"would stop server pid {own.pid} of sandbox {sandbox.id}" in dry.stderr
        assert {p: (p / labels.LABEL_FILE).read_text() for p in before} == before
        assert _accepts(sandbox) and _accepts(other)

        rm = run_cli(["sandbox", "rm", sandbox.id, "--root", str(root), "--json"])

        assert rm.returncode == 0, rm.stderr
        assert [s["label"]["id"] for s in sandboxes_of(rm.stdout)] == [sandbox.id]
        assert f"stopped server pid {own.pid} of sandbox {sandbox.id}" in rm.stderr
        assert not sandbox.root.exists() and not _running(own.pid)
        assert other.root.is_dir() and _accepts(other)

        again = run_cli(["sandbox", "rm", sandbox.id, "--root", str(root)])
        assert again.returncode == 2
        assert again.stderr.strip() == (
            f"restoredrill: error: no sandbox {sandbox.id!r} in {root} "
            f"(see `restoredrill sandbox list`)"
        )


def test_rm_refuses_a_sandbox_whose_owner_still_runs(
    roots: tuple[Path, Path], pg_tools: PgTools
) -> None:
    root, _ = roots
    with local_postgres("live", tools=pg_tools) as live:
        live.initdb()
        live.start()
        rm = run_cli(["sandbox", "rm", live.id, "--root", str(root)])
        assert rm.returncode == 2
        assert len(rm.stderr.strip().splitlines()) == 1
        assert "is still running; stop it first, or pass --force" in rm.stderr
        assert live.root.is_dir() and _accepts(live)


def test_gc_does_not_follow_a_symlink_out_of_its_root(
    roots: tuple[Path, Path], decoy: LocalPostgres
) -> None:
    root, _ = roots
    (root / "planted").symlink_to(decoy.root)
    for args in (["--dry-run", "--json"], ["--all", "--json"]):
        gc = run_cli(["sandbox", "gc", "--root", str(root), *args])
        assert gc.returncode == 0, gc.stderr
        assert sandboxes_of(gc.stdout) == []
    assert decoy.root.is_dir() and _accepts(decoy)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_postgres_server_and_tools_never_see_the_callers_secrets(
    roots: tuple[Path, Path], pg_tools: PgTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with local_postgres("env", tools=pg_tools) as server:
        server.initdb()
        server.start()
        env = _environ(_identity(server).pid)
        tool_env = server.run_tool(["env"], what="env")
    for seen in (env, dict(ln.split("=", 1) for ln in tool_env.splitlines() if "=" in ln)):
        assert not set(SECRETS) & set(seen), seen
        assert seen["LC_ALL"] == "C.UTF-8" and seen["PATH"]
        assert set(seen) <= {"PATH", "LANG", "LC_ALL", "TZ", "HOME", "USER", "LOGNAME", "PWD"}


def test_mariadb_gc_spares_a_decoy_and_its_server_has_no_secrets(
    roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, elsewhere = roots
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(elsewhere))
    with local_mysql("decoy-production") as decoy:
        decoy.init_datadir()
        decoy.start()
        monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(root))
        with local_mysql("leftover") as leftover:
            leftover.init_datadir()
            leftover.start()
            own, real = _identity(leftover), _identity(decoy)
            env = _environ(own.pid)
            assert not set(SECRETS) & set(env), env
            dead = _kill_owner(leftover.root, leftover.label)
            forged = own.model_copy(update={"pid": real.pid})
            labels.write_label(leftover.root, dead.model_copy(update={"server": forged}))
            (leftover.sockdir / "mysqld.pid").write_text(f"{real.pid}\n")

            gc = run_cli(["sandbox", "gc", "--root", str(root), "--json"])

            assert gc.returncode == 0, gc.stderr
            assert [s["label"]["id"] for s in sandboxes_of(gc.stdout)] == [leftover.id]
            # two servers started within the clock's resolution share a start time: the data
            # directory then tells them apart; either way the decoy is left alone
            said = gc.stderr
            assert f"sandbox {leftover.id}: pid {real.pid} is " in said
            assert "is a different process" in said or "is not running on" in said
            assert not leftover.root.exists() and _running(own.pid)
            conn = my.connect(decoy.dsn())
            try:
                assert int(conn.scalar("SELECT 1")) == 1
            finally:
                conn.close()


def test_a_reused_owner_pid_does_not_keep_a_leftover_alive(roots: tuple[Path, Path]) -> None:
    """The owner's pid now belongs to another process (this test, started at another
    time): the sandbox is a leftover, not a live one."""
    root, _ = roots
    label = labels.new_label("postgres", "local", "reused-owner", None)
    assert label.owner_started is not None
    reused = label.model_copy(update={"owner_started": label.owner_started - 3600})
    (root / label.id).mkdir()
    labels.write_label(root / label.id, reused)
    (fresh,) = labels.list_sandboxes(root)
    assert not fresh.owner_alive

    gc = run_cli(["sandbox", "gc", "--root", str(root), "--json"])

    assert gc.returncode == 0, gc.stderr
    assert [s["label"]["id"] for s in sandboxes_of(gc.stdout)] == [label.id]
    assert not (root / label.id).exists()
