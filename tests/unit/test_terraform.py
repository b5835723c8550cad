"""terraform/: a static check that always runs (every .tf parses; the archive bucket is
never public and TLS-only; the drill-runner may delete only RDS instances tagged as
restoredrill's, with no wildcard actions), plus `terraform fmt -check` and
`terraform validate` where the binary (and, for validate, the AWS provider) is there."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"


def _clean(value: Any) -> Any:
    """python-hcl2 keeps HCL's quotes around strings and block labels; drop them."""
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@pytest.fixture(scope="module")
def tf() -> dict[str, list[dict[str, Any]]]:
    import hcl2

    merged: dict[str, list[dict[str, Any]]] = {}
    files = sorted(TERRAFORM.glob("*.tf"))
    assert files, "terraform/ has no .tf files"
    for path in files:
        with path.open() as handle:
            parsed = _clean(hcl2.load(handle))
        for kind, blocks in parsed.items():
            merged.setdefault(kind, []).extend(blocks)
    return merged


def _blocks(tf: dict[str, list[dict[str, Any]]], kind: str, type_: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for block in tf.get(kind, []):
        for name, body in block.get(type_, {}).items():
            found[name] = body
    return found


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document.get("statement", []))


def test_bucket_blocks_all_public_access(tf: dict[str, list[dict[str, Any]]]) -> None:
    (block,) = _blocks(tf, "resource", "aws_s3_bucket_public_access_block").values()
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert block[flag] is True, flag


def test_bucket_is_versioned_encrypted_with_kms_and_has_lifecycle(
    tf: dict[str, list[dict[str, Any]]],
) -> None:
    (versioning,) = _blocks(tf, "resource", "aws_s3_bucket_versioning").values()
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    (sse,) = _blocks(tf, "resource", "aws_s3_bucket_server_side_encryption_configuration").values()
    default = sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert default["sse_algorithm"] == "aws:kms" and "aws_kms_key" in default["kms_master_key_id"]
    assert _blocks(tf, "resource", "aws_s3_bucket_lifecycle_configuration")
    assert "aws_s3_bucket_object_lock_configuration" in str(tf["resource"])


def test_bucket_policy_denies_plain_http(tf: dict[str, list[dict[str, Any]]]) -> None:
    document = _blocks(tf, "data", "aws_iam_policy_document")["archive_bucket"]
    tls = [
        s
        for s in _statements(document)
        if s["effect"] == "Deny"
        and any(
            c["variable"] == "aws:SecureTransport" and c["values"] == ["false"]
            for c in s.get("condition", [])
        )
    ]
    assert tls, "no TLS-only deny statement"
    assert tls[0]["actions"] == ["s3:*"]
    assert any("/*" in r for r in tls[0]["resources"])


def test_runner_policy_is_least_privilege(tf: dict[str, list[dict[str, Any]]]) -> None:
    documents = _blocks(tf, "data", "aws_iam_policy_document")
    allows = [
        s
        for name, doc in documents.items()
        if name != "archive_bucket"
        for s in _statements(doc)
        if s.get("effect", "Allow") == "Allow"
    ]
    for statement in allows:
        for action in statement["actions"]:
            assert action != "*" and not action.endswith(":*"), statement
            if action.startswith("rds:"):
                assert "*" not in action, f"wildcard RDS action {action}"
    deletes = [s for s in allows if "rds:DeleteDBInstance" in s["actions"]]
    assert deletes, "the runner cannot delete its sandboxes"
    for statement in deletes:
        assert statement["actions"] == ["rds:DeleteDBInstance"]
        conditions = {c["variable"]: c for c in statement.get("condition", [])}
        assert "aws:ResourceTag/restoredrill:owner" in conditions, statement
        assert all(r.endswith(":db:restoredrill-*") for r in statement["resources"])
    creates = [
        s
        for s in allows
        if "rds:RestoreDBInstanceToPointInTime" in s["actions"]
        and any(":db:restoredrill-*" in r for r in s["resources"])
    ]
    assert creates and all(
        any(c["variable"] == "aws:RequestTag/restoredrill:owner" for c in s["condition"])
        for s in creates
    )


def test_scheduled_runner_and_alarm(tf: dict[str, list[dict[str, Any]]]) -> None:
    (schedule,) = _blocks(tf, "resource", "aws_scheduler_schedule").values()
    parameters = schedule["target"][0]["ecs_parameters"][0]
    assert parameters["launch_type"] == "FARGATE"
    assert parameters["network_configuration"][0]["assign_public_ip"] is False
    (alarm,) = _blocks(tf, "resource", "aws_cloudwatch_metric_alarm").values()
    assert alarm["treat_missing_data"] == "breaching"  # no drill at all is a failure too
    assert alarm["comparison_operator"] == "LessThanThreshold"


def _terraform() -> str:
    found = shutil.which("terraform")
    if found is None:
        pytest.skip("terraform is not installed (and cannot be downloaded here)")
    return found


def test_terraform_fmt(tmp_path: Path) -> None:
    done = subprocess.run(
        [_terraform(), "fmt", "-check", "-recursive", "-diff"],
        cwd=TERRAFORM,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(tmp_path / "none.tfrc"),
            "CHECKPOINT_DISABLE": "1",
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_terraform_validate(tmp_path: Path) -> None:
    binary = _terraform()
    mirror = Path(
        os.environ.get("RESTOREDRILL_TF_PLUGIN_DIR", Path.home() / ".terraform.d/plugins")
    )
    if not (mirror / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(
            "the hashicorp/aws provider is not installed and cannot be downloaded here "
            "(no registry.terraform.io); set RESTOREDRILL_TF_PLUGIN_DIR to a provider mirror"
        )
    work = tmp_path / "tf"
    shutil.copytree(TERRAFORM, work, ignore=shutil.ignore_patterns(".terraform*"))
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    init = subprocess.run(
        [binary, "init", "-backend=false", "-input=false", f"-plugin-dir={mirror}"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    done = subprocess.run(
        [binary, "validate"], cwd=work, capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
