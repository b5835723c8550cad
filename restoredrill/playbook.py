"""Drill playbooks: YAML files that say what to restore, where from, what to check, and which
objectives the result is held to. Quarterly drills and CI jobs run from these, not from
typed commands (``restoredrill drill PLAYBOOK``).

Loading keeps line numbers (ruamel.yaml round-trip nodes), expands ``${VAR}`` /
``${VAR:-default}`` from the environment (``$$`` is a literal ``$``), resolves relative paths
against the playbook's directory, and validates with pydantic (unknown keys rejected). Every
mistake is reported as ``file:line: where: what`` and is a ConfigError (exit 2).

Sources are a discriminated union on ``kind``: ``file`` (PostgreSQL base backups and WAL in
directories), ``barman`` (a barman-cloud store: the server's folder, s3:// or local) and
``mysql`` (a MariaDB/MySQL snapshot and binlog archive, local paths or s3:// URLs, for
``engine: mariadb``); further kinds join the union.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from restoredrill.durations import is_relative_time, parse_duration, resolve_relative
from restoredrill.errors import ConfigError, RestoreDrillError
from restoredrill.models import RecoveryTarget
from restoredrill.targets import parse_target, parse_time

MAX_ERRORS = 10


# --- field types ------------------------------------------------------------------------------


def _duration(value: Any) -> float:
    if isinstance(value, str | int | float):
        return parse_duration(value)
    raise ValueError("expected a duration such as 90s, 15m, 1h30m or a number of seconds")


def _time_spec(value: str) -> str:
    if is_relative_time(value):
        return value
    try:
        parse_time(value, option="time")
    except RestoreDrillError as exc:
        raise ValueError(f"{exc} — or a relative time such as '15 minutes ago'") from None
    return value


def _relative_path(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base")
    if base is not None and not value.is_absolute():
        return Path(base) / value
    return value


def _location(value: str, info: ValidationInfo) -> str:
    """An s3:// URL as it is; a path relative to the playbook otherwise."""
    if value.startswith("s3://"):
        return value
    return str(_relative_path(Path(value), info))


Duration = Annotated[float, BeforeValidator(_duration)]
TimeSpec = Annotated[str, AfterValidator(_time_spec)]
FilePath = Annotated[Path, AfterValidator(_relative_path)]
Location = Annotated[str, AfterValidator(_location)]


def resolve_time(spec: str, now: datetime) -> datetime:
    """A validated TimeSpec as an aware datetime (relative ones against ``now``)."""
    if is_relative_time(spec):
        return resolve_relative(spec, now)
    return parse_time(spec, option="time")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- sections ---------------------------------------------------------------------------------


class FileSourceSpec(Strict):
    """Base backups (pg_basebackup output) and a cp-style WAL archive in directories."""

    kind: Literal["file"]
    base_backups: FilePath
    wal_archive: FilePath
    # a base without backup_manifest may still PASS (the warning stays)
    allow_unverified_base: bool = False

    def describe(self) -> str:
        return f"file:{self.base_backups}"


class BarmanSourceSpec(Strict):
    """A barman-cloud store (barman-cloud-backup + barman-cloud-wal-archive, CloudNativePG):
    the server's folder, ``s3://bucket/prefix/<server>`` or a local directory."""

    kind: Literal["barman"]
    location: Location
    allow_unverified_base: bool = False  # barman-cloud writes no backup_manifest

    def describe(self) -> str:
        return f"barman:{self.location}"


class MysqlSourceSpec(Strict):
    """A MariaDB/MySQL snapshot (a dump made with --master-data, a mariabackup directory, or
    a directory of them) and its binlog archive: local paths or s3:// URLs (dumps only)."""

    kind: Literal["mysql"]
    snapshot: Location
    binlog_archive: Location
    # binlogs written without checksums (events not verifiable) may still PASS
    allow_unverified_base: bool = False

    def describe(self) -> str:
        if self.snapshot.startswith("s3://"):
            return f"{self.snapshot} (binlogs {self.binlog_archive})"
        return f"file:{self.snapshot}"


