"""Finding PostgreSQL server binaries: --pg-bin, else PATH, pg_config --bindir,
/usr/lib/postgresql/*/bin (newest first)."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from restoredrill.errors import ConfigError, ToolMissing

SERVER_BINARIES = ("initdb", "postgres", "pg_ctl", "pg_controldata")


@dataclass(frozen=True)
class PgTools:
    bindir: Path
    version: str
    explicit: bool = False  # named by --pg-bin: never swapped for another major's

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def major_name(self) -> str:
        """The major as PG_VERSION spells it: '15', '9.6'."""
        parts = self.version.split(".")
        return parts[0] if self.major >= 10 or len(parts) < 2 else f"{parts[0]}.{parts[1]}"

    def path(self, name: str) -> str:
        candidate = self.bindir / name
        if candidate.exists():
            return str(candidate)
        raise ToolMissing(f"{name} not found in {self.bindir}")


def _has_server(bindir: Path) -> bool:
    return all((bindir / name).is_file() for name in SERVER_BINARIES)


def _version_key(bindir: Path) -> tuple[int, ...]:
    parts = re.findall(r"/(\d+)(?:\.(\d+))?/bin$", str(bindir))
    if not parts:
        return (0,)
    return tuple(int(p) for p in parts[0] if p)


def _candidates(versioned_glob: str = "/usr/lib/postgresql/*/bin") -> list[Path]:
    found: list[Path] = []
    on_path = shutil.which("postgres")
    if on_path:
        found.append(Path(on_path).resolve().parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            found.append(Path(out))
        except (subprocess.SubprocessError, OSError):
            pass
    versioned = [Path(p) for p in glob.glob(versioned_glob)]
    found.extend(sorted(versioned, key=_version_key, reverse=True))
    return found


def _server_version(bindir: Path) -> str:
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=10
    ).stdout
    match = re.search(r"(\d+(?:\.\d+)?)", out)
    if not match:
        raise ToolMissing(f"cannot tell the version of {bindir / 'postgres'}: {out.strip()!r}")
    return match.group(1)


def find_pg_tools(pg_bin: str | os.PathLike[str] | None = None) -> PgTools:
    """Locate a directory with the PostgreSQL server binaries."""
    if pg_bin is not None:
        bindir = Path(pg_bin)
        if not _has_server(bindir):
            raise ConfigError(
                f"--pg-bin {bindir}: no PostgreSQL server binaries (initdb, postgres)"
            )
        return PgTools(bindir, _server_version(bindir), explicit=True)
    for bindir in _candidates():
        if _has_server(bindir):
            return PgTools(bindir, _server_version(bindir))
    raise ToolMissing(
        "PostgreSQL server binaries not found (looked at --pg-bin, PATH, pg_config --bindir, "
        "/usr/lib/postgresql/*/bin); install the postgresql server package"
    )


def installed_servers(versioned_glob: str = "/usr/lib/postgresql/*/bin") -> list[PgTools]:
    """Every PostgreSQL server installation found (PATH, pg_config, the versioned
    directories), once each, in that order."""
    found: list[PgTools] = []
    seen: set[Path] = set()
    for bindir in _candidates(versioned_glob):
        real = bindir.resolve()
        if real in seen or not _has_server(bindir):
            continue
        seen.add(real)
        try:
            found.append(PgTools(bindir, _server_version(bindir)))
        except (ToolMissing, OSError, subprocess.SubprocessError):
            continue  # a broken installation is not a candidate
    return found
