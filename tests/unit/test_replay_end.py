"""Reading the server log for the first WAL replay could not read (log lines as PostgreSQL
15 writes them)."""

from __future__ import annotations

from restoredrill.engines.postgres.replay_end import first_unreadable
from restoredrill.lsn import DEFAULT_SEGMENT_SIZE

RESTORED = (
    '2026-11-30 23:13:10.1 UTC [1] LOG:  restored log file "000000020000000000000003" '
    "from archive\n"
)


def test_record_complaint_maps_to_the_restored_file_of_its_segment() -> None:
    log = RESTORED + (
        "2026-11-30 23:13:10.2 UTC [1] LOG:  incorrect resource manager data checksum in "
        "record at 0/351C530\n2026-11-30 23:13:10.2 UTC [1] LOG:  redo done at 0/351C4F8\n"
    )
    found = first_unreadable(log, 1, DEFAULT_SEGMENT_SIZE)
    assert found == (
        "000000020000000000000003",
        "incorrect resource manager data checksum in record at 0/351C530",
    )


def test_page_complaint_names_its_segment() -> None:
    log = "LOG:  invalid magic number 0000 in log segment 000000010000000000000005, offset 0\n"
    found = first_unreadable(log, 1, DEFAULT_SEGMENT_SIZE)
    assert found is not None and found[0] == "000000010000000000000005"


def test_without_a_restored_file_the_plan_timeline_names_it() -> None:
    log = "LOG:  invalid record length at 0/4000060: wanted 24, got 0\n"
    found = first_unreadable(log, 3, DEFAULT_SEGMENT_SIZE)
    assert found is not None and found[0] == "000000030000000000000004"


def test_a_clean_log_names_nothing() -> None:
    assert first_unreadable(RESTORED + "LOG:  redo done at 0/4000060\n", 1, 16 << 20) is None
