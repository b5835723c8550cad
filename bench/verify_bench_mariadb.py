"""The MariaDB half of bench/verify_bench.py: one throwaway mariadbd, an `acc` table shaped
like pgbench_accounts (INT key, two INTs, CHAR(84) of blanks) and a `mixed` one (DECIMAL,
DOUBLE, DATE, DATETIME(6), VARCHAR, VARBINARY, JSON). Per table, best of N on one
connection: the by-hand anchors `CHECKSUM TABLE` and pt-table-checksum's
`BIT_XOR(CRC32(CONCAT_WS('#', cols...)))`, restoredrill's fingerprint before (MD5 of the row
text, summed as two 64-bit halves) and now; then `manifest` and `verify` against it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


def _best(run: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.monotonic()
        run()
        best = min(best, time.monotonic() - started)
    return best


def _tables(conn: my.MyConn, repeat: int) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name in ("acc", "mixed"):
        table = TableName("", name)
        columns = my_columns.column_info(conn, table)
        names = ", ".join(my.quote_ident(c.name) for c in columns)
        quoted = my.quote_table(table)
        rows = int(conn.rows(f"SELECT COUNT(*) FROM {quoted}")[0][0])  # also warms the pool
        figures: dict[str, Any] = {"rows": rows}
        statements = {
            "checksum_table_s": f"CHECKSUM TABLE {quoted}",
            "bit_xor_s": f"SELECT COUNT(*), BIT_XOR(CAST(CRC32(CONCAT_WS('#', {names}))"
            f" AS UNSIGNED)) FROM {quoted}",
        }
        for key, statement in statements.items():
            figures[key] = _best(lambda s=statement: conn.rows(s), repeat)
        figures["old_md5_s"] = _best(lambda q=old_md5_query(table, columns): conn.rows(q), 1)
        figures["ours_s"] = _best(lambda t=table: my_fingerprint.fingerprint(conn, t), repeat)
        for key in [k for k in figures if k.endswith("_s")]:
            figures[key.removesuffix("_s") + "_rows_per_s"] = round(rows / figures[key])
            figures[key] = round(figures[key], 2)
        results[name] = figures
    return results


def _command(argv: list[str]) -> dict[str, Any]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "restoredrill", *argv], capture_output=True, text=True
    )
    return {"seconds": round(time.monotonic() - started, 2), "exit": done.returncode}


def run(rows: int, repeat: int, work: Path) -> dict[str, Any]:
    report: dict[str, Any] = {"rows": rows}
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
            report["tables"] = _tables(conn, repeat)
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
    lines = [
        "",
        f"## MariaDB ({report['server_version']})",
        "",
        f"Load {report['load_seconds']} s (no parallel query in MariaDB; one connection per"
        " side, as it cannot share a snapshot between connections).",
        "",
        "| table | rows | by hand `CHECKSUM TABLE` | by hand `BIT_XOR(CRC32(CONCAT_WS(...)))`"
        " | restoredrill before (md5) | restoredrill now |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, f in report["tables"].items():
        cells = [
            f"{f[k + '_s']} s ({f[k + '_rows_per_s'] / 1e6:.2f} M/s)"
            for k in ("checksum_table", "bit_xor", "old_md5", "ours")
        ]
        cells[-1] = f"**{cells[-1]}**"
        lines.append(f"| {name} | {f['rows']:,} | " + " | ".join(cells) + " |")
    lines += ["", "| command | wall | exit |", "| --- | ---: | ---: |"]
    for name, run_ in report["commands"].items():
        lines.append(f"| `{name}` | {run_['seconds']} s | {run_['exit']} |")
    return lines
