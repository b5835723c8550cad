"""The rule registry: each engine has a list of named rules; a rule looks at the facts
gathered for one subject (a live server, a config file, an archive directory) and the
policy (RPO, backup age), and returns a finding — or None when it does not apply there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import computed_field

from restoredrill.models import CheckStatus, Frozen


class ConfigCheck(Frozen):
    rule: str  # engine.name, e.g. postgres.archive_timeout
    engine: str
    subject: str  # what was looked at: a redacted DSN, a file, a directory
    status: CheckStatus
    detail: str
    value: str | None = None  # the setting or measurement the rule judged


class CheckReport(Frozen):
    checks: list[ConfigCheck]
    rpo_seconds: float | None = None
    max_backup_age_seconds: float | None = None
    recovery_window_seconds: float | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> CheckStatus:
        if any(c.status == CheckStatus.FAILED for c in self.checks):
            return CheckStatus.FAILED
        if any(c.status == CheckStatus.WARNING for c in self.checks):
            return CheckStatus.WARNING
        return CheckStatus.OK

    @property
    def ok(self) -> bool:
        return self.status != CheckStatus.FAILED

    @property
    def failures(self) -> list[ConfigCheck]:
        return [c for c in self.checks if c.status == CheckStatus.FAILED]


@dataclass(frozen=True)
class Policy:
    now: datetime
    rpo_seconds: float | None = None
    max_backup_age_seconds: float | None = None
    # how far back point-in-time recovery must reach (barman's RECOVERY WINDOW OF ...)
    recovery_window_seconds: float | None = None

    @property
    def pitr_window_seconds(self) -> float | None:
        """How far back point-in-time recovery must reach: logs must cover at least the
        time since the newest full backup (its maximum age), and the RPO."""
        values = [v for v in (self.rpo_seconds, self.max_backup_age_seconds) if v is not None]
        return max(values) if values else None


@dataclass
class Facts:
    """What was read about one subject. ``settings`` keys are lower case."""

    engine: str
    subject: str
    settings: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # rule-specific facts (archiver, ...)
    defaults_apply: bool = False  # offline config: unset settings take the server's default


@dataclass(frozen=True)
class Finding:
    status: CheckStatus
    detail: str
    value: str | None = None


def ok(detail: str, value: object = None) -> Finding:
    return Finding(CheckStatus.OK, detail, None if value is None else str(value))


def failed(detail: str, value: object = None) -> Finding:
    return Finding(CheckStatus.FAILED, detail, None if value is None else str(value))


def warning(detail: str, value: object = None) -> Finding:
    return Finding(CheckStatus.WARNING, detail, None if value is None else str(value))


RuleFn = Callable[[Facts, Policy], Finding | None]


@dataclass(frozen=True)
class Rule:
    engine: str
    name: str
    description: str
    fn: RuleFn

    @property
    def id(self) -> str:
        return f"{self.engine}.{self.name}"


class Registry:
    def __init__(self) -> None:
        self._rules: dict[str, list[Rule]] = {}

    def rule(self, engine: str, name: str, description: str) -> Callable[[RuleFn], RuleFn]:
        def register(fn: RuleFn) -> RuleFn:
            self._rules.setdefault(engine, []).append(Rule(engine, name, description, fn))
            return fn

        return register

    def rules(self, engine: str) -> list[Rule]:
        return list(self._rules.get(engine, []))

    def engines(self) -> list[str]:
        return sorted(self._rules)

    def run(self, engine: str, facts: Facts, policy: Policy) -> list[ConfigCheck]:
        results = []
        for rule in self.rules(engine):
            finding = rule.fn(facts, policy)
            if finding is None:
                continue
            results.append(
                ConfigCheck(
                    rule=rule.id,
                    engine=engine,
                    subject=facts.subject,
                    status=finding.status,
                    detail=finding.detail,
                    value=finding.value,
                )
            )
        return results


REGISTRY = Registry()
