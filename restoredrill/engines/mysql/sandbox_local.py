"""A throwaway MariaDB (or MySQL) server from the binaries on this machine: its own labelled
directory, data directory, a free port on 127.0.0.1 and a private (0700) socket directory;
binary logging off unless asked for (a restored copy never writes a binlog, let alone into
production's archive); torn down always, found by label by ``sandbox gc`` otherwise.

Access mirrors the PostgreSQL sandbox: the account restoredrill uses is named after its own
OS user and authenticates by unix_socket (the peer's OS user), so only the private socket
lets anyone in and TCP has no passwordless account. A restored sandbox (re)creates that
account from an init file at every start, whatever accounts a dump or a physical backup
brought with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.driver import escape_string
from restoredrill.engines.mysql.tools import MysqlTools, find_mysql_tools
from restoredrill.engines.postgres.sandbox_local import free_port
from restoredrill.errors import DatabaseUnavailable, SandboxError
from restoredrill.osuser import RunAs, server_user
from restoredrill.sandboxes import labels
from restoredrill.sandboxes.identity import identify
from restoredrill.sandboxes.lifecycle import throwaway
from restoredrill.sandboxes.server_env import server_environment

SOCKET = "mysqld.sock"
PID_FILE = "mysqld.pid"
LOG_FILE_SIZE = "16M"
# Throwaway instances: small, no durability wanted, big statements allowed (binlog replay).
SANDBOX_OPTIONS: dict[str, str] = {
    "bind-address": "127.0.0.1",
    "skip-name-resolve": "",
    "skip-slave-start": "",
    "character-set-server": "utf8mb4",
    "innodb-buffer-pool-size": "64M",
    "innodb-log-file-size": LOG_FILE_SIZE,
    "innodb-flush-log-at-trx-commit": "2",
    "max-allowed-packet": "1G",
    "max-connections": "50",
}


def client_user() -> str:
    """The account restoredrill connects as: its own OS user's name (unix_socket auth)."""
    return pwd.getpwuid(os.geteuid()).pw_name


