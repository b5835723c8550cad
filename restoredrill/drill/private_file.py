"""Files that hold production data (manifests, diffs, reapply scripts, checkpoints): written
0600 and atomically, and never over an existing file unless the caller says ``force``."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from restoredrill.errors import ConfigError


def check_writable(path: Path, force: bool, what: str = "", make_dir: bool = False) -> None:
    """Refuse early (before any work on production) when ``path`` cannot be written;
    ``make_dir`` creates a missing directory instead of refusing."""
    label = f"{what} {path}".strip()
    if path.exists() and not force:
        raise ConfigError(f"{label} already exists (pass --force to overwrite it)")
    if make_dir:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot write {label}: {exc.strerror or exc}") from exc
    elif not path.parent.is_dir():
        raise ConfigError(f"cannot write {label}: directory {path.parent} does not exist")


@contextlib.contextmanager
def private_writer(path: Path, force: bool, what: str = "") -> Iterator[TextIO]:
    """Yield a text handle on a 0600 temporary file next to ``path``; on success it becomes
    ``path`` (replacing it only with ``force``). On any error or interrupt it is removed, so a
    reader never sees half a file."""
    path = Path(path)
    label = f"{what} {path}".strip()
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write {label}: {exc.strerror or exc}") from exc
    tmp = Path(tmp_name)  # mkstemp creates it 0600 whatever the umask
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            os.replace(tmp, path)
        else:
            # link() refuses to replace a file that appeared meanwhile; rename() would not.
            os.link(tmp, path)
    except FileExistsError:
        raise ConfigError(f"{label} already exists (pass --force to overwrite it)") from None
    except OSError as exc:
        raise ConfigError(f"cannot write {label}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_private(
    path: Path, data: str, force: bool, what: str = "", make_dir: bool = False
) -> None:
    if make_dir:
        check_writable(path, True, what, make_dir=True)
    with private_writer(path, force, what) as handle:
        handle.write(data)


__all__ = ["check_writable", "private_writer", "write_private"]
