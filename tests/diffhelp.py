"""Helpers for the diff / reapply tests: pairs of real databases ("restored" and
"production") in one test cluster, and brute-force ground truth to compare diffs against."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from restoredrill.engines.postgres import catalog as pg
from restoredrill.engines.postgres.sandbox_local import LocalPostgres

_names = itertools.count()


@dataclass(frozen=True)
class Pair:
    cluster: LocalPostgres
    restored_db: str
    production_db: str

    @property
    def restored(self) -> str:
        return self.cluster.dsn(self.restored_db)

    @property
    def production(self) -> str:
        return self.cluster.dsn(self.production_db)

    def run(self, dsn: str, *statements: str | sql.Composed) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def both(self, *statements: str | sql.Composed) -> None:
        self.run(self.restored, *statements)
        self.run(self.production, *statements)


def new_pair(cluster: LocalPostgres) -> Pair:
    n = next(_names)
    restored, production = f"restored_{n}", f"production_{n}"
    with cluster.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(restored)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(production)))
    return Pair(cluster, restored, production)


def all_text(
    dsn: str, table: sql.Composable, columns: Sequence[str]
) -> list[dict[str, str | None]]:
    """Every row as {column: column::text}, computed in the server with pinned settings."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        pg.pin_session(conn)
        rows = conn.execute(
            sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns),
                table,
            )
        ).fetchall()
    return [
        dict(zip(columns, (None if v is None else str(v) for v in row), strict=True))
        for row in rows
    ]


def expected_diff(
    restored: list[dict[str, str | None]],
    production: list[dict[str, str | None]],
    key: Sequence[str],
    compared: Sequence[str] | None = None,
) -> tuple[
    set[tuple[str | None, ...]], set[tuple[str | None, ...]], dict[tuple[str | None, ...], set[str]]
]:
    """(lost keys, new keys, {changed key: differing columns}) by brute force."""

    def k(row: dict[str, str | None]) -> tuple[str | None, ...]:
        return tuple(row[c] for c in key)

    r = {k(row): row for row in restored}
    p = {k(row): row for row in production}
    columns = list(compared) if compared is not None else list(restored[0] if restored else [])
    changed = {}
    for key_value in r.keys() & p.keys():
        differ = {c for c in columns if r[key_value][c] != p[key_value][c]}
        if differ:
            changed[key_value] = differ
    return set(r) - set(p), set(p) - set(r), changed


def diff_keys(
    rows: Sequence[dict[str, str | None]], key: Sequence[str]
) -> set[tuple[str | None, ...]]:
    return {tuple(row[c] for c in key) for row in rows}