# Add further kinds (s3, pgbackrest, ...) to this union; "kind" picks the member.
SourceSpec = Annotated[
    Union[FileSourceSpec, BarmanSourceSpec, MysqlSourceSpec],  # noqa: UP007
    Field(discriminator="kind"),
]
SOURCE_KINDS = {"postgres": "file", "mariadb": "mysql", "mysql": "mysql"}  # engine -> kind
OTHER_KINDS = {"postgres": {"barman"}}  # engine -> further kinds it restores from


class SandboxSpec(Strict):
    backend: Literal["local"] = "local"
    os_user: str = "postgres"
    pg_bin: str | None = None
    timeout: Duration = 3600.0


TARGET_KINDS = ("time", "restore_point", "lsn", "xid", "position", "gtid", "latest", "immediate")
POSTGRES_TARGETS = ("restore_point", "lsn", "xid")
MYSQL_TARGETS = ("position", "gtid")


class TargetSpec(Strict):
    """Exactly one of: time (ISO 8601 with a zone, or '15 minutes ago'), restore_point, lsn,
    xid (PostgreSQL), position FILE:POS, gtid (MariaDB/MySQL), latest, immediate.
    ``target: latest`` is short for ``target: {latest: true}``."""

    time: TimeSpec | None = None
    restore_point: str | None = None
    lsn: str | None = None
    xid: int | None = None
    position: str | None = None
    gtid: str | None = None
    latest: bool = False
    immediate: bool = False
    exclusive: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str) and data in ("latest", "immediate"):
            return {data: True}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> TargetSpec:
        given = [k for k in TARGET_KINDS if getattr(self, k) not in (None, False)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(TARGET_KINDS)} (got {given or 0})")
        if self.time is None:
            mysql = given[0] in MYSQL_TARGETS
            try:
                self.recovery_target(
                    datetime.now().astimezone(), "mariadb" if mysql else "postgres"
                )
            except RestoreDrillError as exc:
                raise ValueError(str(exc).replace("--target-", "")) from None
        return self

    def recovery_target(self, now: datetime, engine: str = "postgres") -> RecoveryTarget:
        if self.time is not None:
            moment = resolve_time(self.time, now)
            return RecoveryTarget(kind="time", time=moment, inclusive=not self.exclusive)
        special = "latest" if self.latest else "immediate" if self.immediate else None
        return parse_target(
            lsn=self.lsn,
            xid=str(self.xid) if self.xid is not None else None,
            name=self.restore_point,
            target=special,
            exclusive=self.exclusive,
            position=self.position,
            gtid=self.gtid,
            engine=engine,
        )


class Tolerance(Strict):
    """How far row counts may differ before a table fails (live production moves on)."""

    rows: int | None = Field(default=None, ge=0)
    percent: float | None = Field(default=None, ge=0, le=100)

    def allows(self, restored: int, reference: int) -> bool:
        difference = abs(restored - reference)
        if self.rows is not None and difference <= self.rows:
            return True
        if self.percent is not None and reference > 0:
            return difference * 100.0 / reference <= self.percent
        return False


class VerifySpec(Strict):
    """Verify against a manifest file or a live production DSN (opened read-only)."""

    manifest: FilePath | None = None
    production: str | None = None
    tables: list[str] | None = None
    as_of_columns: dict[str, str] = Field(default_factory=dict)
    as_of: TimeSpec | None = None
    tolerances: dict[str, Tolerance] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _reference(self) -> VerifySpec:
        if (self.manifest is None) == (self.production is None):
            raise ValueError("give exactly one of manifest or production")
        if self.manifest is not None and self.as_of_columns:
            raise ValueError("as_of_columns apply to a live production, not a manifest")
        if self.as_of is not None and not self.as_of_columns:
            raise ValueError("as_of only applies together with as_of_columns")
        return self

    @property
    def reference(self) -> str | Path:
        return self.manifest if self.manifest is not None else str(self.production)


