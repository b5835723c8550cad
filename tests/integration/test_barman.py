"""barman-cloud source end to end, on real output: a PostgreSQL 15 whose archive_command is
barman-cloud-wal-archive (plain, then gzip) into a moto S3 bucket on loopback, two
barman-cloud-backup backups (plain, then gzip); plan and restore from S3 and from the same
layout copied to a local directory; a damaged segment named by the plan."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.drill.verify import verify
from restoredrill.engines.postgres.barman import open_barman
from restoredrill.engines.postgres.plan import plan_restore
from restoredrill.engines.postgres.restore_options import DockerOptions, PostgresOptions
from restoredrill.engines.postgres.sandbox_local import LocalPostgres, local_postgres
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.lsn import DEFAULT_SEGMENT_SIZE as SEGMENT
from restoredrill.lsn import segment_name, segment_of
from restoredrill.models import RecoveryTarget, VerifyStatus
from tests.awshelp import new_bucket
from tests.barmanhelp import cloud_backup, download_store, gzip_flag, wal_archive_script
from tests.dockerhelp import require_docker
from tests.pgsetup import Commit, Production, counter_rows, run_cli, start_production

pytestmark = [pytest.mark.slow]
SERVER = "pg-main"


@dataclass
class Store:
    endpoint: str
    url: str  # s3://bucket/prefix/SERVER, what --barman takes
    local: Path  # the same objects in a directory: local/SERVER
    prod: Production
    commits: list[Commit]
    backups: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def store(
    pg_tools: PgTools, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    pytest.importorskip("barman")

    bucket = new_bucket(moto_endpoint)
    prefix = f"s3://{bucket}/cnpg"
    with local_postgres("test-barman", tools=pg_tools) as cluster:
        script = wal_archive_script(cluster, moto_endpoint, prefix, SERVER)
        prod = start_production(
            cluster, cluster.root / "unused-archive", tmp_path_factory.mktemp("barman"),
            settings={"archive_command": f"{script} %p"},
        )  # fmt: skip
        space = cluster.root / "space"  # a tablespace: barman-cloud writes it as <oid>.tar
        space.mkdir()
        cluster.run_as.own(space)
        with cluster.connect() as conn:
            conn.execute(f"CREATE TABLESPACE spaced LOCATION '{space}'")
            conn.execute("CREATE TABLE far (n int) TABLESPACE spaced")
            conn.execute("INSERT INTO far SELECT generate_series(1, 100)")
        prod.insert(3)
        first = cloud_backup(cluster, moto_endpoint, prefix, SERVER)
        prod.next_second()
        prod.insert(5)
        prod.switch()
        prod.restore_point("before-cleanup")
        gzip_flag(cluster).touch()  # from here on the WAL is archived gzip-compressed
        prod.insert(2)
        prod.switch()
        second = cloud_backup(cluster, moto_endpoint, prefix, SERVER, ("--gzip",))
        prod.next_second()
        prod.insert(2)
        prod.switch()
        local = tmp_path_factory.mktemp("barman-local")
        download_store(moto_endpoint, bucket, "cnpg", local)
        yield Store(
            moto_endpoint, f"{prefix}/{SERVER}", local / SERVER, prod, list(prod.commits),
            [first, second],
        )  # fmt: skip


def test_catalogue_reads_backup_info(store: Store, aws_env: str) -> None:
    source = open_barman(store.url)
    try:
        catalogue = source.catalogue()
        first, second = catalogue.backups
        info = source.backup_info(first)
    finally:
        source.close()
    assert [b.label for b in catalogue.backups] == store.backups
    assert first.pg_version == "15" and info.version is not None and info.version >= 150000
    assert (first.compression, second.compression) == ("none", "gzip")
    assert first.end_lsn < second.start_lsn and first.stop_time is not None
    (space,) = info.tablespaces
    assert first.timeline == 1 and space.name == "spaced" and space.location.endswith("/space")
    compressed = {
        s.compression for per in catalogue.archive.segments.values() for s in per.values()
    }
    assert compressed == {"none", "gzip"}


def test_plan_latest_from_s3(store: Store, aws_env: str, pg_tools: PgTools) -> None:
    source = open_barman(store.url)
    try:
        plan = plan_restore(source, RecoveryTarget(kind="latest"), pg_tools).plan
    finally:
        source.close()
    assert plan.ok, plan.checks
    assert plan.source == f"barman:{store.url}"
    assert plan.base_backup is not None and plan.base_backup.label == store.backups[1]
    assert plan.archive_head_time is not None
    assert plan.archive_head_time >= store.commits[-1].time.replace(microsecond=0)


def test_restore_from_s3_to_a_time(store: Store, aws_env: str) -> None:
    """The first (uncompressed) backup, then plain and gzip WAL, stopping at the 6th commit."""
    target = RecoveryTarget(kind="time", time=store.commits[5].time)
    request = RestoreRequest("", "", target, source=open_barman(store.url))
    with restored(request) as done:
        assert counter_rows(done.dsn()) == list(range(1, 7))
        assert done.result.plan.base_backup is not None
        assert done.result.plan.base_backup.label == store.backups[0]


def test_restore_from_s3_streaming_wal_with_wal_fetch(store: Store, aws_env: str) -> None:
    """--wal-delivery stream: PostgreSQL's restore_command (restoredrill wal-fetch) reads
    barman-cloud's wals/<timeline+log>/ layout, plain then gzip segments, prefetching."""
    target = RecoveryTarget(kind="time", time=store.commits[9].time)  # after the gzip switch
    request = RestoreRequest(
        "", "", target, source=open_barman(store.url),
        backend=PostgresOptions(wal_delivery="stream", prefetch=2),
    )  # fmt: skip
    with restored(request) as done:
        assert counter_rows(done.dsn()) == list(range(1, 11))
        assert done.result.plan.base_backup is not None
        assert done.result.plan.base_backup.label == store.backups[0]
        conf = (done.sandbox.datadir / "postgresql.auto.conf").read_text()  # type: ignore[attr-defined]
        assert "wal-fetch --config" in conf
        replay = next(p for p in done.result.phases if p.name == "replay WAL")
        assert replay.detail is not None and "via wal-fetch" in replay.detail


