"""Two MariaDB sandboxes made at once (recover restores before and after the incident side by
side) build the per-machine data-directory template once: the second waits for the first
(a lock), instead of running a second bootstrap beside it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from restoredrill.engines.mysql.sandbox_local import LocalMySQL, local_mysql


def test_two_sandboxes_at_once_build_one_template(
    sandbox_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(sandbox_dir))
    with local_mysql("test-template-a") as first, local_mysql("test-template-b") as second:

        def init(sandbox: LocalMySQL) -> None:
            sandbox.init_datadir()

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(init, (first, second)))
        assert (first.datadir / "mysql").is_dir() and (second.datadir / "mysql").is_dir()
    built = [p.name for p in sandbox_dir.iterdir() if "-template-" in p.name]
    assert len([n for n in built if not n.endswith(".lock")]) == 1, built
