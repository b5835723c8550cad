"""``restoredrill demo --setup-only DIR``: the demo's "production" left running, with its WAL
archive, base backup and manifest in DIR, so the example playbooks can run against it.

DIR gets ``demo.env`` (``export DEMO_DIR=... DEMO_DSN=...``: source it, then run
``restoredrill drill playbooks/quarterly-drill.yaml``) and ``demo.json`` (the same facts);
``restoredrill demo --teardown DIR`` stops the production and removes its sandbox."""

from __future__ import annotations

import json
import shlex
import shutil
import time
from pathlib import Path

from pydantic import AwareDatetime

from restoredrill.drill.demo import (
    INCIDENT_SQL,
    RESTORE_POINT,
    SCHEMA,
    _incident,
    _moment_after,
    _traffic,
)
from restoredrill.drill.manifest import create_manifest, write_manifest
from restoredrill.engines.pg_archiving import (
    archiving_settings,
    base_backup,
    switch_and_wait_archived,
)
from restoredrill.engines.pg_tools import find_pg_tools
from restoredrill.errors import ConfigError
from restoredrill.models import Frozen
from restoredrill.sandboxes import labels
from restoredrill.sandboxes.local import local_postgres
from restoredrill.timing import PhaseClock, ProgressListener, SilentProgress

ENV_FILE = "demo.env"
STATE_FILE = "demo.json"


class DemoEnvironment(Frozen):
    directory: str
    dsn: str
    base_backups: str
    wal_archive: str
    manifest: str
    restore_point: str
    incident_sql: str
    incident_before: AwareDatetime
    incident_after: AwareDatetime
    sandbox_id: str
    sandbox_path: str
    env_file: str

    def variables(self) -> dict[str, str]:
        return {
            "DEMO_DIR": self.directory,
            "DEMO_DSN": self.dsn,
            "DEMO_BASE_BACKUPS": self.base_backups,
            "DEMO_WAL_ARCHIVE": self.wal_archive,
            "DEMO_MANIFEST": self.manifest,
            "DEMO_RESTORE_POINT": self.restore_point,
            "DEMO_INCIDENT_BEFORE": self.incident_before.isoformat(),
            "DEMO_INCIDENT_AFTER": self.incident_after.isoformat(),
        }


def setup_demo_environment(
    directory: Path,
    progress: ProgressListener | None = None,
    pg_bin: str | None = None,
    os_user: str = "postgres",
    users: int = 4000,
) -> DemoEnvironment:
    listener = progress or SilentProgress()
    directory = Path(directory).absolute()
    if directory.exists() and any(directory.iterdir()):
        raise ConfigError(f"{directory} is not empty (teardown: restoredrill demo --teardown DIR)")
    directory.mkdir(parents=True, exist_ok=True)
    tools = find_pg_tools(pg_bin)
    clock = PhaseClock(listener)
    archive = directory / "wal-archive"
    backups = directory / "base-backups"
    manifest_path = directory / "manifest.json"
    with local_postgres("demo-production", os_user=os_user, tools=tools, keep=True) as production:
        production.run_as.check_reachable(directory)
        with clock.phase("build production"):
            archive.mkdir(parents=True, exist_ok=True)
            production.run_as.own(archive)
            production.initdb()
            # archive_timeout bounds how long a committed transaction may wait unarchived
            # (what `restoredrill check` holds against the RPO).
            production.start(settings={**archiving_settings(archive), "archive_timeout": "60s"})
            with production.connect() as conn:
                conn.execute(SCHEMA)
            _traffic(production, 1, users, orders_per_user=4)
        with clock.phase("base backup"):
            base_backup(production, backups / "base-1", fmt="tar", compression="gzip")
            time.sleep(1.1)  # backup history times have 1 s resolution
        with clock.phase("traffic"):
            _traffic(production, users + 1, users // 10, orders_per_user=3)
        with clock.phase("manifest + restore point"):
            manifest = create_manifest(production.dsn(), restore_point=RESTORE_POINT)
            write_manifest(manifest, manifest_path)
        listener.note(f"[red]incident[/red]: {INCIDENT_SQL}")
        before = _incident(production)
        after = _moment_after(production)
        with clock.phase("traffic after incident"):
            _traffic(production, users + users // 10 + 1, users // 20, orders_per_user=2)
            switch_and_wait_archived(production)
        environment = DemoEnvironment(
            directory=str(directory),
            dsn=production.dsn(),
            base_backups=str(backups),
            wal_archive=str(archive),
            manifest=str(manifest_path),
            restore_point=RESTORE_POINT,
            incident_sql=INCIDENT_SQL,
            incident_before=before,
            incident_after=after,
            sandbox_id=production.id,
            sandbox_path=str(production.root),
            env_file=str(directory / ENV_FILE),
        )
        _write(directory, environment)
    return environment


def _write(directory: Path, environment: DemoEnvironment) -> None:
    lines = ["# restoredrill demo environment: source this file, then run a playbook"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in environment.variables().items()]
    (directory / ENV_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (directory / STATE_FILE).write_text(environment.model_dump_json(indent=2) + "\n")


def load_environment(directory: Path) -> DemoEnvironment:
    state = Path(directory) / STATE_FILE
    try:
        return DemoEnvironment.model_validate(json.loads(state.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{directory} holds no demo environment ({STATE_FILE}): {exc}") from exc


def teardown_demo_environment(directory: Path) -> DemoEnvironment:
    """Stop the demo production and remove its sandbox and DIR's demo files."""
    environment = load_environment(directory)
    sandbox = Path(environment.sandbox_path)
    pid = labels.postmaster_pid(sandbox / "data")
    if pid is not None:
        labels.stop_server(pid)
    if (sandbox / labels.LABEL_FILE).is_file():
        labels.remove_sandbox_dir(sandbox)
    for name in (ENV_FILE, STATE_FILE, "manifest.json"):
        (Path(directory) / name).unlink(missing_ok=True)
    for name in ("wal-archive", "base-backups"):
        shutil.rmtree(Path(directory) / name, ignore_errors=True)
    return environment


__all__ = [
    "DemoEnvironment",
    "load_environment",
    "setup_demo_environment",
    "teardown_demo_environment",
]
