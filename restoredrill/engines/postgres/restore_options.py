"""The options of a PostgreSQL restore: into a local sandbox, or a docker container."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from restoredrill.drill.restore_request import LocalRestore


@dataclass(frozen=True)
class PostgresOptions:
    """A local sandbox run from this machine's PostgreSQL binaries."""

    pg_bin: str | None = None  # the binaries' directory (default: found on this machine)
    wal_delivery: Literal["stage", "stream"] = "stage"  # see engines/postgres/wal_fetch.py
    prefetch: int = 8  # segments wal-fetch fetches alongside the one asked for

    @property
    def backend(self) -> str:
        return "postgres"


@dataclass(frozen=True)
class DockerOptions(PostgresOptions):
    """A container of ``image`` (default: postgres:<PG_VERSION of the base>)."""

    image: str | None = None

    @property
    def backend(self) -> str:
        return "docker"


def sandbox_options(
    sandbox: str,
    pg_bin: str | None,
    wal_delivery: Literal["stage", "stream"],
    prefetch: int,
    image: str | None,
) -> PostgresOptions:
    """The options of ``--sandbox local`` or ``--sandbox docker``."""
    if sandbox == "docker":
        return DockerOptions(pg_bin, wal_delivery, prefetch, image)
    return PostgresOptions(pg_bin, wal_delivery, prefetch)


LOCAL_RESTORE = LocalRestore(
    options=lambda pg_bin: PostgresOptions(pg_bin=pg_bin),
    incident_id="xid",
    default_dbname="postgres",
)
