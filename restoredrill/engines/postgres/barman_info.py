"""A Barman ``backup.info``: ``key=value`` lines, as Barman (and barman-cloud-backup) write
them, read without importing Barman. What a catalogue needs: begin/end LSN and time,
timeline, PostgreSQL version, status, compression, tablespaces."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from datetime import datetime

from restoredrill.errors import BackupCorrupt, InvalidTarget
from restoredrill.lsn import parse_lsn


@dataclass(frozen=True)
class Tablespace:
    name: str
    oid: int
    location: str


@dataclass(frozen=True)
class BackupInfo:
    backup_id: str
    fields: dict[str, str] = field(repr=False)

    @classmethod
    def parse(cls, backup_id: str, text: str, where: str) -> BackupInfo:
        fields: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, sep, value = line.partition("=")
            if not sep:
                raise BackupCorrupt(f"{where}:{number}: not a backup.info line: {line.strip()!r}")
            fields[name.strip()] = value.strip()
        info = cls(backup_id, fields)
        info.check(where)
        return info

    def get(self, name: str) -> str | None:
        value = self.fields.get(name)
        return None if value in (None, "None", "") else value

    def check(self, where: str) -> None:
        """Read every field a catalogue uses now, so a damaged file is named here."""
        try:
            _ = (self.begin_lsn, self.end_lsn, self.begin_time, self.end_time, self.timeline)
            _ = (self.version, self.tablespaces, self.segment_size, self.backup_label)
        except (KeyError, ValueError, SyntaxError, TypeError, InvalidTarget) as exc:
            raise BackupCorrupt(f"{where}: unreadable backup.info ({exc!r})") from exc

    def _required(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    @property
    def status(self) -> str:
        return self.get("status") or "EMPTY"

    @property
    def done(self) -> bool:
        return self.status == "DONE"

    @property
    def begin_lsn(self) -> int:
        return parse_lsn(self._required("begin_xlog"))

    @property
    def end_lsn(self) -> int:
        return parse_lsn(self._required("end_xlog"))

    @property
    def begin_time(self) -> datetime:
        return _aware(self._required("begin_time"))

    @property
    def end_time(self) -> datetime:
        return _aware(self._required("end_time"))

    @property
    def timeline(self) -> int:
        return int(self._required("timeline"))

    @property
    def version(self) -> int | None:
        """server_version_num (150004)."""
        value = self.get("version")
        return int(value) if value is not None else None

    @property
    def major(self) -> str | None:
        """'15' for 150004; '9.6' for 90624 (PG_VERSION's spelling)."""
        number = self.version
        if number is None:
            return None
        if number >= 100000:
            return str(number // 10000)
        return f"{number // 10000}.{number // 100 % 100}"

    @property
    def segment_size(self) -> int:
        return int(self.get("xlog_segment_size") or 16 << 20)

    @property
    def compression(self) -> str | None:
        return self.get("compression")

    @property
    def backup_name(self) -> str | None:
        return self.get("backup_name")

    @property
    def backup_label(self) -> str | None:
        value = self.get("backup_label")
        if value is None:
            return None
        text = ast.literal_eval(value)
        if isinstance(text, bytes):
            return text.decode(errors="replace")
        if not isinstance(text, str):
            raise TypeError(f"backup_label is a {type(text).__name__}")
        return text

    @property
    def tablespaces(self) -> list[Tablespace]:
        """``[('tbs', 16385, '/srv/tbs')]`` in Python literal syntax (Barman's repr)."""
        value = self.get("tablespaces")
        if value is None:
            return []
        found = ast.literal_eval(value) or []
        if not isinstance(found, list):
            raise TypeError("tablespaces is not a list")
        return [Tablespace(str(name), int(oid), str(loc)) for name, oid, loc in found]


def _aware(value: str) -> datetime:
    """Barman writes str(datetime): '2026-12-01 02:10:22.123456+00:00'."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no time zone")
    return parsed
