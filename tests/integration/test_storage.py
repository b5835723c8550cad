"""The storage interface on both of its implementations: a local directory and S3 (moto)."""

from __future__ import annotations

from pathlib import Path

import pytest

from restoredrill.errors import ConfigError
from restoredrill.storage.base import Storage, StoredObject
from restoredrill.storage.open import open_storage
from tests.awshelp import s3_client

FILES = {"base/b1/backup.info": b"x" * 10, "base/b1/data.tar": b"0123456789", "wals/a": b"w"}


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        for key, data in FILES.items():
            (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / key).write_bytes(data)
        return open_storage(tmp_path)
    endpoint = request.getfixturevalue("aws_env")
    client = s3_client(endpoint)
    client.create_bucket(Bucket="storage-test")
    for key, data in FILES.items():
        client.put_object(Bucket="storage-test", Key=f"pre/fix/{key}", Body=data)
    return open_storage("s3://storage-test/pre/fix")


def test_lists_reads_and_fetches_the_same_on_every_storage(
    storage: Storage, tmp_path: Path
) -> None:
    assert storage.list() == [StoredObject(k, len(v)) for k, v in sorted(FILES.items())]
    assert [o.name for o in storage.list("base/b1")] == ["backup.info", "data.tar"]
    assert storage.list("nothing-here") == []
    assert storage.read("base/b1/data.tar") == b"0123456789"
    assert storage.read("base/b1/data.tar", 2, 3) == b"234"
    assert storage.read("base/b1/data.tar", 7) == b"789"
    dest = tmp_path / "fetched"
    assert storage.fetch("base/b1/data.tar", dest) == 10
    assert dest.read_bytes() == b"0123456789"
    assert "b1" in storage.describe("base/b1")


def test_a_local_key_cannot_climb_out_of_its_root(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    with pytest.raises(ConfigError, match="outside"):
        open_storage(tmp_path / "root").read("../secret")


def test_a_large_object_is_fetched_in_parallel_parts(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from restoredrill.storage import s3

    monkeypatch.setattr(s3, "PART", 3)  # 10 bytes > 2 parts: four ranged reads on S3
    dest = tmp_path / "parts"
    assert storage.fetch("base/b1/data.tar", dest) == 10
    assert dest.read_bytes() == b"0123456789"


def test_prefetch_cache_fetches_ahead_on_every_storage(storage: Storage, tmp_path: Path) -> None:
    from restoredrill.storage.cache import PrefetchCache, ensure_local

    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    keys = ["base/b1/backup.info", "base/b1/data.tar", "wals/a"]
    entries = [(cache_dir / key.replace("/", "_"), key) for key in keys]
    cache = PrefetchCache.over(storage, cache_dir, entries, workers=2, prefetch=1)
    try:
        ensure_local([entries[0][0]])
        assert entries[0][0].read_bytes() == FILES[keys[0]]
        cache.ensure([])  # the prefetched one is finished by the next call at the latest
        ensure_local([entries[1][0]])
        assert entries[1][0].read_bytes() == FILES[keys[1]]
        assert cache.fetched >= 2 and cache.owns(entries[2][0])
        ensure_local([tmp_path / "elsewhere"])  # not a cache's: left alone
    finally:
        cache.close()
