"""Finding the MariaDB / MySQL binaries: the server (mariadbd / mysqld), its data-directory
initialiser, the client, mariadb-binlog / mysqlbinlog, mariadb-dump / mysqldump and
mariabackup. Looked up on PATH, then /usr/sbin, /usr/bin, /usr/local/mysql/bin."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from restoredrill.errors import ToolMissing

SEARCH = ("/usr/sbin", "/usr/bin", "/usr/local/mysql/bin", "/usr/local/bin")
NAMES: dict[str, tuple[str, ...]] = {
    "server": ("mariadbd", "mysqld"),
    "install_db": ("mariadb-install-db", "mysql_install_db"),
    "client": ("mariadb", "mysql"),
    "binlog": ("mariadb-binlog", "mysqlbinlog"),
    "dump": ("mariadb-dump", "mysqldump"),
    "backup": ("mariadb-backup", "mariabackup"),
}


def _find(names: tuple[str, ...], bindir: str | None) -> str | None:
    dirs = [bindir] if bindir else []
    path = os.pathsep.join([*dirs, os.environ.get("PATH", ""), *SEARCH])
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return found
    return None


@dataclass(frozen=True)
class MysqlTools:
    server: str
    client: str
    binlog: str
    install_db: str | None
    dump: str | None
    backup: str | None
    version: str  # the server's --version line
    mariadb: bool

    @property
    def flavor(self) -> str:
        return "mariadb" if self.mariadb else "mysql"

    def need(self, what: str) -> str:
        value = getattr(self, what)
        if not value:
            raise ToolMissing(
                f"{' / '.join(NAMES[what])} not found (install the MariaDB "
                f"{'backup' if what == 'backup' else 'client/server'} package)"
            )
        return str(value)


def find_mysql_tools(bindir: str | None = None) -> MysqlTools:
    server = _find(NAMES["server"], bindir)
    client = _find(NAMES["client"], bindir)
    binlog = _find(NAMES["binlog"], bindir)
    missing = [
        "/".join(NAMES[k])
        for k, v in (("server", server), ("client", client), ("binlog", binlog))
        if v is None
    ]
    if missing or server is None or client is None or binlog is None:
        raise ToolMissing(
            f"MariaDB/MySQL binaries not found: {', '.join(missing)} (Debian: apt-get install "
            "mariadb-server mariadb-client)"
        )
    try:
        version = subprocess.run(
            [server, "--version"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolMissing(f"cannot run {server} --version: {exc}") from exc
    return MysqlTools(
        server=server,
        client=client,
        binlog=binlog,
        install_db=_find(NAMES["install_db"], bindir),
        dump=_find(NAMES["dump"], bindir),
        backup=_find(NAMES["backup"], bindir),
        version=version,
        mariadb="mariadb" in version.lower() or Path(server).name == "mariadbd",
    )
