"""The demo environment (``restoredrill demo --setup-only``) for playbook tests, and a local
webhook receiver (127.0.0.1 only) that records what it is sent."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from restoredrill.demo.postgres_env import (
    DemoEnvironment,
    setup_demo_environment,
    teardown_demo_environment,
)

REPO = Path(__file__).resolve().parent.parent
PLAYBOOKS = REPO / "playbooks"


@contextlib.contextmanager
def demo_environment(users: int = 1500) -> Iterator[DemoEnvironment]:
    """A running demo production with its archive, backup and manifest; its variables are
    set in os.environ (the example playbooks read ${DEMO_...}) for the duration."""
    root = Path(tempfile.mkdtemp(prefix="restoredrill-test-demo-", dir="/tmp"))
    root.chmod(0o711)
    directory = root / "demo"
    saved = dict(os.environ)
    try:
        environment = setup_demo_environment(directory, users=users)
        os.environ.update(environment.variables())
        yield environment
    finally:
        os.environ.clear()
        os.environ.update(saved)
        with contextlib.suppress(Exception):
            teardown_demo_environment(directory)
        shutil.rmtree(root, ignore_errors=True)


class Webhook:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                hook.received.append(json.loads(self.rfile.read(length)))
                hook.paths.append(self.path)
                self.send_response(hook.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}/services/T000/B000/SECRET-token-5f3a9c"


@contextlib.contextmanager
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    hook.thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()
