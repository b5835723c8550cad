"""MariaDB / MySQL point-in-time restore into a throwaway sandbox, every phase timed:

plan → provision (data directory) → restore base (load the dump, or prepare the mariabackup
copy, and start) → fetch binlogs (copied into the sandbox) → replay binlogs (from the
snapshot's coordinates to the stop point) → ready (the restored point recorded in the
sandbox's ``restoredrill_sandbox`` schema).

Replay goes through the sandbox server's own parallel replication, the copies being its relay
log (binlog_relay.py); where that route cannot apply (MySQL, binlogs not written by MariaDB, a
last transaction without its commit: binlog_relay.why_not says which) through
``mariadb-binlog … | mariadb``, as before.

The sandbox runs with log-bin off and the pipe adds SET sql_log_bin=0, so a restored copy never
writes a binlog; both routes only read the copies staged inside the sandbox directory.
Time targets also go to mariadb-binlog as --stop-datetime in UTC with TZ=UTC (the tool reads
it in its own local time zone).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from restoredrill.drill.restore_request import RestoreBackend, Restored, RestoreRequest, check_plan
from restoredrill.engines.mysql import binlog_relay
from restoredrill.engines.mysql import catalog as my_catalog
from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.binlog_crc import CHECK as CHECKSUM_CHECK
from restoredrill.engines.mysql.plan import MysqlPlanOutcome, plan_mysql
from restoredrill.engines.mysql.restore_options import MySqlOptions
from restoredrill.engines.mysql.sandbox_local import LocalMySQL, local_mysql
from restoredrill.engines.mysql.source import open_mysql_source
from restoredrill.engines.mysql.tools import MysqlTools, find_mysql_tools
from restoredrill.errors import BackupCorrupt, ConfigError, RecoveryIncomplete, SandboxError
from restoredrill.models import CheckStatus, MysqlSnapshot, RestorePlan, RestoreResult
from restoredrill.sandboxes.diskspace import disk_full_as_infrastructure
from restoredrill.sources.base import retry_note
from restoredrill.storage.compression import open_decompressed
from restoredrill.timing import PhaseClock, ProgressListener, SilentProgress

CHUNK = 1 << 20


def default_os_user(os_user: str | None) -> str:
    """The server user: ``mysql`` unless another was asked for (PostgreSQL's default is not)."""
    return "mysql" if os_user is None or os_user == "postgres" else os_user


def mysql_options(request: RestoreRequest) -> MySqlOptions:
    options = request.backend
    if not isinstance(options, MySqlOptions):
        raise ConfigError(f"a MariaDB/MySQL restore cannot take {options.backend} options")
    return options


@contextlib.contextmanager
def restored_mysql(
    request: RestoreRequest, progress: ProgressListener | None = None
) -> Iterator[Restored]:
    """Restore and yield the running sandbox; it is torn down on exit unless kept."""
    listener = progress or SilentProgress()
    tools = find_mysql_tools()
    clock = PhaseClock(listener)
    dbname = "" if request.dbname is None or request.dbname == "postgres" else request.dbname
    aws = mysql_options(request).aws
    with contextlib.ExitStack() as stack:
        source = open_mysql_source(request.base_backups, request.wal_archive, aws)
        stack.callback(source.close)
        with clock.phase("plan") as record:
            outcome = plan_mysql(request.base_backups, request.wal_archive, request.target, source)
            record.detail = retry_note(source)
        plan = outcome.plan
        check_plan(plan)  # nothing is provisioned when preflight fails
        snapshot = outcome.snapshot
        assert snapshot is not None
        # the route is chosen before start-up: the relay log is named in the server's options
        pipe_reason = binlog_relay.why_not(tools, outcome) if outcome.replayed else "no replay"
        with clock.phase("provision"):
            sandbox = stack.enter_context(
                local_mysql(
                    "restore",
                    os_user=default_os_user(request.os_user),
                    keep=request.keep,
                    tools=tools,
                )
            )
            if snapshot.kind == "dump":
                sandbox.init_datadir()
        options = None if pipe_reason else binlog_relay.relay_options(sandbox, outcome)
        needed = snapshot.size_bytes + (plan.binlog_range.bytes if plan.binlog_range else 0)

        def disk(phase: str) -> contextlib.AbstractContextManager[None]:
            """A full sandbox disk is the machine's problem (exit 3), not the backup's."""
            return disk_full_as_infrastructure(sandbox.root, needed, phase, sandbox_log(sandbox))

        with disk("restore base"), clock.phase("restore base") as record:
            if snapshot.kind == "dump":
                sandbox.start(options=options, timeout=request.timeout)
                local = source.local_snapshot(snapshot, sandbox.work)
                try:
                    record.bytes = load_dump(sandbox, local)
                finally:
                    if str(local) != snapshot.path:  # a fetched copy: one load is enough
                        local.unlink(missing_ok=True)
                notes = ["logical dump loaded"]
                if str(local) != snapshot.path:
                    notes.append(f"fetched from {source.kind}")
                record.detail = ", ".join(n for n in [*notes, retry_note(source)] if n)
            else:
                record.bytes = restore_backup(sandbox, tools, snapshot)
                sandbox.start(options=options, timeout=request.timeout)
                record.detail = "mariabackup copy prepared"
        with disk("fetch binlogs"), clock.phase("fetch binlogs") as record:
            if pipe_reason:
                staged, record.bytes = stage_binlogs(sandbox, outcome)
            else:
                staged, record.bytes = binlog_relay.stage(sandbox, outcome)
            record.detail = ", ".join(
                n for n in [f"{len(staged)} file(s)", retry_note(source)] if n
            )
        with disk("replay binlogs"), clock.phase("replay binlogs") as record:
            if pipe_reason:
                record.bytes = replay(sandbox, tools, outcome, staged, request.timeout)
                how = f"mariadb-binlog | mariadb: {pipe_reason}"
            else:
                how = binlog_relay.replay(sandbox, outcome, request.timeout)
                record.bytes = outcome.plan.binlog_range.bytes if outcome.plan.binlog_range else 0
            record.detail = f"{outcome.replayed} transaction(s)" + (
                f", {how}" if outcome.replayed else ""
            )
        with clock.phase("promote/ready"):
            record_point(sandbox, outcome, request.target.describe())
        last = outcome.last_txn
        replay_time = last.time if last is not None else None
        rpo = None
        if request.target.kind == "time" and request.target.time and replay_time:
            rpo = max(0.0, (request.target.time - replay_time).total_seconds())
        position = (
            f"{outcome.stop_file}:{outcome.stop_pos}" if outcome.stop_file else _snapshot_at(plan)
        )
        result = RestoreResult(
            plan=plan,
            phases=list(clock.phases),
            rto_seconds=clock.total("provision", "promote/ready"),
            recovered_to_lsn=None,
            last_replayed_xact_time=replay_time,
            rpo_seconds=rpo,
            dsn=sandbox.dsn(dbname),
            sandbox_id=sandbox.id,
            kept=request.keep,
            recovered_to_position=position,
            # the plan refused a dump without its footer; a mariabackup copy was prepared
            base_check="dump-footer" if snapshot.kind == "dump" else "mariabackup",
            warnings=[
                f"{c.name}: {c.detail}"
                for c in plan.checks
                if c.name == CHECKSUM_CHECK and c.status == CheckStatus.WARNING
            ],
        )
        yield Restored(result, sandbox, clock)


def sandbox_log(sandbox: LocalMySQL) -> Callable[[], str]:
    def read() -> str:
        try:
            return sandbox.logfile.read_text(errors="replace")
        except OSError:
            return ""

    return read


def _snapshot_at(plan: object) -> str | None:
    snapshot = getattr(plan, "snapshot", None)
    if snapshot is None or snapshot.binlog_file is None:
        return None
    return f"{snapshot.binlog_file}:{snapshot.binlog_pos}"


def load_dump(sandbox: LocalMySQL, path: Path) -> int:
    """Stream the (decompressed) dump into the client; returns the bytes loaded."""
    total = 0
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            sandbox.client_argv(),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        assert proc.stdin is not None
        problem = None
        try:
            with open_decompressed(path) as stream:
                while chunk := stream.read(CHUNK):
                    total += len(chunk)
                    proc.stdin.write(chunk)
        except BrokenPipeError:
            pass  # the client stopped at an error: its message says which
        except (OSError, EOFError) as exc:
            problem = f"{path.name} is truncated or damaged: {exc}"
        finally:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            code = proc.wait()
        if problem is not None:
            raise BackupCorrupt(problem)
        if code != 0:
            raise BackupCorrupt(f"loading the dump {path.name} failed: {_tail(errors)}")
    return total


def restore_backup(sandbox: LocalMySQL, tools: MysqlTools, snapshot: MysqlSnapshot) -> int:
    """Copy the backup into the sandbox's data directory and prepare the copy (never the
    original) as the server user; returns the bytes copied."""
    backup = tools.need("backup")
    source = Path(snapshot.path)
    shutil.rmtree(sandbox.datadir)
    try:
        shutil.copytree(source, sandbox.datadir, symlinks=True)
    except OSError as exc:
        raise BackupCorrupt(f"cannot copy the backup {source}: {exc}") from exc
    sandbox.datadir.chmod(0o700)
    sandbox.run_as.own(sandbox.datadir, recursive=True)
    try:
        sandbox.run_tool(
            [backup, "--no-defaults", "--prepare", f"--target-dir={sandbox.datadir}"],
            "mariabackup --prepare",
        )
    except SandboxError as exc:
        raise BackupCorrupt(f"the backup {source} cannot be prepared: {exc}") from exc
    return snapshot.size_bytes


def stage_binlogs(sandbox: LocalMySQL, outcome: MysqlPlanOutcome) -> tuple[list[Path], int]:
    """Copy the binlog files replay needs into the sandbox (replay never reads the archive)."""
    staging = sandbox.work / "binlog"
    staging.mkdir(mode=0o700)
    staged, total = [], 0
    for info in outcome.files:
        target = staging / info.name
        shutil.copyfile(info.path, target)
        total += target.stat().st_size
        staged.append(target)
    return staged, total


def replay(
    sandbox: LocalMySQL,
    tools: MysqlTools,
    outcome: MysqlPlanOutcome,
    staged: list[Path],
    timeout: float,
) -> int:
    """mariadb-binlog … | mariadb: from the snapshot's coordinates to the stop point."""
    if not staged or outcome.replayed == 0:
        return 0
    argv = [
        tools.binlog,
        "--no-defaults",
        "--disable-log-bin",
        "--verify-binlog-checksum",  # the plan checked them; this covers the staged copies
        f"--start-position={outcome.start_position}",
    ]
    if outcome.stop_position is not None:
        argv.append(f"--stop-position={outcome.stop_position}")
    if outcome.stop_datetime is not None:
        utc = outcome.stop_datetime.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        argv.append(f"--stop-datetime={utc}")
    argv += [str(p) for p in staged]
    env = {**os.environ, "TZ": "UTC"}
    with tempfile.TemporaryFile() as reader_err, tempfile.TemporaryFile() as client_err:
        reader = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=reader_err, env=env)
        assert reader.stdout is not None
        try:
            client = subprocess.Popen(
                sandbox.client_argv(),
                stdin=reader.stdout,
                stdout=subprocess.DEVNULL,
                stderr=client_err,
            )
        finally:
            reader.stdout.close()
        try:
            client_code = client.wait(timeout=timeout)
            reader_code = reader.wait(timeout=60)
        except subprocess.TimeoutExpired as exc:
            client.kill()
            reader.kill()
            raise SandboxError(f"binlog replay did not finish within {timeout:.0f}s") from exc
        except BaseException:
            client.kill()
            reader.kill()
            raise
        if reader_code not in (0, -13) and client_code == 0:
            raise BackupCorrupt(f"mariadb-binlog cannot read the binlogs: {_tail(reader_err)}")
        if client_code != 0:
            raise RecoveryIncomplete(f"binlog replay failed: {_tail(client_err)}")
    bytes_range = outcome.plan.binlog_range
    return bytes_range.bytes if bytes_range is not None else 0


