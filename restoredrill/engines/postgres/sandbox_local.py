"""The embedded default sandbox: a throwaway PostgreSQL cluster from the server binaries on
this machine, in its own labelled directory, on a free port, with a private socket directory."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO

import psycopg

from restoredrill.engines.postgres.tools import PgTools, find_pg_tools
from restoredrill.errors import ConfigError, RecoveryIncomplete, SandboxError
from restoredrill.osuser import RunAs, server_user
from restoredrill.sandboxes import labels
from restoredrill.sandboxes.identity import identify
from restoredrill.sandboxes.lifecycle import throwaway
from restoredrill.sandboxes.readiness import READY, LogReader, LogWatch, backoff
from restoredrill.sandboxes.server_env import server_environment

# Sandbox-only settings, passed on the command line so nothing in a restored data
# directory (postgresql.conf / auto.conf from production) can override them.
SANDBOX_SETTINGS: dict[str, str] = {
    "listen_addresses": "127.0.0.1",
    "logging_collector": "off",
    "log_destination": "stderr",
    "ssl": "off",
    "huge_pages": "off",
}
# A restored copy must never archive into production's archive, nor be sized like production.
RESTORE_SETTINGS: dict[str, str] = {
    "archive_mode": "off",
    "archive_command": "",
    "hot_standby": "off",
    "shared_buffers": "128MB",
    "primary_conninfo": "",
    "synchronous_standby_names": "",
}

PG_HBA = """\
# written by restoredrill: the socket directory is private (0700), loopback TCP needs a password
local   all          all                 trust
local   replication  all                 trust
host    all          all  127.0.0.1/32   scram-sha-256
"""

RECOVERY_ENDED_EARLY = "recovery ended before configured recovery target was reached"
# FATALs of a start-up that cannot reach its target (or a consistent state) with the WAL it
# was given: the backups cannot do what was asked (exit 1), not an infrastructure failure.
RECOVERY_FAILURES = (
    RECOVERY_ENDED_EARLY,
    "requested recovery stop point is before consistent recovery point",
    "WAL ends before consistent recovery point",
    "WAL ends before end of online backup",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPostgres:
    """One throwaway cluster. Use ``local_postgres()`` to get one that is always torn down."""

    backend = "local"
    engine = "postgres"

    def __init__(
        self,
        tools: PgTools,
        run_as: RunAs,
        purpose: str,
        superuser: str = "postgres",
    ) -> None:
        self.tools = tools
        self.run_as = run_as
        self.superuser = superuser
        self.port = free_port()
        self.label = labels.new_label("postgres", self.backend, purpose, self.port)
        self.root = labels.sandbox_root() / self.label.id
        self.datadir = self.root / "data"
        self.sockdir = self.root / "socket"
        _check_socket_path(self.sockdir / f".s.PGSQL.{self.port}")
        self.logfile = self.root / "server.log"
        self.work = self.root / "work"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._created = False
        self.kept = False
        # Caller's variables the server may see (a restore_command's credentials); by
        # default none: the server starts with server_env.server_environment() only.
        self.passthrough_env: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.label.id

    def server_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return server_environment(self.run_as, extra, self.passthrough_env)

    # --- lifecycle -------------------------------------------------------------------

    def provision(self) -> None:
        """Create the labelled directory tree (nothing runs yet)."""
        self.run_as.check_reachable(self.root.parent)
        # Marked ours before mkdir: a SIGTERM landing between the two must not leak the
        # directory. The id is unique (time, pid, random), so an existing one is not ours.
        self._created = True
        try:
            self.root.mkdir(mode=0o700)
        except FileExistsError:
            self._created = False
            raise
        labels.write_label(self.root, self.label)
        for directory in (self.sockdir, self.work):
            directory.mkdir(mode=0o700)
        self.datadir.mkdir(mode=0o700)
        (self.root / "pg_hba.conf").write_text(PG_HBA)
        (self.root / "pg_ident.conf").write_text("")
        for path in (self.root, self.sockdir, self.work, self.datadir):
            self.run_as.own(path)
        for name in ("pg_hba.conf", "pg_ident.conf", labels.LABEL_FILE):
            self.run_as.own(self.root / name)

    def initdb(self) -> None:
        """A fresh, empty cluster (UTF8, trust on the private socket)."""
        self._run(
            [
                self.tools.path("initdb"),
                "-D",
                str(self.datadir),
                "-U",
                self.superuser,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            what="initdb",
        )

    def start(
        self,
        settings: Mapping[str, str] | None = None,
        timeout: float = 120.0,
        recovery: bool = False,
    ) -> None:
        """Start the server and wait until it accepts connections (after recovery, if any)."""
        self.launch(settings, recovery)
        self.wait_ready(timeout)

    def launch(self, settings: Mapping[str, str] | None = None, recovery: bool = False) -> None:
        """Start the server process without waiting for it."""
        argv = [self.tools.path("postgres"), "-D", str(self.datadir)]
        merged = {
            **SANDBOX_SETTINGS,
            "port": str(self.port),
            "unix_socket_directories": str(self.sockdir),
            "hba_file": str(self.root / "pg_hba.conf"),
            "ident_file": str(self.root / "pg_ident.conf"),
            **(RESTORE_SETTINGS if recovery else {}),
            **(settings or {}),
        }
        for key, value in merged.items():
            argv += ["-c", f"{key}={value}"]
        self._log = self.logfile.open("ab")
        try:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C goes to us; we stop the server ourselves
                cwd=self.root,
                env=self.server_env(),
                **self.run_as.popen_kwargs(),  # type: ignore[call-overload]
            )
        except OSError as exc:
            raise SandboxError(f"cannot start postgres: {exc}") from exc
        self._record_server(self._process.pid)

    def _record_server(self, pid: int) -> None:
        """Write what identifies our server into the label at once: `sandbox gc` signals
        that process only (never whatever a stale pid file names)."""
        self.label = self.label.model_copy(update={"server": identify(pid, self.datadir)})
        labels.write_label(self.root, self.label)

    def log_watch(self) -> LogReader:
        """How the server's log is read while waiting on it (a container overrides this)."""
        return LogWatch(self.logfile)

    def wait_for_log(
        self,
        markers: tuple[str, ...],
        timeout: float,
        on_log: Callable[[str], None] | None = None,
    ) -> str | None:
        """Wait until the server log shows one of ``markers``; returns the one seen, or None
        when the server became ready without printing any. ``on_log`` sees the log text
        on every look (for progress)."""
        deadline = time.monotonic() + timeout
        watch = self.log_watch()
        for _ in backoff(deadline):
            self._check_alive()
            log = watch.read()
            if on_log is not None:
                on_log(log)
            for marker in markers:
                if marker in log:
                    return marker
            if READY in log:
                return None
        raise SandboxError(f"no progress from the server within {timeout:.0f}s")

    def _check_alive(self) -> None:
        assert self._process is not None
        if self._process.poll() is None:
            return
        tail = self.log_tail()
        if any(message in tail for message in RECOVERY_FAILURES):
            raise RecoveryIncomplete(
                "PostgreSQL ended recovery before reaching the target: " + _last_fatal(tail)
            )
        raise SandboxError(
            f"postgres exited with code {self._process.returncode} during start-up: "
            + _last_fatal(tail)
        )

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until the server accepts connections: the log line that says so is watched
        with a tight backoff (a few ms), then one connection confirms it."""
        deadline = time.monotonic() + timeout
        last_error = ""
        watch = self.log_watch()
        tries = 0
        for _ in backoff(deadline):
            self._check_alive()
            tries += 1
            # A connection attempt is dearer than reading the log: try one when the log
            # says ready, and now and then anyway (a server whose log we cannot read).
            if READY not in watch.read() and tries % 20:
                continue
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                lines = str(exc).strip().splitlines()
                last_error = lines[-1] if lines else ""
        raise SandboxError(
            f"postgres did not accept connections within {timeout:.0f}s ({last_error}); "
            f"log: {_last_fatal(self.log_tail())}"
        )

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(3)  # SIGQUIT: immediate shutdown; nothing to keep
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def destroy(self) -> None:
        self.stop()
        pid = labels.postmaster_pid(self.datadir)  # identity-checked: ours or nothing
        if pid is not None:
            labels.stop_server(pid)
        if self._created:  # never someone else's directory (mkdir failed: not ours)
            labels.remove_sandbox_dir(self.root, detach=True)

    def keep(self) -> None:
        """Leave the instance running after we exit; `sandbox gc --all` removes it later."""
        self.kept = True
        self.label = self.label.model_copy(update={"keep": True})
        labels.write_label(self.root, self.label)

    # --- access ------------------------------------------------------------------------

    def dsn(self, dbname: str = "postgres", user: str | None = None) -> str:
        return f"host={self.sockdir} port={self.port} dbname={dbname} user={user or self.superuser}"

    def connect(
        self, dbname: str = "postgres", autocommit: bool = True
    ) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.dsn(dbname), autocommit=autocommit)

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_text(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def run_tool(self, argv: list[str], what: str, env: Mapping[str, str] | None = None) -> str:
        """Run a PostgreSQL client/server tool as the server user."""
        return self._run(argv, what=what, env=env)

    def _run(self, argv: list[str], what: str, env: Mapping[str, str] | None = None) -> str:
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                cwd=self.root,
                env=self.server_env(env),
                timeout=600,
                **self.run_as.popen_kwargs(),  # type: ignore[call-overload]
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxError(f"{what} failed: {exc}") from exc
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise SandboxError(f"{what} failed: {detail[-1] if detail else done.returncode}")
        return str(done.stdout)


def _last_fatal(log: str) -> str:
    lines = [line for line in log.splitlines() if "FATAL" in line or "PANIC" in line]
    if lines:
        return lines[-1].split("FATAL:", 1)[-1].split("PANIC:", 1)[-1].strip()
    tail = [line for line in log.splitlines() if line.strip()]
    return tail[-1].strip() if tail else "(empty server log)"


@contextlib.contextmanager
def local_postgres(
    purpose: str,
    pg_bin: str | None = None,
    os_user: str = "postgres",
    keep: bool = False,
    tools: PgTools | None = None,
) -> Iterator[LocalPostgres]:
    """Yield a provisioned (not yet started) sandbox; always destroyed unless kept."""
    with throwaway(
        LocalPostgres(tools or find_pg_tools(pg_bin), server_user(os_user), purpose), keep
    ) as sandbox:
        yield sandbox


# sockaddr_un's sun_path: 108 bytes on Linux, one of them the terminating NUL
MAX_SOCKET_PATH = 107


def _check_socket_path(path: Path) -> None:
    """Refuse up front (nothing created yet) a sandbox root so deep that the server's socket
    path would not fit: the server itself only says "could not create any Unix-domain
    sockets" and exits."""
    size = len(os.fsencode(path))
    if size > MAX_SOCKET_PATH:
        raise ConfigError(
            f"sandbox directory {labels.sandbox_root()} is too deep for a Unix socket: {path} "
            f"is {size} bytes, the limit is {MAX_SOCKET_PATH}; set RESTOREDRILL_SANDBOX_DIR "
            "to a shorter path"
        )
