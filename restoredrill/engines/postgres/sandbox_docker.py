"""The PostgreSQL docker sandbox: the throwaway server runs in a container of the version
production runs (``postgres:16``, ...).

The sandbox directory is prepared on the host exactly as for the local sandbox (labelled,
the restored data directory, staged WAL, a private socket directory) and bind-mounted into
the container at the same path, so the recovery settings, the restore_command and the
socket DSN are the local sandbox's. The container runs as the image's ``postgres`` uid (the
files are given to it), publishes its port on 127.0.0.1 only (a random host port), carries
the ``restoredrill.*`` labels (sandboxes/docker.py) and is always removed.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from restoredrill.engines.postgres.sandbox_local import (
    RESTORE_SETTINGS,
    SANDBOX_SETTINGS,
    LocalPostgres,
    _last_fatal,
)
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.errors import SandboxError
from restoredrill.osuser import RunAs
from restoredrill.sandboxes import labels
from restoredrill.sandboxes.docker import (
    client,
    ensure_image,
    image_user,
    one_line,
    read_dump_head,
    sandbox_labels,
)
from restoredrill.sandboxes.lifecycle import throwaway

CONTAINER_PORT = 5432
# Inside the container: the server listens on every interface of its own network namespace;
# the published port is bound to the host's 127.0.0.1 only, and TCP needs a password.
DOCKER_PG_HBA = """\
# written by restoredrill: the socket directory is private (0700), TCP needs a password
local   all          all                 trust
local   replication  all                 trust
host    all          all  0.0.0.0/0      scram-sha-256
"""


def postgres_image_for(datadir: Path) -> str:
    """``postgres:<major>`` from a restored data directory's PG_VERSION."""
    try:
        major = (datadir / "PG_VERSION").read_text().strip()
    except OSError as exc:
        raise SandboxError(f"no PG_VERSION in the restored data directory: {exc}") from exc
    return f"postgres:{major}"


_PLAIN_PG = re.compile(rb"Dumped from database version (\d+)")
_CUSTOM_PG = re.compile(rb"[\x00-\x1f](\d{1,2})\.\d+")


def dump_image(dump: Path) -> str:
    """The image a pg_dump restores into by default: the server version it records."""
    head = read_dump_head(dump)
    match = _PLAIN_PG.search(head)
    if match is None and head.startswith(b"PGDMP"):
        match = _CUSTOM_PG.search(head[5:512])
    if match is None:
        raise SandboxError(f"{dump}: no server version found in the dump; pass --image")
    return f"postgres:{match.group(1).decode()}"


# --- the PostgreSQL sandbox ------------------------------------------------------------


