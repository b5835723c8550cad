"""A pgBackRest repository as a source, read only through pgBackRest's own CLI.

- catalogue: ``pgbackrest info --output=json`` gives each backup's label, start/stop LSN
  and time, timeline (its first WAL segment) and the archive's min/max; ``repo-ls`` lists
  the archived segments, so the plan checks continuity and reads WAL (fetched with
  ``archive-get``, lazily, in parallel) exactly as it does for a directory.
- restore: ``pgbackrest restore --set=LABEL --type=time|lsn|xid|name|immediate|default
  --target=… --target-action=promote --archive-mode=off`` into the sandbox's data directory,
  as the server's OS user; PostgreSQL then fetches WAL with ``pgbackrest archive-get``
  (the sandbox's restore_command), never pushing anything back (archive_mode=off).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from restoredrill.engines.postgres.source import Catalogue
from restoredrill.engines.postgres.wal_archive import WalArchive, all_segments, read_history_file
from restoredrill.errors import ConfigError, SandboxError, ToolMissing
from restoredrill.lsn import DEFAULT_SEGMENT_SIZE, format_lsn, parse_lsn, parse_segment_name
from restoredrill.models import BaseBackup, RecoveryTarget, WalSegment
from restoredrill.osuser import RunAs, server_user
from restoredrill.storage.cache import PrefetchCache

_SEGMENT_FILE = re.compile(r"^(?:[0-9A-F]{16}/)?([0-9A-F]{24})-[0-9a-f]{40}(?:\.\w+)?$")
_HISTORY_FILE = re.compile(r"^([0-9A-F]{8})\.history$")
PATH_PREFIX = "pgbackrest:"


class PgBackRestSource:
    kind = "pgbackrest"

    def __init__(
        self,
        stanza: str,
        config: Path | None = None,
        os_user: str = "postgres",
        workers: int = 4,
        prefetch: int = 4,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", stanza):
            raise ConfigError(f"--pgbackrest-stanza {stanza!r}: not a stanza name")
        self.stanza = stanza
        self.config = Path(config).resolve() if config else None
        if self.config is not None and not self.config.is_file():
            raise ConfigError(f"--pgbackrest-config {self.config}: no such file")
        self.run_as = server_user(os_user)
        self.workers = workers
        self.prefetch = prefetch
        self._binary = shutil.which("pgbackrest")
        self._tmp: Path | None = None
        self._cache: PrefetchCache | None = None
        self._info: dict[str, Any] | None = None

    # --- plumbing ---------------------------------------------------------------------

    def describe(self) -> str:
        where = f", config {self.config}" if self.config else ""
        return f"pgbackrest:{self.stanza}{where}"

    @property
    def workdir(self) -> Path:
        if self._tmp is None:
            self.run_as.check_reachable(Path(tempfile.gettempdir()))
            self._tmp = Path(tempfile.mkdtemp(prefix="restoredrill-pgbackrest-"))
            for sub in ("wal", "lock"):
                (self._tmp / sub).mkdir(mode=0o700)
                self.run_as.own(self._tmp / sub)
            self._tmp.chmod(0o711)
        return self._tmp

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def options(self, command: str, lock_path: Path | None = None) -> list[str]:
        """Options for ``command``: the config, the stanza, no log files of ours, a lock
        directory of our own (pgBackRest rejects options a command does not take)."""
        opts = [f"--config={self.config}"] if self.config is not None else []
        if command != "repo-ls":
            opts.append(f"--stanza={self.stanza}")
        opts += ["--log-level-file=off", "--log-level-console=off", "--log-level-stderr=error"]
        if command in ("restore", "archive-get"):
            opts.append(f"--lock-path={lock_path or self.workdir / 'lock'}")
        return opts

    def _run(self, command: list[str], what: str, timeout: float = 600) -> str:
        if self._binary is None:
            raise ToolMissing("pgbackrest is not installed (Debian: apt-get install pgbackrest)")
        argv = [self._binary, *self.options(command[0]), *command]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=self.workdir,
                **self.run_as.popen_kwargs(),  # type: ignore[call-overload]
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxError(f"pgbackrest {what} failed: {exc}") from exc
        if done.returncode != 0:
            lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
            raise SandboxError(
                f"pgbackrest {what} failed: {lines[-1].strip() if lines else done.returncode}"
            )
        return str(done.stdout)

    def info(self) -> dict[str, Any]:
        if self._info is None:
            data = json.loads(self._run(["info", "--output=json"], "info") or "[]")
            stanza = next((s for s in data if s.get("name") == self.stanza), None)
            if stanza is None:
                raise ConfigError(f"pgBackRest has no stanza {self.stanza!r}")
            status = stanza.get("status") or {}
            if int(status.get("code", 0)) not in (0, 2):  # 2: no backups yet (plan says so)
                raise ConfigError(
                    f"pgBackRest stanza {self.stanza!r}: {status.get('message', 'unusable')}"
                )
            self._info = stanza
        return self._info

    # --- catalogue -------------------------------------------------------------------

    def catalogue(self) -> Catalogue:
        info = self.info()
        versions = {int(db["id"]): str(db.get("version")) for db in info.get("db") or []}
        backups = [
            self._backup(entry, versions)
            for entry in info.get("backup") or []
            if not entry.get("error")
        ]
        archive = self._archive(info)
        return Catalogue(sorted(backups, key=lambda b: (b.end_lsn, b.start_time)), archive)

    def _backup(self, entry: dict[str, Any], versions: dict[int, str]) -> BaseBackup:
        stamps = entry.get("timestamp") or {}
        lsn = entry.get("lsn") or {}
        first_segment = str((entry.get("archive") or {}).get("start") or "00000001" + "0" * 16)
        return BaseBackup(
            path=f"{PATH_PREFIX}{self.stanza}/{entry['label']}",
            format="pgbackrest",
            compression="none",
            label=str(entry["label"]),
            timeline=int(first_segment[:8], 16),
            start_lsn=parse_lsn(str(lsn["start"])),
            end_lsn=parse_lsn(str(lsn["stop"])),
            start_time=datetime.fromtimestamp(int(stamps["start"]), UTC),
            stop_time=datetime.fromtimestamp(int(stamps["stop"]), UTC),
            # pgBackRest records the stop time once pg_backup_stop() has returned, as the
            # backup history file does
            stop_time_source="backup-history",
            pg_version=versions.get(int((entry.get("database") or {}).get("id", 0))),
            size_bytes=int((entry.get("info") or {}).get("size") or 0),
        )

    def _archive(self, info: dict[str, Any]) -> WalArchive:
        walcache = self.workdir / "wal"
        archive = WalArchive(walcache)
        for archive_id in sorted({str(a["id"]) for a in info.get("archive") or []}):
            where = f"archive/{self.stanza}/{archive_id}"
            command = ["repo-ls", "--recurse", "--output=json", where]
            listing = json.loads(self._run(command, "repo-ls") or "{}")
            for name, meta in listing.items():
                if meta.get("type") != "file":
                    continue
                if match := _HISTORY_FILE.match(name):
                    local = walcache / name
                    if not local.exists():
                        self._archive_get(name, local)
                    archive.histories[int(match.group(1), 16)] = read_history_file(local)
                    continue
                found = _SEGMENT_FILE.match(name)
                if not found:
                    continue
                plain = found.group(1)
                timeline, segno = parse_segment_name(plain)
                archive.segments.setdefault(timeline, {})[segno] = WalSegment(
                    name=plain,
                    timeline=timeline,
                    segno=segno,
                    path=str(walcache / plain),
                    compression="none",  # archive-get decompresses
                    size_bytes=DEFAULT_SEGMENT_SIZE,
                )
        entries = [(Path(s.path), s.name) for s in all_segments(archive)]
        if self._cache is not None:
            self._cache.close()
        self._cache = PrefetchCache(
            walcache, entries, self._archive_get, self.workers, self.prefetch
        )
        self._cache.register()
        return archive

    def _archive_get(self, name: str, dest: Path) -> None:
        self._run(["archive-get", name, str(dest)], f"archive-get {name}")
        self.run_as.own(dest)

    # --- restoring ---------------------------------------------------------------------

    def extract_base(self, backup: BaseBackup, datadir: Path, run_as: RunAs) -> int:
        return self._restore(backup, datadir, run_as, ["--type=none"])

    def extract_for_target(
        self,
        backup: BaseBackup,
        datadir: Path,
        run_as: RunAs,
        target: RecoveryTarget,
        target_timeline: int | None,
    ) -> int:
        return self._restore(backup, datadir, run_as, target_options(target, target_timeline))

    def _restore(self, backup: BaseBackup, datadir: Path, run_as: RunAs, extra: list[str]) -> int:
        if not backup.path.startswith(PATH_PREFIX):
            raise ConfigError(f"{backup.path}: not a pgBackRest backup")
        if any(datadir.iterdir()):
            raise ConfigError(f"data directory {datadir} is not empty")
        self._run(
            [
                "restore",
                f"--set={backup.label}",
                f"--pg1-path={datadir}",
                "--archive-mode=off",
                "--link-all=n",
                *extra,
            ],
            "restore",
            timeout=24 * 3600,
        )
        return backup.size_bytes

    def restore_command(self, sandbox_root: Path, datadir: Path, run_as: RunAs) -> str:
        """``pgbackrest archive-get`` — what pgBackRest itself writes as restore_command,
        with our options (config, stanza, the sandbox's data directory as pg1-path, which
        archive-get checks against its working directory, no log file, a lock directory
        of the sandbox)."""
        lock = sandbox_root / "pgbackrest-lock"
        lock.mkdir(mode=0o700, exist_ok=True)
        run_as.own(lock)
        binary = self._binary or "pgbackrest"
        opts = [*self.options("archive-get", lock_path=lock), f"--pg1-path={datadir}"]
        return f'{binary} {" ".join(opts)} archive-get %f "%p"'

    def stage_segments(self, segments: list[WalSegment], dest: Path, run_as: RunAs) -> int:
        return 0  # PostgreSQL fetches them with archive-get during replay

    def stage_histories(self, dest: Path, run_as: RunAs) -> None:
        return None


def target_options(target: RecoveryTarget, target_timeline: int | None) -> list[str]:
    """``pgbackrest restore`` options for a recovery target."""
    opts = ["--target-action=promote"]
    if target.kind == "time" and target.time is not None:
        opts += ["--type=time", f"--target={target.time.isoformat()}"]
    elif target.kind == "lsn" and target.lsn is not None:
        opts += ["--type=lsn", f"--target={format_lsn(target.lsn)}"]
    elif target.kind == "xid" and target.xid is not None:
        opts += ["--type=xid", f"--target={target.xid}"]
    elif target.kind == "name" and target.name is not None:
        opts += ["--type=name", f"--target={target.name}"]
    elif target.kind == "immediate":
        opts += ["--type=immediate"]
    else:
        opts = ["--type=default"]  # replay everything archived ('latest')
    if target.kind in ("time", "lsn", "xid") and not target.inclusive:
        opts.append("--target-exclusive")
    if target_timeline is not None and target.kind != "latest":
        opts.append(f"--target-timeline={target_timeline}")
    return opts
