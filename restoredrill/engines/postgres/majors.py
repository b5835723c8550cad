"""Which PostgreSQL major a backup needs, and the server binaries that can run it.

A data directory only starts under the major that wrote it ("database files are
incompatible with server"), and pg_waldump only reads its own major's WAL. So the plan picks
the installed binaries of the backup's major (PG_VERSION) when the ones found first are
another's, and fails with the one line that helps when none are installed."""

from __future__ import annotations

from collections.abc import Callable

from restoredrill.engines.postgres.tools import PgTools, installed_servers
from restoredrill.engines.postgres.wal_archive import page_magic
from restoredrill.errors import ConfigError
from restoredrill.models import WalSegment

# XLOG_PAGE_MAGIC per major (src/include/access/xlog_internal.h): what WAL alone says about
# the major that wrote it. A magic not listed here is not guessed at.
WAL_MAGIC = {0xD101: "12", 0xD106: "13", 0xD10D: "14", 0xD110: "15", 0xD113: "16", 0xD116: "17"}


def match_server(
    needed: str | None,
    tools: PgTools,
    installed: Callable[[], list[PgTools]] = installed_servers,
) -> PgTools | str:
    """The binaries to plan and restore with, or why there are none. ``needed`` is the
    backup's PG_VERSION ('15', '9.6'; None when unknown: nothing to check)."""
    if needed is None or needed == tools.major_name:
        return tools
    servers = installed()
    matching = next((s for s in servers if s.major_name == needed), None)
    if matching is not None and not tools.explicit:
        return matching  # several majors installed: the backup's own, by itself
    have = ", ".join(f"{s.major_name} ({s.bindir})" for s in servers) or "none"
    hint = f"/usr/lib/postgresql/{needed}/bin" if matching is None else str(matching.bindir)
    given = f"--pg-bin {tools.bindir} is PostgreSQL {tools.major_name}; " if tools.explicit else ""
    return (
        f"the backup needs PostgreSQL {needed} (its PG_VERSION); {given}installed: {have}; "
        f"{'install it and ' if matching is None else ''}pass --pg-bin {hint} "
        f"(--sandbox docker --image postgres:{needed} needs it too: the plan reads the WAL "
        f"with pg_waldump {needed})"
    )


def wal_tools(
    segment: WalSegment,
    tools: PgTools,
    installed: Callable[[], list[PgTools]] = installed_servers,
) -> PgTools:
    """The binaries whose pg_waldump reads this WAL (no base backup to ask: the page magic
    of ``segment`` names the major); another major's pg_waldump would call every segment
    unreadable."""
    magic = page_magic(segment)
    needed = WAL_MAGIC.get(magic) if magic is not None else None
    picked = match_server(needed, tools, installed)
    if isinstance(picked, PgTools):
        return picked
    servers = installed()
    have = ", ".join(f"{s.major_name} ({s.bindir})" for s in servers) or "none"
    matching = next((s.bindir for s in servers if s.major_name == needed), None)
    given = f"--pg-bin {tools.bindir} is PostgreSQL {tools.major_name}; " if tools.explicit else ""
    raise ConfigError(
        f"WAL segment {segment.name} was written by PostgreSQL {needed} (its page magic) and "
        f"only its pg_waldump reads it; {given}installed: {have}; "
        f"{'install it and ' if matching is None else ''}pass --pg-bin "
        f"{matching or f'/usr/lib/postgresql/{needed}/bin'}"
    )
