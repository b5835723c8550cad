"""Which engines exist: engine names and DSN schemes to the class implementing each, as
"module:Class" strings imported on first use (so this module imports no engine, and adding
an engine is adding its package under engines/ and a line here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineEntry:
    family: str  # the package under engines/ (MariaDB and MySQL share one)
    factory: str  # "module:Class"; the class is called with the engine's name


ENGINES: dict[str, EngineEntry] = {
    "postgres": EngineEntry("postgres", "restoredrill.engines.postgres.engine:PostgresEngine"),
    "mariadb": EngineEntry("mysql", "restoredrill.engines.mysql.engine:MySQLEngine"),
    "mysql": EngineEntry("mysql", "restoredrill.engines.mysql.engine:MySQLEngine"),
}
ENGINE_NAMES = tuple(ENGINES)

# DSN scheme -> engine name; any other DSN (postgres:// URIs, key=value conninfo) is PostgreSQL
SCHEMES: dict[str, str] = {"mysql": "mysql", "mariadb": "mariadb"}
DEFAULT_ENGINE = "postgres"


def name_for_dsn(dsn: str) -> str:
    scheme, sep, _ = dsn.strip().lower().partition("://")
    return SCHEMES.get(scheme, DEFAULT_ENGINE) if sep else DEFAULT_ENGINE


def family(name: str) -> str:
    return ENGINES[name].family


def factory(name: str) -> tuple[str, str]:
    """The module and class name of the engine ``name``."""
    module, _, attr = ENGINES[name].factory.partition(":")
    return module, attr
