"""Every command of the README's tour (the ```bash blocks from "A tour of the CLI" up to
"Exit codes") runs, in order, against the demo productions (PostgreSQL and MariaDB, set up by
``restoredrill demo --setup-only``). The README speaks of /backups/base, ``host=db1
dbname=shop``, xid 48213 ...: each placeholder is replaced by its demo counterpart (the
replacements in ``_prepare``), and every command runs through bash from a scratch directory;
after ``&& source DIR/demo.env`` the commands that follow see that demo's variables, as in one
shell. s3:// commands read the demo's backups uploaded to a moto S3 server; RDS and a pgBackRest
repository are skipped with their reason; docker commands run when the test images are there."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from restoredrill.engines.postgres.tools import find_pg_tools
from tests.awshelp import DUMMY, REGION, new_bucket, upload_tree
from tests.dockerhelp import PG_IMAGE, require_docker
from tests.pgsetup import CLI

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
TOUR_START, TOUR_END = "## A tour of the CLI", "## Exit codes"
BIN = CLI.parent

# The README's example moment (03:14:00Z) is the demo's incident, 03:14:05 just after it (the
# demo's DEMO_INCIDENT_AFTER: later would be past the archive's head); other times keep their
# distance from the incident (03:00 → 14 minutes before it).
README_INCIDENT = datetime.fromisoformat("2026-11-21T03:14:00+00:00")
README_AFTER = datetime.fromisoformat("2026-11-21T03:14:05+00:00")
_TIME = re.compile(r"'(2026-11-21T[0-9:]+(?:\+00:00|Z))'")

# Commands that cannot run here, by a substring of the command, with the reason.
NEEDS = {
    # moto's RDS has no PostgreSQL behind its instances: the restore cannot connect to one
    "--sandbox rds": "needs AWS RDS (tests/integration/test_rds.py covers it against moto)",
    "--pgbackrest-stanza": "needs a pgBackRest repository (tests/integration/test_pgbackrest.py)",
    # the demo writes no barman-cloud store; test_barman.py makes one with the real tools
    "--barman": "needs a barman-cloud store (tests/integration/test_barman.py)",
}
# Exit codes other than 0 the README's commands give against the demo, and why.
EXPECTED = {
    # the restore (before the DELETE) differs from production now: found, exit 1
    'verify "$RESTORED_DSN" shop.manifest.json': 1,
    'verify "$RESTORED_DSN" "host=db1': 1,
    'diff "$RESTORED_DSN"': 1,
    'verify "$RESTORED_DSN" mysql://': 1,
}
# Commands that do not work today, by a substring: strict xfail, so a fix shows up here.
BROKEN: dict[str, str] = {}


@dataclass(frozen=True)
class Command:
    line: int  # in README.md
    text: str
    block: str  # "tour" (PostgreSQL) or "mariadb": which restored copy $RESTORED_DSN is


def tour_commands(text: str) -> list[Command]:
    """The commands of the tour's bash blocks: continuation lines joined, comments dropped."""
    start, end = text.index(TOUR_START), text.index(TOUR_END)
    commands: list[Command] = []
    for block in re.finditer(r"^```bash\n(.*?)^```$", text[start:end], re.DOTALL | re.M):
        first = text.count("\n", 0, start + block.start(1)) + 1
        kind = "mariadb" if "--engine mariadb --snapshot" in block.group(1) else "tour"
        pending: list[str] = []
        for n, raw in enumerate(block.group(1).splitlines()):
            line = raw.strip()
            if not pending and (not line or line.startswith("#")):
                continue
            pending.append(line.removesuffix("\\").strip())
            if not line.endswith("\\"):
                commands.append(Command(first + n - len(pending) + 1, " ".join(pending), kind))
                pending = []
    return commands


COMMANDS = tour_commands(README.read_text(encoding="utf-8"))


@dataclass
class Tour:
    work: Path
    env: dict[str, str]
    replacements: list[tuple[str, str]]
    restored: dict[str, str]  # block → the DSN of a kept restore
    kept: set[str]  # the ids of those restores
    incidents: dict[str, tuple[datetime, datetime]]  # block → the demo's before/after


