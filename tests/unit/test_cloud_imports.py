"""Heavy SDKs stay out of the CLI's start-up: boto3 is imported only by a cloud backend."""

from __future__ import annotations

import subprocess
import sys


def test_help_does_not_import_boto3() -> None:
    code = (
        "import sys; from restoredrill.cli.commands import COMMANDS; "
        "from restoredrill.cli.lazy import load; [load(n, s) for n, s in COMMANDS.items()]; "
        "from restoredrill.drill import restore; from restoredrill.engines.postgres import plan; "
        "from restoredrill.sources import base, rds; "
        "from restoredrill.engines.postgres import source_s3, pgbackrest, wal_fetch; "
        "from restoredrill.storage import s3, open; "
        "from restoredrill.engines.mysql import source_s3 as mysql_s3; "
        "from restoredrill.sandboxes import rds as rds_sandbox; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
