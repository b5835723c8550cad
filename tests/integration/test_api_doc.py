"""docs/api.md as a test: its ```python blocks run in order, in one namespace, against the
demo's production (``restoredrill demo --setup-only``), in a scratch working directory. A
failing block is reported at its line in docs/api.md."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

from tests.demohelp import REPO, demo_environment

pytestmark = pytest.mark.slow

API_DOC = REPO / "docs" / "api.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line of the block's first code line, code) for every ```python block."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in _BLOCK.finditer(text)]


def test_doc_has_an_example_per_use_case() -> None:
    code = "\n".join(block for _, block in python_blocks(API_DOC.read_text(encoding="utf-8")))
    for use_case in ("plan", "restore", "restored", "verify", "diff", "reapply", "recover"):
        assert f"restoredrill.{use_case}(" in code, use_case
    assert "restoredrill.run_playbook(" in code


def test_api_doc_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(API_DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "api_doc"}
    printed = io.StringIO()
    with demo_environment(users=300):
        assert os.environ["DEMO_DSN"]
        for line, block in blocks:
            # padded so a traceback names the line in docs/api.md
            code = compile("\n" * (line - 1) + block, str(API_DOC), "exec")
            with contextlib.redirect_stdout(printed):
                exec(code, namespace)
    output = printed.getvalue()
    assert "PASS" in output
    assert "naive" in output or "time zone" in output  # the ConfigError example printed
    assert re.search(r"users: [1-9]\d* lost", output)
    assert "executed: False" in output
