"""The Kubernetes Indexed Job: one playbook per completion index via a ConfigMap."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from restoredrill.drill.fleet import INDEX_ENV, FleetJobRequest, render_yaml
from restoredrill.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_indexed_job_yaml() -> None:
    playbooks = [
        REPO / "playbooks" / "quarterly-drill.yaml",
        REPO / "playbooks" / "ci-backup-check.yaml",
    ]
    text = render_yaml(
        FleetJobRequest(
            playbooks=playbooks, image="registry.local/restoredrill:1", secret="drill-env"
        ),
        env={},
    )
    config_map, job = list(YAML(typ="safe").load_all(text))
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


def test_invalid_playbook_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsource: {kind: file, base_backups: a, wal_archive: b}\nbogus: 1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:3: .*unknown key 'bogus'"):
        render_yaml(FleetJobRequest(playbooks=[bad], image="i"), env={})