def _run(args: str, env: dict[str, str], cwd: Path, timeout: float = 600) -> tuple[int, str]:
    done = subprocess.run(
        ["bash", "-c", args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    return done.returncode, done.stdout + done.stderr


def _json(args: str, env: dict[str, str], cwd: Path) -> dict[str, object]:
    code, output = _run(args + " --json 2>/dev/null", env, cwd)
    assert code == 0, f"{args}: exit {code}\n{output}"
    document: dict[str, object] = json.loads(output)
    return document


def _env_file(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            found[name] = shlex.split(value)[0]
    return found


@pytest.fixture(scope="module")
def tour() -> Iterator[Tour]:
    work = Path(tempfile.mkdtemp(prefix="restoredrill-test-readme-", dir="/tmp"))
    work.chmod(0o711)
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    demos = [work / "pg", work / "maria"]
    kept: set[str] = set()
    listed = _json("restoredrill sandbox list", env, work)["sandboxes"]
    before = {str(s["label"]["id"]) for s in listed}  # type: ignore[index]
    try:
        for engine, directory in zip(("postgres", "mariadb"), demos, strict=True):
            code, output = _run(
                f"restoredrill demo --engine {engine} --setup-only {directory}", env, work
            )
            assert code == 0, output
            env.update(_env_file(directory / "demo.env"))
        yield _prepare(work, env, kept)
    finally:
        # the demos, the README's own (rd-demo, rd-maria), the restores kept for $RESTORED_DSN
        for directory in [*demos, work / "rd-demo", work / "rd-maria"]:
            if directory.exists():
                _run(f"restoredrill demo --teardown {directory}", env, work)
        # ours, and those the README's own `restore --keep` commands left (PostgreSQL and
        # MariaDB: `sandbox rm ID` in the tour removes only one), so no later test sees them
        listed = _json("restoredrill sandbox list", env, work)["sandboxes"]
        left = {str(s["label"]["id"]) for s in listed if s["label"]["keep"]}  # type: ignore[index]
        for sandbox_id in sorted(kept | (left - before)):
            _run(f"restoredrill sandbox rm {sandbox_id}", env, work)
        shutil.rmtree(work, ignore_errors=True)


def _prepare(work: Path, env: dict[str, str], kept: set[str]) -> Tour:
    pg_find = (
        f"restoredrill incident find --base-backups {env['DEMO_BASE_BACKUPS']} "
        f"--wal-archive {env['DEMO_WAL_ARCHIVE']} --since {env['DEMO_INCIDENT_BEFORE']} "
        f"--until {env['DEMO_INCIDENT_AFTER']}"
    )
    xid = _json(pg_find, env, work)["incidents"][0]["xid"]  # type: ignore[index]
    my_find = (
        f"restoredrill incident find --binlog-archive {env['DEMO_MARIADB_BINLOG_ARCHIVE']} "
        f"--since {env['DEMO_MARIADB_INCIDENT_BEFORE']} "
        f"--until {env['DEMO_MARIADB_INCIDENT_AFTER']}"
    )
    gtid = str(_json(my_find, env, work)["incidents"][0]["gtid"])  # type: ignore[index]
    domain, server, seq = gtid.split("-")
    before_gtid = f"{domain}-{server}-{int(seq) - 1}"
    incidents = {
        block: (datetime.fromisoformat(env[f"{p}BEFORE"]), datetime.fromisoformat(env[f"{p}AFTER"]))
        for block, p in (("tour", "DEMO_INCIDENT_"), ("mariadb", "DEMO_MARIADB_INCIDENT_"))
    }
    pg = _json(
        f"restoredrill restore --base-backups {env['DEMO_BASE_BACKUPS']} "
        f"--wal-archive {env['DEMO_WAL_ARCHIVE']} --target-name {env['DEMO_RESTORE_POINT']} "
        "--keep",
        env,
        work,
    )
    kept.add(str(pg["sandbox_id"]))
    snapshot = Path(env["DEMO_MARIADB_SNAPSHOT"])
    maria = _json(
        f"restoredrill restore --engine mariadb --snapshot {snapshot} "
        f"--binlog-archive {env['DEMO_MARIADB_BINLOG_ARCHIVE']} --target-gtid {before_gtid} "
        "--keep",
        env,
        work,
    )
    kept.add(str(maria["sandbox_id"]))
    (work / "playbooks").symlink_to(REPO / "playbooks")
    dump = work / "nightly.dump"
    subprocess.run(
        [find_pg_tools().path("pg_dump"), "-Fc", "-f", str(dump), env["DEMO_DSN"]],
        check=True,
        capture_output=True,
    )
    my_dsn = env["DEMO_MARIADB_DSN"]
    replacements = [
        # PostgreSQL
        ("/backups/base", env["DEMO_BASE_BACKUPS"]),
        ("/backups/wal", env["DEMO_WAL_ARCHIVE"]),
        ("--base-backups /backups --wal-archive /wal", _pg_sources(env)),
        ("host=db1 dbname=shop", env["DEMO_DSN"]),
        ("before-migration", env["DEMO_RESTORE_POINT"]),
        ("--incident-xid 48213", f"--incident-xid {xid}"),
        ("--image postgres:16", f"--image {PG_IMAGE}"),  # no registry: the test image
        ("--logical-dump nightly.dump", f"--logical-dump nightly.dump --image {PG_IMAGE}"),
        ("/var/lib/node_exporter/rd.prom", str(work / "rd.prom")),
        ("/tmp/rd-demo", str(work / "rd-demo")),
        ("/tmp/rd-maria", str(work / "rd-maria")),
        # MariaDB
        ("/backups/shop.sql.gz", str(snapshot / "shop.sql.gz")),
        ("/backups/binlogs", env["DEMO_MARIADB_BINLOG_ARCHIVE"]),
        ("/backups/binlog", env["DEMO_MARIADB_BINLOG_ARCHIVE"]),
        ("--snapshot /backups/", f"--snapshot {snapshot}/"),
        ("--incident-gtid 0-1-4711", f"--incident-gtid {gtid}"),
        ("--target-gtid 0-1-4242", f"--target-gtid {before_gtid}"),
        ("mysql://USER@db2:3306/shop", shlex.quote(my_dsn)),
        ("mysql://drill:secret@db1:3306/shop", shlex.quote(my_dsn)),
        ("mysql://root@db2:3306/", shlex.quote(my_dsn)),
    ]
    restored = {"tour": str(pg["dsn"]), "mariadb": str(maria["dsn"])}
    return Tour(work, env, replacements, restored, kept, incidents)


def _pg_sources(env: dict[str, str]) -> str:
    return f"--base-backups {env['DEMO_BASE_BACKUPS']} --wal-archive {env['DEMO_WAL_ARCHIVE']}"


def _sandbox_id(tour: Tour) -> str:
    """A sandbox the README's own ``restore --keep`` left (not the demos, not ours)."""
    listed = _json("restoredrill sandbox list", tour.env, tour.work)["sandboxes"]
    labels = [s["label"] for s in listed]  # type: ignore[attr-defined]
    kept = [
        str(label["id"])
        for label in labels
        if label["keep"] and label["purpose"] != "demo-production" and label["id"] not in tour.kept
    ]
    assert kept, listed
    return kept[-1]


def _s3_archive(tour: Tour, endpoint: str) -> tuple[str, dict[str, str]]:
    """The demo's base backups and WAL as ``aws s3 cp`` leaves them (base/, wal/) in a bucket
    of the moto server, and the environment that points boto3 there (dummy credentials)."""
    bucket = new_bucket(endpoint)
    upload_tree(endpoint, Path(tour.env["DEMO_BASE_BACKUPS"]), bucket, "base")
    upload_tree(endpoint, Path(tour.env["DEMO_WAL_ARCHIVE"]), bucket, "wal")
    aws = {
        "AWS_ACCESS_KEY_ID": DUMMY["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY["aws_secret_access_key"],
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return bucket, aws


def _moment(tour: Tour, command: Command, readme_time: str) -> str:
    before, after = tour.incidents[command.block]
    moment = datetime.fromisoformat(readme_time)
    if moment == README_AFTER:
        return after.isoformat()
    return (before + (moment - README_INCIDENT)).isoformat()


def _param(command: Command) -> object:
    reason = next((r for needle, r in BROKEN.items() if needle in command.text), None)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(command, marks=marks, id=f"README:{command.line}")


def test_readme_tour_is_found() -> None:
    texts = [c.text for c in COMMANDS]
    assert any(t.startswith("restoredrill plan ") for t in texts)
    assert any(t.startswith("restoredrill drill ") for t in texts)
    assert len(COMMANDS) > 30


@pytest.mark.parametrize("command", [_param(c) for c in COMMANDS])
def test_readme_command(tour: Tour, command: Command, request: pytest.FixtureRequest) -> None:
    for needle, reason in NEEDS.items():
        if needle in command.text:
            pytest.skip(f"{reason}: {command.text}")
    if "--sandbox docker" in command.text:
        require_docker(PG_IMAGE)
    text = command.text
    for placeholder, value in tour.replacements:
        text = text.replace(placeholder, value)
    text = _TIME.sub(lambda m: _moment(tour, command, m[1]), text)
    if text.startswith("restoredrill sandbox rm ID"):
        text = text.replace(" ID", f" {_sandbox_id(tour)}", 1)
    env = {**tour.env, "RESTORED_DSN": tour.restored[command.block]}
    if "s3://archive/" in text:
        bucket, aws = _s3_archive(tour, request.getfixturevalue("moto_endpoint"))
        text = text.replace("s3://archive/", f"s3://{bucket}/")
        env.update(aws)
    code, output = _run(text, env, tour.work)
    expected = next((c for needle, c in EXPECTED.items() if needle in command.text), 0)
    shown = output if len(output) < 12000 else f"{output[:6000]}\n...\n{output[-6000:]}"
    assert code == expected, f"README.md:{command.line}: {text}\nexit {code}\n{shown}"
    # `&& source DIR/demo.env`: the commands after it run against that demo, as in a shell
    for sourced in re.findall(r"&& source (\S+)", text):
        tour.env.update(_env_file(Path(sourced)))
