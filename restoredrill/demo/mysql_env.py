"""``restoredrill demo --engine mariadb --setup-only DIR``: the MariaDB demo's "production"
left running, with its snapshot (a gzipped mariadb-dump with its binlog coordinates), its
binlog archive and a manifest in DIR, so ``playbooks/mariadb-binlog-drill.yaml`` can run
against it.

DIR gets ``demo.env`` (``export DEMO_MARIADB_DIR=... DEMO_MARIADB_DSN=mysql://...``: source
it, then ``restoredrill drill playbooks/mariadb-binlog-drill.yaml``) and ``demo.json`` (the
same facts); ``restoredrill demo --teardown DIR`` stops the production and removes it."""

from __future__ import annotations

import json
import shlex
import shutil
import signal
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime

from restoredrill.demo.mysql import INCIDENT_SQL, stage_mysql_incident
from restoredrill.demo.postgres_env import ENV_FILE, STATE_FILE
from restoredrill.engines.mysql.sandbox_local import local_mysql
from restoredrill.engines.mysql.tools import find_mysql_tools
from restoredrill.errors import ConfigError
from restoredrill.models import Frozen
from restoredrill.sandboxes import labels
from restoredrill.timing import PhaseClock, ProgressListener, SilentProgress

PLAYBOOK = "playbooks/mariadb-binlog-drill.yaml"
PREFIX = "DEMO_MARIADB_"


class MysqlDemoEnvironment(Frozen):
    engine: Literal["mariadb"] = "mariadb"
    directory: str
    dsn: str
    snapshot: str
    binlog_archive: str
    manifest: str
    incident_sql: str
    incident_before: AwareDatetime
    incident_after: AwareDatetime
    sandbox_id: str
    sandbox_path: str
    env_file: str

    def variables(self) -> dict[str, str]:
        """Named apart from the PostgreSQL demo's (DEMO_...): both env files can be sourced
        in one shell and every example playbook run at once."""
        return {
            f"{PREFIX}DIR": self.directory,
            f"{PREFIX}DSN": self.dsn,
            f"{PREFIX}SNAPSHOT": self.snapshot,
            f"{PREFIX}BINLOG_ARCHIVE": self.binlog_archive,
            f"{PREFIX}MANIFEST": self.manifest,
            f"{PREFIX}INCIDENT_BEFORE": self.incident_before.isoformat(),
            f"{PREFIX}INCIDENT_AFTER": self.incident_after.isoformat(),
        }


def setup_mysql_demo_environment(
    directory: Path,
    progress: ProgressListener | None = None,
    os_user: str = "mysql",
    users: int = 4000,
) -> MysqlDemoEnvironment:
    listener = progress or SilentProgress()
    directory = Path(directory).absolute()
    if directory.exists() and any(directory.iterdir()):
        raise ConfigError(f"{directory} is not empty (teardown: restoredrill demo --teardown DIR)")
    directory.mkdir(parents=True, exist_ok=True)
    tools = find_mysql_tools()
    clock = PhaseClock(listener)
    with local_mysql("demo-production", os_user=os_user, tools=tools, keep=True) as production:
        staged = stage_mysql_incident(production, directory, users, clock, listener)
        environment = MysqlDemoEnvironment(
            directory=str(directory),
            dsn=staged.dsn,
            snapshot=str(staged.snapshots),
            binlog_archive=str(staged.archive),
            manifest=str(staged.manifest),
            incident_sql=INCIDENT_SQL,
            incident_before=staged.incident_at,
            incident_after=staged.after_incident,
            sandbox_id=production.id,
            sandbox_path=str(production.root),
            env_file=str(directory / ENV_FILE),
        )
        _write(directory, environment)
    return environment


def _write(directory: Path, environment: MysqlDemoEnvironment) -> None:
    lines = ["# restoredrill MariaDB demo environment: source this file, then run a playbook"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in environment.variables().items()]
    (directory / ENV_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (directory / STATE_FILE).write_text(environment.model_dump_json(indent=2) + "\n")


def is_mysql_environment(directory: Path) -> bool:
    """Whether DIR holds a MariaDB demo environment (demo.json says engine mariadb)."""
    try:
        state = json.loads((Path(directory) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and state.get("engine") == "mariadb"


def teardown_mysql_demo_environment(directory: Path) -> MysqlDemoEnvironment:
    """Stop the demo production and remove its sandbox and DIR's demo files."""
    state = Path(directory) / STATE_FILE
    try:
        environment = MysqlDemoEnvironment.model_validate(
            json.loads(state.read_text(encoding="utf-8"))
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{directory} holds no demo environment ({STATE_FILE}): {exc}") from exc
    sandbox = Path(environment.sandbox_path)
    pid = labels.mysqld_pid(sandbox)
    if pid is not None:
        labels.stop_server(pid, signal.SIGKILL)  # throwaway: nothing needs flushing
    if (sandbox / labels.LABEL_FILE).is_file():
        labels.remove_sandbox_dir(sandbox)
    for name in (ENV_FILE, STATE_FILE, "manifest.json"):
        (Path(directory) / name).unlink(missing_ok=True)
    for name in ("snapshots", "binlog-archive"):
        shutil.rmtree(Path(directory) / name, ignore_errors=True)
    return environment


__all__ = [
    "MysqlDemoEnvironment",
    "is_mysql_environment",
    "setup_mysql_demo_environment",
    "teardown_mysql_demo_environment",
]
