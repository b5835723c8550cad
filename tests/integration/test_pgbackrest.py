"""pgBackRest source end to end: a real PostgreSQL archiving through `pgbackrest
archive-push` into a posix repository in a temp dir, a real `pgbackrest backup`, then plan
(info + repo-ls + archive-get) and restore (`pgbackrest restore --type=…`) into a sandbox."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.engines.postgres.pgbackrest import PgBackRestSource, target_options
from restoredrill.engines.postgres.plan import plan_restore
from restoredrill.engines.postgres.sandbox_local import local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.models import RecoveryTarget
from tests.pgsetup import Commit, counter_rows, run_cli, start_production

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("pgbackrest") is None, reason="pgbackrest not installed"),
]
STANZA = "drill"


@dataclass
class Repo:
    config: Path
    commits: list[Commit]
    restore_points: dict[str, int]


@pytest.fixture(scope="module")
def repo(pg_tools: PgTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    """A production archiving into a pgBackRest repository, one full backup, ten commits.
    The production stays up: restores read the repository while it runs."""
    with local_postgres("test-pgbackrest", tools=pg_tools) as cluster:
        root = cluster.root
        for sub in ("repo", "log", "lock", "spool"):
            (root / sub).mkdir()
            cluster.run_as.own(root / sub)
        config = root / "pgbackrest.conf"
        config.write_text(
            f"[global]\nrepo1-path={root / 'repo'}\nlog-path={root / 'log'}\n"
            f"lock-path={root / 'lock'}\nspool-path={root / 'spool'}\nlog-level-file=off\n"
            f"start-fast=y\ncompress-type=gz\n\n"
            f"[{STANZA}]\npg1-path={cluster.datadir}\npg1-socket-path={cluster.sockdir}\n"
            f"pg1-port={cluster.port}\npg1-user=postgres\n"
        )
        cluster.run_as.own(config)
        push = f"pgbackrest --config={config} --stanza={STANZA} archive-push %p"
        prod = start_production(
            cluster, root / "unused-archive", tmp_path_factory.mktemp("pgbr"),
            settings={"archive_command": push},
        )  # fmt: skip
        pgbr = ["pgbackrest", f"--config={config}", f"--stanza={STANZA}"]
        cluster.run_tool([*pgbr, "stanza-create"], what="stanza-create")
        cluster.run_tool([*pgbr, "check"], what="pgbackrest check")
        prod.insert(3)
        cluster.run_tool([*pgbr, "backup", "--type=full"], what="pgbackrest backup")
        prod.next_second()
        prod.insert(5)
        prod.switch()
        prod.restore_point("before-cleanup")
        prod.insert(2)
        prod.switch()
        yield Repo(config, list(prod.commits), dict(prod.restore_points))


def test_plan_reads_pgbackrest_info(repo: Repo, pg_tools: PgTools) -> None:
    source = PgBackRestSource(STANZA, repo.config)
    try:
        outcome = plan_restore(source, RecoveryTarget(kind="latest"), pg_tools)
    finally:
        source.close()
    plan = outcome.plan
    assert plan.ok, plan.checks
    assert plan.base_backup is not None and plan.base_backup.format == "pgbackrest"
    assert plan.base_backup.path.startswith(f"pgbackrest:{STANZA}/")
    assert plan.archive_head_time is not None
    assert plan.archive_head_time >= repo.commits[-1].time.replace(microsecond=0)


def test_restore_from_pgbackrest_to_a_time(repo: Repo) -> None:
    target = RecoveryTarget(kind="time", time=repo.commits[5].time)
    request = RestoreRequest("", "", target, source=PgBackRestSource(STANZA, repo.config))
    with restored(request) as done:
        assert counter_rows(done.dsn()) == list(range(1, 7))
        conf = (done.sandbox.datadir / "postgresql.auto.conf").read_text()
        assert "archive-get %f" in conf and "archive_mode = 'off'" in conf
        fetch = next(p for p in done.result.phases if p.name == "fetch WAL")
        assert "restore_command" in (fetch.detail or "")


def test_restore_cli_to_a_restore_point(repo: Repo) -> None:
    done = run_cli(
        [
            "restore",
            "--pgbackrest-stanza",
            STANZA,
            "--pgbackrest-config",
            str(repo.config),
            "--target-name",
            "before-cleanup",
            "--json",
        ]
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["plan"]["source"].startswith(f"pgbackrest:{STANZA}")
    assert result["rto_seconds"] > 0


def test_target_after_archive_head_fails_the_plan(repo: Repo) -> None:
    done = run_cli(
        [
            "plan",
            "--pgbackrest-stanza",
            STANZA,
            "--pgbackrest-config",
            str(repo.config),
            "--target-time",
            "2099-01-01T00:00:00+00:00",
        ]
    )
    assert done.returncode == 1, done.stderr
    assert "after the archive head" in done.stdout


def test_unknown_stanza_is_a_config_error(repo: Repo) -> None:
    done = run_cli(
        [
            *("plan", "--pgbackrest-stanza", "nope"),
            *("--pgbackrest-config", str(repo.config), "--target", "latest"),
        ]
    )
    assert done.returncode in (2, 3), done.stderr
    assert len([line for line in done.stderr.splitlines() if line.strip()]) == 1


def test_target_options() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 11, 21, 3, 14, tzinfo=UTC)
    assert target_options(RecoveryTarget(kind="time", time=moment), 1) == [
        "--target-action=promote",
        "--type=time",
        f"--target={moment.isoformat()}",
        "--target-timeline=1",
    ]
    assert target_options(RecoveryTarget(kind="latest"), None) == ["--type=default"]
    assert "--target-exclusive" in target_options(
        RecoveryTarget(kind="xid", xid=1234, inclusive=False), None
    )
