"""The MariaDB half of bench/verify_bench.py: one throwaway mariadbd, an `acc` table shaped
like pgbench_accounts (INT key, two INTs, CHAR(84) of blanks) and a `mixed` one (DECIMAL,
DOUBLE, DATE, DATETIME(6), VARCHAR, VARBINARY, JSON). Per table, best of N on one
connection: the by-hand anchors `CHECKSUM TABLE` and pt-table-checksum's
`BIT_XOR(CRC32(CONCAT_WS('#', cols...)))`, restoredrill's fingerprint before (`/1`: CRC32 and
CRC32 of the reverse of ``columns.row_text``; `--with-md5`: the MD5 one before that) and now;
then `manifest` and `verify` against it. Each statement's wall and the server's CPU seconds
(utime + stime of mariadbd, which runs nothing else: steadier than wall on a shared machine).

Alone (appends a dated section):
    .venv/bin/python bench/verify_bench_mariadb.py --rows 2000000 --append bench/results/verify.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from restoredrill.drill.manifest import create_manifest
from restoredrill.engines.mysql import columns as my_columns
from restoredrill.engines.mysql import fingerprint as my_fingerprint
from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.sandbox_local import local_mysql
from restoredrill.engines.names import TableName

DB = "bench"
LOAD = [
    "CREATE DATABASE bench CHARACTER SET utf8mb4",
    "CREATE TABLE bench.acc (aid INT PRIMARY KEY, bid INT NOT NULL, abalance INT NOT NULL,"
    " filler CHAR(84))",
    "INSERT INTO bench.acc SELECT seq, seq DIV 100000 + 1, 0, RPAD('', 84, ' ')"
    " FROM bench.seq_1_to_{rows}",
    "CREATE TABLE bench.mixed (id BIGINT PRIMARY KEY, amount DECIMAL(12,2), ratio DOUBLE,"
    " day DATE, at DATETIME(6), note VARCHAR(40), code VARBINARY(16), doc JSON)",
    "INSERT INTO bench.mixed SELECT seq, seq / 7, seq / 3, DATE '2020-01-01' + INTERVAL"
    " (seq % 2000) DAY, TIMESTAMP '2020-01-01 00:00:00' + INTERVAL seq SECOND,"
    " CONCAT('note ', seq), UNHEX(MD5(seq)), JSON_OBJECT('g', seq, 'k', CONCAT('v', seq % 97))"
    " FROM bench.seq_1_to_{mixed}",
]


def old_md5_query(table: TableName, columns: list[my_columns.ColumnInfo]) -> str:
    """The fingerprint restoredrill ran before (every piece length-prefixed, MD5 of the row)."""
    pieces = []
    for column in columns:
        ref = f"r.{my.quote_ident(column.name)}"
        kind = column.data_type
        text = my_columns.text_expr(column)
        long_varchar = (
            kind in ("varchar", "varbinary")
            and "(" in column.type
            and (int(column.type.split("(")[1].split(")")[0]) > 255)
        )
        if kind in my_columns.LONG_TYPES or long_varchar:
            source = ref if kind in my_columns.BINARY_TYPES or kind == "varbinary" else text
            pieces.append(f"IF({ref} IS NULL, 'N', IFNULL(MD5({source}), 'E'))")
        else:
            pieces.append(f"IF({ref} IS NULL, 'N', CONCAT(LENGTH({text}), ':', {text}))")
    half = "CAST(CONV(SUBSTRING(s.h, {}, 16), 16, 10) AS UNSIGNED)"
    return (
        f"SELECT COUNT(*), COALESCE(SUM({half.format(1)}), 0), COALESCE(SUM({half.format(17)}), 0)"
        f" FROM (SELECT MD5(CONCAT_WS(',', {', '.join(pieces)})) AS h"
        f" FROM {my.quote_table(table)} AS r) AS s"
    )


def v1_query(table: TableName, columns: list[my_columns.ColumnInfo]) -> str:
    """`my-crc32-reverse-sum/1`: the same sums over ``columns.row_text`` (length prefixes,
    MD5 of long values, every value cast to text)."""
    text = my_columns.row_text(columns)
    return (
        f"SELECT COUNT(*), COALESCE(SUM(CRC32({text})), 0),"
        f" COALESCE(SUM(CRC32(REVERSE({text}))), 0) FROM {my.quote_table(table)} AS r"
    )


def _server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _best(run: Any, repeat: int, pid: int) -> tuple[float, float]:
    """Best wall and best server CPU seconds of ``repeat`` runs."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        cpu = _server_cpu(pid)
        started = time.monotonic()
        run()
        best = min(best, time.monotonic() - started)
        best_cpu = min(best_cpu, _server_cpu(pid) - cpu)
    return best, best_cpu


