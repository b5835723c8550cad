"""Which OS user runs server processes. initdb and postgres refuse to run as root, so when
restoredrill runs as root the servers run as a dedicated user (``postgres`` by default)."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from restoredrill.errors import ConfigError


@dataclass(frozen=True)
class RunAs:
    """The user server processes run as; ``None`` fields mean "as ourselves"."""

    name: str | None
    uid: int | None
    gid: int | None
    # False for a server in a container: it sees only the bind-mounted sandbox directory, so
    # a link to a host file (WAL read in place) would dangle there.
    sees_host: bool = True

    @property
    def switches(self) -> bool:
        return self.uid is not None

    def popen_kwargs(self) -> dict[str, object]:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def check_reachable(self, path: Path) -> None:
        """The server user must be able to traverse every directory above ``path``."""
        if self.uid is None or self.gid is None:
            return
        for parent in [path, *path.parents]:
            info = parent.stat()
            if info.st_uid == self.uid:
                allowed = info.st_mode & 0o100
            elif info.st_gid == self.gid:
                allowed = info.st_mode & 0o010
            else:
                allowed = info.st_mode & 0o001
            if not allowed:
                raise ConfigError(
                    f"OS user {self.name!r} cannot reach {path} ({parent} is mode "
                    f"{info.st_mode & 0o777:o}); set RESTOREDRILL_SANDBOX_DIR to a directory "
                    f"it can traverse, e.g. under /tmp"
                )

    def can_read(self, path: Path) -> bool:
        """Can the server user read the file ``path`` (every directory above it
        traversable)? Judged by mode bits, its supplementary groups not counted: when in
        doubt, no."""
        if self.uid is None or self.gid is None:
            return os.access(path, os.R_OK)
        try:
            checks = [(path, 0o4), *((parent, 0o1) for parent in path.parents)]
            return all(self._allows(where.stat(), bit) for where, bit in checks)
        except OSError:
            return False

    def _allows(self, info: os.stat_result, bit: int) -> bool:
        if info.st_uid == self.uid:
            return bool(info.st_mode & (bit << 6))
        if info.st_gid == self.gid:
            return bool(info.st_mode & (bit << 3))
        return bool(info.st_mode & bit)

    def own(self, path: Path, recursive: bool = False) -> None:
        """Give ``path`` (and, if asked, everything below it) to the server user."""
        if self.uid is None or self.gid is None:
            return
        os.chown(path, self.uid, self.gid)
        if recursive:
            for root, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.lchown(os.path.join(root, name), self.uid, self.gid)


def server_user(preferred: str = "postgres") -> RunAs:
    """Resolve the OS user for server processes; only switches when running as root."""
    if os.geteuid() != 0:
        return RunAs(None, None, None)
    try:
        entry = pwd.getpwnam(preferred)
    except KeyError:
        raise ConfigError(
            f"running as root, but there is no OS user {preferred!r} to run the server as "
            f"(create it, or pass --os-user NAME)"
        ) from None
    if entry.pw_uid == 0:
        raise ConfigError(f"--os-user {preferred!r} is root; the server refuses to run as root")
    return RunAs(preferred, entry.pw_uid, entry.pw_gid)
