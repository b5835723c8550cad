"""SharedWork: concurrent callers with one key get one computation; a failure is not kept."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from restoredrill.shared_work import SharedWork


def test_concurrent_callers_share_one_computation() -> None:
    shared = SharedWork()
    calls: list[int] = []
    started = threading.Event()

    def slow() -> str:
        calls.append(1)
        started.set()
        time.sleep(0.2)
        return "scanned"

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(shared.once, "k", slow)
        started.wait(5)
        second = pool.submit(shared.once, "k", slow)
        assert (first.result(), second.result()) == ("scanned", "scanned")
    assert calls == [1]
    assert shared.once("other", lambda: "own") == "own"


def test_a_failure_is_not_kept() -> None:
    shared = SharedWork()

    def broken() -> str:
        raise RuntimeError("pg_waldump died")

    with pytest.raises(RuntimeError):
        shared.once("k", broken)
    assert shared.once("k", lambda: "second try") == "second try"
