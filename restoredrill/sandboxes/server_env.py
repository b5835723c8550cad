"""The environment sandbox servers and their server-side tools start with.

Not the caller's: restoredrill often runs with cloud credentials or libpq passwords in its
environment (AWS_SECRET_ACCESS_KEY, PGPASSWORD, ...), and a server process would hand them
on to every archive/restore command and expose them in /proc/<pid>/environ. Servers get
what they need to run and nothing else; a restore_command that needs credentials declares
which variables it reads (``passthrough``), and only those are added.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterable, Mapping

from restoredrill.osuser import RunAs

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def server_environment(
    run_as: RunAs,
    extra: Mapping[str, str] | None = None,
    passthrough: Iterable[str] = (),
) -> dict[str, str]:
    """PATH, a C.UTF-8 locale, TZ if set, the server user's HOME/USER/LOGNAME; then the
    caller's variables named (or prefixed, "AWS_*") in ``passthrough``, then ``extra``."""
    env = {
        "PATH": os.environ.get("PATH") or DEFAULT_PATH,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }
    if os.environ.get("TZ"):
        env["TZ"] = os.environ["TZ"]
    uid = run_as.uid if run_as.uid is not None else os.geteuid()
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:  # a uid without a passwd entry (containers): no home to offer
        pass
    else:
        env.update(HOME=entry.pw_dir, USER=entry.pw_name, LOGNAME=entry.pw_name)
    for pattern in passthrough:
        if pattern.endswith("*"):
            env.update({k: v for k, v in os.environ.items() if k.startswith(pattern[:-1])})
        elif pattern in os.environ:
            env[pattern] = os.environ[pattern]
    env.update(extra or {})
    return env
