"""The options of a MariaDB/MySQL restore: snapshot + binlog replay into a local sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from restoredrill.drill.restore_request import LocalRestore

if TYPE_CHECKING:
    from restoredrill.aws import AwsConfig


@dataclass(frozen=True)
class MySqlOptions:
    """``base_backups`` is the snapshot (a dump file, a mariabackup directory, or a directory
    of them) and ``wal_archive`` the binlog archive."""

    aws: AwsConfig | None = None  # for s3:// sources (default: from the environment)

    @property
    def backend(self) -> str:
        return "mysql"


# the server binaries are found on this machine (engines/mysql/tools.py)
LOCAL_RESTORE = LocalRestore(
    options=lambda _: MySqlOptions(),
    incident_id="gtid",
    default_dbname="",
    no_restore_points=(
        "MariaDB/MySQL have no named restore points: the manifest records the binlog "
        "position of its snapshot instead (restore to it with --target-position)"
    ),
)
