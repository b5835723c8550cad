"""Slack-compatible webhook on a failed drill or an SLA breach.

The URL is a secret (it is the credential): it is never printed, logged, recorded in the
ledger or put in an error message — outcomes name the webhook only as "webhook"."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from restoredrill.drill.result import DrillResult
from restoredrill.durations import format_duration

TIMEOUT = 10.0


def should_notify(result: DrillResult) -> bool:
    return result.verdict != "PASS" or result.sla == "BREACHED"


def message(result: DrillResult) -> dict[str, str]:
    """The payload: Slack's ``text`` (Mattermost, Rocket.Chat, Teams connectors read it too)."""
    lines = [
        f"restoredrill drill {result.playbook!r}: {result.verdict}, SLA {result.sla}",
        f"target {result.target or '-'}; restore {format_duration(result.rto_seconds)}",
    ]
    lines += [f"• SLA breach: {b}" for b in result.breaches[:5]]
    lines += [f"• failure: {f}" for f in result.failures[:5]]
    if result.error and result.error not in result.failures:
        lines.append(f"• error: {result.error}")
    return {"text": "\n".join(lines)}


def send(url: str, payload: dict[str, str]) -> str:
    """POST the payload; returns a one-line outcome that never contains the URL."""
    body = json.dumps(payload).encode()
    if not url.lower().startswith(("https://", "http://")):
        return "webhook: failed (not an http(s) URL)"
    try:
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return f"webhook: sent (HTTP {response.status})"
    except urllib.error.HTTPError as exc:
        return f"webhook: failed (HTTP {exc.code})"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None)
        kind = type(reason).__name__ if isinstance(reason, BaseException) else type(exc).__name__
        return f"webhook: failed ({kind})"


def notify(url: str | None, result: DrillResult) -> list[str]:
    if not url or not should_notify(result):
        return []
    return [send(url, message(result))]
