"""Drill playbooks: YAML files that say what to restore, where from, what to check, and which
objectives the result is held to. Quarterly drills and CI jobs run from these, not from
typed commands (``restoredrill drill PLAYBOOK``).

The package by responsibility: ``fields`` (field types), ``sections`` (source, target, verify,
... models), ``models`` (the Playbook document), ``expand`` (``${VAR}`` expansion), ``messages``
(validation errors as file:line), ``load`` (read, expand, validate). Every name below stays
importable from ``restoredrill.playbook``.
"""

from restoredrill.playbook.expand import expand_env
from restoredrill.playbook.fields import (
    Duration,
    FilePath,
    Location,
    Strict,
    TimeSpec,
    resolve_time,
)
from restoredrill.playbook.load import MAX_ERRORS, PROBLEMS_HEADER, load_playbook, load_playbooks
from restoredrill.playbook.models import Playbook
from restoredrill.playbook.sections import (
    MYSQL_TARGETS,
    OTHER_KINDS,
    POSTGRES_TARGETS,
    SOURCE_KINDS,
    TARGET_KINDS,
    AssertionSpec,
    BarmanSourceSpec,
    ChecksSpec,
    DatabaseSpec,
    FileSourceSpec,
    GameDayIncident,
    GameDaySpec,
    MysqlSourceSpec,
    Objectives,
    OutputsSpec,
    RecoverSpec,
    SandboxSpec,
    SourceSpec,
    TargetSpec,
    Tolerance,
    VerifySpec,
)

__all__ = [
    "MAX_ERRORS",
    "MYSQL_TARGETS",
    "OTHER_KINDS",
    "POSTGRES_TARGETS",
    "PROBLEMS_HEADER",
    "SOURCE_KINDS",
    "TARGET_KINDS",
    "AssertionSpec",
    "BarmanSourceSpec",
    "ChecksSpec",
    "DatabaseSpec",
    "Duration",
    "FilePath",
    "FileSourceSpec",
    "GameDayIncident",
    "GameDaySpec",
    "Location",
    "MysqlSourceSpec",
    "Objectives",
    "OutputsSpec",
    "Playbook",
    "RecoverSpec",
    "SandboxSpec",
    "SourceSpec",
    "Strict",
    "TargetSpec",
    "TimeSpec",
    "Tolerance",
    "VerifySpec",
    "expand_env",
    "load_playbook",
    "load_playbooks",
    "resolve_time",
]
