"""A throwaway RDS instance: restored point-in-time (or from a snapshot) into a new instance
tagged as restoredrill's, in an explicit subnet group with explicit security groups and
parameter group, never publicly accessible; always deleted afterwards.

Deletion is guarded: right before ``DeleteDBInstance`` the instance's tags are read again,
and only an instance carrying ``restoredrill:owner`` = this owner and
``restoredrill:sandbox-id`` = its own identifier is ever deleted (the drill-runner IAM role
in terraform/ enforces the same with a tag condition)."""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from restoredrill.aws import AwsConfig, RetryLog, aws_errors, make_client
from restoredrill.errors import CloudNotFound, ConfigError, SandboxError
from restoredrill.models import RecoveryTarget
from restoredrill.sources.rds import RdsSource

OWNER_TAG = "restoredrill:owner"
SANDBOX_TAG = "restoredrill:sandbox-id"
PURPOSE_TAG = "restoredrill:purpose"
FAILED_STATES = frozenset({"failed", "incompatible-restore", "incompatible-parameters", "deleting"})


def default_owner() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


@dataclass(frozen=True)
class RdsOptions:
    subnet_group: str | None
    security_groups: tuple[str, ...]
    parameter_group: str | None
    instance_class: str | None = None
    aws: AwsConfig = field(default_factory=AwsConfig.from_env)
    owner: str = field(default_factory=default_owner)
    poll_seconds: float = 15.0
    timeout: float = 4 * 3600.0
    # connect for verify once available (needs the network path and the master password
    # in libpq's environment or passfile); off only where no server is behind the API
    check_connect: bool = True

    @property
    def backend(self) -> str:
        return "rds"

    def validate(self) -> None:
        missing = [
            name
            for name, value in (
                ("--rds-subnet-group", self.subnet_group),
                ("--rds-security-group", self.security_groups),
                ("--rds-parameter-group", self.parameter_group),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"--sandbox rds needs {', '.join(missing)}: a restored copy goes only where "
                f"you put it explicitly"
            )


class RdsSandbox:
    backend = "rds"
    engine = "postgres"

    def __init__(self, options: RdsOptions, source: RdsSource, purpose: str = "restore") -> None:
        self.options = options
        self.source = source
        self.purpose = purpose
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        self.id = f"restoredrill-{stamp}-{os.urandom(3).hex()}"
        self.retries: RetryLog = source.retries
        self._client: Any = None
        self.instance: dict[str, Any] = {}
        self.polls = 0
        self.created = False
        self.kept = False

    @property
    def client(self) -> Any:
        if self._client is None:
            with aws_errors("creating the RDS client", self.options.aws.region):
                self._client = make_client("rds", self.options.aws, self.retries)
        return self._client

    def tags(self) -> list[dict[str, str]]:
        return [
            {"Key": OWNER_TAG, "Value": self.options.owner},
            {"Key": SANDBOX_TAG, "Value": self.id},
            {"Key": PURPOSE_TAG, "Value": self.purpose},
        ]

    def create(self, target: RecoveryTarget) -> None:
        """Start the restore (returns once AWS accepted it)."""
        self.options.validate()
        common: dict[str, Any] = {
            "DBSubnetGroupName": self.options.subnet_group,
            "VpcSecurityGroupIds": list(self.options.security_groups),
            "DBParameterGroupName": self.options.parameter_group,
            "PubliclyAccessible": False,
            "MultiAZ": False,
            "DeletionProtection": False,
            "CopyTagsToSnapshot": False,
            "AutoMinorVersionUpgrade": False,
            "Tags": self.tags(),
        }
        if self.options.instance_class:
            common["DBInstanceClass"] = self.options.instance_class
        what = f"restoring RDS instance {self.id}"
        with aws_errors(what, self.options.aws.region):
            if self.source.snapshot is not None:
                done = self.client.restore_db_instance_from_db_snapshot(
                    DBInstanceIdentifier=self.id,
                    DBSnapshotIdentifier=self.source.snapshot,
                    **common,
                )
            else:
                timing: dict[str, Any] = (
                    {"RestoreTime": target.time}
                    if target.kind == "time"
                    else {"UseLatestRestorableTime": True}
                )
                done = self.client.restore_db_instance_to_point_in_time(
                    SourceDBInstanceIdentifier=self.source.instance,
                    TargetDBInstanceIdentifier=self.id,
                    **timing,
                    **common,
                )
        self.created = True
        self.instance = dict(done["DBInstance"])

    def wait_available(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.options.timeout
        while True:
            with aws_errors(f"describing RDS instance {self.id}", self.options.aws.region):
                found = self.client.describe_db_instances(DBInstanceIdentifier=self.id)
            self.polls += 1
            self.instance = dict(found["DBInstances"][0])
            status = str(self.instance.get("DBInstanceStatus"))
            if status == "available":
                return self.instance
            if status in FAILED_STATES:
                raise SandboxError(f"RDS instance {self.id} ended in status {status!r}")
            if time.monotonic() > deadline:
                raise SandboxError(
                    f"RDS instance {self.id} not available within {self.options.timeout:.0f}s "
                    f"(status {status!r})"
                )
            time.sleep(self.options.poll_seconds)

    def dsn(self, dbname: str = "postgres") -> str:
        endpoint = self.instance.get("Endpoint") or {}
        user = self.instance.get("MasterUsername") or "postgres"
        return (
            f"host={endpoint.get('Address')} port={endpoint.get('Port', 5432)} "
            f"dbname={dbname} user={user} sslmode=require"
        )

    def destroy(self) -> bool:
        """Delete the instance, if it is ours (tags re-read right before); True if deleted."""
        if not self.created:
            return False
        return delete_if_ours(self.client, self.id, self.options.owner, self.options.aws.region)


def delete_if_ours(client: Any, identifier: str, owner: str, region: str | None = None) -> bool:
    """The guard: read the instance's tags now, delete only if they say it is this owner's
    sandbox ``identifier``; refuse (SandboxError) otherwise. False if it is already gone."""
    try:
        with aws_errors(f"describing RDS instance {identifier}", region):
            found = client.describe_db_instances(DBInstanceIdentifier=identifier)
    except CloudNotFound:
        return False
    instance = found["DBInstances"][0]
    with aws_errors(f"reading the tags of RDS instance {identifier}", region):
        listed = client.list_tags_for_resource(ResourceName=instance["DBInstanceArn"])
    tags = {t["Key"]: t["Value"] for t in listed.get("TagList", [])}
    if tags.get(OWNER_TAG) != owner or tags.get(SANDBOX_TAG) != identifier:
        raise SandboxError(
            f"refusing to delete RDS instance {identifier}: it is not tagged as this "
            f"restoredrill sandbox ({OWNER_TAG}={tags.get(OWNER_TAG)!r}, "
            f"{SANDBOX_TAG}={tags.get(SANDBOX_TAG)!r})"
        )
    with aws_errors(f"deleting RDS instance {identifier}", region):
        client.delete_db_instance(
            DBInstanceIdentifier=identifier, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
        )
    return True


@contextlib.contextmanager
def rds_sandbox(
    options: RdsOptions, source: RdsSource, keep: bool = False, purpose: str = "restore"
) -> Iterator[RdsSandbox]:
    """Yield an RdsSandbox (not yet created); it is deleted on exit unless kept — also on
    errors, Ctrl-C and SIGTERM (raised as Interrupted)."""
    sandbox = RdsSandbox(options, source, purpose)
    try:
        yield sandbox
    except BaseException:
        sandbox.destroy()
        raise
    if keep and sandbox.created:
        sandbox.kept = True
    else:
        sandbox.destroy()