class AssertionSpec(Strict):
    """An application check run read-only on the restored copy: SQL returning one row with
    one boolean column, true when the data holds (e.g. no orphaned rows)."""

    name: str = Field(min_length=1)
    sql: str = Field(min_length=1)
    timeout: Duration = 300.0  # statement timeout


class DatabaseSpec(Strict):
    name: str = "postgres"  # the database inside the restored cluster
    label: str | None = None  # how reports and the ledger name it (default: playbook:name)
    verify: VerifySpec | None = None
    assertions: list[AssertionSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_assertions(self) -> DatabaseSpec:
        names = [a.name for a in self.assertions]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"assertion names must be unique: {', '.join(twice)} repeated")
        return self


class Objectives(Strict):
    rto: Duration | None = None  # restore time (provision → ready); game days: incident → verified
    rpo: Duration | None = None  # data-loss window: target (or drill start) - last recovered commit


class ChecksSpec(Strict):
    """Backup-configuration checks run before the restore (see ``restoredrill check``)."""

    live: str | None = None  # production DSN: settings and pg_stat_archiver
    postgresql_conf: FilePath | None = None
    pgbackrest_conf: FilePath | None = None
    archive: bool = True  # WAL continuity and base backup age of this playbook's source
    max_backup_age: Duration | None = None


GameDayIncident = Literal["delete-matching-nulls", "drop-table", "update-without-where"]


class GameDaySpec(Strict):
    """Inject a classic incident into the restored sandbox (never production) and time the
    recovery: incident → recovered rows → verified."""

    incident: GameDayIncident
    table: str
    column: str | None = None  # delete: the predicate column; update: the column overwritten
    value: str | None = None  # delete: rows with column < value (and NULLs); update: new value
    database: str | None = None  # default: the first database
    tables: list[str] | None = None  # diffed and verified after (default: every user table)
    max_rows: int = Field(default=50_000, ge=1)

    @model_validator(mode="after")
    def _needs(self) -> GameDaySpec:
        needs_column = self.incident != "drop-table"
        if needs_column and (self.column is None or self.value is None):
            raise ValueError(f"incident {self.incident} needs column and value")
        if not needs_column and (self.column is not None or self.value is not None):
            raise ValueError("incident drop-table takes no column or value")
        return self


class RecoverSpec(Strict):
    """Incident recovery: restores just before and just after, their diff, a reapply DRY RUN
    against ``to`` (a playbook never writes to production; use ``restoredrill reapply``)."""

    before: TimeSpec
    after: TimeSpec
    tables: list[str] = Field(min_length=1)
    to: str
    database: str | None = None
    max_rows: int = Field(default=50_000, ge=1)
    diff_out: FilePath | None = None


class OutputsSpec(Strict):
    json_file: FilePath | None = Field(default=None, alias="json")
    junit: FilePath | None = None
    markdown: FilePath | None = None
    html: FilePath | None = None
    prometheus: FilePath | None = None
    results_dir: FilePath | None = None


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


# --- loading ----------------------------------------------------------------------------------


_VAR = re.compile(r"\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")


class _Located(ConfigError):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def expand_env(text: str, env: Mapping[str, str], line: int | None = None) -> str:
    """``${VAR}`` / ``${VAR:-default}`` from ``env``; ``$$`` is a literal ``$``."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) == "$":
            return "$"
        name, default = match.group(2), match.group(3)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise _Located(line, f"environment variable {name} is not set")
            return default
        return value

    return _VAR.sub(substitute, text)


def _plain(node: Any, env: Mapping[str, str], line: int | None) -> Any:
    """ruamel round-trip nodes → plain Python values, expanding variables in strings."""
    if isinstance(node, CommentedMap):
        result: dict[Any, Any] = {}
        for key, value in node.items():
            value_line = node.lc.value(key)[0] + 1 if key in node.lc.data else line
            result[str(key) if isinstance(key, str) else key] = _plain(value, env, value_line)
        return result
    if isinstance(node, CommentedSeq):
        return [
            _plain(item, env, node.lc.item(i)[0] + 1 if i in node.lc.data else line)
            for i, item in enumerate(node)
        ]
    if isinstance(node, datetime | date):
        return node.isoformat()
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return expand_env(str(node), env, line)
    return node


def _line_of(root: Any, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at pydantic's ``loc`` (or its nearest parent).
    Components that are not in the data (union branch tags) are skipped."""
    node = root
    line: int | None = root.lc.line + 1 if isinstance(root, CommentedMap) else None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
    return line


