"""Backup-configuration rules on facts read from files (no server): postgresql.conf,
pgbackrest.conf, the MySQL-family rules on a variables dict, and the registry itself."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from restoredrill.checks.registry import REGISTRY, Facts, Policy
from restoredrill.checks.run import CheckRequest, run_checks
from restoredrill.engines.mysql.checks import expiry_seconds
from restoredrill.engines.postgres.conf import parse_pgbackrest_conf, parse_postgresql_conf
from restoredrill.errors import ConfigError
from restoredrill.lsn import segment_name
from restoredrill.models import CheckStatus

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def statuses(report_checks: list[object]) -> dict[str, str]:
    return {c.rule: str(c.status) for c in report_checks}  # type: ignore[attr-defined]


def test_postgresql_conf_parsing(tmp_path: Path) -> None:
    (tmp_path / "extra.conf").write_text("archive_timeout = '5min'\n")
    conf = tmp_path / "postgresql.conf"
    conf.write_text(
        "# comment\nwal_level = replica  # trailing\narchive_mode=on\n"
        "archive_command = 'cp %p /arch/%f && echo ''done'''\n"
        "ARCHIVE_MODE = off\narchive_mode = on\ninclude 'extra.conf'\n"
    )
    settings = parse_postgresql_conf(conf)
    assert settings["wal_level"] == "replica"
    assert settings["archive_mode"] == "on"
    assert settings["archive_command"] == "cp %p /arch/%f && echo 'done'"
    assert settings["archive_timeout"] == "5min"


def test_offline_postgres_rules(tmp_path: Path) -> None:
    good = tmp_path / "good.conf"
    good.write_text(
        "wal_level = replica\narchive_mode = on\narchive_command = 'cp %p /a/%f'\n"
        "archive_timeout = 60\n"
    )
    report = run_checks(CheckRequest(postgresql_conf=good, rpo_seconds=300, now=NOW))
    assert report.ok and report.status == CheckStatus.OK
    assert statuses(report.checks) == {
        "postgres.wal_level": "ok",
        "postgres.archive_mode": "ok",
        "postgres.archive_command": "ok",
        "postgres.archive_timeout": "ok",
    }
    bad = tmp_path / "bad.conf"
    bad.write_text("wal_level = minimal\narchive_command = '/bin/true'\narchive_timeout = 1h\n")
    report = run_checks(CheckRequest(postgresql_conf=bad, rpo_seconds=300, now=NOW))
    assert not report.ok
    found = statuses(report.checks)
    assert found["postgres.wal_level"] == "failed"
    assert found["postgres.archive_mode"] == "failed"  # not set: the default is off
    assert found["postgres.archive_command"] == "failed"  # discards WAL
    assert found["postgres.archive_timeout"] == "failed"  # longer than the RPO
    detail = {c.rule: c.detail for c in report.checks}
    assert "server default" in detail["postgres.archive_mode"]


def test_archive_timeout_zero_is_a_warning_without_rpo(tmp_path: Path) -> None:
    conf = tmp_path / "p.conf"
    conf.write_text("archive_mode = on\narchive_command = 'cp %p /a/%f'\n")
    report = run_checks(CheckRequest(postgresql_conf=conf, now=NOW))
    assert statuses(report.checks)["postgres.archive_timeout"] == "warning"
    assert report.ok  # warnings do not fail CI


def test_pgbackrest_rules(tmp_path: Path) -> None:
    pg = tmp_path / "postgresql.conf"
    pg.write_text(
        "archive_mode = on\narchive_command = 'pgbackrest --stanza=main archive-push %p'\n"
        "archive_timeout = 60\n"
    )
    conf = tmp_path / "pgbackrest.conf"
    conf.write_text(
        "[global]\nrepo1-path=/var/lib/pgbackrest\nrepo1-retention-full=2\n\n"
        "[global:archive-push]\ncompress-level=3\n\n[main]\npg1-path=/var/lib/postgresql/15/main\n"
    )
    sections = parse_pgbackrest_conf(conf)
    assert sections["main"]["pg1-path"].endswith("main")
    report = run_checks(CheckRequest(postgresql_conf=pg, pgbackrest_conf=conf, now=NOW))
    found = statuses(report.checks)
    assert found["pgbackrest.stanza"] == "ok"
    assert found["pgbackrest.repository"] == "ok"
    assert found["pgbackrest.retention"] == "ok"
    assert found["pgbackrest.archive_push"] == "ok"
    conf.write_text("[global]\nrepo1-path=/r\n\n[other]\npg1-path=/x\n")
    report = run_checks(CheckRequest(postgresql_conf=pg, pgbackrest_conf=conf, now=NOW))
    found = statuses(report.checks)
    assert found["pgbackrest.archive_push"] == "failed"  # stanza 'main' is not configured
    assert found["pgbackrest.retention"] == "warning"


def test_wal_continuity_offline(tmp_path: Path) -> None:
    archive = tmp_path / "wal"
    archive.mkdir()
    for segno in (1, 2, 3, 5, 6):
        (archive / segment_name(1, segno)).write_bytes(b"")
    report = run_checks(CheckRequest(wal_archive=archive, rpo_seconds=3600, now=NOW))
    found = {c.rule: c for c in report.checks}
    assert found["archive.wal_continuity"].status == CheckStatus.FAILED
    assert segment_name(1, 4) in found["archive.wal_continuity"].detail
    (archive / segment_name(1, 4)).write_bytes(b"")
    report = run_checks(CheckRequest(wal_archive=archive, now=NOW))
    assert statuses(report.checks)["archive.wal_continuity"] == "ok"


def test_mysql_rules_on_variables() -> None:
    policy = Policy(now=NOW, rpo_seconds=300, max_backup_age_seconds=86400 * 7)
    good = Facts(
        "mysql",
        "test",
        {
            "log_bin": "ON",
            "binlog_format": "ROW",
            "binlog_row_image": "FULL",
            "binlog_checksum": "CRC32",
            "binlog_expire_logs_seconds": str(86400 * 10),
            "expire_logs_days": "10.000000",
        },
    )
    assert {c.status for c in REGISTRY.run("mysql", good, policy)} == {CheckStatus.OK}
    bad = Facts(
        "mysql",
        "test",
        {
            "log_bin": "OFF",
            "binlog_format": "MIXED",
            "binlog_row_image": "MINIMAL",
            "binlog_checksum": "NONE",
            "binlog_expire_logs_seconds": "0",
            "expire_logs_days": "3",
        },
    )
    found = {c.rule: c.status for c in REGISTRY.run("mysql", bad, policy)}
    assert set(found.values()) == {CheckStatus.FAILED}
    assert len(found) == 5
    assert expiry_seconds({"expire_logs_days": "0", "binlog_expire_logs_seconds": "0"}) == 0
    assert expiry_seconds({"expire_logs_days": "2"}) == 172800


def test_registry_has_rules_per_engine() -> None:
    assert {"postgres", "pgbackrest", "archive", "mysql"} <= set(REGISTRY.engines())
    assert [r.id for r in REGISTRY.rules("mysql")] == [
        "mysql.log_bin",
        "mysql.binlog_format",
        "mysql.binlog_row_image",
        "mysql.binlog_checksum",
        "mysql.binlog_expiry",
    ]


def test_nothing_to_check_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nothing to check"):
        run_checks(CheckRequest())
    with pytest.raises(ConfigError, match="no such file"):
        run_checks(CheckRequest(postgresql_conf=tmp_path / "missing.conf"))
