"""Benchmark: how fast does `restoredrill wal-fetch` feed PostgreSQL WAL from S3, with and
without prefetch?

Starts moto's S3 server on 127.0.0.1 (real HTTP; AWS is not reachable here), uploads N
segment-sized objects (optionally gzip-compressed, as a compressing archive_command leaves
them), then asks for them one after the other exactly as PostgreSQL's restore_command does:
one `python -m restoredrill wal-fetch --config … %f %p` process per segment. Reports
segments/s and MiB/s for each prefetch depth.

    .venv/bin/python bench/wal_fetch_bench.py --segments 32 --prefetch 0 --prefetch 8

Not a test: numbers go to bench/results/ by hand, with the command that made them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEGMENT = 16 << 20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--segments", type=int, default=32)
    parser.add_argument("--prefetch", type=int, action="append", default=None)
    parser.add_argument("--gzip", action="store_true", help="upload segments as .gz")
    args = parser.parse_args()
    depths = args.prefetch or [0, 8]

    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="wal-bench")
    payload = os.urandom(1 << 20) * 16  # 16 MiB; content is not WAL: wal-fetch does not care
    names = [f"00000001{0:08X}{n:08X}" for n in range(1, args.segments + 1)]
    body = gzip.compress(payload, compresslevel=1) if args.gzip else payload
    for name in names:
        s3.put_object(Bucket="wal-bench", Key=f"wal/{name}{'.gz' if args.gzip else ''}", Body=body)

    results = []
    for depth in depths:
        with tempfile.TemporaryDirectory(prefix="restoredrill-walfetch-bench-") as tmp:
            root = Path(tmp)
            (root / "cache").mkdir()
            config = {
                "kind": "s3",
                "bucket": "wal-bench",
                "prefix": "wal",
                "endpoint_url": endpoint,
                "region": "us-east-1",
                "cache_dir": str(root / "cache"),
                "log": str(root / "log"),
                "prefetch": depth,
            }
            (root / "wal-fetch.json").write_text(json.dumps(config))
            started = time.monotonic()
            command = [sys.executable, "-m", "restoredrill", "wal-fetch"]
            command += ["--config", str(root / "wal-fetch.json")]
            for name in names:
                done = subprocess.run(
                    [*command, name, str(root / "RECOVERYXLOG")],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if done.returncode != 0:
                    raise SystemExit(f"wal-fetch {name} failed: {done.stderr}")
            seconds = time.monotonic() - started
            hits = sum(
                1 for line in (root / "log").read_text().splitlines() if json.loads(line)["hit"]
            )
        mib = len(names) * SEGMENT / (1 << 20)
        results.append(
            {
                "prefetch": depth,
                "segments": len(names),
                "seconds": round(seconds, 2),
                "segments_per_s": round(len(names) / seconds, 2),
                "mib_per_s": round(mib / seconds, 1),
                "cache_hits": hits,
                "gzip": args.gzip,
            }
        )
        print(json.dumps(results[-1]), flush=True)
    server.stop()


if __name__ == "__main__":
    main()
