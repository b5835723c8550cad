"""Game days on a restored copy (never production): each classic incident is injected,
recovered and verified, and the time from the incident to verified rows is measured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from restoredrill.demo.postgres_env import DemoEnvironment
from restoredrill.drill.run import DrillOptions, run_drills
from tests.demohelp import PLAYBOOKS, demo_environment

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoEnvironment]:
    with demo_environment(users=1000) as env:
        yield env


def counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {
            table: int(str(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]))  # type: ignore[index]  # noqa: S608
            for table in ("users", "orders")
        }


GAMEDAY = """\
name: gameday-{name}
source: {{kind: file, base_backups: "${{DEMO_BASE_BACKUPS}}", wal_archive: "${{DEMO_WAL_ARCHIVE}}"}}
target: {{restore_point: before-user-cleanup}}
databases: [{{label: demo-gameday}}]
gameday:
{spec}
objectives: {{rto: 10m}}
"""


def test_bad_delete_example(demo: DemoEnvironment, tmp_path: Path) -> None:
    before = counts(demo.dsn)
    result = run_drills(
        [PLAYBOOKS / "gameday-bad-delete.yaml"], DrillOptions(ledger_path=tmp_path / "l.db")
    ).drills[0]
    assert result.verdict == "PASS" and result.exit_code == 0, result.failures
    game = result.gameday
    assert game is not None and game.recovery == "reapply"
    assert "IS NULL" in game.sql and game.rows_affected and game.rows_affected > 0
    # users come back, and the orders the cascade took with them
    assert game.rows_recovered > game.rows_affected
    assert 0 < game.recovered_seconds <= game.verified_seconds
    assert [p.name for p in game.phases] == [
        "incident",
        "restore recovery copy",
        "diff",
        "reapply",
        "verify",
    ]
    rto = next(o for o in result.objectives if o.name == "rto")
    assert rto.measured_seconds == game.verified_seconds and rto.status == "met"
    assert counts(demo.dsn) == before  # production untouched


@pytest.mark.parametrize(
    ("name", "spec", "recovery"),
    [
        ("drop", "  incident: drop-table\n  table: orders", "reload-table"),
        (
            "update",
            "  incident: update-without-where\n  table: orders\n  column: status\n"
            "  value: refunded\n  tables: [public.orders]",
            "reapply",
        ),
    ],
)
def test_other_incidents(
    demo: DemoEnvironment, tmp_path: Path, name: str, spec: str, recovery: str
) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(GAMEDAY.format(name=name, spec=spec))
    before = counts(demo.dsn)
    result = run_drills([path], DrillOptions(ledger_path=tmp_path / "l.db")).drills[0]
    assert result.verdict == "PASS", (result.failures, result.error)
    game = result.gameday
    assert game is not None and game.recovery == recovery
    assert game.verify.status == "PASS"
    assert game.rows_recovered > 0
    assert counts(demo.dsn) == before


def test_incident_that_cannot_run_is_a_config_error(demo: DemoEnvironment, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(GAMEDAY.format(name="bad", spec="  incident: drop-table\n  table: users"))
    result = run_drills([path], DrillOptions(ledger_path=tmp_path / "l.db")).drills[0]
    assert result.verdict == "ERROR" and result.exit_code == 2
    assert result.error is not None and "nothing references" in result.error