def _where(loc: tuple[int | str, ...], root: Any) -> str:
    """Dotted path of the keys that exist in the data, plus a missing or unknown last key
    (union branch tags, which are not in the data, are dropped)."""
    parts: list[str] = []
    node = root
    for n, part in enumerate(loc):
        in_map = isinstance(node, Mapping) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_map or in_list:
            node = node[part]
        elif n != len(loc) - 1:
            continue
        parts.append(str(part))
    return ".".join(parts) or "(top level)"


def _allowed(loc: tuple[int | str, ...]) -> list[str]:
    """Keys allowed where an unknown key was found (walks the schema along ``loc``)."""
    model: Any = Playbook
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        fields = getattr(model, "model_fields", None)
        if not fields:
            model = None
            continue
        field = next((f for n, f in fields.items() if part in (n, f.alias)), None)
        model = _model_in(field.annotation) if field is not None else None
    fields = getattr(model, "model_fields", None) or {}
    return [f.alias or n for n, f in fields.items()]


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside an annotation (``X | None``, ``list[X]``, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for candidate in getattr(annotation, "__args__", ()):
        found = _model_in(candidate)
        if found is not None:
            return found
    return None


def _describe_error(error: Any) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        allowed = _allowed(loc)
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return f"unknown key {loc[-1]!r}{hint}"
    if error["type"] == "missing":
        return "required key is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def load_playbook(path: Path | str, env: Mapping[str, str] | None = None) -> Playbook:
    """Read, expand and validate one playbook; any problem → ConfigError naming file:line."""
    path = Path(path)
    environment = os.environ if env is None else env
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read playbook {path}: {exc}") from exc
    try:
        root = YAML(typ="rt", pure=True).load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else "?"
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise ConfigError(f"{path}:{line}: {problem}") from None
    except YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(root, CommentedMap):
        raise ConfigError(f"{path}:1: a playbook is a mapping of keys (name, source, target, ...)")
    try:
        data = _plain(root, environment, root.lc.line + 1)
    except _Located as exc:
        raise ConfigError(f"{path}:{exc.line or '?'}: {exc.message}") from None
    try:
        return Playbook.model_validate(data, context={"base": path.resolve().parent})
    except ValidationError as exc:
        lines = []
        for error in exc.errors()[:MAX_ERRORS]:
            loc = tuple(error["loc"])
            line = _line_of(root, loc)
            lines.append(f"{path}:{line or '?'}: {_where(loc, data)}: {_describe_error(error)}")
        more = len(exc.errors()) - MAX_ERRORS
        if more > 0:
            lines.append(f"... and {more} more")
        raise ConfigError("\n".join(lines)) from None


PROBLEMS_HEADER = "invalid playbook:"


def load_playbooks(paths: list[Path], env: Mapping[str, str] | None = None) -> list[Playbook]:
    """Every playbook, or one ConfigError listing the problems of all that are invalid."""
    loaded: list[Playbook] = []
    problems: list[str] = []
    for path in paths:
        try:
            loaded.append(load_playbook(path, env))
        except ConfigError as exc:
            problems.append(str(exc))
    if len(problems) == 1 and "\n" not in problems[0]:
        raise ConfigError(problems[0])  # one problem, one line
    if problems:
        raise ConfigError(PROBLEMS_HEADER + "\n" + "\n".join(problems))
    return loaded
