"""RDS source and sandbox against moto's RDS API (real HTTP, real boto3 calls).

What moto does not cover, and so these tests do not: there is no PostgreSQL behind a moto
instance, so "connect for verify" is skipped (``check_connect=False``); moto restores
instantly (status 'available' at once), so the wait loop is exercised for one poll only;
moto's automated backups carry no RestoreWindow, so the earliest restorable time falls back
to the instance's creation time; and moto does not enforce IAM tag conditions (the
terraform policy's), which is why the guard in our code re-reads the tags itself."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from restoredrill.aws import AwsConfig
from restoredrill.drill.restore import RestoreRequest, restore
from restoredrill.errors import (
    CloudNotFound,
    ConfigError,
    InvalidTarget,
    PreflightFailed,
    SandboxError,
)
from restoredrill.models import CheckStatus, RecoveryTarget
from restoredrill.sandboxes.rds import (
    OWNER_TAG,
    SANDBOX_TAG,
    RdsOptions,
    delete_if_ours,
)
from restoredrill.sources.rds import RdsSource
from tests.awshelp import DUMMY, REGION
from tests.pgsetup import cli


def _client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **DUMMY)


@pytest.fixture
def network(aws_env: str) -> dict[str, Any]:
    """A source instance with automated backups, and where restores may go."""
    ec2, rds = _client("ec2", aws_env), _client("rds", aws_env)
    vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.10.{i}.0/24", AvailabilityZone=f"{REGION}{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    suffix = uuid.uuid4().hex[:8]
    group = ec2.create_security_group(GroupName=f"drill-{suffix}", Description="x", VpcId=vpc)
    rds.create_db_subnet_group(
        DBSubnetGroupName=f"drill-{suffix}", DBSubnetGroupDescription="x", SubnetIds=subnets
    )
    rds.create_db_parameter_group(
        DBParameterGroupName=f"drill-{suffix}", DBParameterGroupFamily="postgres15", Description="x"
    )
    source = f"prod-{suffix}"
    rds.create_db_instance(
        DBInstanceIdentifier=source,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=20,
        BackupRetentionPeriod=7,
    )
    return {
        "rds": rds,
        "source": source,
        "options": RdsOptions(
            subnet_group=f"drill-{suffix}",
            security_groups=(group["GroupId"],),
            parameter_group=f"drill-{suffix}",
            aws=AwsConfig.from_env(),
            owner="drill-test",
            poll_seconds=0.05,
            check_connect=False,  # moto has no PostgreSQL behind the instance
        ),
    }


def _ours(rds: Any) -> list[dict[str, Any]]:
    return [
        i
        for i in rds.describe_db_instances()["DBInstances"]
        if i["DBInstanceIdentifier"].startswith("restoredrill-")
    ]


def test_plan_checks_the_restore_window(network: dict[str, Any]) -> None:
    source = RdsSource(instance=network["source"])
    inside = source.plan(RecoveryTarget(kind="latest"))
    assert inside.ok and inside.archive_head_time is not None
    before = datetime.now(UTC) - timedelta(days=30)
    outside = source.plan(RecoveryTarget(kind="time", time=before))
    failure = outside.first_failure()
    assert failure is not None and failure.name == "restore window"
    assert "outside the restore window" in failure.detail
    assert any(c.name == "automated backups" and c.status == CheckStatus.OK for c in outside.checks)
    with pytest.raises(InvalidTarget, match="LSN, xid and restore-point"):
        source.plan(RecoveryTarget(kind="lsn", lsn=1))


def test_restore_into_rds_tags_times_and_deletes(network: dict[str, Any]) -> None:
    rds, options = network["rds"], network["options"]
    request = RestoreRequest(
        "",
        "",
        RecoveryTarget(kind="latest"),
        source=RdsSource(instance=network["source"]),
        backend=options,
        keep=True,  # kept, to look at it; deleted below through the guard
    )
    result = restore(request)
    names = [p.name for p in result.phases]
    assert names == ["plan", "provision", "restore (RDS)", "promote/ready"]
    assert result.rto_seconds > 0 and result.sandbox_id.startswith("restoredrill-")
    assert "skipped" in (result.phases[-1].detail or "")
    (instance,) = [i for i in _ours(rds) if i["DBInstanceIdentifier"] == result.sandbox_id]
    assert instance.get("PubliclyAccessible", False) is False  # moto omits a false value
    assert instance["DBSubnetGroup"]["DBSubnetGroupName"] == options.subnet_group
    assert instance["DBParameterGroups"][0]["DBParameterGroupName"] == options.parameter_group
    assert [g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]] == list(
        options.security_groups
    )
    tags = {
        t["Key"]: t["Value"]
        for t in rds.list_tags_for_resource(ResourceName=instance["DBInstanceArn"])["TagList"]
    }
    assert tags[OWNER_TAG] == "drill-test" and tags[SANDBOX_TAG] == result.sandbox_id
    assert delete_if_ours(rds, result.sandbox_id, "drill-test") is True
    assert result.sandbox_id not in [i["DBInstanceIdentifier"] for i in _ours(rds)]


def test_restore_is_deleted_when_not_kept(network: dict[str, Any]) -> None:
    rds = network["rds"]
    before = {i["DBInstanceIdentifier"] for i in _ours(rds)}
    moment = datetime.now(UTC)
    request = RestoreRequest(
        "",
        "",
        RecoveryTarget(kind="time", time=moment),
        source=RdsSource(instance=network["source"]),
        backend=network["options"],
    )
    result = restore(request)
    assert result.sandbox_id not in {i["DBInstanceIdentifier"] for i in _ours(rds)} | before


def test_target_outside_window_provisions_nothing(network: dict[str, Any]) -> None:
    rds = network["rds"]
    before = len(_ours(rds))
    request = RestoreRequest(
        "",
        "",
        RecoveryTarget(kind="time", time=datetime.now(UTC) - timedelta(days=400)),
        source=RdsSource(instance=network["source"]),
        backend=network["options"],
    )
    with pytest.raises(PreflightFailed, match="outside the restore window"):
        restore(request)
    assert len(_ours(rds)) == before


def test_guard_never_deletes_an_instance_that_is_not_ours(network: dict[str, Any]) -> None:
    rds = network["rds"]
    rds.create_db_instance(
        DBInstanceIdentifier="restoredrill-imposter",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=20,
        Tags=[{"Key": OWNER_TAG, "Value": "someone-else"}],
    )
    with pytest.raises(SandboxError, match="refusing to delete"):
        delete_if_ours(rds, "restoredrill-imposter", "drill-test")
    with pytest.raises(SandboxError, match="refusing to delete"):
        delete_if_ours(rds, network["source"], "drill-test")  # production: no tags at all
    names = [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]]
    assert "restoredrill-imposter" in names and network["source"] in names
    assert delete_if_ours(rds, "restoredrill-gone-already", "drill-test") is False


def test_missing_network_options_are_a_config_error(network: dict[str, Any]) -> None:
    options = RdsOptions(subnet_group=None, security_groups=(), parameter_group=None)
    with pytest.raises(ConfigError, match="--rds-subnet-group, --rds-security-group"):
        options.validate()


def test_unknown_instance_exits_3(aws_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = cli(
        ["plan", "--sandbox", "rds", "--rds-instance", "no-such-db", "--target", "latest"], capsys
    )
    assert code == 3 and "DBInstanceNotFound" in err
    with pytest.raises(CloudNotFound):
        RdsSource(instance="no-such-db").plan(RecoveryTarget(kind="latest"))


def test_plan_cli_outside_window_exits_1(
    network: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    early = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    code, out, _err = cli(
        ["plan", "--sandbox", "rds", "--rds-instance", network["source"], "--target-time", early],
        capsys,
    )
    assert code == 1 and "outside the restore window" in out
