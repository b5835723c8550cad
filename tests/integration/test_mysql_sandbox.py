"""The MariaDB sandbox: private socket, no binlog, torn down always, leftovers found by
label and removed by `sandbox gc` (stopped by the pid in its pid file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.sandbox_local import local_mysql
from restoredrill.errors import DatabaseUnavailable
from restoredrill.sandboxes import gc, labels

pytestmark = pytest.mark.slow


def test_sandbox_is_private_and_collected(
    sandbox_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESTOREDRILL_SANDBOX_DIR", str(sandbox_dir))
    with local_mysql("test-gc") as sandbox:
        sandbox.init_datadir()
        sandbox.start()
        conn = sandbox.connect()
        try:
            assert int(conn.scalar("SELECT @@log_bin")) == 0
            assert conn.scalar("SELECT @@bind_address") == "127.0.0.1"
        finally:
            conn.close()
        assert oct(sandbox.sockdir.stat().st_mode & 0o777) == "0o700"
        # TCP has no passwordless account
        with pytest.raises(DatabaseUnavailable):
            my.connect(f"mysql://{sandbox.user}@127.0.0.1:{sandbox.port}/")
        states = labels.list_sandboxes(sandbox_dir)
        assert [s.label.engine for s in states] == ["mariadb"]
        assert states[0].server_pid is not None and states[0].owner_alive
        # pretend the owner was killed: gc stops the server and removes the directory
        dead = sandbox.label.model_copy(update={"owner_pid": 2**22 + 17})
        labels.write_label(sandbox.root, dead)
        pid = states[0].server_pid
        removed = gc.collect_garbage(root=sandbox_dir)
        assert [r.label.id for r in removed] == [sandbox.id]
        assert not sandbox.root.exists()
        assert not labels._pid_alive(pid) or labels._is_zombie(pid)
    assert [p for p in sandbox_dir.iterdir() if not p.name.startswith(".")] == []
