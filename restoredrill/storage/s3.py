"""S3 (or an S3-compatible API) as storage: objects under s3://bucket/prefix, read with
ListObjectsV2 and (ranged) GetObject through boto3, with retries and the one mapping of AWS
failures onto restoredrill's errors (aws.py)."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restoredrill.aws import AwsConfig, RetryLog, aws_errors, make_client, retrying
from restoredrill.errors import ConfigError
from restoredrill.storage.base import StoredObject

CHUNK = 1 << 20
PART = 16 << 20  # ranged GETs of this size, PARTS_AT_ONCE at a time, for large objects
PARTS_AT_ONCE = 8


@dataclass(frozen=True)
class S3Url:
    bucket: str
    prefix: str  # without leading or trailing slash; "" for the bucket's root

    @classmethod
    def parse(cls, text: str) -> S3Url:
        if not text.startswith("s3://"):
            raise ConfigError(f"{text!r} is not an s3:// URL")
        bucket, _, prefix = text[len("s3://") :].partition("/")
        if not bucket or not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", bucket):
            raise ConfigError(f"{text!r}: not a valid S3 bucket name {bucket!r}")
        return cls(bucket, prefix.strip("/"))

    @property
    def dir_prefix(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def key(self, name: str) -> str:
        return self.dir_prefix + name

    def child(self, name: str) -> S3Url:
        return S3Url(self.bucket, self.key(name).strip("/"))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


class S3Storage:
    kind = "s3"

    def __init__(
        self, url: S3Url, aws: AwsConfig | None = None, *, shared: S3Storage | None = None
    ) -> None:
        """``shared``: another prefix whose client and retry log this one uses (a format
        reading two prefixes of one bucket counts its retries once)."""
        self.url = url
        self.aws: AwsConfig = shared.aws if shared is not None else aws or AwsConfig.from_env()
        self.retries: RetryLog = shared.retries if shared is not None else RetryLog()
        self._shared = shared
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._shared is not None:
            return self._shared.client
        if self._client is None:
            with aws_errors("creating the S3 client", self.aws.region):
                self._client = make_client("s3", self.aws, self.retries)
        return self._client

    def describe(self, key: str = "") -> str:
        return str(self.url.child(key)) if key else str(self.url)

    def list(self, prefix: str = "") -> list[StoredObject]:
        where = self.url.child(prefix) if prefix else self.url
        found: list[StoredObject] = []
        with aws_errors(f"listing {where}", self.aws.region):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.url.bucket, Prefix=where.dir_prefix):
                for item in page.get("Contents") or []:
                    key = str(item["Key"])[len(self.url.dir_prefix) :]
                    stamp = item.get("LastModified")
                    mtime = stamp.timestamp() if stamp is not None else None
                    found.append(StoredObject(key, int(item["Size"]), mtime))
        return sorted(found, key=lambda obj: obj.key)

    def _get(self, key: str, byte_range: str | None) -> Any:
        extra = {"Range": byte_range} if byte_range else {}
        return self.client.get_object(Bucket=self.url.bucket, Key=self.url.key(key), **extra)

    def read(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        if length == 0:
            return b""
        byte_range = None
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            byte_range = f"bytes={start}-{end}"

        def attempt() -> bytes:
            return bytes(self._get(key, byte_range)["Body"].read())

        with aws_errors(f"reading {self.describe(key)}", self.aws.region):
            return retrying(attempt, "GetObject", self.retries)

    def fetch(self, key: str, dest: Path) -> int:
        """One GET; an object of several parts (a base backup's tar) is fetched as ranged
        GETs in parallel instead, each written at its offset and retried on its own."""

        def attempt() -> int:
            response = self._get(key, None)
            size = int(response.get("ContentLength") or 0)
            if size > 2 * PART:
                response["Body"].close()
                return self._fetch_parts(key, dest, size)
            written = 0
            with dest.open("wb") as sink:
                for chunk in response["Body"].iter_chunks(CHUNK):
                    sink.write(chunk)
                    written += len(chunk)
            return written

        with aws_errors(f"reading {self.describe(key)}", self.aws.region):
            return retrying(attempt, "GetObject", self.retries)

    def _fetch_parts(self, key: str, dest: Path, size: int) -> int:
        with dest.open("wb") as sink:
            sink.truncate(size)
        fd = os.open(dest, os.O_WRONLY)

        def part(start: int) -> None:
            def attempt() -> None:
                end = min(start + PART, size) - 1
                body = self._get(key, f"bytes={start}-{end}")["Body"]
                offset = start
                for chunk in body.iter_chunks(CHUNK):
                    os.pwrite(fd, chunk, offset)
                    offset += len(chunk)

            retrying(attempt, "GetObject", self.retries)

        try:
            with ThreadPoolExecutor(PARTS_AT_ONCE, thread_name_prefix="s3-part") as pool:
                for future in [pool.submit(part, s) for s in range(0, size, PART)]:
                    future.result()
        finally:
            os.close(fd)
        return size

    def local_path(self, key: str) -> Path | None:
        return None

    def close(self) -> None:
        return None
