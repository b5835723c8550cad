"""Restore backends by name: "module:attribute", imported only when a restore asks for it, so
the use cases never name an engine or a sandbox and heavy SDKs stay out of start-up."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, cast

from restoredrill.errors import ConfigError

if TYPE_CHECKING:
    from restoredrill.drill.restore_request import BackendOptions, LocalRestore, RestoreBackend

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


def default_backend_options() -> BackendOptions:
    """A local PostgreSQL sandbox, with its defaults."""
    factory = load(DEFAULT_OPTIONS)
    assert callable(factory)
    return cast("BackendOptions", factory())
