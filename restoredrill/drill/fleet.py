"""Fleet runs beyond one machine: a Kubernetes Indexed Job, one playbook per index.

The playbooks go into a ConfigMap (``playbook-<i>.yaml``, verbatim: ``${VAR}`` is expanded in
the pod, from its environment — e.g. a Secret given with ``secret``); each pod runs
``restoredrill drill /playbooks/playbook-$(RESTOREDRILL_INDEX).yaml --results-dir DIR`` and
leaves its result JSON on the shared volume, which ``restoredrill report --from DIR`` reads."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from restoredrill.errors import ConfigError
from restoredrill.playbook import PROBLEMS_HEADER, load_playbooks

INDEX_ENV = "RESTOREDRILL_INDEX"
INDEX_ANNOTATION = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class FleetJobRequest:
    playbooks: Sequence[Path]
    image: str
    results_dir: str = "/results"
    name: str = "restoredrill-fleet"
    namespace: str | None = None
    parallelism: int | None = None
    results_claim: str = "restoredrill-results"  # PersistentVolumeClaim mounted at results_dir
    secret: str | None = None  # Secret whose keys become environment variables (DSNs, ...)
    backoff_limit: int = 0
    active_deadline_seconds: int | None = None


def playbook_key(index: int) -> str:
    return f"playbook-{index}.yaml"


def render_job(request: FleetJobRequest, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The ConfigMap and the Job, as Kubernetes objects."""
    if not request.playbooks:
        raise ConfigError("give at least one playbook")
    if not _NAME.match(request.name) or len(request.name) > 52:
        raise ConfigError(f"--name {request.name!r}: lower-case letters, digits and '-' (≤ 52)")
    if not request.image.strip():
        raise ConfigError("--image is required")
    if not request.results_dir.startswith("/"):
        raise ConfigError("--results-dir must be an absolute path inside the pod")
    _validate(request.playbooks, env)
    texts = {}
    for index, path in enumerate(request.playbooks):
        texts[playbook_key(index)] = LiteralScalarString(Path(path).read_text(encoding="utf-8"))
    count = len(request.playbooks)
    metadata: dict[str, Any] = {
        "name": request.name,
        "labels": {"app.kubernetes.io/name": "restoredrill"},
    }
    if request.namespace:
        metadata["namespace"] = request.namespace
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {**metadata, "name": f"{request.name}-playbooks"},
        "data": texts,
    }
    container: dict[str, Any] = {
        "name": "drill",
        "image": request.image,
        "args": [
            "drill",
            f"/playbooks/playbook-$({INDEX_ENV}).yaml",
            "--results-dir",
            request.results_dir,
            "--json",
        ],
        "env": [
            {"name": INDEX_ENV, "valueFrom": {"fieldRef": {"fieldPath": INDEX_ANNOTATION}}},
            {
                "name": "RESTOREDRILL_LEDGER",
                "value": f"{request.results_dir.rstrip('/')}/ledger-$({INDEX_ENV}).db",
            },
        ],
        "volumeMounts": [
            {"name": "playbooks", "mountPath": "/playbooks", "readOnly": True},
            {"name": "results", "mountPath": request.results_dir},
        ],
    }
    if request.secret:
        container["envFrom"] = [{"secretRef": {"name": request.secret}}]
    spec: dict[str, Any] = {
        "completionMode": "Indexed",
        "completions": count,
        "parallelism": request.parallelism or count,
        "backoffLimit": request.backoff_limit,
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "restoredrill"}},
            "spec": {
                "restartPolicy": "Never",
                "containers": [container],
                "volumes": [
                    {"name": "playbooks", "configMap": {"name": f"{request.name}-playbooks"}},
                    {
                        "name": "results",
                        "persistentVolumeClaim": {"claimName": request.results_claim},
                    },
                ],
            },
        },
    }
    if request.active_deadline_seconds:
        spec["activeDeadlineSeconds"] = request.active_deadline_seconds
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}
    return [config_map, job]


def render_yaml(request: FleetJobRequest, env: dict[str, str] | None = None) -> str:
    yaml = YAML()
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump_all(render_job(request, env), buffer)
    return buffer.getvalue()


def _validate(paths: Sequence[Path], env: dict[str, str] | None) -> None:
    """Validate now; variables need not be set here (they are in the pod): an unset one
    reads as a placeholder, and problems that only concern placeholders are ignored."""
    try:
        load_playbooks(list(paths), _Permissive(env if env is not None else dict(os.environ)))
    except ConfigError as exc:
        lines = [line for line in str(exc).splitlines() if PLACEHOLDER not in line]
        if any(line != PROBLEMS_HEADER for line in lines):
            raise ConfigError("\n".join(lines)) from None


PLACEHOLDER = "/unset-variable/"


class _Permissive(dict[str, str]):
    """For validating playbooks that will be expanded elsewhere: unset variables read as a
    placeholder (their defaults when given)."""

    def __init__(self, env: dict[str, str] | None) -> None:
        super().__init__(env or {})

    def get(self, key: str, default: Any = None) -> str:
        return super().get(key, f"{PLACEHOLDER}{key}")
