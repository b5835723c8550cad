"""Real barman-cloud output for tests: a production whose archive_command is
barman-cloud-wal-archive and whose base backups are barman-cloud-backup's, into a moto S3
bucket on loopback.

Both clients run as the server's OS user (they read the data directory, and PostgreSQL runs
the archive_command). They are Barman's own modules run by an interpreter that user can
execute: this one, or the system's Python of the same version when this one lives where
that user cannot go (a pyenv under /root), with our site-packages on its path."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from restoredrill.engines.postgres.sandbox_local import LocalPostgres
from restoredrill.osuser import RunAs
from tests.awshelp import DUMMY, REGION, s3_client


def barman_python(run_as: RunAs) -> list[str]:
    """argv prefix running Python with Barman importable, as the server user."""
    barman = pytest.importorskip("barman")
    site = str(Path(barman.__file__).resolve().parent.parent)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for interpreter in (sys.executable, f"/usr/bin/python{version}"):
        argv = ["env", f"PYTHONPATH={site}", interpreter]
        probe = subprocess.run(
            [*argv, "-c", "import barman.clients.cloud_walarchive"],
            capture_output=True,
            **run_as.popen_kwargs(),  # type: ignore[call-overload]
        )
        if probe.returncode == 0:
            return argv
    pytest.skip("no Python the server's OS user can run Barman with")


def aws_env() -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": DUMMY["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }


def wal_archive_script(cluster: LocalPostgres, endpoint: str, url: str, server: str) -> Path:
    """A script PostgreSQL runs as archive_command (``script %p``): barman-cloud-wal-archive
    with the endpoint and (dummy) credentials, which stay out of postgresql.conf; it
    compresses with gzip while :func:`gzip_flag` exists."""
    python = barman_python(cluster.run_as)
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in aws_env().items())
    command = shlex.join([*python, "-m", "barman.clients.cloud_walarchive"])
    script = cluster.root / "barman-wal-archive.sh"
    script.write_text(
        f"#!/bin/sh\n{exports}z=\n[ -e {shlex.quote(str(gzip_flag(cluster)))} ] && z=--gzip\n"
        f"exec {command} --endpoint-url {shlex.quote(endpoint)} $z "
        f'{shlex.quote(url)} {shlex.quote(server)} "$1"\n'
    )
    script.chmod(0o755)
    return script


def gzip_flag(cluster: LocalPostgres) -> Path:
    return cluster.root / "barman-wal-gzip"


def cloud_backup(
    cluster: LocalPostgres, endpoint: str, url: str, server: str, extra: tuple[str, ...] = ()
) -> str:
    """Run barman-cloud-backup against ``cluster``; returns the new backup's id."""
    before = set(backup_ids(endpoint, url, server))
    python = barman_python(cluster.run_as)
    argv = [
        *python, "-m", "barman.clients.cloud_backup", "--endpoint-url", endpoint,
        "-h", str(cluster.sockdir), "-p", str(cluster.port), "-U", "postgres",
        "--immediate-checkpoint", *extra, url, server,
    ]  # fmt: skip
    cluster.run_tool(argv, what="barman-cloud-backup", env=aws_env())
    (new,) = set(backup_ids(endpoint, url, server)) - before
    return new


def backup_ids(endpoint: str, url: str, server: str) -> list[str]:
    bucket, _, prefix = url[len("s3://") :].partition("/")
    base = f"{prefix}/{server}/base/".lstrip("/")
    listing = s3_client(endpoint).list_objects_v2(Bucket=bucket, Prefix=base)
    keys = [str(item["Key"]) for item in listing.get("Contents") or []]
    return sorted({k[len(base) :].split("/")[0] for k in keys if k.endswith("/backup.info")})


def download_store(endpoint: str, bucket: str, prefix: str, dest: Path) -> None:
    """The store's objects as files under ``dest`` (the same layout on a local directory)."""
    client = s3_client(endpoint)
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        for item in page.get("Contents") or []:
            key = str(item["Key"])
            target = dest / key[len(prefix) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, key, str(target))
    os.sync()


def barman_server_config(
    cluster: LocalPostgres, home: Path, server: str, compression: str = "none"
) -> Path:
    """A Barman server configuration (backup_method postgres: pg_basebackup over a
    connection; WAL shipped by archive_command into its incoming directory), run as the
    server's OS user."""
    home.mkdir(parents=True)
    cluster.run_as.own(home)
    conninfo = f"host={cluster.sockdir} port={cluster.port} user=postgres dbname=postgres"
    config = home / "barman.conf"
    config.write_text(
        f"[barman]\nbarman_home = {home}\nbarman_user = {cluster.run_as.name or 'postgres'}\n"
        f"log_file = {home}/barman.log\nlog_level = INFO\n\n"
        f"[{server}]\ndescription = restoredrill test\nconninfo = {conninfo}\n"
        f"streaming_conninfo = {conninfo}\nbackup_method = postgres\narchiver = on\n"
        f"streaming_archiver = off\npath_prefix = {cluster.tools.bindir}\n"
        + (f"compression = {compression}\n" if compression != "none" else "")
    )
    cluster.run_as.own(config)
    return config


def barman(cluster: LocalPostgres, config: Path, *args: str) -> str:
    """The real `barman` command (Barman's own CLI) with this configuration."""
    python = barman_python(cluster.run_as)
    code = "import sys; from barman.cli import main; sys.argv[0] = 'barman'; sys.exit(main())"
    argv = [*python, "-c", code, "-c", str(config), "-q", *args]
    return cluster.run_tool(argv, what=f"barman {' '.join(args)}")
