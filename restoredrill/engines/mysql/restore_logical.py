"""Restore a logical MariaDB dump (mariadb-dump SQL, optionally gzip-compressed) into a fresh
container of the server version it was dumped from: to dump time only. The ``mariadb``
client inside the container loads it, so the host needs no MariaDB binaries."""

from __future__ import annotations

from pathlib import Path

from restoredrill.drill.recording import recorded_restore
from restoredrill.engines.mysql import session as my
from restoredrill.errors import ConfigError
from restoredrill.ledger import Ledger
from restoredrill.models import (
    CheckStatus,
    PreflightCheck,
    RecoveryTarget,
    RestorePlan,
    RestoreResult,
)
from restoredrill.timing import PhaseClock, ProgressListener, SilentProgress


def is_gzip(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(2) == b"\x1f\x8b"
    except OSError as exc:
        raise ConfigError(f"--logical-dump {path}: {exc.strerror or exc}") from exc


def restore_logical_mariadb(
    dump: Path,
    image: str | None = None,
    dbname: str = "",
    keep: bool = False,
    progress: ProgressListener | None = None,
    ledger: Ledger | None = None,
    ready_timeout: float = 120.0,
) -> RestoreResult:
    """Restore ``dump`` into a MariaDB docker sandbox, time it, record it, tear down unless
    kept."""
    return recorded_restore(
        ledger,
        f"logical:{dump}",
        "dump time",
        lambda: _restore(dump, image, dbname, keep, progress, ready_timeout),
        lambda _: {"dump": str(dump), "engine": "mariadb"},
    )


def _restore(
    dump: Path,
    image: str | None,
    dbname: str,
    keep: bool,
    progress: ProgressListener | None,
    ready_timeout: float,
) -> RestoreResult:
    from restoredrill.engines.mysql.sandbox_docker import DUMP_MOUNT, docker_mariadb, dump_image

    dump = dump.resolve()
    compressed = is_gzip(dump)
    kind = "gzip-compressed SQL" if compressed else "SQL"
    clock = PhaseClock(progress or SilentProgress())
    with clock.phase("plan") as record:
        if image is not None:
            chosen = image
        elif compressed:
            chosen = _gzip_image(dump)
        else:
            chosen = dump_image(dump)
        record.detail = f"{kind} dump, image {chosen}"
    plan = RestorePlan(
        engine="mariadb",
        source=f"logical:{dump}",
        target=RecoveryTarget(kind="immediate"),
        base_backup=None,
        wal_range=None,
        target_timeline=None,
        archive_head_lsn=None,
        archive_head_time=None,
        checks=[
            PreflightCheck(
                name="logical dump",
                status=CheckStatus.OK,
                detail=f"{kind}; restores to dump time only (no binlog replay)",
            )
        ],
    )
    target = DUMP_MOUNT / dump.name
    with docker_mariadb("restore-logical", chosen, keep, {dump: target}) as sandbox:
        with clock.phase("provision"):
            sandbox.start()
            sandbox.wait_ready(ready_timeout)
            sandbox.create_account()
        with clock.phase("restore base") as record:
            sandbox.load(target, compressed)
            record.bytes = dump.stat().st_size
        with clock.phase("promote/ready"):
            sandbox.wait_ready(ready_timeout)
        dsn = sandbox.dsn(dbname)
        return RestoreResult(
            plan=plan,
            phases=list(clock.phases),
            rto_seconds=clock.total("provision", "promote/ready"),
            recovered_to_lsn=None,
            last_replayed_xact_time=None,
            rpo_seconds=None,
            dsn=dsn if keep else my.redact(dsn),
            sandbox_id=sandbox.id,
            kept=keep,
        )


def _gzip_image(dump: Path) -> str:
    """The default image of a compressed dump: its header, decompressed in memory."""
    import gzip
    import tempfile

    from restoredrill.engines.mysql.sandbox_docker import dump_image

    try:
        with gzip.open(dump, "rb") as handle:
            head = handle.read(65536)
    except (OSError, EOFError) as exc:
        raise ConfigError(f"--logical-dump {dump}: not a readable gzip file ({exc})") from exc
    with tempfile.NamedTemporaryFile(suffix=".sql") as tmp:
        tmp.write(head)
        tmp.flush()
        image = dump_image(Path(tmp.name))
    return image
