"""backup.info as Barman writes it (key=value, Python literals for labels and tablespaces)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from restoredrill.engines.postgres.barman_info import BackupInfo, Tablespace
from restoredrill.errors import BackupCorrupt

TEXT = """\
backup_label='START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\\nLABEL: x\\n'
begin_time=2026-12-01 02:10:22.123456+00:00
begin_xlog=0/2000028
end_time=2026-12-01 02:10:25.5+00:00
end_xlog=0/2000138
status=DONE
tablespaces=[('spaced', 16385, '/srv/space')]
timeline=1
version=90624
xlog_segment_size=16777216
"""


def test_fields_are_read() -> None:
    info = BackupInfo.parse("20261201T021022", TEXT, "backup.info")
    assert info.done and info.timeline == 1
    assert (info.begin_lsn, info.end_lsn) == (0x2000028, 0x2000138)
    assert info.end_time == datetime(2026, 12, 1, 2, 10, 25, 500000, tzinfo=UTC)
    assert info.major == "9.6"
    assert info.tablespaces == [Tablespace("spaced", 16385, "/srv/space")]
    assert info.backup_label is not None and info.backup_label.startswith("START WAL")


def test_major_spelling() -> None:
    info = BackupInfo.parse("b", TEXT.replace("version=90624", "version=150004"), "x")
    assert info.major == "15"


@pytest.mark.parametrize(
    "damage",
    [
        ("end_xlog=0/2000138", "end_xlog=zz"),
        ("tablespaces=[('spaced'", "tablespaces=[('spaced'(("),
        ("+00:00\nend_xlog", "\nend_xlog"),  # a time without its zone
        ("timeline=1", "timeline=one"),
    ],
)
def test_damage_is_named(damage: tuple[str, str]) -> None:
    with pytest.raises(BackupCorrupt, match=r"store/backup\.info: unreadable backup\.info"):
        BackupInfo.parse("b", TEXT.replace(*damage), "store/backup.info")


def test_a_line_without_equals_is_named_with_its_number() -> None:
    with pytest.raises(BackupCorrupt, match=r"backup.info:3: not a backup.info line"):
        BackupInfo.parse("b", TEXT.replace("begin_xlog=", "begin_xlog "), "backup.info")
