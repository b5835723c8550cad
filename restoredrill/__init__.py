"""restoredrill: rehearse database point-in-time recovery before the real incident.

The Python API (docs/api.md): the use cases ``plan``, ``restore`` (and ``restored``, the
same restore as a context manager), ``verify``, ``diff``, ``reapply``, ``recover`` and
``run_playbook``, with the types they take. Names load on first use (module ``__getattr__``)
so ``import restoredrill`` stays cheap (``restoredrill --help`` imports this package);
type checkers read the imports below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from restoredrill.api import plan, run_playbook
    from restoredrill.drill.diff import diff
    from restoredrill.drill.reapply import reapply
    from restoredrill.drill.reapply_work import ReapplyOptions
    from restoredrill.drill.recover import RecoverRequest, RecoverResult, recover
    from restoredrill.drill.restore import RestoreRequest, restore, restored
    from restoredrill.drill.result import DrillResult
    from restoredrill.drill.run import DrillOptions
    from restoredrill.drill.verify import verify
    from restoredrill.engines.mysql.restore_options import MySqlOptions
    from restoredrill.engines.postgres.restore_options import DockerOptions, PostgresOptions
    from restoredrill.errors import (
        ConfigError,
        DrillFailed,
        InfrastructureError,
        RestoreDrillError,
        UsageError,
    )
    from restoredrill.models import (
        DiffDocument,
        ReapplyReport,
        RecoveryTarget,
        RestorePlan,
        RestoreResult,
        VerifyReport,
    )
    from restoredrill.playbook import Playbook, load_playbook
    from restoredrill.targets import parse_target

# public name -> the module that defines it (the one table to update when a module moves)
_EXPORTS = {
    "plan": "restoredrill.api",
    "run_playbook": "restoredrill.api",
    "restore": "restoredrill.drill.restore",
    "restored": "restoredrill.drill.restore",
    "RestoreRequest": "restoredrill.drill.restore",
    "PostgresOptions": "restoredrill.engines.postgres.restore_options",
    "DockerOptions": "restoredrill.engines.postgres.restore_options",
    "MySqlOptions": "restoredrill.engines.mysql.restore_options",
    "verify": "restoredrill.drill.verify",
    "diff": "restoredrill.drill.diff",
    "reapply": "restoredrill.drill.reapply",
    "ReapplyOptions": "restoredrill.drill.reapply_work",
    "recover": "restoredrill.drill.recover",
    "RecoverRequest": "restoredrill.drill.recover",
    "RecoverResult": "restoredrill.drill.recover",
    "DrillOptions": "restoredrill.drill.run",
    "DrillResult": "restoredrill.drill.result",
    "RecoveryTarget": "restoredrill.models",
    "RestorePlan": "restoredrill.models",
    "RestoreResult": "restoredrill.models",
    "VerifyReport": "restoredrill.models",
    "DiffDocument": "restoredrill.models",
    "ReapplyReport": "restoredrill.models",
    "parse_target": "restoredrill.targets",
    "Playbook": "restoredrill.playbook",
    "load_playbook": "restoredrill.playbook",
    "RestoreDrillError": "restoredrill.errors",
    "ConfigError": "restoredrill.errors",
    "UsageError": "restoredrill.errors",
    "InfrastructureError": "restoredrill.errors",
    "DrillFailed": "restoredrill.errors",
}

__all__ = [
    "ConfigError",
    "DiffDocument",
    "DockerOptions",
    "DrillFailed",
    "DrillOptions",
    "DrillResult",
    "InfrastructureError",
    "MySqlOptions",
    "Playbook",
    "PostgresOptions",
    "ReapplyOptions",
    "ReapplyReport",
    "RecoverRequest",
    "RecoverResult",
    "RecoveryTarget",
    "RestoreDrillError",
    "RestorePlan",
    "RestoreRequest",
    "RestoreResult",
    "UsageError",
    "VerifyReport",
    "__version__",
    "diff",
    "load_playbook",
    "parse_target",
    "plan",
    "reapply",
    "recover",
    "restore",
    "restored",
    "run_playbook",
    "verify",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'restoredrill' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
