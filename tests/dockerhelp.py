"""Docker for the docker-sandbox tests: the engine .ci/run starts (checked once per session)
and the images tests/docker/build-images.sh builds without a registry."""

from __future__ import annotations

import functools
import shutil
import subprocess

import pytest

PG_IMAGE = "restoredrill-test/postgres:15"
MARIADB_IMAGE = "restoredrill-test/mariadb:10.11"
BUILD = "tests/docker/build-images.sh"


@functools.cache
def _engine_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    done = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return "`docker info` failed: " + (lines[-1] if lines else str(done.returncode))
    return None


def require_docker(image: str = PG_IMAGE) -> str:
    """Skip (with the reason) only where no Docker engine answers; a missing test image on a
    running engine is a set-up error, not a skip."""
    problem = _engine_problem()
    if problem is not None:
        pytest.skip(f"no Docker engine ({problem}); .ci/run starts one")
    done = subprocess.run(["docker", "image", "inspect", image], capture_output=True, timeout=60)
    if done.returncode != 0:
        pytest.fail(f"image {image} missing: run `bash {BUILD}` (as .ci/run does)")
    return image


def containers(label_filter: str) -> list[str]:
    """Names of containers (running or not) matching a docker label filter."""
    done = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label={label_filter}", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.split()