def _tables(
    conn: my.MyConn, dsn: str, repeat: int, pid: int, with_md5: bool
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name in ("acc", "mixed"):
        table = TableName("", name)
        columns = my_columns.column_info(conn, table)
        names = ", ".join(my.quote_ident(c.name) for c in columns)
        quoted = my.quote_table(table)
        rows = int(conn.rows(f"SELECT COUNT(*) FROM {quoted}")[0][0])  # also warms the pool
        figures: dict[str, Any] = {"rows": rows}
        statements = {
            "checksum_table": f"CHECKSUM TABLE {quoted}",
            "bit_xor": f"SELECT COUNT(*), BIT_XOR(CAST(CRC32(CONCAT_WS('#', {names}))"
            f" AS UNSIGNED)) FROM {quoted}",
            "v1": v1_query(table, columns),
        }
        runs: dict[str, tuple[float, float]] = {}
        for key, statement in statements.items():
            runs[key] = _best(lambda s=statement: conn.rows(s), repeat, pid)
        if with_md5:
            runs["old_md5"] = _best(lambda q=old_md5_query(table, columns): conn.rows(q), 1, pid)
        runs["ours"] = _best(lambda t=table: my_fingerprint.fingerprint(conn, t), repeat, pid)
        # the whole library path: a snapshot shared by several connections, big tables in
        # key-range pieces (connections opened and closed inside the timing)
        runs["pieces"] = _best(lambda n=name: create_manifest(dsn, tables=[n]), repeat, pid)
        for key, (wall, cpu) in runs.items():
            figures[key + "_s"] = round(wall, 2)
            figures[key + "_cpu_s"] = round(cpu, 2)
            figures[key + "_rows_per_s"] = round(rows / wall)
        results[name] = figures
    return results


def _command(argv: list[str]) -> dict[str, Any]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "restoredrill", *argv], capture_output=True, text=True
    )
    return {"seconds": round(time.monotonic() - started, 2), "exit": done.returncode}


def run(rows: int, repeat: int, work: Path, with_md5: bool = False) -> dict[str, Any]:
    report: dict[str, Any] = {"rows": rows, "algorithm": my_fingerprint.CHECKSUM_ALGORITHM}
    with local_mysql("bench-verify-mariadb") as server:
        server.init_datadir()
        server.start(init_file=False, options={"innodb-buffer-pool-size": "2G"})
        conn = server.connect()
        try:
            started = time.monotonic()
            for statement in LOAD:
                conn.run(statement.format(rows=rows, mixed=rows // 7))
            report["load_seconds"] = round(time.monotonic() - started, 1)
            report["server_version"] = str(conn.scalar("SELECT VERSION()"))
            conn.run(f"USE {DB}")
            my.pin_session(conn)
            assert server._process is not None
            report["tables"] = _tables(conn, server.dsn(DB), repeat, server._process.pid, with_md5)
        finally:
            conn.close()
        manifest = work / "mariadb.json"
        dsn = server.dsn(DB)
        report["commands"] = {
            "manifest DB --out mariadb.json": _command(["manifest", dsn, "--out", str(manifest)]),
            "verify DB mariadb.json": _command(["verify", dsn, str(manifest)]),
        }
    return report


def render(report: dict[str, Any]) -> list[str]:
    keys = ["checksum_table", "bit_xor", "v1", "ours", "pieces"]
    heads = [
        "by hand `CHECKSUM TABLE`",
        "by hand `BIT_XOR(CRC32(CONCAT_WS(...)))`",
        "restoredrill before (`my-crc32-reverse-sum/1`)",
        f"restoredrill now (`{report.get('algorithm', '?')}`), one statement",
        "restoredrill now, `create_manifest` of the table (pieces on shared-snapshot connections)",
    ]
    if any("old_md5_s" in f for f in report["tables"].values()):
        keys.insert(2, "old_md5")
        heads.insert(2, "restoredrill md5 (before /1)")
    lines = [
        "",
        f"## MariaDB ({report['server_version']})",
        "",
        f"Load {report['load_seconds']} s (no parallel query in MariaDB: a big table is split"
        " in key ranges over connections that provably share one snapshot). Per statement:"
        " best wall of the runs (rows/s) and, in brackets, the server's CPU seconds (best run).",
        "",
        "| table | rows | " + " | ".join(heads) + " |",
        "| --- | ---: |" + " ---: |" * len(keys),
    ]
    for name, f in report["tables"].items():
        cells = [
            f"{f[k + '_s']} s ({f[k + '_rows_per_s'] / 1e6:.2f} M/s) [cpu {f[k + '_cpu_s']} s]"
            for k in keys
        ]
        cells[-1] = f"**{cells[-1]}**"
        lines.append(f"| {name} | {f['rows']:,} | " + " | ".join(cells) + " |")
    lines += ["", "| command | wall | exit |", "| --- | ---: | ---: |"]
    for name, run_ in report["commands"].items():
        lines.append(f"| `{name}` | {run_['seconds']} s | {run_['exit']} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--with-md5", action="store_true", help="also the md5 fingerprint")
    parser.add_argument("--append", type=Path, help="append a dated section to this file")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="restoredrill-verify-bench-") as tmp:
        report = run(args.rows, args.repeat, Path(tmp), args.with_md5)
    report["load_before"] = round(load, 1)
    report["load_after"] = round(os.getloadavg()[0], 1)
    print(json.dumps(report, indent=2))
    if args.append:
        argv = " ".join(sys.argv[1:])
        text = [
            "",
            f"# MariaDB fingerprint, {started} (bench/verify_bench_mariadb.py)",
            "",
            f"Command: `.venv/bin/python bench/verify_bench_mariadb.py {argv}`. Machine: 2 cores"
            " shared with other sessions' test runs (load average"
            f" {report['load_before']} before, {report['load_after']} after).",
            *render(report),
        ]
        with args.append.open("a") as out:
            out.write("\n".join(text) + "\n")


if __name__ == "__main__":
    main()
