"""The playbook document: its sections put together and checked against each other
(a source and targets that fit the engine, a restore or recovery to do, unique databases)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from restoredrill.playbook.fields import Strict
from restoredrill.playbook.sections import (
    MYSQL_TARGETS,
    OTHER_KINDS,
    POSTGRES_TARGETS,
    SOURCE_KINDS,
    ChecksSpec,
    DatabaseSpec,
    GameDaySpec,
    Objectives,
    OutputsSpec,
    RecoverSpec,
    SandboxSpec,
    SourceSpec,
    TargetSpec,
)


class Playbook(Strict):
    version: Literal[1] = 1
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=63)
    description: str | None = None
    engine: Literal["postgres", "mariadb", "mysql"] = "postgres"
    source: SourceSpec
    sandbox: SandboxSpec = Field(default_factory=SandboxSpec)
    target: TargetSpec | None = None
    databases: list[DatabaseSpec] = Field(default_factory=lambda: [DatabaseSpec()], min_length=1)
    objectives: Objectives = Field(default_factory=Objectives)
    checks: ChecksSpec | None = None
    gameday: GameDaySpec | None = None
    recover: RecoverSpec | None = None
    outputs: OutputsSpec = Field(default_factory=OutputsSpec)

    @field_validator("source")
    @classmethod
    def _source_fits_engine(cls, source: Any, info: ValidationInfo) -> Any:
        engine = info.data.get("engine")
        wanted = SOURCE_KINDS.get(str(engine))
        also = OTHER_KINDS.get(str(engine), set())
        if wanted is not None and source.kind != wanted and source.kind not in also:
            what = {"file": "base_backups, wal_archive", "mysql": "snapshot, binlog_archive"}
            raise ValueError(
                f"kind {source.kind} is not a source for engine {engine}: "
                f"engine {engine} restores from kind: {wanted} ({what[wanted]})"
            )
        return source

    @field_validator("target")
    @classmethod
    def _target_fits_engine(cls, target: Any, info: ValidationInfo) -> Any:
        engine = str(info.data.get("engine", "postgres"))
        foreign = MYSQL_TARGETS if engine == "postgres" else POSTGRES_TARGETS
        given = [k for k in foreign if target is not None and getattr(target, k) is not None]
        if given:
            raise ValueError(f"{given[0]} is not a target for engine {engine}")
        return target

    @field_validator("checks", "gameday", "recover")
    @classmethod
    def _postgres_only(cls, value: Any, info: ValidationInfo) -> Any:
        engine = info.data.get("engine")
        if value is not None and engine not in (None, "postgres"):
            raise ValueError(f"only with engine postgres (not {engine}) yet")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Playbook:
        if self.target is None and self.recover is None and self.checks is None:
            raise ValueError("give a target (what to restore), a recover section, or checks")
        if self.gameday is not None and self.target is None:
            raise ValueError("gameday needs a target: the incident is injected into that restore")
        if self.source.kind == "barman":
            given = [n for n, v in (("recover", self.recover), ("gameday", self.gameday)) if v]
            if given:
                raise ValueError(f"{given[0]}: not with source kind barman yet")
        names = [d.name for d in self.databases]
        if len(set(names)) != len(names):
            raise ValueError("databases: each name only once")
        for section in (self.gameday, self.recover):
            if section is not None and section.database not in (None, *names):
                raise ValueError(f"database {section.database!r} is not among databases")
        return self

    def label(self, database: DatabaseSpec) -> str:
        return database.label or f"{self.name}:{database.name}"