class LocalMySQL:
    """One throwaway server. Use ``local_mysql()`` to get one that is always torn down."""

    backend = "local"

    def __init__(self, tools: MysqlTools, run_as: RunAs, purpose: str) -> None:
        self.tools = tools
        self.run_as = run_as
        self.engine = tools.flavor
        self.user = client_user()
        self.port = free_port()
        self.label = labels.new_label(self.engine, self.backend, purpose, self.port)
        self.root = labels.sandbox_root() / self.label.id
        self.datadir = self.root / "data"
        self.sockdir = self.root / "socket"
        self.socket = self.sockdir / SOCKET
        self.pidfile = self.sockdir / PID_FILE
        self.logfile = self.root / "server.log"
        self.work = self.root / "work"
        # the server's own temporary files: not the machine's /tmp, which other servers (and
        # whatever cleans /tmp) share — a bootstrap failed on "Could not remove temporary table"
        self.tmpdir = self.root / "tmp"
        self.server_id = int.from_bytes(os.urandom(3), "big") + 1000
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._created = False
        self.kept = False

    @property
    def id(self) -> str:
        return self.label.id

    # --- lifecycle -------------------------------------------------------------------

    def provision(self) -> None:
        self.run_as.check_reachable(self.root.parent)
        self.root.mkdir(mode=0o700)
        self._created = True
        labels.write_label(self.root, self.label)
        for directory in (self.sockdir, self.work, self.datadir, self.tmpdir):
            directory.mkdir(mode=0o700)
        for path in (self.root, self.sockdir, self.work, self.datadir, self.tmpdir):
            self.run_as.own(path)
        self.run_as.own(self.root / labels.LABEL_FILE)

    def init_datadir(self) -> None:
        """A fresh, empty data directory: a copy of a per-machine template made once with
        mariadb-install-db (4-6 s), so each sandbox costs a file copy."""
        template = self._template()
        _copy_tree(template, self.datadir)

    def _template(self) -> Path:
        key = hashlib.sha256(f"{self.tools.version}|{self.user}|{LOG_FILE_SIZE}".encode())
        final = labels.sandbox_root() / f".{self.engine}-template-{key.hexdigest()[:12]}"
        if (final / "mysql").is_dir():
            return final
        # one build at a time per sandbox root (two restores side by side, as recover runs,
        # would run two bootstraps at once): the second waits and takes the first's template
        with _locked(final.with_name(f"{final.name}.lock")):
            if (final / "mysql").is_dir():
                return final
            return self._build_template(final)

    def _build_template(self, final: Path) -> Path:
        building = final.with_name(f"{final.name}.{os.getpid()}.{os.urandom(3).hex()}")
        building.mkdir(mode=0o700)
        self.run_as.own(building)
        try:
            self._initialise(building)
            try:
                building.rename(final)
            except OSError:  # another process made it first
                shutil.rmtree(building, ignore_errors=True)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        return final

    def _initialise(self, datadir: Path) -> None:
        if self.tools.mariadb:
            argv = [
                self.tools.need("install_db"),
                "--no-defaults",
                f"--datadir={datadir}",
                "--auth-root-authentication-method=socket",
                f"--auth-root-socket-user={self.user}",
                "--skip-test-db",
                "--skip-name-resolve",
                f"--innodb-log-file-size={LOG_FILE_SIZE}",
                "--innodb-buffer-pool-size=64M",
                f"--tmpdir={self.tmpdir}",  # passed on to the bootstrap server
            ]
            if self.run_as.name:
                argv.append(f"--user={self.run_as.name}")
            # install-db drops privileges itself (--user), so it runs as us
            _run(argv, "mariadb-install-db", cwd=self.root, env=server_environment(self.run_as))
        else:  # MySQL: root@localhost without a password; the init file adds our account
            argv = [
                self.tools.server,
                "--no-defaults",
                "--initialize-insecure",
                f"--datadir={datadir}",
                f"--innodb-log-file-size={LOG_FILE_SIZE}",
            ]
            _run(
                argv,
                "mysqld --initialize-insecure",
                cwd=self.root,
                run_as=self.run_as,
                env=server_environment(self.run_as),
            )

    def write_init_file(self) -> Path:
        """SQL run by the server at every start: our unix_socket account, all privileges."""
        account = f"'{escape_string(self.user)}'@'localhost'"
        if self.tools.mariadb:
            lines = [
                f"CREATE OR REPLACE USER {account} IDENTIFIED VIA unix_socket;",
                f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION;",
            ]
        else:
            lines = [
                f"CREATE USER IF NOT EXISTS {account} IDENTIFIED WITH auth_socket;",
                f"ALTER USER {account} IDENTIFIED WITH auth_socket;",
                f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION;",
            ]
        path = self.root / "init.sql"
        path.write_text("\n".join(lines) + "\n")
        self.run_as.own(path)
        return path

    def start(
        self,
        log_bin: Path | None = None,
        server_id: int | None = None,
        init_file: bool = True,
        options: Mapping[str, str] | None = None,
        timeout: float = 120.0,
    ) -> None:
        """Start the server and wait until our account can connect."""
        argv = [
            self.tools.server,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            f"--pid-file={self.pidfile}",
            f"--server-id={server_id or self.server_id}",
            f"--tmpdir={self.tmpdir}",
        ]
        merged = dict(SANDBOX_OPTIONS)
        if log_bin is not None:
            merged.update({"log-bin": str(log_bin), "binlog-format": "ROW"})
        else:
            merged["skip-log-bin"] = ""
        if init_file:
            merged["init-file"] = str(self.write_init_file())
        if not self.tools.mariadb:
            merged["plugin-load-add"] = "auth_socket.so"
            merged.pop("skip-slave-start", None)
        merged.update(options or {})
        argv += [f"--{k}={v}" if v else f"--{k}" for k, v in merged.items()]
        self._log = self.logfile.open("ab")
        try:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.root,
                env=server_environment(self.run_as),
                **self.run_as.popen_kwargs(),  # type: ignore[call-overload]
            )
        except OSError as exc:
            raise SandboxError(f"cannot start {Path(self.tools.server).name}: {exc}") from exc
        # What identifies our server, in the label at once: gc signals that process only.
        self.label = self.label.model_copy(
            update={"server": identify(self._process.pid, self.datadir)}
        )
        labels.write_label(self.root, self.label)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            self._check_alive()
            if self.socket.exists():
                try:
                    my.connect(self.dsn(), timeout=2).close()
                    return
                except DatabaseUnavailable as exc:
                    last = str(exc)
            time.sleep(0.05)
        raise SandboxError(
            f"the server did not accept connections within {timeout:.0f}s ({last}); "
            f"log: {_last_error(self.log_tail())}"
        )

    def _check_alive(self) -> None:
        if self._process is None or self._process.poll() is None:
            return
        raise SandboxError(
            f"{Path(self.tools.server).name} exited with code {self._process.returncode} "
            f"during start-up: {_last_error(self.log_tail())}"
        )

    def stop(self) -> None:
        """Kill the server: the instance is throwaway, nothing needs flushing."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=30)
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def destroy(self) -> None:
        self.stop()
        pid = labels.mysqld_pid(self.root)
        if pid is not None:
            labels.stop_server(pid, signal.SIGKILL)
        if self._created:
            labels.remove_sandbox_dir(self.root)

    def keep(self) -> None:
        self.kept = True
        self.label = self.label.model_copy(update={"keep": True})
        labels.write_label(self.root, self.label)

    # --- access --------------------------------------------------------------------------

    def dsn(self, dbname: str = "") -> str:
        return f"mysql://{self.user}@localhost/{dbname}?unix_socket={self.socket}"

    def connect(self, dbname: str = "") -> my.MyConn:
        return my.connect(self.dsn(dbname))

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_text(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def client_argv(self, *extra: str) -> list[str]:
        """The command-line client on our private socket, as our account."""
        return [
            self.tools.client,
            "--no-defaults",
            f"--socket={self.socket}",
            f"--user={self.user}",
            "--binary-mode",
            "--max-allowed-packet=1G",
            *extra,
        ]

    def run_tool(self, argv: Sequence[str], what: str) -> str:
        """Run a server-side tool (mariabackup --prepare) as the server user."""
        env = server_environment(self.run_as)
        return _run(list(argv), what, cwd=self.root, run_as=self.run_as, env=env)


def _copy_tree(source: Path, dest: Path) -> None:
    done = subprocess.run(
        ["cp", "-a", f"{source}/.", str(dest)], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise SandboxError(f"cannot copy {source} to {dest}: {done.stderr.strip()}")


def _run(
    argv: list[str],
    what: str,
    cwd: Path | None = None,
    run_as: RunAs | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run ``argv``; with ``env``, in exactly that environment (server-side tools get the
    minimal server environment), otherwise in ours."""
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            timeout=3600,
            **(run_as.popen_kwargs() if run_as else {}),  # type: ignore[call-overload]
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).strip().splitlines() if ln.strip()]
        errors = [ln for ln in lines if "ERROR" in ln or "error" in ln] or lines
        # the first error is the cause; the server's last one is only "[ERROR] Aborting"
        causes = [ln for ln in errors if not ln.rstrip().endswith("Aborting")] or errors
        raise SandboxError(f"{what} failed: {causes[0] if causes else done.returncode}")
    return str(done.stdout)


def _last_error(log: str) -> str:
    lines = [ln for ln in log.splitlines() if "[ERROR]" in ln or "ERROR" in ln]
    if lines:
        return lines[-1].split("[ERROR]", 1)[-1].strip()
    tail = [ln for ln in log.splitlines() if ln.strip()]
    return tail[-1].strip() if tail else "(empty server log)"


@contextlib.contextmanager
def local_mysql(
    purpose: str,
    os_user: str = "mysql",
    keep: bool = False,
    tools: MysqlTools | None = None,
) -> Iterator[LocalMySQL]:
    """Yield a provisioned (not yet started) sandbox; always destroyed unless kept."""
    with throwaway(
        LocalMySQL(tools or find_mysql_tools(), server_user(os_user), purpose), keep
    ) as sandbox:
        yield sandbox


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created), held for the block. flock treats each open of
    the file on its own, so it serialises threads of one process as well as processes."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
