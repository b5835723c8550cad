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
