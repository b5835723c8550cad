"""The registry the use cases find backends through: every "module:attribute" it names
resolves, and an unknown name is a usage error, not an ImportError."""

from __future__ import annotations

import pytest

from restoredrill.drill.restore_request import LocalRestore, RestoreBackend, RestoreRequest
from restoredrill.engines.base import ENGINE_NAMES
from restoredrill.errors import ConfigError
from restoredrill.models import RecoveryTarget
from restoredrill.sandboxes import registry


@pytest.mark.parametrize("name", sorted(registry.RESTORE_BACKENDS))
def test_every_restore_backend_resolves(name: str) -> None:
    assert isinstance(registry.restore_backend(name), RestoreBackend)


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_every_engine_restores_locally(engine: str) -> None:
    local = registry.local_restore(engine)
    assert isinstance(local, LocalRestore)
    # the options an engine's local restore builds name a registered backend
    assert local.options(None).backend in registry.RESTORE_BACKENDS


@pytest.mark.parametrize("archive", sorted(registry.INCIDENT_FINDERS))
def test_every_incident_finder_resolves(archive: str) -> None:
    assert callable(registry.incident_finder(archive))


def test_game_day_engines_resolve() -> None:
    for engine in registry.GAMEDAY_ENGINES:
        assert hasattr(registry.gameday_engine(engine), "inject")


def test_unknown_names_are_usage_errors() -> None:
    with pytest.raises(ConfigError, match="no restore backend 'nope'"):
        registry.restore_backend("nope")
    with pytest.raises(ConfigError, match="no local restore"):
        registry.local_restore("nope")
    with pytest.raises(ConfigError, match="game day"):
        registry.gameday_engine("mariadb")


def test_a_request_restores_with_local_postgres_by_default() -> None:
    request = RestoreRequest("base", "wal", RecoveryTarget(kind="latest"))
    assert request.backend.backend == "postgres"
