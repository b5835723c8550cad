"""The Kubernetes Indexed Job: one playbook per completion index via a ConfigMap; a CronJob
with a schedule. What is rendered is read with the Kubernetes API models (the official
client): a field they do not know would be dropped, so the round trip must be lossless."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient
from ruamel.yaml import YAML

from restoredrill.errors import ConfigError
from restoredrill.fleet import INDEX_ENV, FleetJobRequest, Resources, render_yaml
from tests.pgsetup import cli

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = [
    REPO / "playbooks" / "quarterly-drill.yaml",
    REPO / "playbooks" / "ci-backup-check.yaml",
]


def assert_valid_kubernetes(obj: dict[str, Any]) -> None:
    """Deserialize into the client's model for its kind; serialize back; nothing lost."""
    plain = json.loads(json.dumps(obj))
    model = {"ConfigMap": "V1ConfigMap", "Job": "V1Job", "CronJob": "V1CronJob"}[plain["kind"]]
    client = ApiClient()
    typed = client.deserialize(json.dumps(plain), model, "application/json")  # a response body
    assert type(typed).__name__ == model
    assert client.sanitize_for_serialization(typed) == plain  # type: ignore[no-untyped-call]


def _render(**options: Any) -> list[dict[str, Any]]:
    request = FleetJobRequest(playbooks=PLAYBOOKS, image="registry.local/restoredrill:1", **options)
    return list(YAML(typ="safe").load_all(render_yaml(request, env={})))


def test_indexed_job_yaml() -> None:
    playbooks = PLAYBOOKS
    config_map, job = _render(secret="drill-env")
    assert_valid_kubernetes(config_map)
    assert_valid_kubernetes(job)
    assert config_map["kind"] == "ConfigMap"
    assert set(config_map["data"]) == {"playbook-0.yaml", "playbook-1.yaml"}
    assert config_map["data"]["playbook-0.yaml"] == playbooks[0].read_text()  # verbatim
    assert job["kind"] == "Job" and job["apiVersion"] == "batch/v1"
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == 2 and spec["parallelism"] == 2
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    container = pod["containers"][0]
    assert container["image"] == "registry.local/restoredrill:1"
    assert container["args"][:2] == ["drill", f"/playbooks/playbook-$({INDEX_ENV}).yaml"]
    assert "--results-dir" in container["args"]
    index_env = next(e for e in container["env"] if e["name"] == INDEX_ENV)
    assert "job-completion-index" in index_env["valueFrom"]["fieldRef"]["fieldPath"]
    assert container["envFrom"] == [{"secretRef": {"name": "drill-env"}}]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["playbooks"]["configMap"]["name"] == config_map["metadata"]["name"]
    assert "persistentVolumeClaim" in volumes["results"]
    assert container["command"] == ["restoredrill"]


def test_one_failing_drill_does_not_stop_the_others() -> None:
    _, job = _render()
    spec = job["spec"]
    assert "backoffLimit" not in spec  # the Job-wide limit stopped every index at once
    assert spec["backoffLimitPerIndex"] == 1 and spec["maxFailedIndexes"] == 2
    (rule,) = spec["podFailurePolicy"]["rules"]
    # a finding, a bad playbook or a bug fail the index at once; exit 3 (infra) is retried
    assert rule["action"] == "FailIndex" and rule["onExitCodes"]["values"] == [1, 2, 4]
    assert spec["ttlSecondsAfterFinished"] == 7 * 24 * 3600


def test_pods_are_locked_down_and_sized() -> None:
    _, job = _render(resources=Resources(cpu_limit="4", memory_limit="8Gi"), run_as_user=2000)
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 2000
    container = pod["containers"][0]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "4", "memory": "8Gi"},
    }
    # the root filesystem is read-only: sandboxes and HOME live on an emptyDir
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert env["RESTOREDRILL_SANDBOX_DIR"].startswith(env["HOME"]) and env["HOME"] in mounts
    assert "/tmp" in mounts


def test_schedule_renders_a_cronjob(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(
        [
            "fleet",
            "render",
            *map(str, PLAYBOOKS),
            "--image",
            "registry.local/restoredrill:1",
            "--schedule",
            "0 3 * * 1",
            "--memory-limit",
            "6Gi",
            "--ttl",
            "3600",
        ],
        capsys,
    )
    assert code == 0, err
    config_map, cron = list(YAML(typ="safe").load_all(out))
    assert_valid_kubernetes(config_map)
    assert_valid_kubernetes(cron)
    assert cron["kind"] == "CronJob" and cron["spec"]["schedule"] == "0 3 * * 1"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed" and job["maxFailedIndexes"] == 2
    assert job["ttlSecondsAfterFinished"] == 3600
    assert job["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "6Gi"


def test_bad_schedule_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["fleet", "render", str(PLAYBOOKS[0]), "--image", "i", "--schedule", "every monday"]
    code, out, err = cli(args, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--schedule 'every monday': expected five cron fields" in err


def test_invalid_playbook_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsource: {kind: file, base_backups: a, wal_archive: b}\nbogus: 1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:3: .*unknown key 'bogus'"):
        render_yaml(FleetJobRequest(playbooks=[bad], image="i"), env={})
