"""Game day on PostgreSQL: the incident as SQL, run in the victim copy, and the DROP TABLE
recovery (pg_dump of the table from the recovery copy | psql into the victim)."""

from __future__ import annotations

import subprocess

import psycopg
from psycopg import sql

from restoredrill import dsn as dsnlib
from restoredrill.drill.restore_request import RestoreRequest
from restoredrill.engines.postgres import catalog as pg
from restoredrill.engines.postgres.restore_options import PostgresOptions
from restoredrill.engines.postgres.tools import PgTools, find_pg_tools
from restoredrill.errors import ConfigError, DatabaseUnavailable, SandboxError
from restoredrill.playbook import GameDaySpec


def incident_statement(spec: GameDaySpec, table: pg.TableName) -> sql.Composed:
    """The incident as SQL, identifiers quoted by psycopg, the value a literal."""
    target = table.identifier()
    if spec.incident == "drop-table":
        return sql.SQL("DROP TABLE {}").format(target)
    assert spec.column is not None and spec.value is not None
    column = sql.Identifier(spec.column)
    if spec.incident == "update-without-where":
        return sql.SQL("UPDATE {} SET {} = {}").format(target, column, sql.Literal(spec.value))
    # What was meant: rows below the cut-off. What ran: NULLs matched too.
    return sql.SQL("DELETE FROM {} WHERE {} < {} OR {} IS NULL").format(
        target, column, sql.Literal(spec.value), column
    )


def user_tables(dsn: str) -> list[pg.TableName]:
    with dsnlib.connect(dsn, autocommit=True) as conn:
        return pg.list_tables(conn)


def run_incident(dsn: str, statement: sql.Composed) -> tuple[str, int | None]:
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            text = statement.as_string(conn)
            cursor = conn.execute(statement)
            affected = cursor.rowcount if cursor.rowcount >= 0 else None
    except psycopg.errors.DependentObjectsStillExist as exc:
        raise ConfigError(
            f"game day: {str(exc).splitlines()[0]}; choose a table nothing references"
        ) from exc
    except psycopg.errors.UndefinedColumn as exc:
        raise ConfigError(f"game day: {str(exc).splitlines()[0]}") from exc
    except psycopg.Error as exc:
        raise DatabaseUnavailable(f"game day incident failed: {str(exc).splitlines()[0]}") from exc
    return text, affected


def _reload(copy_dsn: str, victim_dsn: str, table: pg.TableName, tools: PgTools) -> int:
    """DROP TABLE recovery: dump the table from the recovery copy into the victim."""
    quoted = ".".join('"' + part.replace('"', '""') + '"' for part in (table.schema, table.name))
    dump = subprocess.Popen(
        [
            tools.path("pg_dump"),
            f"--dbname={copy_dsn}",
            f"--table={quoted}",
            "--no-owner",
            "--no-privileges",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert dump.stdout is not None
    load = subprocess.run(
        [
            tools.path("psql"),
            f"--dbname={victim_dsn}",
            "--quiet",
            "--no-psqlrc",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
        ],
        stdin=dump.stdout,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    dump.stdout.close()
    dump_err = dump.stderr.read().decode(errors="replace") if dump.stderr else ""
    if dump.wait() != 0 or load.returncode != 0:
        reason = (dump_err or load.stderr).strip().splitlines()
        raise SandboxError(f"reloading {table.display} failed: {reason[-1] if reason else '?'}")
    with psycopg.connect(victim_dsn) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table.identifier())).fetchone()
    return int(str(row[0])) if row is not None else 0


def _pg_bin(request: RestoreRequest) -> str | None:
    options = request.backend
    return options.pg_bin if isinstance(options, PostgresOptions) else None


class PostgresGameDay:
    """drill/gameday.py's GameDayEngine for PostgreSQL."""

    def user_tables(self, dsn: str) -> list[pg.TableName]:
        return user_tables(dsn)

    def resolve_table(self, spec: str, known: set[str]) -> str:
        return pg.resolve_table(spec, known)

    def inject(self, dsn: str, spec: GameDaySpec, table: pg.TableName) -> tuple[str, int | None]:
        return run_incident(dsn, incident_statement(spec, table))

    def reload_table(
        self, copy_dsn: str, victim_dsn: str, table: pg.TableName, request: RestoreRequest
    ) -> int:
        return _reload(copy_dsn, victim_dsn, table, find_pg_tools(_pg_bin(request)))


GAMEDAY = PostgresGameDay()