def test_restore_from_a_directory_to_latest_and_verify(store: Store) -> None:
    request = RestoreRequest(
        "", "", RecoveryTarget(kind="latest"), source=open_barman(str(store.local))
    )
    with restored(request) as done:
        assert counter_rows(done.dsn()) == list(range(1, len(store.commits) + 1))
        assert isinstance(done.sandbox, LocalPostgres)
        (link,) = (done.sandbox.datadir / "pg_tblspc").iterdir()  # the tablespace's tar
        assert link.resolve().is_relative_to(done.sandbox.root.resolve())
        report = verify(done.dsn(), store.prod.cluster.dsn())
    assert report.status == VerifyStatus.PASS, report


def test_restore_cli_to_a_restore_point(store: Store, aws_env: str) -> None:
    done = run_cli(["restore", "--barman", store.url, "--target-name", "before-cleanup", "--json"])
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["plan"]["source"] == f"barman:{store.url}"
    assert result["plan"]["base_backup"]["label"] == store.backups[0]


def test_a_damaged_segment_is_named_by_the_plan(store: Store, tmp_path: Path) -> None:
    copy = tmp_path / SERVER
    shutil.copytree(store.local, copy)
    # the last uncompressed segment holds the 4th to 8th commits, which the plan must read
    victim = max(p for p in (copy / "wals").rglob("*") if len(p.name) == 24)
    data = bytearray(victim.read_bytes())
    data[200:300] = b"\xff" * 100  # inside the first records: their CRCs no longer hold
    victim.write_bytes(bytes(data))
    target = store.commits[5].time.isoformat()
    done = run_cli(["plan", "--barman", str(copy), "--target-time", target])
    assert done.returncode == 1, done.stderr
    assert "WAL segments" in done.stdout and victim.name in done.stdout


