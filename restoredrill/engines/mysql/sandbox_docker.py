"""A MariaDB docker sandbox for logical dumps: a fresh container of a plain server image
(``mariadb:10.11``, ...) whose own tools initialise the data directory, run the server and
load the dump, so the host needs no MariaDB binaries.

The container runs as the image's ``mysql`` user with our own start script (the image's
entrypoint is bypassed, so any image with ``mariadb-install-db`` and ``mariadbd`` works);
the server listens on 127.0.0.1 only on the host side (a random port unless one is asked
for). Inside, the socket account is the ``mysql`` OS user (unix_socket). For the host a
``restoredrill`` account gets a generated password that travels only through the
container's environment and a shell builtin (never the argv of a process or a log) and is
shown only in the ``--keep`` DSN. The container carries the ``restoredrill.*`` labels and
is always removed; a labelled sandbox directory on the host marks ``--keep`` for ``sandbox
gc``, exactly as for the PostgreSQL docker sandbox.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from restoredrill.errors import SandboxError
from restoredrill.sandboxes import labels
from restoredrill.sandboxes.docker import (
    client,
    ensure_image,
    one_line,
    read_dump_head,
    sandbox_labels,
)
from restoredrill.sandboxes.lifecycle import throwaway

CONTAINER_PORT = 3306
ACCOUNT = "restoredrill"
PASSWORD_ENV = "RESTOREDRILL_SANDBOX_PASSWORD"
WORK = "/tmp/restoredrill"
SOCKET = f"{WORK}/mysqld.sock"
DUMP_MOUNT = Path("/restoredrill-dump")
_SERVER_VERSION = re.compile(rb"Server version\s+(\d+\.\d+)\.\d+(-MariaDB)?", re.IGNORECASE)
# Run by sh inside the container; "$@" are extra server options. A failed initialisation
# ends its log with the error lines, which the never-ready message quotes.
START_SCRIPT = f"""\
set -e
mkdir -p {WORK}/data
mariadb-install-db --no-defaults --datadir={WORK}/data \
  --auth-root-authentication-method=socket --auth-root-socket-user=mysql \
  --skip-test-db --skip-name-resolve >{WORK}/install.log 2>&1 \
  || {{ tail -n 20 {WORK}/install.log >&2
       grep -iE '\\[error\\]|error:|fatal|not found' {WORK}/install.log | tail -n 3 >&2
       exit 1; }}
exec mariadbd --no-defaults --datadir={WORK}/data --socket={SOCKET} \
  --port={CONTAINER_PORT} --bind-address=0.0.0.0 --skip-name-resolve \
  --innodb-buffer-pool-size=128M "$@"
