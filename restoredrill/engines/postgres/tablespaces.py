"""Tablespaces of a restored base backup, mapped inside the sandbox.

A tablespace lives outside the data directory, at a path of production's; a restore must
never write there. Each one is unpacked (or copied) into ``<sandbox>/tablespaces/<oid>``,
``pg_tblspc/<oid>`` links to it, and a ``tablespace_map`` (which PostgreSQL applies when
recovery starts, relinking from it) names the same places."""

from __future__ import annotations

import re
from pathlib import Path

from restoredrill.errors import BackupCorrupt
from restoredrill.osuser import RunAs

TABLESPACE_TAR = re.compile(r"^(\d+)\.tar(?:\.gz|\.lz4|\.zst)?$")


def location(datadir: Path, oid: int) -> Path:
    """Where tablespace ``oid`` goes: beside the data directory, inside the sandbox (a
    docker sandbox mounts the sandbox at the same path, so the links hold there too)."""
    root = datadir.parent / "tablespaces"
    if not root.exists():
        root.mkdir(mode=0o711)
    return root / str(oid)


def place(datadir: Path, locations: dict[int, Path], run_as: RunAs, where: str) -> None:
    """Link ``pg_tblspc/<oid>`` to each location and rewrite tablespace_map to match."""
    mapped = _read_map(datadir / "tablespace_map")
    unknown = sorted(set(mapped) - set(locations))
    if unknown:
        raise BackupCorrupt(
            f"{where}: tablespace_map names tablespace {unknown[0]} but the backup has no "
            f"archive of it ({unknown[0]}.tar)"
        )
    links = datadir / "pg_tblspc"
    if not links.exists():
        links.mkdir(mode=0o700)
        run_as.own(links)
    for oid, target in sorted(locations.items()):
        link = links / str(oid)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    if mapped or (datadir / "tablespace_map").exists():
        text = "".join(f"{oid} {target}\n" for oid, target in sorted(locations.items()))
        (datadir / "tablespace_map").write_text(text)
        run_as.own(datadir / "tablespace_map")


def foreign_links(datadir: Path) -> dict[int, Path]:
    """``pg_tblspc`` links of a copied plain backup, by oid, to where they point (outside
    the sandbox: production's, or where pg_basebackup --tablespace-mapping put them)."""
    links = datadir / "pg_tblspc"
    found: dict[int, Path] = {}
    if not links.is_dir():
        return found
    for link in links.iterdir():
        if link.is_symlink() and link.name.isdigit():
            target = Path(link.readlink())
            found[int(link.name)] = target if target.is_absolute() else links / target
    return found


def _read_map(path: Path) -> dict[int, str]:
    if not path.is_file():
        return {}
    mapped: dict[int, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        oid, sep, target = line.partition(" ")
        if not line.strip():
            continue
        if not sep or not oid.isdigit():
            raise BackupCorrupt(f"{path}: unreadable tablespace_map line {line!r}")
        mapped[int(oid)] = target
    return mapped
