"""The webhook: Slack-compatible payload; failures are reported without the URL (a secret)."""

from __future__ import annotations

from restoredrill.engines.postgres.sandbox_local import free_port
from restoredrill.report.notify import send
from tests.demohelp import webhook


def test_send_reports_outcome_without_the_url() -> None:
    with webhook() as hook:
        assert send(hook.url, {"text": "hello"}) == "webhook: sent (HTTP 200)"
        hook.status = 500
        outcome = send(hook.url, {"text": "again"})
    assert outcome == "webhook: failed (HTTP 500)"
    assert [r["text"] for r in hook.received] == ["hello", "again"]
    refused = send(f"http://127.0.0.1:{free_port()}/SECRET-token", {"text": "x"})
    assert refused.startswith("webhook: failed (") and "SECRET" not in refused
    assert "SECRET" not in send("not a url SECRET-token", {"text": "x"})
