"""Fleet runs beyond one machine: a Kubernetes Indexed Job, one playbook per index, or a
CronJob of that Job when a schedule is given.

Each index has its own back-off (``backoffLimitPerIndex``) and ``maxFailedIndexes`` is the
number of playbooks, so one drill that fails or breaches its SLA never stops the others; a
drill's own finding (exit 1), a bad playbook (2) or an internal error (4) fail their index at
once, and only infrastructure errors (3) are retried. The pod runs as a non-root user with a
read-only root filesystem (scratch space and sandboxes on emptyDir volumes).

The playbooks go into a ConfigMap (``playbook-<i>.yaml``, verbatim: ``${VAR}`` is expanded in
the pod, from its environment — e.g. a Secret given with ``secret``); each pod runs
``restoredrill drill /playbooks/playbook-$(RESTOREDRILL_INDEX).yaml --results-dir DIR`` and
leaves its result JSON on the shared volume, which ``restoredrill report --from DIR`` reads."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from restoredrill.errors import ConfigError
from restoredrill.playbook import PROBLEMS_HEADER, load_playbooks

INDEX_ENV = "RESTOREDRILL_INDEX"
INDEX_ANNOTATION = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CRON_FIELD = re.compile(r"^[0-9*/,\-A-Za-z?]+$")
SCRATCH = "/scratch"  # emptyDir: HOME, sandboxes (restores need space: size the node's disk)
# Exit codes a retry cannot change: the drill's finding, a bad playbook, a bug.
FINAL_EXIT_CODES = [1, 2, 4]


@dataclass(frozen=True)
class Resources:
    cpu_request: str = "500m"
    memory_request: str = "1Gi"
    cpu_limit: str = "2"
    memory_limit: str = "4Gi"


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
    schedule: str | None = None  # cron expression: render a CronJob
    retries_per_index: int = 1  # infrastructure errors (exit 3) only
    active_deadline_seconds: int | None = None
    ttl_seconds_after_finished: int = 7 * 24 * 3600
    resources: Resources = field(default_factory=Resources)
    run_as_user: int = 10001


def playbook_key(index: int) -> str:
    return f"playbook-{index}.yaml"


def render_job(request: FleetJobRequest, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The ConfigMap and the Job (or CronJob), as Kubernetes objects."""
    _check_request(request)
    _validate(request.playbooks, env)
    texts = {}
    for index, path in enumerate(request.playbooks):
        texts[playbook_key(index)] = LiteralScalarString(Path(path).read_text(encoding="utf-8"))
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
    spec = _job_spec(request, len(request.playbooks))
    if request.schedule is None:
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}
        return [config_map, job]
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata,
        "spec": {
            "schedule": request.schedule,
            "concurrencyPolicy": "Forbid",  # a slow drill is not overlapped by the next one
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"metadata": {"labels": dict(metadata["labels"])}, "spec": spec},
        },
    }
    return [config_map, cron]


def _check_request(request: FleetJobRequest) -> None:
    if not request.playbooks:
        raise ConfigError("give at least one playbook")
    if not _NAME.match(request.name) or len(request.name) > 52:
        raise ConfigError(f"--name {request.name!r}: lower-case letters, digits and '-' (≤ 52)")
    if not request.image.strip():
        raise ConfigError("--image is required")
    if not request.results_dir.startswith("/"):
        raise ConfigError("--results-dir must be an absolute path inside the pod")
    if request.schedule is not None:
        fields = request.schedule.split()
        if not (fields and fields[0].startswith("@")) and (
            len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields)
        ):
            raise ConfigError(
                f"--schedule {request.schedule!r}: expected five cron fields "
                "(minute hour day-of-month month day-of-week), e.g. '0 3 * * 1'"
            )
    if request.retries_per_index < 0:
        raise ConfigError("--retries-per-index must be 0 or more")
    if request.run_as_user <= 0:
        raise ConfigError("--run-as-user must be a non-root uid (> 0)")


def _container(request: FleetJobRequest) -> dict[str, Any]:
    results = request.results_dir.rstrip("/")
    res = request.resources
    container: dict[str, Any] = {
        "name": "drill",
        "image": request.image,
        "command": ["restoredrill"],
        "args": [
            "drill",
            f"/playbooks/playbook-$({INDEX_ENV}).yaml",
            "--results-dir",
            request.results_dir,
            "--json",
        ],
        "env": [
            {"name": INDEX_ENV, "valueFrom": {"fieldRef": {"fieldPath": INDEX_ANNOTATION}}},
            {"name": "RESTOREDRILL_LEDGER", "value": f"{results}/ledger-$({INDEX_ENV}).db"},
            {"name": "RESTOREDRILL_SANDBOX_DIR", "value": f"{SCRATCH}/sandboxes"},
            {"name": "HOME", "value": SCRATCH},
        ],
        "resources": {
            "requests": {"cpu": res.cpu_request, "memory": res.memory_request},
            "limits": {"cpu": res.cpu_limit, "memory": res.memory_limit},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "playbooks", "mountPath": "/playbooks", "readOnly": True},
            {"name": "results", "mountPath": request.results_dir},
            {"name": "scratch", "mountPath": SCRATCH},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    if request.secret:
        container["envFrom"] = [{"secretRef": {"name": request.secret}}]
    return container


def _job_spec(request: FleetJobRequest, count: int) -> dict[str, Any]:
    uid = request.run_as_user
    spec: dict[str, Any] = {
        "completionMode": "Indexed",
        "completions": count,
        "parallelism": request.parallelism or count,
        # per index: a failing drill never stops the others (maxFailedIndexes = all)
        "backoffLimitPerIndex": request.retries_per_index,
        "maxFailedIndexes": count,
        "podFailurePolicy": {
            "rules": [
                {
                    "action": "FailIndex",
                    "onExitCodes": {
                        "containerName": "drill",
                        "operator": "In",
                        "values": FINAL_EXIT_CODES,
                    },
                }
            ]
        },
        "ttlSecondsAfterFinished": request.ttl_seconds_after_finished,
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "restoredrill"}},
            "spec": {
                "restartPolicy": "Never",
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": uid,
                    "runAsGroup": uid,
                    "fsGroup": uid,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [_container(request)],
                "volumes": [
                    {"name": "playbooks", "configMap": {"name": f"{request.name}-playbooks"}},
                    {
                        "name": "results",
                        "persistentVolumeClaim": {"claimName": request.results_claim},
                    },
                    {"name": "scratch", "emptyDir": {}},
                    {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}},
                ],
            },
        },
    }
    if request.active_deadline_seconds:
        spec["activeDeadlineSeconds"] = request.active_deadline_seconds
    return spec


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
