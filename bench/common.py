"""Set-up shared by the benches (imported as ``common``: the benches run as scripts from
bench/): child processes timed with their peak RSS, psql, the ``users`` table of the
lost-users incident (issue 11), and an expert's by-hand point-in-time restore."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restoredrill.engines.postgres.sandbox_local import LocalPostgres, free_port
from restoredrill.engines.postgres.tools import PgTools
from restoredrill.osuser import server_user

# The users of the lost-users incident: 30 % have a NULL last_login (id % 5 = 1 or
# id % 10 = 3); the bad DELETE removes id % 5 in (1, 2): 40 %, half of them NULL.
USERS_SCHEMA = """
CREATE TABLE users (
    id bigint PRIMARY KEY,
    email text NOT NULL,
    name text NOT NULL,
    plan text NOT NULL,
    created_at timestamptz NOT NULL,
    last_login timestamptz,
    balance numeric(12, 2) NOT NULL
)
"""
USERS_LOAD = """
INSERT INTO users
SELECT g, 'user' || g || '@example.com', 'User number ' || g,
       (ARRAY['free', 'pro', 'team'])[1 + g % 3],
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute',
       CASE WHEN g % 5 = 1 OR g % 10 = 3 THEN NULL
            ELSE timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' END,
       (g % 100000) / 100.0
FROM generate_series(1, {rows}) g
"""
USERS_INCIDENT = "DELETE FROM users WHERE id % 5 IN (1, 2)"


def run_child(
    argv: list[str], stdout_path: Path, timeout: float | None = None, env: Any = None
) -> dict[str, Any]:
    """Run argv (killed with its process group after ``timeout``); wall seconds, exit code."""
    with open(stdout_path, "w") as out:
        started = time.monotonic()
        # cwd: the work directory, so `python -m restoredrill` imports the interpreter's own
        # install, never a checkout that happens to be the current directory
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
            cwd=stdout_path.parent,
        )
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            return {"seconds": None, "timed_out_after": timeout}
        seconds = time.monotonic() - started
    return {
        "seconds": round(seconds, 2),
        "exit": proc.returncode,
        "stderr_tail": (stderr or "").strip().splitlines()[-3:],
    }


def restoredrill_argv(interpreter: str, profile: Path | None = None) -> list[str]:
    """``python -m restoredrill``, under pyinstrument (wall-clock samples of the main thread,
    a text report at ``profile``; ``pip install pyinstrument``) when ``profile`` is given."""
    argv = [interpreter]
    if profile is not None:
        argv += ["-m", "pyinstrument", "-r", "text", "-o", str(profile)]
    return [*argv, "-m", "restoredrill"]


def run_measured(
    argv: list[str], stdout_path: Path, timeout: float | None = None
) -> dict[str, Any]:
    """run_child inside a fresh `python -c` wrapper that reports its child's peak RSS, so
    every run's peak is its own (RUSAGE_CHILDREN of this process only ever grows)."""
    wrapper = (
        "import json, resource, subprocess, sys;"
        "rc = subprocess.call(sys.argv[2:], stdout=open(sys.argv[1], 'w'));"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss;"
        "print(json.dumps({'exit': rc, 'peak_rss_mib': round(peak / 1024, 1)}))"
    )
    meta = stdout_path.with_suffix(".meta")
    measured = run_child(
        [sys.executable, "-c", wrapper, str(stdout_path), *argv], meta, timeout=timeout
    )
    if measured.get("seconds") is not None:
        measured.update(json.loads(meta.read_text()))
    return measured


def psql(tools: PgTools, cluster: LocalPostgres | str, statement: str) -> str:
    """One statement through psql (a cluster, or a DSN); its unaligned output."""
    dsn = cluster if isinstance(cluster, str) else cluster.dsn()
    done = subprocess.run(
        [tools.path("psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", dsn,
         "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    return done.stdout.strip()


@dataclass
class HandServer:
    """A server an expert restored by hand: where it listens, how long it took."""

    dsn: str
    seconds: float


@contextmanager
def hand_restore(
    b1: Path,
    archive: Path,
    tools: PgTools,
    work: Path,
    recovery: Mapping[str, str] | None = None,
) -> Iterator[HandServer]:
    """An expert's restore of base backup ``b1`` (tar, any compression GNU tar reads by
    itself) with ``archive`` as restore_command, ``recovery`` settings (a target) on top:
    `tar -xf`, `cp` restore_command, recovery.signal, `pg_ctl -w start`, wait until promoted
    — as the server user, in one shell. Timed from nothing to a promoted server accepting
    connections; stopped and removed on exit (not timed)."""
    run_as = server_user()
    user = run_as.name or os.environ.get("USER", "postgres")
    target = work / f"hand-{time.monotonic_ns()}"
    target.mkdir()
    run_as.own(target)
    port = free_port()
    bindir = Path(tools.path("postgres")).parent
    base = next(b1.glob("base.tar*"))
    wal = next(b1.glob("pg_wal.tar*"), None)
    extra = "".join(f"{key} = '{value}'\n" for key, value in (recovery or {}).items())
    script = f"""set -e
D={shlex.quote(str(target / "data"))}
mkdir -m 0700 $D
tar -xf {base} -C $D
{f"tar -xf {wal} -C $D/pg_wal" if wal else ""}
cat >> $D/postgresql.auto.conf <<EOF
restore_command = 'cp {archive}/%f %p'
archive_mode = off
port = {port}
unix_socket_directories = '{target}'
listen_addresses = ''
{extra}EOF
touch $D/recovery.signal
{bindir}/pg_ctl -D $D -l {target}/log -w -t 600 start >/dev/null
until [ "$({bindir}/psql -h {target} -p {port} -U postgres -Atc \
'select pg_is_in_recovery()' postgres 2>/dev/null)" = f ]; do sleep 0.05; done
"""
    start = time.monotonic()
    subprocess.run(["runuser", "-u", user, "--", "bash", "-c", script], check=True)
    seconds = time.monotonic() - start
    try:
        yield HandServer(f"host={target} port={port} dbname=postgres user=postgres", seconds)
    finally:
        subprocess.run(
            ["runuser", "-u", user, "--", f"{bindir}/pg_ctl", "-D", str(target / "data"),
             "-m", "immediate", "stop"], capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(target)
