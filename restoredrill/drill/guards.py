"""Guards for the production side of verify and diff.

- Never production against itself: a "restored" side that is the very server and database
  of the reference would make every check pass and every diff empty, testing nothing.
- Never a reapply into anything but the production the diff names (``identity_problem``).
- Never an unbounded wait: production sessions get a lock timeout and a statement timeout,
  and hitting one is a one-line error naming the table, the timeout and how to raise it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from restoredrill.durations import parse_duration
from restoredrill.errors import ConfigError, ProductionTimeout, SameServerRefused
from restoredrill.models import DiffDocument, ServerIdentity

DEFAULT_LOCK_TIMEOUT = "5s"
DEFAULT_STATEMENT_TIMEOUT = "10m"

TimeoutKind = Literal["lock", "statement"]


@dataclass(frozen=True)
class SessionLimits:
    """How long a production session may wait for a lock, and run one statement (seconds)."""

    lock_timeout: float
    statement_timeout: float
    lock_text: str
    statement_text: str


def session_limits(
    lock_timeout: str = DEFAULT_LOCK_TIMEOUT,
    statement_timeout: str = DEFAULT_STATEMENT_TIMEOUT,
) -> SessionLimits:
    """Parse the two options; a bad or zero duration is a usage error (zero means "no limit"
    to the servers: exactly the hang this prevents)."""
    values: list[float] = []
    for option, text in (
        ("--lock-timeout", lock_timeout),
        ("--statement-timeout", statement_timeout),
    ):
        try:
            seconds = parse_duration(text)
        except ValueError as exc:
            raise ConfigError(f"{option}: {exc}") from None
        if seconds <= 0:
            raise ConfigError(f"{option} {text!r}: must be more than 0")
        values.append(seconds)
    return SessionLimits(values[0], values[1], lock_timeout.strip(), statement_timeout.strip())


def same_instance(a: ServerIdentity, b: ServerIdentity) -> bool:
    """The same running server. A restored sandbox shares production's system_identifier
    (it is a physical copy), so that alone proves nothing: the instance is the identifier
    plus its postmaster start time and port, plus its data directory where both sides could
    read it. A production restarted since the diff no longer matches: diff again."""
    known = a.system_identifier is not None and b.system_identifier is not None
    if known and a.system_identifier != b.system_identifier:
        return False
    if a.postmaster_start_time is None or b.postmaster_start_time is None:
        return False
    if a.postmaster_start_time != b.postmaster_start_time or a.port != b.port:
        return False
    return (
        a.data_directory is None or b.data_directory is None or a.data_directory == b.data_directory
    )


def refuse_same_server(restored: ServerIdentity, reference: ServerIdentity, command: str) -> None:
    """SameServerRefused (exit 2) when both sides are one server's one database."""
    if same_instance(restored, reference) and restored.database == reference.database:
        raise SameServerRefused(
            f"{command}: the restored side {restored.label} is the reference itself "
            f"({reference.label}: same server and database {reference.database!r}); "
            "give the DSN of the restored copy"
        )


def timeout_error(
    kind: TimeoutKind, table: str | None, limits: SessionLimits, where: str
) -> ProductionTimeout:
    """The one-line error of a production session that hit one of its limits."""
    on = f" on {table}" if table else ""
    if kind == "lock":
        return ProductionTimeout(
            f"{where}: gave up waiting for a lock{on} after --lock-timeout {limits.lock_text}: "
            "another session holds it; retry when it is released or raise --lock-timeout"
        )
    return ProductionTimeout(
        f"{where}: a statement{on} ran longer than --statement-timeout {limits.statement_text}; "
        "raise --statement-timeout (e.g. --statement-timeout 1h)"
    )


# --- reapply: is the target really the production the diff names? ---------------------------


def identity_problem(document: DiffDocument, target: ServerIdentity) -> str | None:
    """Why ``target`` must not receive this diff (one line), or None when it is production."""
    sandboxes = [("restored", document.restored)]
    if document.incident is not None:
        sandboxes.append(("after-incident", document.incident))
    for what, sandbox in sandboxes:
        if same_instance(target, sandbox) and target.database == sandbox.database:
            return (
                f"the target is the {what} database of this diff ({target.label}), not production "
                f"({document.production.label})"
            )
    production = document.production
    if (
        target.system_identifier is not None
        and production.system_identifier is not None
        and target.system_identifier != production.system_identifier
    ):
        return (
            f"the target {target.label} is another cluster (system identifier "
            f"{target.system_identifier}, the diff's production has {production.system_identifier})"
        )
    if not same_instance(target, production):
        return (
            f"the target {target.label} is not the server the diff names as production "
            f"({production.label}, started {_when(production)}; the target started "
            f"{_when(target)}): a restored copy, or production restarted since — diff again"
        )
    if target.database != production.database:
        return (
            f"the target database {target.database!r} is not the diff's production database "
            f"{production.database!r}"
        )
    return None


def _when(identity: ServerIdentity) -> str:
    t = identity.postmaster_start_time
    return "at an unknown time" if t is None else t.isoformat()


__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_STATEMENT_TIMEOUT",
    "SessionLimits",
    "TimeoutKind",
    "identity_problem",
    "refuse_same_server",
    "same_instance",
    "session_limits",
    "timeout_error",
]
