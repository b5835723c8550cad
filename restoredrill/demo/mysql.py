"""`restoredrill demo --engine mariadb`: the same incident, rehearsed on MariaDB.

A small "production" with binary logging and a users/orders schema takes traffic and a
snapshot (mariadb-dump --single-transaction --master-data=2, gzipped); a manifest is taken;
then the cleanup job's DELETE also wipes every user whose last_login is NULL (and, by the
foreign key's cascade, their orders). The closed binlogs are copied to an archive, as a
backup job would. The drill finds the incident in the binlog archive (`incident find`: the
transaction that changed the most rows, by GTID), restores to just before the incident
(snapshot + binlog replay), verifies against the manifest, shows what the incident cost,
diffs that restore against one to just after the found GTID, and prepares the reapply (dry
run; with --repair carried through and verified)."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from restoredrill.demo.postgres import INCIDENT_INTENT, DemoResult
from restoredrill.demo.story import incident_losses, incident_step, record_demo
from restoredrill.drill.incident import FindRequest, find_incidents
from restoredrill.drill.manifest import create_manifest, write_manifest
from restoredrill.drill.restore import RestoreRequest, restored
from restoredrill.drill.verify import verify
from restoredrill.dsn import describe
from restoredrill.engines.mysql import archiving
from restoredrill.engines.mysql import fingerprint as my_fingerprint
from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.restore_options import MySqlOptions
from restoredrill.engines.mysql.sandbox_local import LocalMySQL, local_mysql
from restoredrill.engines.mysql.tools import find_mysql_tools
from restoredrill.ledger import Ledger
from restoredrill.models import Manifest, RecoveryTarget, VerifyStatus
from restoredrill.timing import PhaseClock, ProgressListener, SilentProgress

DATABASE = "shop"
DEMO_TABLES = ["users", "orders"]  # in the DSN's database
INCIDENT_SQL = (
    "DELETE FROM users WHERE COALESCE(last_login, TIMESTAMP'1970-01-02 00:00:00') < '2022-01-01'"
)
SCHEMA = [
    f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4",
    f"""CREATE TABLE {DATABASE}.users (
        id          BIGINT AUTO_INCREMENT PRIMARY KEY,
        email       VARCHAR(190) NOT NULL UNIQUE,
        name        VARCHAR(100) NOT NULL,
        last_login  TIMESTAMP(6) NULL,
        created_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
    ) ENGINE=InnoDB""",
    f"""CREATE TABLE {DATABASE}.orders (
        id          BIGINT AUTO_INCREMENT PRIMARY KEY,
        user_id     BIGINT NOT NULL,
        amount      DECIMAL(12,2) NOT NULL,
        status      VARCHAR(20) NOT NULL,
        created_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        KEY (user_id),
        FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
    ) ENGINE=InnoDB""",
]
SEED_USERS = """
INSERT INTO users (email, name, last_login)
SELECT CONCAT('user', seq, '@example.com'), CONCAT('User ', seq),
       CASE WHEN seq % 5 = 0 THEN NULL
            WHEN seq % 5 = 1 THEN TIMESTAMP'2021-06-01 00:00:00' - INTERVAL seq HOUR
            ELSE TIMESTAMP'2026-10-01 00:00:00' + INTERVAL (seq % 500) HOUR END
FROM seq_{first}_to_{last}
"""
SEED_ORDERS = """
INSERT INTO orders (user_id, amount, status)
SELECT u.id, ROUND(10 + MOD(u.id * 7919 + k.seq, 49000) / 100, 2),
       ELT(1 + MOD(u.id + k.seq, 4), 'paid', 'shipped', 'delivered', 'refunded')