"""
# printf is a shell builtin: the password never becomes a process argument.
ACCOUNT_SCRIPT = (
    f"printf \"CREATE USER '{ACCOUNT}'@'%%' IDENTIFIED BY '%s';"
    f" GRANT ALL PRIVILEGES ON *.* TO '{ACCOUNT}'@'%%';\" \"${PASSWORD_ENV}\""
    f" | mariadb --no-defaults --socket={SOCKET} -u mysql"
)


class DockerMariaDB:
    """A labelled MariaDB container (started by ``start``), its host directory and DSN."""

    backend = "docker"
    engine = "mariadb"

    def __init__(
        self,
        purpose: str,
        image: str,
        mounts: dict[Path, Path] | None = None,
        host_port: int | None = None,
        server_args: list[str] | None = None,
    ) -> None:
        self.api = client()
        ensure_image(self.api, image)
        self.image = image
        self.mounts = dict(mounts or {})
        self.host_port = host_port
        self.server_args = list(server_args or [])
        self.password = secrets.token_urlsafe(18)
        self.label = labels.new_label(self.engine, self.backend, purpose, None)
        self.id = self.label.id
        self.root = labels.sandbox_root() / self.id
        self.container: Any = None
        self.port = 0
        self.kept = False
        self._created = False

    def _labels(self) -> dict[str, str]:
        return sandbox_labels(self.id, self.root)

    def provision(self) -> None:
        """The labelled host directory (``sandbox list``/``gc`` see the container by it)."""
        self._created = True
        try:
            self.root.mkdir(mode=0o700)
        except FileExistsError:
            self._created = False
            raise
        labels.write_label(self.root, self.label)

    def start(self) -> None:
        """Run the container: initialise the data directory, start the server."""
        from docker.errors import APIError, DockerException

        volumes = {str(h): {"bind": str(c), "mode": "ro"} for h, c in self.mounts.items()}
        try:
            self.container = self.api.containers.run(
                self.image,
                ["-c", START_SCRIPT, "start", *self.server_args],
                entrypoint=["sh"],
                user="mysql",
                detach=True,
                name=f"restoredrill-{self.id}",
                labels=self._labels(),
                environment={PASSWORD_ENV: self.password},
                ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", self.host_port)},
                volumes=volumes,
            )
        except APIError as exc:
            message = one_line(exc)
            self._adopt_created()
            if "address already in use" in message or "port is already allocated" in message:
                raise SandboxError(f"cannot publish the sandbox port: {message}") from exc
            raise SandboxError(f"cannot start container from {self.image}: {message}") from exc
        except DockerException as exc:
            self._adopt_created()
            raise SandboxError(
                f"cannot start container from {self.image}: {one_line(exc)}"
            ) from exc
        self.container.reload()
        bindings = self.container.attrs["NetworkSettings"]["Ports"].get(f"{CONTAINER_PORT}/tcp")
        if bindings:
            self.port = int(bindings[0]["HostPort"])

    def _adopt_created(self) -> None:
        """A container created but not started (e.g. its port was taken) is still ours."""
        from docker.errors import DockerException

        with contextlib.suppress(DockerException):
            self.container = self.api.containers.get(f"restoredrill-{self.id}")

    def exec(self, argv: list[str], what: str, user: str = "mysql") -> str:
        """Run a command in the running container; a failure is a one-line SandboxError."""
        assert self.container is not None
        result = self.container.exec_run(argv, user=user, demux=True)
        stdout, stderr = result.output
        if result.exit_code != 0:
            text = (stderr or stdout or b"").decode(errors="replace").strip().splitlines()
            raise SandboxError(f"{what} failed: {text[-1] if text else result.exit_code}")
        return bytes(stdout or b"").decode(errors="replace")

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until ``mariadb-admin ping`` answers inside the container (one-line error with the
        last lines of the container log when it exits or the time is up)."""
        from docker.errors import DockerException

        deadline = time.monotonic() + timeout
        while True:
            if not self.is_running():
                self._never_ready(timeout, "the container exited")
            ping = ["mariadb-admin", "--no-defaults", f"--socket={SOCKET}", "-u", "mysql", "ping"]
            try:
                if self.container.exec_run(ping, user="mysql").exit_code == 0:
                    break
            except DockerException:  # exited meanwhile: the next round says so
                pass
            if time.monotonic() >= deadline:
                self._never_ready(timeout, "no answer to mariadb-admin ping")
            time.sleep(0.25)

    def create_account(self) -> None:
        """The host's account (password from the container environment, see ACCOUNT_SCRIPT)."""
        self.exec(["sh", "-c", ACCOUNT_SCRIPT], "creating the sandbox account")

    def load(self, dump: Path, compressed: bool) -> None:
        """Feed a mounted dump to the ``mariadb`` client inside the container."""
        client = f"mariadb --no-defaults --socket={SOCKET} -u mysql"
        source = (
            f"gzip -dc {shlex.quote(str(dump))}" if compressed else f"cat {shlex.quote(str(dump))}"
        )
        self.exec(["bash", "-o", "pipefail", "-c", f"{source} | {client}"], "mariadb")

    def _never_ready(self, timeout: float, why: str) -> None:
        last = " | ".join(line.strip() for line in self.log_tail(5).splitlines() if line.strip())
        raise SandboxError(
            f"container {self.image} never became ready within {timeout:.0f}s ({why}); "
            f"last log lines: {last or '(empty)'}"
        )

    def log_tail(self, lines: int = 5) -> str:
        if self.container is None:
            return ""
        try:
            return bytes(self.container.logs(tail=lines)).decode(errors="replace")
        except Exception:  # a removed container has no log; callers only want text
            return ""

    def is_running(self) -> bool:
        if self.container is None:
            return False
        with contextlib.suppress(Exception):
            self.container.reload()
            return bool(self.container.attrs["State"].get("Running"))
        return False

    def dsn(self, dbname: str = "") -> str:
        return f"mysql://{ACCOUNT}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def stop(self) -> None:
        if self.container is not None:
            with contextlib.suppress(Exception):
                self.container.remove(force=True, v=True)
            self.container = None

    def destroy(self) -> None:
        self.stop()
        if self._created:
            labels.remove_sandbox_dir(self.root)

    def keep(self) -> None:
        self.kept = True
        self.label = self.label.model_copy(update={"keep": True, "port": self.port})
        labels.write_label(self.root, self.label)


@contextlib.contextmanager
def docker_mariadb(
    purpose: str,
    image: str,
    keep: bool = False,
    mounts: dict[Path, Path] | None = None,
    host_port: int | None = None,
    server_args: list[str] | None = None,
) -> Iterator[DockerMariaDB]:
    """Yield a provisioned (container not yet started) MariaDB docker sandbox; always
    removed unless kept."""
    with throwaway(DockerMariaDB(purpose, image, mounts, host_port, server_args), keep) as sandbox:
        yield sandbox


def dump_image(dump: Path, engine: str = "mariadb") -> str:
    """The image a mysqldump / mariadb-dump restores into by default: the server version
    its header records (a MariaDB server says so; ``engine`` decides otherwise)."""
    match = _SERVER_VERSION.search(read_dump_head(dump))
    if match is None:
        raise SandboxError(f"{dump}: no server version found in the dump header; pass --image")
    flavor = "mariadb" if match.group(2) or engine == "mariadb" else "mysql"
    return f"{flavor}:{match.group(1).decode()}"
