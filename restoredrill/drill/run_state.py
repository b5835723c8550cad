"""A playbook run's options and what it has gathered so far (the steps fill it in)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from restoredrill.checks.registry import CheckReport
from restoredrill.drill.recover import RecoverResult
from restoredrill.drill.restore import Restored
from restoredrill.drill.result import DatabaseOutcome, GameDayOutcome
from restoredrill.errors import RestoreDrillError
from restoredrill.models import RecoveryTarget
from restoredrill.playbook import Playbook

# What the user can do about an UNVERIFIED drill, said beside its reason.
ACCEPT_HINT = "accept it with --allow-unverified-base or allow_unverified_base: true"


@dataclass(frozen=True)
class DrillOptions:
    ledger_path: Path | None = None
    results_dir: Path | None = None  # also write each DrillResult as JSON here
    junit: Path | None = None  # JUnit XML of all the drills run
    webhook_url: str | None = None  # secret: never printed
    parallel: int = 1
    env: dict[str, str] | None = None  # variables for ${...} in playbooks (default: os.environ)
    allow_unverified_base: bool = False  # also the playbook's source.allow_unverified_base


@dataclass
class PlaybookRun:
    """What one playbook run has gathered so far."""

    playbook: Playbook
    path: Path
    started_at: datetime
    started: float
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    target: RecoveryTarget | None = None
    checks: CheckReport | None = None
    restore: Restored | None = None
    databases: list[DatabaseOutcome] = field(default_factory=list)
    gameday: GameDayOutcome | None = None
    recover: RecoverResult | None = None
    failures: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)  # not checked: UNVERIFIED, not PASS
    allow_unverified: bool = False
    error: RestoreDrillError | None = None