class DockerPostgres(LocalPostgres):
    """A LocalPostgres whose server process runs in a container (same directory layout)."""

    backend = "docker"

    def __init__(
        self,
        tools: PgTools,
        purpose: str,
        image: str | None = None,
        superuser: str = "postgres",
        mounts: Mapping[Path, Path] | None = None,
    ) -> None:
        self.api = client()
        self.image = image
        self.mounts = dict(mounts or {})
        self.container: Any = None
        self._probe_user: tuple[int, int] | None = None
        if image is not None:
            ensure_image(self.api, image)
        run_as = self._run_as() if image is not None else RunAs(None, None, None, sees_host=False)
        super().__init__(tools, run_as, purpose, superuser)
        self.port = 0  # known once the container has published it

    def _run_as(self) -> RunAs:
        """Root gives files to the image's postgres uid; anyone else runs the container as
        themselves (the files are already theirs)."""
        assert self.image is not None
        if os.geteuid() != 0:
            return RunAs(None, None, None, sees_host=False)
        uid, gid = image_user(self.api, self.image, "postgres")
        return RunAs("postgres", uid, gid, sees_host=False)

    def use_image(self, image: str) -> None:
        """Pick the image once the data directory tells the version (files re-owned)."""
        ensure_image(self.api, image)
        self.image = image
        self.run_as = self._run_as()
        self.run_as.own(self.root, recursive=True)

    def provision(self) -> None:
        super().provision()
        (self.root / "pg_hba.conf").write_text(DOCKER_PG_HBA)

    def initdb(self) -> None:
        assert self.image is not None
        argv = ["initdb", "-D", str(self.datadir), "-U", self.superuser, "--auth=trust"]
        argv += ["--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]
        self.exec_once(argv, "initdb")

    def exec_once(self, argv: list[str], what: str) -> str:
        """Run a server tool in a throwaway container of the image, as the server user."""
        from docker.errors import ContainerError, DockerException

        assert self.image is not None
        try:
            output = self.api.containers.run(
                self.image,
                argv,
                user=self._user(),
                remove=True,
                network_mode="none",
                volumes=self._volumes(),
                labels=self._labels(),
                stderr=True,
            )
        except ContainerError as exc:
            detail = bytes(exc.stderr or b"").decode(errors="replace").strip().splitlines()
            raise SandboxError(f"{what} failed: {detail[-1] if detail else exc}") from exc
        except DockerException as exc:
            raise SandboxError(f"{what} failed: {one_line(exc)}") from exc
        return bytes(output).decode(errors="replace")

    def exec(self, argv: list[str], what: str) -> str:
        """Run a command in the running container (as its server user)."""
        assert self.container is not None
        result = self.container.exec_run(argv, user=self._user(), demux=True)
        stdout, stderr = result.output
        if result.exit_code != 0:
            text = (stderr or stdout or b"").decode(errors="replace").strip().splitlines()
            raise SandboxError(f"{what} failed: {text[-1] if text else result.exit_code}")
        return bytes(stdout or b"").decode(errors="replace")

    def _user(self) -> str:
        uid = self.run_as.uid if self.run_as.uid is not None else os.geteuid()
        gid = self.run_as.gid if self.run_as.gid is not None else os.getegid()
        return f"{uid}:{gid}"

    def _labels(self) -> dict[str, str]:
        return sandbox_labels(self.id, self.root)

    def _volumes(self) -> dict[str, dict[str, str]]:
        volumes = {str(self.root): {"bind": str(self.root), "mode": "rw"}}
        for host, inside in self.mounts.items():
            volumes[str(host)] = {"bind": str(inside), "mode": "ro"}
        return volumes

    def launch(self, settings: Mapping[str, str] | None = None, recovery: bool = False) -> None:
        """Start the container running the server (port published on 127.0.0.1 only)."""
        from docker.errors import APIError, DockerException
        from testcontainers.core.container import DockerContainer

        if self.image is None:
            self.use_image(postgres_image_for(self.datadir))
        assert self.image is not None
        merged = {
            **SANDBOX_SETTINGS,
            "listen_addresses": "*",
            "port": str(CONTAINER_PORT),
            "unix_socket_directories": str(self.sockdir),
            "hba_file": str(self.root / "pg_hba.conf"),
            "ident_file": str(self.root / "pg_ident.conf"),
            **(RESTORE_SETTINGS if recovery else {}),
            **(settings or {}),
        }
        argv = ["postgres", "-D", str(self.datadir)]
        for key, value in merged.items():
            argv += ["-c", f"{key}={value}"]
        container = DockerContainer(self.image, name=f"restoredrill-{self.id}")
        container.with_command(argv)
        # 127.0.0.1 only, a random host port (with_bind_ports cannot name the host address)
        container.ports[f"{CONTAINER_PORT}/tcp"] = ("127.0.0.1", None)  # type: ignore[assignment]
        for host, inside in self._volumes().items():
            container.with_volume_mapping(host, inside["bind"], inside["mode"])
        container.with_kwargs(
            labels=self._labels(),
            user=self._user(),
            working_dir=str(self.root),
        )
        try:
            container.start()
        except APIError as exc:
            message = one_line(exc)
            if "address already in use" in message or "port is already allocated" in message:
                raise SandboxError(f"cannot publish the sandbox port: {message}") from exc
            raise SandboxError(f"cannot start container from {self.image}: {message}") from exc
        except DockerException as exc:
            message = one_line(exc)
            raise SandboxError(f"cannot start container from {self.image}: {message}") from exc
        finally:
            self.container = getattr(container, "_container", None)
        assert self.container is not None
        self.container.reload()
        bindings = self.container.attrs["NetworkSettings"]["Ports"].get(f"{CONTAINER_PORT}/tcp")
        if bindings:
            self.port = int(bindings[0]["HostPort"])

    def dsn(self, dbname: str = "postgres", user: str | None = None) -> str:
        # The socket lives in the host-mounted directory; the file name carries the
        # container-side port, which is what libpq's "port" picks on a socket connection.
        return (
            f"host={self.sockdir} port={CONTAINER_PORT} dbname={dbname} "
            f"user={user or self.superuser}"
        )

    def _check_alive(self) -> None:
        from docker.errors import DockerException

        if self.container is None:
            raise SandboxError("the sandbox container is not running")
        try:
            self.container.reload()
        except DockerException as exc:
            raise SandboxError(f"sandbox container vanished: {one_line(exc)}") from exc
        state = self.container.attrs["State"]
        if state.get("Running"):
            return
        code = state.get("ExitCode")
        tail = self.log_tail()
        from restoredrill.engines.postgres.sandbox_local import RECOVERY_FAILURES
        from restoredrill.errors import RecoveryIncomplete

        if any(message in tail for message in RECOVERY_FAILURES):
            raise RecoveryIncomplete(
                "PostgreSQL ended recovery before reaching the target: " + _last_fatal(tail)
            )
        raise SandboxError(
            f"postgres exited with code {code} during start-up in container {self.image}: "
            + _last_fatal(tail)
        )

    def wait_ready(self, timeout: float = 120.0) -> None:
        try:
            super().wait_ready(timeout)
        except SandboxError as exc:
            if "did not accept connections" in str(exc):
                last = " | ".join(self.log_tail(5).splitlines())
                raise SandboxError(
                    f"container {self.image} never became ready within {timeout:.0f}s; "
                    f"last log lines: {last or '(empty)'}"
                ) from exc
            raise

    def log_watch(self) -> _ContainerLog:
        return _ContainerLog(self)  # the server logs to the container's output, not a file

    def log_text(self) -> str:
        if self.container is None:
            return ""
        try:
            return bytes(self.container.logs()).decode(errors="replace")
        except Exception:  # a removed container has no log; callers only want text
            return ""

    def is_running(self) -> bool:
        if self.container is None:
            return False
        with contextlib.suppress(Exception):
            self.container.reload()
            return bool(self.container.attrs["State"].get("Running"))
        return False

    def stop(self) -> None:
        if self.container is not None:
            with contextlib.suppress(Exception):
                self.container.remove(force=True, v=True)
            self.container = None

    def destroy(self) -> None:
        self.stop()
        # Files the container's user created (the restored data directory) are removable by
        # root; anyone else removes them as the container user, inside a throwaway container.
        if self._created:
            labels.remove_sandbox_dir(self.root)
            if self.root.exists() and self.image is not None:
                with contextlib.suppress(SandboxError):
                    self.exec_once(["rm", "-rf", str(self.datadir)], "cleanup")
                labels.remove_sandbox_dir(self.root)

    def keep(self) -> None:
        self.kept = True
        self.label = self.label.model_copy(update={"keep": True, "port": self.port})
        labels.write_label(self.root, self.label)


@contextlib.contextmanager
def docker_postgres(
    purpose: str,
    tools: PgTools,
    image: str | None = None,
    keep: bool = False,
    mounts: Mapping[Path, Path] | None = None,
) -> Iterator[DockerPostgres]:
    """Yield a provisioned (container not yet started) docker sandbox; always removed unless
    kept."""
    with throwaway(DockerPostgres(tools, purpose, image, mounts=mounts), keep) as sandbox:
        yield sandbox


class _ContainerLog:
    """The container's output read as LogWatch reads a log file (whole text each time)."""

    def __init__(self, sandbox: DockerPostgres) -> None:
        self._sandbox = sandbox

    def read(self) -> str:
        return self._sandbox.log_text()
