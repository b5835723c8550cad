"""``restoredrill demo --setup-only DIR``: the demo's "production" left running, with its WAL
archive, base backup and manifest in DIR, so the example playbooks can run against it.

DIR gets ``demo.env`` (``export DEMO_DIR=... DEMO_DSN=...``: source it, then run
``restoredrill drill playbooks/quarterly-drill.yaml``) and ``demo.json`` (the same facts);
``restoredrill demo --teardown DIR`` stops the production and removes its sandbox."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

from pydantic import AwareDatetime

from restoredrill.demo.postgres import INCIDENT_SQL, RESTORE_POINT, stage_incident
from restoredrill.engines.postgres.sandbox_local import local_postgres
from restoredrill.engines.postgres.tools import find_pg_tools
from restoredrill.errors import ConfigError
from restoredrill.models import Frozen
from restoredrill.sandboxes import labels
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
    with local_postgres("demo-production", os_user=os_user, tools=tools, keep=True) as production:
        production.run_as.check_reachable(directory)
        # archive_timeout bounds how long a committed transaction may wait unarchived
        # (what `restoredrill check` holds against the RPO).
        staged = stage_incident(
            production, directory, archive, users, clock, listener, {"archive_timeout": "60s"}
        )
        environment = DemoEnvironment(
            directory=str(directory),
            dsn=production.dsn(),
            base_backups=str(staged.backups),
            wal_archive=str(archive),
            manifest=str(staged.manifest),
            restore_point=RESTORE_POINT,
            incident_sql=INCIDENT_SQL,
            incident_before=staged.incident_at,
            incident_after=staged.after_incident,
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
