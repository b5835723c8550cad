"""What the use cases pick by name — restore backends, an engine's local restore and game
day, the reader of a log archive — as "module:attribute", imported only when asked for, so
drill/ never names an engine or a sandbox and heavy SDKs stay out of start-up."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from restoredrill.errors import ConfigError

if TYPE_CHECKING:
    from restoredrill.drill.gameday import GameDayEngine
    from restoredrill.drill.incident_models import FindRequest, IncidentReport
    from restoredrill.drill.restore_request import BackendOptions, LocalRestore, RestoreBackend

    IncidentFinder = Callable[[FindRequest], IncidentReport]

RESTORE_BACKENDS: dict[str, str] = {
    "postgres": "restoredrill.engines.postgres.restore:LOCAL_BACKEND",
    "docker": "restoredrill.engines.postgres.restore:DOCKER_BACKEND",
    "mysql": "restoredrill.engines.mysql.restore:BACKEND",
    "rds": "restoredrill.sandboxes.rds_restore:BACKEND",
}
# an engine's name (engines/base.py ENGINE_NAMES) → how it restores locally
LOCAL_RESTORES: dict[str, str] = {
    "postgres": "restoredrill.engines.postgres.restore_options:LOCAL_RESTORE",
    "mariadb": "restoredrill.engines.mysql.restore_options:LOCAL_RESTORE",
    "mysql": "restoredrill.engines.mysql.restore_options:LOCAL_RESTORE",
}
# the log archive an incident is looked for in → its reader
INCIDENT_FINDERS: dict[str, str] = {
    "wal": "restoredrill.engines.postgres.incident:find_wal_incidents",
    "binlog": "restoredrill.engines.mysql.incident:find_binlog_incidents",
}
# an engine's name → its part of a game day (none yet for MariaDB/MySQL)
GAMEDAY_ENGINES: dict[str, str] = {
    "postgres": "restoredrill.engines.postgres.gameday:GAMEDAY",
}
DEFAULT_OPTIONS = "restoredrill.engines.postgres.restore_options:PostgresOptions"


def load(spec: str) -> object:
    """The attribute ``spec`` ("package.module:name") names."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def restore_backend(name: str) -> RestoreBackend:
    spec = RESTORE_BACKENDS.get(name)
    if spec is None:
        known = ", ".join(sorted(RESTORE_BACKENDS))
        raise ConfigError(f"no restore backend {name!r} (known: {known})")
    return cast("RestoreBackend", load(spec))


def local_restore(engine: str) -> LocalRestore:
    spec = LOCAL_RESTORES.get(engine)
    if spec is None:
        raise ConfigError(f"no local restore for engine {engine!r}")
    return cast("LocalRestore", load(spec))


def incident_finder(archive: str) -> IncidentFinder:
    return cast("IncidentFinder", load(INCIDENT_FINDERS[archive]))


def gameday_engine(engine: str) -> GameDayEngine:
    spec = GAMEDAY_ENGINES.get(engine)
    if spec is None:
        raise ConfigError(f"game day: not available for engine {engine!r} yet")
    return cast("GameDayEngine", load(spec))


def default_backend_options() -> BackendOptions:
    """A local PostgreSQL sandbox, with its defaults."""
    factory = load(DEFAULT_OPTIONS)
    assert callable(factory)
    return cast("BackendOptions", factory())