def test_unknown_server_finds_no_backups(store: Store) -> None:
    done = run_cli(["plan", "--barman", str(store.local.parent / "nope"), "--target", "latest"])
    assert done.returncode == 1, done.stderr
    assert "no base backups" in done.stdout


def test_playbook_source_kind_barman_drills_from_s3(
    store: Store, aws_env: str, tmp_path: Path
) -> None:
    """barman-cloud writes no backup_manifest: the drill is UNVERIFIED unless accepted."""
    text = f"""\
name: barman-drill
source: {{kind: barman, location: "{store.url}", allow_unverified_base: true}}
target: latest
databases:
  - name: postgres
    verify: {{production: "{store.prod.cluster.dsn()}", tables: [public.counter]}}
objectives:
  rto: 1h
"""
    playbook = tmp_path / "barman.yaml"
    playbook.write_text(text)
    done = run_cli(["drill", str(playbook), "--json"])
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    drill = result["drills"][0] if "drills" in result else result
    assert drill["verdict"] == "PASS", drill
    assert "no backup_manifest" in done.stdout


def test_playbook_refuses_barman_with_recover(tmp_path: Path) -> None:
    playbook = tmp_path / "bad.yaml"
    playbook.write_text(
        "name: bad\nsource: {kind: barman, location: s3://bucket/x/pg}\n"
        "recover: {before: '2026-01-01T00:00:00Z', after: '2026-01-01T01:00:00Z', "
        "tables: [t], to: 'postgresql://x'}\n"
    )
    done = run_cli(["drill", str(playbook)])
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not with source kind barman" in done.stdout + done.stderr


def _rules(out: str) -> dict[str, dict[str, str]]:
    return {c["rule"]: c for c in json.loads(out)["checks"]}


def test_check_rules_on_the_store(store: Store, aws_env: str, tmp_path: Path) -> None:
    """Newest backup age (backup.info) and WAL continuity since it, on S3 and locally."""
    done = run_cli(["check", "--barman", store.url, "--max-backup-age", "1h", "--json"])
    assert done.returncode == 0, done.stdout + done.stderr
    found = _rules(done.stdout)
    assert found["archive.base_backup_age"]["status"] == "ok"
    assert store.backups[1] in found["archive.base_backup_age"]["detail"]
    assert found["archive.wal_continuity"]["status"] == "ok"
    assert "archive.archive_head_age" not in found  # S3 objects: no archive time read
    done = run_cli(["check", "--barman", store.url, "--max-backup-age", "1s", "--json"])
    assert done.returncode == 1 and _rules(done.stdout)["archive.base_backup_age"]["status"] == (
        "failed"
    )
    copy = tmp_path / SERVER
    shutil.copytree(store.local, copy)
    segments = sorted(p for p in (copy / "wals").rglob("*") if p.name[:24].isalnum())
    missing = [p for p in segments if len(p.name.split(".")[0]) == 24 and ".backup" not in p.name]
    missing[-2].unlink()  # after the newest backup: the head is unreachable
    done = run_cli(["check", "--barman", str(copy), "--json"])
    assert done.returncode == 1, done.stdout + done.stderr
    continuity = _rules(done.stdout)["archive.wal_continuity"]
    assert continuity["status"] == "failed"
    assert missing[-2].name.split(".")[0] in continuity["detail"]
    assert _rules(done.stdout)["archive.archive_head_age"]["status"] == "ok"