FROM users u JOIN seq_1_to_{per_user} k
WHERE u.id BETWEEN {first} AND {last}
ORDER BY u.id, k.seq
"""


def _traffic(server: LocalMySQL, first_user: int, users: int, orders_per_user: int) -> None:
    last = first_user + users - 1
    conn = server.connect(DATABASE)
    try:
        my.pin_session(conn)
        for start in range(first_user, last + 1, 250):  # many small transactions, like an app
            end = min(start + 249, last)
            conn.run("START TRANSACTION")
            conn.run(SEED_USERS.format(first=start, last=end))
            conn.run(SEED_ORDERS.format(first=start, last=end, per_user=orders_per_user))
            conn.run("COMMIT")
        conn.run("UPDATE orders SET status = 'delivered' WHERE status = 'shipped' AND id % 3 = 0")
    finally:
        conn.close()


def _now(server: LocalMySQL) -> datetime:
    conn = server.connect()
    try:
        value = conn.scalar("SELECT UTC_TIMESTAMP(6)")
    finally:
        conn.close()
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC)


def _next_second() -> None:
    """Binlog events are stamped to the second: move into the next one."""
    now = time.time()
    time.sleep(1.02 - (now - int(now)))


def _count_since(dsn: str, table: str, moment: datetime) -> int:
    conn = my.connect(dsn)
    try:
        my.pin_session(conn)
        predicate = my_fingerprint.as_of_predicate("created_at", moment)
        value = conn.scalar(
            f"SELECT COUNT(*) FROM {my.quote_ident(table)}"  # noqa: S608
            f" WHERE NOT ({predicate})"
        )
    finally:
        conn.close()
    return int(value)


@dataclass(frozen=True)
class StagedMysqlIncident:
    """The MariaDB demo production after the story (see ``stage_mysql_incident``)."""

    dsn: str
    snapshots: Path
    archive: Path
    manifest: Path
    fingerprint: Manifest
    incident_at: datetime  # the last moment before the bad DELETE
    after_incident: datetime  # a moment after it, before any later traffic


def stage_mysql_incident(
    production: LocalMySQL,
    directory: Path,
    users: int,
    clock: PhaseClock,
    listener: ProgressListener,
) -> StagedMysqlIncident:
    """Build production with log-bin, take traffic and a mariadb-dump snapshot, record a
    manifest, run the incident, more traffic, and archive the binlogs into ``directory``.
    Shared by the demo and ``demo --engine mariadb --setup-only``."""
    snapshots = directory / "snapshots"
    archive = directory / "binlog-archive"
    manifest_path = directory / "manifest.json"
    with clock.phase("build production"):
        binlogs = archiving.start_production(production)
        conn = production.connect()
        try:
            for statement in SCHEMA:
                conn.run(statement)
        finally:
            conn.close()
        _traffic(production, 1, users, orders_per_user=4)
    with clock.phase("snapshot (mariadb-dump)"):
        archiving.dump(production, snapshots / "shop.sql.gz", [DATABASE], compress=True)
    with clock.phase("traffic"):
        _traffic(production, users + 1, users // 10, orders_per_user=3)
    dsn = production.dsn(DATABASE)
    with clock.phase("manifest"):
        manifest = create_manifest(dsn)
        write_manifest(manifest, manifest_path)
    incident_at = _now(production)
    _next_second()  # the DELETE's binlog second comes after the target's
    listener.note(f"[red]incident[/red]: {INCIDENT_SQL}")
    conn = production.connect(DATABASE)
    try:
        conn.run(INCIDENT_SQL)
    finally:
        conn.close()
    _next_second()
    after_incident = _now(production)
    _next_second()  # later traffic is stamped after the "after" target's second
    with clock.phase("traffic after incident"):
        _traffic(production, users + users // 10 + 1, users // 20, orders_per_user=2)
        archiving.archive_binlogs(production, binlogs, archive)
    return StagedMysqlIncident(
        dsn, snapshots, archive, manifest_path, manifest, incident_at, after_incident
    )


def run_mysql_demo(
    progress: ProgressListener | None = None,
    ledger: Ledger | None = None,
    os_user: str = "mysql",
    users: int = 4000,
    repair: bool = False,
) -> DemoResult:
    listener = progress or SilentProgress()
    tools = find_mysql_tools()
    clock = PhaseClock(listener)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="restoredrill-demo-"))
    try:
        with local_mysql("demo-production", os_user=os_user, tools=tools) as production:
            staged = stage_mysql_incident(production, workdir, users, clock, listener)
            snapshots, archive, manifest_path = staged.snapshots, staged.archive, staged.manifest
            manifest, target_dsn = staged.fingerprint, staged.dsn
            incident_at, after_incident = staged.incident_at, staged.after_incident

            listener.note("find: the transactions that changed the most rows, in the binlogs")
            found = find_incidents(
                FindRequest(None, snapshots, top=3, dsn=target_dsn, binlog_archive=archive)
            )
            target = RecoveryTarget(kind="time", time=incident_at)
            request = RestoreRequest(
                snapshots, archive, target, os_user=os_user, dbname=DATABASE, backend=MySqlOptions()
            )
            listener.note(f"drill: restore to {incident_at.isoformat()} (just before the incident)")
            with restored(request, listener) as done:
                before_dsn = done.dsn(DATABASE)
                report = verify(before_dsn, manifest_path, progress=listener)
                cost = verify(
                    before_dsn,
                    target_dsn,
                    as_of_columns={t: "created_at" for t in DEMO_TABLES},
                    as_of=incident_at,
                )
                # Just after the transaction the binlogs showed as the biggest: the diff is
                # then that transaction's effect, whatever ran around it.
                biggest = found.incidents[0].gtid if found.incidents else None
                after_target = (
                    RecoveryTarget(kind="gtid", gtid=biggest, inclusive=True)
                    if biggest is not None
                    else RecoveryTarget(kind="time", time=after_incident)
                )
                after_request = RestoreRequest(
                    snapshots,
                    archive,
                    after_target,
                    os_user=os_user,
                    dbname=DATABASE,
                    backend=MySqlOptions(),
                )
                incident = incident_step(
                    before_dsn,
                    target_dsn,
                    after_request,
                    DEMO_TABLES,
                    incident_at,
                    workdir,
                    repair,
                    listener,
                    _count_since,
                    dbname=DATABASE,
                )
            losses = incident_losses(cost)
            result_restore = done.result
            ledger_id = record_demo(
                ledger,
                "mariadb",
                f"file:{snapshots}",
                target,
                report,
                result_restore,
                clock,
                {"engine": "mariadb"},
            )
            production_label = describe(target_dsn)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return DemoResult(
        production=production_label,
        incident_sql=INCIDENT_SQL,
        incident_intent=INCIDENT_INTENT,
        incident_time=incident_at,
        restore_point=f"binlog position {manifest.snapshot_position or '?'}",
        restore=result_restore,
        verify=report,
        incident_cost=losses,
        drill_seconds=time.monotonic() - started,
        ledger_id=ledger_id,
        next_steps=_next_steps(report.status),
        incident_after_time=after_incident,
        incident_diff=incident.summaries,
        reapply=incident.reapply,
        sql_excerpt=incident.sql_excerpt,
        repair=incident.repair,
        repair_again=incident.repair_again,
        repair_check=incident.repair_check,
        engine="mariadb",
        found=found,
    )


def _next_steps(status: VerifyStatus) -> list[str]:
    steps = [
        "restoredrill plan --engine mariadb --snapshot DUMP_OR_DIR --binlog-archive DIR"
        " --target-time 'YYYY-MM-DDTHH:MM:SS+00:00'   # dry run on your own backups",
        "restoredrill restore --engine mariadb --snapshot DUMP_OR_DIR --binlog-archive DIR"
        " --target latest --keep   # a timed restore you can inspect",
        "restoredrill manifest mysql://USER@HOST/DB --out manifest.json"
        "   # fingerprint production for the next drill",
        "restoredrill verify RESTORED_DSN manifest.json   # or PRODUCTION_DSN with --as-of-column",
        "restoredrill diff RESTORED_DSN mysql://USER@HOST/DB --table T --out diff.json"
        "   # then: restoredrill reapply diff.json --to mysql://USER@HOST/DB",
        "restoredrill history   # every drill is recorded",
        "restoredrill incident find --binlog-archive DIR --since T1 --until T2"
        "   # the transactions that changed the most rows, from the binlogs alone",
        "restoredrill recover --base-backups DUMP_OR_DIR --wal-archive DIR --incident-gtid G"
        " --table T --to mysql://USER@HOST/DB   # what it destroyed, put back (dry run)",
    ]
    if status != VerifyStatus.PASS:
        steps.insert(0, "the demo's own verification did not pass: please report it")
    return steps


__all__ = ["run_mysql_demo"]
