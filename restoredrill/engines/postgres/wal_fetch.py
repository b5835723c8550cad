"""`restoredrill wal-fetch --config FILE %f %p`: a restore_command that reads WAL from S3.

Two ways WAL reaches a restored sandbox, chosen with ``--wal-delivery``:

- ``stage`` (the default, for S3 too): the preflight validates every segment replay needs
  (page header, system identifier), so by the time the sandbox exists those segments are
  already in the source's local cache, fetched in parallel; staging them is a local copy,
  and PostgreSQL's restore_command is the same ``cp`` as for a directory. Streaming them
  instead would download every segment a second time.
- ``stream``: PostgreSQL itself pulls each segment during replay with this command, as a
  production restore_command would (WAL-G / pgBackRest style): it fetches the ONE segment
  asked for, and with it the next N segments in parallel into a cache directory inside the
  sandbox, so the following N calls are local renames. Everything happens inside the call:
  no background process outlives it, so a torn-down sandbox leaves nothing running. Use it
  to rehearse the restore_command production would run, or when the staged copy of the WAL
  would not fit next to the sandbox.
  Barman-cloud stores too: their segments sit under ``wals/<timeline+log>/`` (layout
  "barman" in the config).

The call runs as the server's OS user. Its configuration (bucket, prefix, region, endpoint,
cache directory; never credentials) comes from a JSON file in the sandbox directory, not
from argv; credentials come from boto3's normal chain: the server gets restoredrill's AWS_*
variables (PASSTHROUGH_ENV) in stream mode only, never the rest of its environment. Exit
codes follow PostgreSQL's contract: 0 delivered, 1 no such file (end of the archive, a
timeline history that does not exist), and 200 for anything else: a status above 125 makes
PostgreSQL abort recovery instead of taking an S3 outage for the end of WAL and promoting
too early.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restoredrill.errors import ConfigError
from restoredrill.lsn import DEFAULT_SEGMENT_SIZE, parse_segment_name, segment_name
from restoredrill.osuser import RunAs

if TYPE_CHECKING:
    from restoredrill.storage.s3 import S3Storage

EXIT_NOT_FOUND = 1
EXIT_ABORT = 200
SUFFIXES = ("", ".gz", ".lz4", ".zst")
CONFIG_NAME = "wal-fetch.json"
LOG_NAME = "wal-fetch.log"
# What boto3's credential chain reads from the environment (keys, profile, config files,
# region, endpoint, CA bundle): handed to the server in stream mode, nothing else is.
PASSTHROUGH_ENV = ("AWS_*",)


class NotFound(Exception):
    pass


def write_config(
    sandbox_root: Path, source_config: dict[str, object], run_as: RunAs, prefetch: int, seg: int
) -> Path:
    """The config file (0600, the server user's), the cache directory and the log."""
    cache = sandbox_root / "wal-cache"
    cache.mkdir(mode=0o700, exist_ok=True)
    run_as.own(cache)
    config = {
        **source_config,
        "cache_dir": str(cache),
        "log": str(sandbox_root / LOG_NAME),
        "prefetch": prefetch,
        "segment_size": seg,
    }
    path = sandbox_root / CONFIG_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(config, handle, indent=2)
    run_as.own(path)
    log = sandbox_root / LOG_NAME
    log.touch(mode=0o600)
    run_as.own(log)
    return path


def command(config_path: Path, run_as: RunAs) -> str:
    """The restore_command: this interpreter running ``-m restoredrill wal-fetch``.

    When the server user cannot run this interpreter (a venv whose interpreter lives in
    root's 0700 home), a system interpreter of the same version is used with this package
    and its dependencies on PYTHONPATH (paths only; no secrets)."""
    tail = f"-m restoredrill wal-fetch --config {shlex.quote(str(config_path))} %f %p"
    exe = Path(sys.executable)
    if _runnable(run_as, exe):
        return f"{shlex.quote(str(exe))} {tail}"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (Path("/usr/bin") / version, Path("/usr/local/bin") / version):
        if candidate.is_file() and _runnable(run_as, candidate):
            paths = _import_paths()
            if all(_runnable(run_as, p) for p in paths):
                pythonpath = shlex.quote(":".join(str(p) for p in paths))
                return f"PYTHONPATH={pythonpath} {shlex.quote(str(candidate))} {tail}"
    raise ConfigError(
        f"--wal-delivery stream: the server user {run_as.name!r} cannot run {exe} (nor a "
        f"system {version}); use --wal-delivery stage, or install restoredrill where that "
        f"user can run it"
    )


def _runnable(run_as: RunAs, path: Path) -> bool:
    try:
        run_as.check_reachable(Path(os.path.realpath(path)))
    except (ConfigError, OSError):
        return False
    return True


def _import_paths() -> list[Path]:
    import restoredrill

    # the directory holding the restoredrill package, wherever this module sits inside it
    package = Path(restoredrill.__file__).resolve().parent.parent
    found = [package]
    spec = find_spec("boto3")
    if spec is not None and spec.origin:
        site = Path(spec.origin).resolve().parent.parent
        if site not in found:
            found.append(site)
    return found


# --- the command itself (runs as the server user, once per file PostgreSQL asks for) ------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="restoredrill wal-fetch")
    parser.add_argument("--config", required=True)
    parser.add_argument("name")
    parser.add_argument("dest")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        config = json.loads(Path(args.config).read_text())
        stats = fetch(config, args.name, Path(args.dest))
    except NotFound:
        return EXIT_NOT_FOUND
    except Exception as exc:  # recovery must stop, not promote: say why in the server log
        from restoredrill.aws import is_aws_error, translate

        reason = translate(exc, f"wal-fetch {args.name}") if is_aws_error(exc) else exc
        print(f"restoredrill wal-fetch: {reason}", file=sys.stderr)
        return EXIT_ABORT
    stats["seconds"] = round(time.monotonic() - started, 4)
    with contextlib.suppress(OSError, KeyError), open(config["log"], "a") as log:
        log.write(json.dumps(stats) + "\n")
    return 0


def fetch(config: dict[str, Any], name: str, dest: Path) -> dict[str, Any]:
    """Deliver ``name`` to ``dest``; with a segment, fetch the next ones alongside."""
    from restoredrill.aws import AwsConfig
    from restoredrill.storage.s3 import S3Storage, S3Url

    cache = Path(config["cache_dir"])
    cached = cache / name
    stats: dict[str, Any] = {"name": name, "hit": cached.exists(), "fetched": 0, "bytes": 0}
    if not cached.exists():
        aws = AwsConfig(
            region=config.get("region"),
            endpoint_url=config.get("endpoint_url"),
            retry_mode=config.get("retry_mode", "adaptive"),
            max_attempts=int(config.get("max_attempts", 8)),
        )
        prefix = str(config.get("prefix") or "").strip("/")
        storage = S3Storage(S3Url(str(config["bucket"]), prefix), aws)
        batch = [name, *_following(name, int(config.get("prefetch", 0)), config)]
        batch = [n for n in batch if not (cache / n).exists()]
        with ThreadPoolExecutor(max(1, len(batch))) as pool:
            futures = {n: pool.submit(_download, storage, config, n, cache) for n in batch}
            outcomes = {n: _outcome(f) for n, f in futures.items()}
        wanted = outcomes[name]
        if isinstance(wanted, NotFound):
            raise wanted
        if isinstance(wanted, BaseException):
            raise wanted
        done = [v for v in outcomes.values() if isinstance(v, int)]
        stats.update(fetched=len(done), bytes=sum(done), retries=storage.retries.retries)
    _deliver(cached, dest)
    return stats


def _outcome(future: Any) -> int | BaseException:
    try:
        return int(future.result())
    except BaseException as exc:
        return exc


def _following(name: str, count: int, config: dict[str, Any]) -> list[str]:
    size = int(config.get("segment_size") or DEFAULT_SEGMENT_SIZE)
    try:
        timeline, segno = parse_segment_name(name, size)
    except ValueError:
        return []  # a .history, .backup or .partial file: nothing to prefetch
    return [segment_name(timeline, segno + i, size) for i in range(1, count + 1)]


def _download(storage: S3Storage, config: dict[str, Any], name: str, cache: Path) -> int:
    """Fetch the object (trying the plain name, then .gz/.lz4/.zst), decompress it into the
    cache under its plain name; returns the bytes of the uncompressed file."""
    from restoredrill.aws import error_code
    from restoredrill.storage.compression import decompress_to

    is_segment = bool(_following(name, 1, config))
    for suffix in SUFFIXES if is_segment else ("",):
        raw = cache / f".{name}.{os.getpid()}.dl{suffix}"
        part = cache / f".{name}.{os.getpid()}.part"
        try:
            storage.fetch(_key(config, name, is_segment) + suffix, raw)
        except Exception as exc:
            raw.unlink(missing_ok=True)
            if error_code(exc.__cause__ or exc) in ("NoSuchKey", "404", "NotFound"):
                continue
            raise
        try:
            size = decompress_to(raw, part)
            part.replace(cache / name)
        finally:
            raw.unlink(missing_ok=True)
            part.unlink(missing_ok=True)
        return size
    raise NotFound(name)


def _key(config: dict[str, Any], name: str, is_segment: bool) -> str:
    """The object's name under the prefix: flat (a cp-style archive), or barman-cloud's
    ``<timeline+log>/<segment>`` for segments (its timeline histories sit at the top)."""
    if config.get("layout") == "barman" and is_segment:
        return f"{name[:16]}/{name}"
    return name


def _deliver(cached: Path, dest: Path) -> None:
    try:
        os.replace(cached, dest)  # same file system (the cache is inside the sandbox)
    except OSError:
        tmp = dest.with_name(dest.name + ".restoredrill")
        with cached.open("rb") as source, tmp.open("wb") as sink:
            while chunk := source.read(1 << 20):
                sink.write(chunk)
        tmp.replace(dest)
        cached.unlink(missing_ok=True)


def summarize(sandbox_root: Path) -> str | None:
    """'N segment(s) by wal-fetch, K from the prefetch cache, R retries' for phase details."""
    log = sandbox_root / LOG_NAME
    try:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return None
    if not lines:
        return None
    hits = sum(1 for line in lines if line.get("hit"))
    retries = sum(int(line.get("retries") or 0) for line in lines)
    text = f"{len(lines)} file(s) via wal-fetch, {hits} from its prefetch cache"
    return text + (f", {retries} retries" if retries else "")


def fetched_bytes(sandbox_root: Path) -> int:
    try:
        lines = (sandbox_root / LOG_NAME).read_text().splitlines()
    except OSError:
        return 0
    return sum(int(json.loads(line).get("bytes") or 0) for line in lines if line.strip())