def test_check_recovery_window(store: Store, aws_env: str, tmp_path: Path) -> None:
    """How far back retention lets a restore aim: to the end of the oldest backup with
    continuous WAL to the head; --recovery-window is the threshold."""
    done = run_cli(["check", "--barman", store.url, "--json"])
    assert done.returncode == 0, done.stdout + done.stderr
    window = _rules(done.stdout)["archive.recovery_window"]
    assert window["status"] == "ok" and store.backups[0] in window["detail"]
    done = run_cli(["check", "--barman", store.url, "--recovery-window", "7d", "--json"])
    assert done.returncode == 1, done.stdout + done.stderr  # the store is minutes old
    window = _rules(done.stdout)["archive.recovery_window"]
    assert (
        window["status"] == "failed" and "shorter than the recovery window 7d" in window["detail"]
    )
    done = run_cli(["check", "--barman", store.url, "--recovery-window", "1s", "--json"])
    assert done.returncode == 0 and _rules(done.stdout)["archive.recovery_window"]["status"] == "ok"
    # retention as barman-cloud-backup-delete leaves it when a segment after the first
    # backup is gone: only the second backup reaches the head, the window is shorter
    copy = tmp_path / SERVER
    shutil.copytree(store.local, copy)
    source = open_barman(str(copy))
    try:
        first, second = source.catalogue().backups
    finally:
        source.close()
    gone = segment_name(first.timeline, segment_of(first.end_lsn, SEGMENT), SEGMENT)
    (match,) = [p for p in (copy / "wals").rglob(f"{gone}*") if ".backup" not in p.name]
    match.unlink()
    done = run_cli(["check", "--barman", str(copy), "--json"])
    assert done.returncode == 0, done.stdout + done.stderr  # a warning: older backup cut off
    found = _rules(done.stdout)
    assert found["archive.wal_continuity"]["status"] == "warning"
    assert found["archive.recovery_window"]["status"] == "ok"
    assert second.label in found["archive.recovery_window"]["detail"]
    assert first.label not in found["archive.recovery_window"]["detail"]


def test_playbook_checks_recovery_window(store: Store, aws_env: str, tmp_path: Path) -> None:
    playbook = tmp_path / "retention.yaml"
    playbook.write_text(
        f'name: retention\nsource: {{kind: barman, location: "{store.url}"}}\n'
        "checks: {recovery_window: 7d}\n"
    )
    done = run_cli(["drill", str(playbook), "--json"])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "shorter than the recovery window 7d" in done.stdout


def test_a_bzip2_store_is_refused_by_name(store: Store, aws_env: str) -> None:
    """barman-cloud-backup --bzip2 writes data.tar.bz2, which restoredrill does not read:
    a usage error naming the file, not a plan that fails later."""
    bucket = store.url[len("s3://") :].split("/")[0]
    prefix = f"s3://{bucket}/bzip2"
    cloud_backup(store.prod.cluster, store.endpoint, prefix, SERVER, ("--bzip2",))
    done = run_cli(["plan", "--barman", f"{prefix}/{SERVER}", "--target", "latest"])
    assert done.returncode == 2, done.stdout + done.stderr
    assert ".tar.bz2: compressed with bz2, which restoredrill does not read" in done.stderr


def test_a_damaged_backup_info_is_named(store: Store, tmp_path: Path) -> None:
    copy = tmp_path / SERVER
    shutil.copytree(store.local, copy)
    info = copy / "base" / store.backups[1] / "backup.info"
    text = info.read_text()
    info.write_text(text.replace("end_xlog=", "end_xlog=not-an-lsn"))
    done = run_cli(["plan", "--barman", str(copy), "--target", "latest"])
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{info}: unreadable backup.info" in done.stderr


def test_a_failed_backup_is_not_chosen(store: Store, tmp_path: Path) -> None:
    """barman-cloud marks an interrupted backup FAILED (or leaves it STARTED): skipped."""
    copy = tmp_path / SERVER
    shutil.copytree(store.local, copy)
    info = copy / "base" / store.backups[1] / "backup.info"
    info.write_text(info.read_text().replace("status=DONE", "status=FAILED"))
    done = run_cli(["plan", "--barman", str(copy), "--target", "latest", "--json"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["base_backup"]["label"] == store.backups[0]


def test_restore_into_a_docker_sandbox(store: Store) -> None:
    """The tablespace's tar and the recreated pg_wal hold inside the container too."""
    image = require_docker()
    request = RestoreRequest(
        "", "", RecoveryTarget(kind="latest"), source=open_barman(str(store.local)),
        backend=DockerOptions(image=image),
    )  # fmt: skip
    with restored(request) as done:
        assert counter_rows(done.dsn()) == list(range(1, len(store.commits) + 1))
