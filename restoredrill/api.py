"""The two use cases of the Python API that are more than a re-export of drill/: ``plan``
(open the request's source, plan, close it) and ``run_playbook`` (load a playbook file, run it).
Everything else ``restoredrill`` exposes is the drill/ function itself (see __init__)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from restoredrill.drill.restore import RestoreRequest
    from restoredrill.drill.result import DrillResult
    from restoredrill.drill.run import DrillOptions
    from restoredrill.models import RestorePlan
    from restoredrill.timing import ProgressListener


def plan(request: RestoreRequest) -> RestorePlan:
    """The dry run of ``restore(request)``: the base backup (or snapshot) it would use, the
    log range it needs and the preflight checks. Provisions nothing; ``plan.ok`` is False
    when a restore would be refused. PostgreSQL sources are directories or s3:// URLs
    (``request.source`` for others); ``backend=MySqlOptions()`` reads a snapshot and binlogs."""
    from restoredrill.errors import ConfigError
    from restoredrill.sandboxes.registry import restore_backend

    name = request.backend.backend
    planner = restore_backend(name).plan
    if planner is None:
        raise ConfigError(f"{name}: restores of this kind have no dry run")
    return planner(request)


def run_playbook(
    path: Path | str,
    options: DrillOptions | None = None,
    progress: ProgressListener | None = None,
) -> DrillResult:
    """Load the playbook at ``path`` (``${VAR}`` from ``options.env`` or the environment),
    run it and record it: ``restoredrill drill PATH`` for one file. A drill that fails is a
    result (``result.verdict``, ``result.exit_code``); an invalid playbook is a ConfigError."""
    from restoredrill.drill.run import run_playbook as run
    from restoredrill.playbook import load_playbook

    env = options.env if options is not None else None
    return run(load_playbook(path, env), Path(path), options, progress)
