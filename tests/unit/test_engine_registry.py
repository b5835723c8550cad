"""The engine registry: DSN schemes and --engine names to engine classes, imported by name."""

from __future__ import annotations

import importlib

import pytest

from restoredrill.engines import registry
from restoredrill.engines.base import (
    ENGINE_NAMES,
    engine_family,
    engine_for_dsn,
    engine_for_dsns,
    engine_named,
    is_mysql_dsn,
)
from restoredrill.engines.mysql.engine import MySQLEngine
from restoredrill.engines.postgres.engine import PostgresEngine
from restoredrill.errors import ConfigError


@pytest.mark.parametrize(
    ("dsn", "kind", "name"),
    [
        ("postgresql://u@h/db", PostgresEngine, "postgres"),
        ("postgres://u@h/db", PostgresEngine, "postgres"),
        ("host=h dbname=db password=a://b", PostgresEngine, "postgres"),
        ("  MySQL://u:p@h:3306/db", MySQLEngine, "mysql"),
        ("mariadb://u@h/db?unix_socket=/s", MySQLEngine, "mariadb"),
    ],
)
def test_a_dsn_picks_its_engine_by_scheme(dsn: str, kind: type, name: str) -> None:
    engine = engine_for_dsn(dsn)
    assert isinstance(engine, kind)
    assert engine.name == name
    assert is_mysql_dsn(dsn) == (kind is MySQLEngine)


def test_both_sides_must_be_the_same_kind() -> None:
    assert engine_for_dsns("mysql://a/x", "mariadb://b/y").name == "mysql"
    with pytest.raises(ConfigError, match="like with like"):
        engine_for_dsns("postgresql://a/x", "mysql://b/y")


def test_engine_names_and_families() -> None:
    assert ENGINE_NAMES == ("postgres", "mariadb", "mysql")
    assert [engine_family(n) for n in ENGINE_NAMES] == ["postgres", "mysql", "mysql"]
    with pytest.raises(ConfigError, match="expected one of postgres, mariadb, mysql"):
        engine_family("oracle")


def test_every_registered_engine_loads_under_its_name() -> None:
    for name in ENGINE_NAMES:
        module, attr = registry.factory(name)
        assert hasattr(importlib.import_module(module), attr)
        assert engine_named(name).name == name
        # the family is the package the class lives in
        assert module.startswith(f"restoredrill.engines.{registry.family(name)}.")