def record_point(sandbox: LocalMySQL, outcome: MysqlPlanOutcome, target: str) -> None:
    """Where this restore ended, for verify (moved on?) and identity (whose copy is this?)."""
    last = outcome.last_txn
    moment = last.time.replace(tzinfo=None).isoformat(sep=" ") if last else None
    file = outcome.stop_file
    pos = outcome.stop_pos
    if file is None and outcome.snapshot is not None:
        file, pos = outcome.snapshot.binlog_file, outcome.snapshot.binlog_pos
    server_id = outcome.source_server_id
    values = ", ".join(
        [
            "NULL" if server_id is None else str(int(server_id)),
            "NULL" if file is None else my.literal(file),
            "NULL" if pos is None else str(int(pos)),
            "NULL" if last is None or last.gtid is None else my.literal(last.gtid),
            "NULL" if moment is None else f"CAST({my.literal(moment)} AS DATETIME(6))",
            my.literal(target[:250]),
            f"CAST({my.literal(datetime.now(UTC).replace(tzinfo=None).isoformat(sep=' '))}"
            " AS DATETIME(6))",
        ]
    )
    schema = my.quote_ident(my_catalog.META_SCHEMA)
    table = f"{schema}.{my.quote_ident(my_catalog.META_TABLE)}"
    conn = sandbox.connect()
    try:
        conn.run(f"CREATE DATABASE IF NOT EXISTS {schema}")
        conn.run(
            f"CREATE TABLE IF NOT EXISTS {table} (source_server_id BIGINT UNSIGNED NULL,"
            " binlog_file VARCHAR(255) NULL, binlog_pos BIGINT UNSIGNED NULL,"
            " gtid VARCHAR(255) NULL, last_event_time DATETIME(6) NULL,"
            " target VARCHAR(255) NOT NULL, restored_at DATETIME(6) NOT NULL)"
        )
        conn.run(f"DELETE FROM {table}")
        conn.run(
            f"INSERT INTO {table} (source_server_id, binlog_file, binlog_pos, gtid,"
            f" last_event_time, target, restored_at) VALUES ({values})"
        )
    finally:
        conn.close()


def _tail(handle: IO[bytes]) -> str:
    handle.seek(0)
    lines = [ln for ln in handle.read().decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1].strip() if lines else "(no message)"


def plan_request(request: RestoreRequest) -> RestorePlan:
    """The dry run of ``request``: its snapshot and binlog archive opened and planned."""
    snapshot, binlogs = str(request.base_backups), str(request.wal_archive)
    aws = request.backend.aws if isinstance(request.backend, MySqlOptions) else None
    source = open_mysql_source(snapshot, binlogs, aws)
    try:
        return plan_mysql(snapshot, binlogs, request.target, source).plan
    finally:
        source.close()


BACKEND = RestoreBackend(restored_mysql, plan=plan_request)
