"""A usage error (unknown option, missing argument, unknown command) is one line on stderr
and exit 2, like every other error: not a boxed panel. A group without its command shows
its help."""

from __future__ import annotations

import pytest

from tests.pgsetup import cli


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["diff"], "Missing argument 'RESTORED_DSN'"),
        (["plan", "--bogus"], "No such option: --bogus"),
        (["recover", "--engine", "oracle"], "No such option: --engine"),
        (["sandbox", "nope"], "No such command 'nope'"),
        (["history", "--limit", "many"], "Invalid value for '--limit'"),
    ],
)
def test_usage_error_is_one_line_and_exit_2(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(argv, capsys)
    assert code == 2 and out == ""
    assert err.startswith("restoredrill: usage: ") and err.count("\n") == 1, err
    assert said in err and f"(see 'restoredrill {argv[0]}" in err
    assert "╭" not in err


def test_a_group_without_its_command_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["sandbox"], capsys)
    assert code == 2 and "gc" in out and "list" in out
