"""Docker plumbing for every engine's docker sandbox (the docker SDK imported lazily): a
client that has answered, images, the ``restoredrill.*`` labels every sandbox container
carries, and ``sandbox gc`` of containers left by killed runs (found by label, which is why
testcontainers' Ryuk is not needed and is disabled). The engines' sandboxes themselves are
engines/postgres/sandbox_docker.py and engines/mysql/sandbox_docker.py.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from restoredrill.errors import SandboxError
from restoredrill.sandboxes import labels

if TYPE_CHECKING:
    import docker

LABEL_ID = "restoredrill.sandbox-id"
LABEL_PID = "restoredrill.owner-pid"
LABEL_HOST = "restoredrill.owner-host"
# The sandbox's directory: `sandbox gc` only touches containers under its own sandbox root,
# as it does for directories (two roots on one machine must not collect each other's).
LABEL_DIR = "restoredrill.sandbox-dir"


def sandbox_labels(sandbox_id: str, root: Path) -> dict[str, str]:
    return {
        LABEL_ID: sandbox_id,
        LABEL_PID: str(os.getpid()),
        LABEL_HOST: host_name(),
        LABEL_DIR: str(root),
    }


def _prepare_env() -> None:
    # Our own labels + `sandbox gc` replace Ryuk (which would need a registry to pull it).
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def dockerhost_name() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def client() -> docker.DockerClient:
    """A docker SDK client that has answered a ping, or a one-line SandboxError."""
    _prepare_env()
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as exc:
        raise SandboxError(
            "--sandbox docker needs the docker extra: pip install 'restoredrill[docker]'"
        ) from exc
    try:
        api = docker.from_env(timeout=30)
        api.ping()
    except (DockerException, OSError) as exc:
        raise SandboxError(
            f"Docker is not reachable at {dockerhost_name()}: start dockerd or set DOCKER_HOST"
        ) from exc
    return api


def ensure_image(api: docker.DockerClient, image: str) -> None:
    from docker.errors import DockerException, ImageNotFound

    try:
        api.images.get(image)
        return
    except ImageNotFound:
        pass
    except DockerException as exc:
        raise SandboxError(f"cannot inspect image {image}: {one_line(exc)}") from exc
    try:
        api.images.pull(image)
    except DockerException as exc:
        raise SandboxError(
            f"image {image} is not present locally and could not be pulled ({one_line(exc)})"
        ) from exc


def image_user(api: docker.DockerClient, image: str, name: str) -> tuple[int, int]:
    """uid and gid of ``name`` inside ``image`` (a throwaway container runs ``id``)."""
    from docker.errors import DockerException

    try:
        output = api.containers.run(
            image,
            ["sh", "-c", f"id -u {name} && id -g {name}"],
            user="0",
            entrypoint=[],
            remove=True,
            network_mode="none",
            labels={LABEL_ID: "probe", LABEL_PID: str(os.getpid()), LABEL_HOST: host_name()},
        )
        uid, gid = (int(v) for v in bytes(output).decode().split())
    except (DockerException, ValueError) as exc:
        raise SandboxError(
            f"image {image} has no usable OS user {name!r}: {one_line(exc)}"
        ) from exc
    return uid, gid


def one_line(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)  # the daemon's own words, if any
    text = " ".join(str(explanation or exc).split())
    return text[:300]


def host_name() -> str:
    return socket.gethostname()


# --- leftovers ---------------------------------------------------------------------------


def leftover_containers(
    include_kept: bool = False, root: Path | None = None, only: str | None = None
) -> list[dict[str, str]]:
    """Containers of this sandbox root whose owner process (on this host) is gone; kept ones
    (``--keep``, marked in their sandbox directory's label) only with include_kept. With
    ``only``: that sandbox's containers, whatever their owner."""
    root = root or labels.sandbox_root()
    kept = {state.label.id for state in labels.list_sandboxes(root) if state.label.keep}
    found: list[dict[str, str]] = []
    # The low-level listing: one call, no per-container inspect that a concurrent removal
    # could turn into NotFound.
    for entry in client().api.containers(all=True, filters={"label": LABEL_ID}):
        container_labels: dict[str, str] = entry.get("Labels") or {}
        ident = container_labels.get(LABEL_ID, "")
        directory = container_labels.get(LABEL_DIR)
        if directory is None or Path(directory).parent != root:
            continue  # a probe, or another sandbox root's
        try:
            pid = int(container_labels.get(LABEL_PID, "0"))
        except ValueError:
            pid = 0
        mine = container_labels.get(LABEL_HOST, "") == host_name()
        if only is not None:
            if ident != only:
                continue
        elif (mine and pid > 0 and labels._pid_alive(pid)) or (ident in kept and not include_kept):
            continue
        name = (entry.get("Names") or [entry["Id"]])[0].lstrip("/")
        found.append({"id": ident, "container": str(name)})
    return found


def collect_containers(
    include_kept: bool = False,
    root: Path | None = None,
    dry_run: bool = False,
    only: str | None = None,
) -> list[dict[str, str]]:
    """Remove leftover sandbox containers (``dry_run``: only list them); returns them.
    Nothing to do (and no error) where the docker SDK is missing or no daemon answers."""
    try:
        import docker  # noqa: F401
    except ImportError:
        return []
    from docker.errors import DockerException

    try:
        api = client()
        leftovers = leftover_containers(include_kept, root, only)
    except SandboxError:
        return []
    if dry_run:
        return leftovers
    removed = []
    for entry in leftovers:
        try:
            api.containers.get(entry["container"]).remove(force=True, v=True)
        except DockerException:
            continue
        removed.append(entry)
    return removed


def read_dump_head(dump: Path) -> bytes:
    """The first 64 KiB of a logical dump: where its server version is recorded."""
    try:
        with dump.open("rb") as handle:
            return handle.read(65536)
    except OSError as exc:
        raise SandboxError(f"cannot read {dump}: {exc}") from exc
