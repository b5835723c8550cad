"""Playbook schema: unknown keys and bad values are reported as file:line (exit 2),
variables expand from the environment, relative times resolve, the examples load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from restoredrill.durations import format_duration, parse_duration, resolve_relative
from restoredrill.errors import ConfigError
from restoredrill.playbook import Playbook, expand_env, load_playbook, load_playbooks

REPO = Path(__file__).resolve().parents[2]
DEMO_ENV = {
    "DEMO_DIR": "/tmp/demo",
    "DEMO_DSN": "host=/tmp/s port=5 dbname=postgres",
    "DEMO_BASE_BACKUPS": "/tmp/demo/base-backups",
    "DEMO_WAL_ARCHIVE": "/tmp/demo/wal-archive",
    "DEMO_MANIFEST": "/tmp/demo/manifest.json",
    "DEMO_INCIDENT_BEFORE": "2026-11-21T03:14:00+00:00",
    "DEMO_INCIDENT_AFTER": "2026-11-21T03:14:05+00:00",
    "DEMO_MARIADB_DIR": "/tmp/maria",
    "DEMO_MARIADB_SNAPSHOT": "/tmp/maria/snapshots",
    "DEMO_MARIADB_BINLOG_ARCHIVE": "/tmp/maria/binlog-archive",
    "DEMO_MARIADB_MANIFEST": "/tmp/maria/manifest.json",
    "DEMO_MARIADB_INCIDENT_BEFORE": "2026-11-21T03:14:00+00:00",
}
GOOD = """\
version: 1
name: q4-shop
source:
  kind: file
  base_backups: ${BASE}/base
  wal_archive: wal
target:
  time: 15 minutes ago
databases:
  - name: shop
    label: shop-prod
    verify:
      manifest: shop.manifest.json
      tolerances:
        public.orders: {rows: 5}
objectives:
  rto: 1h30m
  rpo: 5m
"""


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_playbook_loads_expands_and_resolves(tmp_path: Path) -> None:
    playbook = load_playbook(write(tmp_path, GOOD), {"BASE": "/srv/backups"})
    assert playbook.source.base_backups == Path("/srv/backups/base")
    assert playbook.source.wal_archive == tmp_path / "wal"  # relative to the playbook
    database = playbook.databases[0]
    assert database.verify is not None
    assert database.verify.manifest == tmp_path / "shop.manifest.json"
    assert playbook.objectives.rto == 5400 and playbook.objectives.rpo == 300
    assert playbook.label(database) == "shop-prod"
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert playbook.target is not None
    target = playbook.target.recovery_target(now)
    assert target.kind == "time" and target.time == now - timedelta(minutes=15)


@pytest.mark.parametrize(
    ("change", "line", "phrase"),
    [
        (("      manifest: shop.manifest.json", "      manifset: x"), 13, "unknown key 'manifset'"),
        (("  rto: 1h30m", "  rto: soon"), 17, "'soon' is not a duration"),
        (("  time: 15 minutes ago", "  time: 2026-11-21T03:14:00"), 8, "no time zone"),
        (("  kind: file", "  kind: tape"), 3, "does not match any of the expected tags"),
        (("name: q4-shop", "name: q4 shop!"), 2, "name"),
        (("objectives:", "objectivs:"), 16, "allowed here"),
    ],
)
def test_mistakes_name_file_and_line(
    tmp_path: Path, change: tuple[str, str], line: int, phrase: str
) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_playbook(path, {"BASE": "/b"})
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert phrase in message
    assert caught.value.exit_code == 2


def test_unset_variable_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"p\.yaml:5: environment variable BASE is not set"):
        load_playbook(write(tmp_path, GOOD), {})


def test_yaml_syntax_and_duplicate_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"p\.yaml:3: "):
        load_playbook(write(tmp_path, "name: x\nsource: {kind: file\ntarget: latest\n"), {})
    with pytest.raises(ConfigError, match=r"p\.yaml:2: .*duplicate key"):
        load_playbook(write(tmp_path, "name: a\nname: b\n"), {})
    with pytest.raises(ConfigError, match="is a mapping"):
        load_playbook(write(tmp_path, "- a\n- b\n"), {})


@pytest.mark.parametrize(
    ("target", "phrase"),
    [
        ("{restore_point: x, latest: true}", "exactly one of"),
        ("{lsn: zz}", "not an LSN"),
        ("{xid: 1}", "transaction id"),
        ("soonish", "valid dictionary"),
        ("{time: 3 fortnights ago}", "relative time"),
    ],
)
def test_bad_targets(tmp_path: Path, target: str, phrase: str) -> None:
    text = GOOD.replace("target:\n  time: 15 minutes ago", f"target: {target}")
    with pytest.raises(ConfigError) as caught:
        load_playbook(write(tmp_path, text), {"BASE": "/b"})
    assert phrase in str(caught.value)
    assert ":7: target" in str(caught.value)


def test_target_shorthand_and_sections(tmp_path: Path) -> None:
    text = GOOD.replace("target:\n  time: 15 minutes ago", "target: latest")
    text += "gameday:\n  incident: drop-table\n  table: orders\n  column: x\n"
    with pytest.raises(ConfigError, match="drop-table takes no column"):
        load_playbook(write(tmp_path, text), {"BASE": "/b"})
    playbook = load_playbook(write(tmp_path, text.replace("  column: x\n", "")), {"BASE": "/b"})
    assert playbook.target is not None and playbook.target.latest
    assert playbook.gameday is not None and playbook.gameday.incident == "drop-table"


def test_verify_needs_exactly_one_reference(tmp_path: Path) -> None:
    text = GOOD.replace("      manifest: shop.manifest.json\n", "")
    with pytest.raises(ConfigError, match="exactly one of manifest or production"):
        load_playbook(write(tmp_path, text), {"BASE": "/b"})


def test_all_problems_of_all_playbooks_are_reported(tmp_path: Path) -> None:
    bad1 = write(tmp_path, GOOD.replace("rto: 1h30m", "rto: never"), "a.yaml")
    bad2 = write(tmp_path, GOOD.replace("kind: file", "kind: tape"), "b.yaml")
    with pytest.raises(ConfigError) as caught:
        load_playbooks([bad1, bad2], {"BASE": "/b"})
    assert "a.yaml:17" in str(caught.value) and "b.yaml:3" in str(caught.value)


def test_example_playbooks_load() -> None:
    paths = sorted((REPO / "playbooks").glob("*.yaml"))
    assert {p.stem for p in paths} >= {
        "quarterly-drill",
        "incident-recovery",
        "ci-backup-check",
        "gameday-bad-delete",
        "mariadb-binlog-drill",
    }
    for playbook in load_playbooks(paths, DEMO_ENV):
        assert isinstance(playbook, Playbook)


def test_expand_env_forms() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert expand_env("${A}/${B:-two}/$${A}/${EMPTY:-d}", env) == "1/two/${A}/d"


def test_durations() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("1h30m") == 5400
    assert parse_duration("2 days") == 172800
    assert parse_duration(15) == 15
    with pytest.raises(ValueError):
        parse_duration("fast")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert resolve_relative("2 hours ago", now) == now - timedelta(hours=2)
    assert format_duration(0.25) == "250 ms"
    assert format_duration(725) == "12m 05s"
