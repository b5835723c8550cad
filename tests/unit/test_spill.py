"""Spills share one unnamed temporary file: a diff or reapply of thousands of tables keeps
one file descriptor, not one per table; the file goes with the last spill using it."""

from __future__ import annotations

import gc
import os
import threading
import weakref

import pytest

from restoredrill import spill
from restoredrill.spill import Spill


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_thousands_of_spills_keep_one_file_descriptor() -> None:
    before = _open_fds()
    spills = [Spill("rows") for _ in range(3000)]  # a default soft limit is 1,024
    refs = [s.put(f"table {n}".encode() * (n % 7 + 1)) for n, s in enumerate(spills)]
    assert _open_fds() - before < 50  # one file (other threads' noise aside), not 3,000
    for n, (s, ref) in enumerate(zip(spills, refs, strict=True)):
        assert s.get(ref) == f"table {n}".encode() * (n % 7 + 1)


def test_the_file_goes_with_the_last_spill_using_it() -> None:
    first, second = Spill("a"), Spill("b")
    first.put(b"x")
    second.put(b"y")
    assert first._file is second._file
    shared = weakref.ref(first._file)  # type: ignore[arg-type]
    del first
    gc.collect()
    assert shared() is not None  # the second still reads from it
    del second
    gc.collect()
    assert shared() is None  # closed: its space is free


def test_past_the_rotation_size_new_spills_start_a_new_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(spill, "ROTATE_BYTES", 10)
    old = Spill("old")
    kept = old.put(b"0123456789ab")  # over the size: the next spill starts another file
    new = Spill("new")
    ref = new.put(b"fresh")
    assert new._file is not old._file
    assert (old.get(kept), new.get(ref)) == (b"0123456789ab", b"fresh")


def test_spills_written_from_several_threads_read_back_whole() -> None:
    spills = [Spill(f"t{n}") for n in range(8)]
    written: dict[int, list[tuple[tuple[int, int], bytes]]] = {n: [] for n in range(8)}

    def work(n: int) -> None:
        for k in range(300):
            data = f"{n}:{k}:".encode() * (k % 13 + 1)
            written[n].append((spills[n].put(data), data))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n, pairs in written.items():
        assert all(spills[n].get(ref) == data for ref, data in pairs)
