"""Opening a storage from what the user wrote: a local directory or an s3:// URL."""

from __future__ import annotations

from pathlib import Path

from restoredrill.aws import AwsConfig
from restoredrill.storage.base import Storage
from restoredrill.storage.local import LocalStorage
from restoredrill.storage.s3 import S3Storage, S3Url


def open_storage(location: str | Path, aws: AwsConfig | None = None) -> Storage:
    text = str(location)
    if text.startswith("s3://"):
        return S3Storage(S3Url.parse(text), aws)
    return LocalStorage(Path(text))
