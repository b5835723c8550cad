"""verify, manifest, diff and reapply on a real MariaDB: a "restored" and a "production"
database in one test server. Checksums must tell apart every value the text forms tell
apart (NULL vs '', trailing spaces, collation-equal strings, binary, JSON text, microseconds,
float bits); diffs are keyed; reapply is guarded, archived, idempotent and refuses the
wrong target."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from restoredrill.drill.diff import diff
from restoredrill.drill.manifest import create_manifest, manifest_to_file
from restoredrill.drill.reapply import ReapplyOptions, reapply
from restoredrill.drill.verify import verify
from restoredrill.dsn import describe, redact
from restoredrill.engines.mysql import catalog as my_catalog
from restoredrill.engines.mysql import session as my
from restoredrill.engines.mysql.sandbox_local import LocalMySQL, local_mysql
from restoredrill.errors import ConfigError, ReapplyRefused
from restoredrill.models import VerifyStatus
from tests.mysqlsetup import run_pinned

pytestmark = pytest.mark.slow
_names = itertools.count()


@dataclass(frozen=True)
class Pair:
    server: LocalMySQL
    restored_db: str
    production_db: str

    @property
    def restored(self) -> str:
        return self.server.dsn(self.restored_db)

    @property
    def production(self) -> str:
        return self.server.dsn(self.production_db)

    def run(self, dsn: str, *statements: str) -> None:
        run_pinned(dsn, *statements)

    def both(self, *statements: str) -> None:
        self.run(self.restored, *statements)
        self.run(self.production, *statements)

    def rows(self, dsn: str, query: str) -> list[tuple[object, ...]]:
        conn = my.connect(dsn)
        try:
            my.pin_session(conn)
            return conn.rows(query)
        finally:
            conn.close()


@pytest.fixture(scope="module")
def server() -> Iterator[LocalMySQL]:
    with local_mysql("test-mysql-diff") as instance:
        instance.init_datadir()
        instance.start(init_file=False)
        yield instance


@pytest.fixture
def pair(server: LocalMySQL) -> Pair:
    n = next(_names)
    found = Pair(server, f"restored_{n}", f"production_{n}")
    conn = server.connect()
    try:
        conn.run(f"CREATE DATABASE {found.restored_db} CHARACTER SET utf8mb4")
        conn.run(f"CREATE DATABASE {found.production_db} CHARACTER SET utf8mb4")
    finally:
        conn.close()
    return found


# (column type, value in both, value production gets instead)
TRICKY = {
    "null_vs_empty": ("VARCHAR(10)", "''", "NULL"),
    "trailing_space": ("VARCHAR(10)", "'a'", "'a '"),
    "case_ci_equal": ("VARCHAR(10) COLLATE utf8mb4_general_ci", "'a'", "'A'"),
    "unicode_ci_equal": ("VARCHAR(10) COLLATE utf8mb4_unicode_ci", "'straße'", "'strasse'"),
    "unicode_nfc_nfd": ("VARCHAR(10)", "_utf8mb4 X'C3A9'", "_utf8mb4 X'65CC81'"),
    "decimal_scale": ("DECIMAL(10,2)", "1.10", "1.01"),
    "binary_length": ("VARBINARY(4)", "X'00'", "X'0000'"),
    "blob_bytes": ("BLOB", "X'00FF'", "X'00FE'"),
    "json_text": ("JSON", "'{\"a\":1}'", "'{\"a\": 1}'"),
    "datetime_micro": ("DATETIME(6)", "'2026-01-01 00:00:00.000001'", "'2026-01-01 00:00:00'"),
    "timestamp_micro": ("TIMESTAMP(6) NULL", "'2026-01-01 00:00:00.5'", "'2026-01-01 00:00:00.4'"),
    "float_bits": ("FLOAT", "1.0000001", "1.0000002"),
    "double_bits": ("DOUBLE", "0.1e0 + 0.2e0", "0.3e0"),
    "bit_value": ("BIT(5)", "b'101'", "b'110'"),
    "time_negative": ("TIME(3)", "'-01:00:00.5'", "'01:00:00.5'"),
    # pieces written without a length prefix must still stay apart from NULL and each other
    "int_null": ("INT", "0", "NULL"),
    "decimal_null": ("DECIMAL(5,1)", "0.0", "NULL"),
    "date_null": ("DATE", "'2026-01-01'", "NULL"),
    "year_value": ("YEAR", "2024", "2025"),
    "binary_empty": ("VARBINARY(4)", "X''", "NULL"),
    "binary_n": ("BINARY(1)", "X'4E'", "NULL"),  # the byte 'N', shown as hex
    "varchar_n": ("VARCHAR(3)", "'N'", "NULL"),
    "varchar_comma": ("VARCHAR(5)", "'a,b'", "'a,,b'"),
    "char_trailing": ("CHAR(3)", "'a'", "'a b'"),
    "enum_value": ("ENUM('x','y,z')", "'x'", "'y,z'"),
    "set_value": ("SET('a','b')", "'a,b'", "'a'"),
    "latin1_text": ("VARCHAR(5) CHARACTER SET latin1", "'é'", "'e'"),
    "bigint_unsigned": ("BIGINT UNSIGNED", "18446744073709551615", "18446744073709551614"),
}


def test_verify_is_exact_for_tricky_values(pair: Pair) -> None:
    for name, (kind, value, _other) in TRICKY.items():
        pair.both(
            f"CREATE TABLE {name} (id INT PRIMARY KEY, v {kind})",
            f"INSERT INTO {name} VALUES (1, {value}), (2, NULL)",
        )
    pair.both(
        "CREATE TABLE swap (id INT PRIMARY KEY, a VARCHAR(5), b VARCHAR(5))",
        "INSERT INTO swap VALUES (1, 'x', 'y'), (2, 'y', 'x')",
        "CREATE TABLE bounds (id INT PRIMARY KEY, a VARCHAR(5), b VARCHAR(5))",
        "INSERT INTO bounds VALUES (1, 'a,b', ''), (2, NULL, 'N')",
        "CREATE TABLE numbers (id INT PRIMARY KEY, a INT, b INT)",
        "INSERT INTO numbers VALUES (1, 12, 3), (2, 5, NULL)",
    )
    assert verify(pair.restored, pair.production).status == VerifyStatus.PASS
    manifest = create_manifest(pair.production)
    assert manifest.engine == "mysql" and len(manifest.tables) == len(TRICKY) + 3
    assert manifest.checksum_algorithm == "my-crc32-reverse-sum/2"
    for name, (_kind, _value, other) in TRICKY.items():
        pair.run(pair.production, f"UPDATE {name} SET v = {other} WHERE id = 1")
    pair.run(
        pair.production,
        "UPDATE swap SET a = b, b = a",
        "UPDATE bounds SET a = 'a', b = 'b,' WHERE id = 1",  # the same text joined by ','
        "UPDATE bounds SET a = 'N', b = NULL WHERE id = 2",
        "UPDATE numbers SET a = 1, b = 23 WHERE id = 1",  # '12,3' vs '1,23'
    )
    report = verify(pair.restored, pair.production)
    statuses = {c.table: c for c in report.tables}
    for name in [*TRICKY, "swap", "bounds", "numbers"]:
        check = statuses[name]
        assert check.status in (VerifyStatus.FAIL, VerifyStatus.INCONCLUSIVE), name
        assert check.restored is not None and check.reference is not None
        assert check.restored.rows == check.reference.rows, name
        assert check.restored.checksum != check.reference.checksum, name


def test_manifest_and_verify_against_it(pair: Pair, tmp_path: Path) -> None:
    pair.both(
        "CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(20))",
        "INSERT INTO t VALUES (18446744073709551615, 'max'), (1, 'one')",
    )
    path = tmp_path / "m.json"
    manifest = manifest_to_file(pair.production, path)
    assert manifest.snapshot_position is None  # no binlog on this server
    assert verify(pair.restored, path).status == VerifyStatus.PASS
    pair.run(pair.restored, "UPDATE t SET v = 'MAX' WHERE id = 18446744073709551615")
    assert verify(pair.restored, path).status == VerifyStatus.FAIL
    # a manifest of the previous fingerprint (/1) is refused by name, never a false verdict
    old = path.read_text().replace('"my-crc32-reverse-sum/2"', '"my-crc32-reverse-sum/1"')
    path.write_text(old)
    with pytest.raises(ConfigError, match="'my-crc32-reverse-sum/1', this restoredrill computes"):
        verify(pair.restored, path)
    with pytest.raises(ConfigError, match="restore points"):
        create_manifest(pair.production, restore_point="x")


def _setup_orders(pair: Pair, rows: int = 3000) -> None:
    pair.both(
        "CREATE TABLE orders (region CHAR(2) NOT NULL, id BIGINT NOT NULL,"
        " amount DECIMAL(12,2) NOT NULL, note TEXT NULL, PRIMARY KEY (region, id))",
        "INSERT INTO orders SELECT IF(seq % 2 = 0, 'eu', 'us'), seq, seq / 100, NULL"
        f" FROM seq_1_to_{rows}",
    )


def test_diff_composite_key_lost_new_changed(pair: Pair, tmp_path: Path) -> None:
    _setup_orders(pair)
    pair.run(
        pair.production,
        "DELETE FROM orders WHERE id IN (10, 11, 2999)",
        "INSERT INTO orders VALUES ('eu', 5000, 1, 'new')",
        "UPDATE orders SET note = '' WHERE id = 7",
        "UPDATE orders SET amount = amount + 0.01 WHERE id = 1500",
    )
    document = diff(pair.restored, pair.production, "orders", out=tmp_path / "d.json")
    table = document.tables[0]
    assert table.key == ["region", "id"]
    assert sorted(int(str(r["id"])) for r in table.lost) == [10, 11, 2999]
    assert [r["id"] for r in table.new] == ["5000"]
    changed = {str(c.restored["id"]): c for c in table.changed}
    assert set(changed) == {"7", "1500"}
    assert changed["7"].restored["note"] is None and changed["7"].production["note"] == ""
    assert changed["1500"].columns == ["amount"]
    assert table.stats is not None and table.stats.rows_fetched < 3000  # not the whole table
    limited = diff(pair.restored, pair.production, "orders", where="id < 100").tables[0]
    assert limited.counts.lost == 2 and limited.counts.changed == 1 and limited.counts.new == 0


def test_reapply_guarded_idempotent_archived(pair: Pair, tmp_path: Path) -> None:
    _setup_orders(pair, rows=500)
    pair.run(
        pair.production,
        "DELETE FROM orders WHERE id BETWEEN 100 AND 149",
        "UPDATE orders SET amount = 0 WHERE id IN (7, 8)",
    )
    diff_file = tmp_path / "orders.diff.json"
    diff(pair.restored, pair.production, "orders", out=diff_file)
    dry = reapply(diff_file, pair.production)
    assert not dry.executed and dry.inserted == 50 and dry.updated == 2
    script = Path(str(dry.sql_file)).read_text()
    # the guard on the insert: by key, whichever form (row by row or from the stage) writes it
    assert "NOT EXISTS (SELECT 1 FROM `orders` AS t WHERE" in script, script
    # someone edits one of the changed rows after the diff: never clobbered
    pair.run(pair.production, "UPDATE orders SET amount = 42 WHERE id = 8")
    with pytest.raises(ReapplyRefused, match="max-rows"):
        reapply(diff_file, pair.production, ReapplyOptions(execute=True, max_rows=10))
    done = reapply(diff_file, pair.production, ReapplyOptions(execute=True, batch_size=20))
    assert done.inserted == 50 and done.updated == 1 and done.conflict_count == 1
    assert done.conflicts[0].key["id"] == "8"
    assert pair.rows(pair.production, "SELECT amount FROM orders WHERE id = 8") == [(42,)]
    archived = done.tables[0].archive_table
    assert archived is not None and archived.startswith("restoredrill_archive.orders_")
    schema, name = archived.split(".", 1)
    rows = pair.rows(
        pair.production, f"SELECT id, amount FROM {my.quote_ident(schema)}.{my.quote_ident(name)}"
    )
    assert [(int(str(r[0])), str(r[1])) for r in rows] == [(7, "0.00")]
    again = reapply(diff_file, pair.production, ReapplyOptions(execute=True))
    assert again.inserted == 0 and again.updated == 0 and again.already == 51
    count = pair.rows(pair.production, "SELECT COUNT(*) FROM orders")
    assert count == [(500,)]


def test_reapply_refuses_another_database(pair: Pair, tmp_path: Path) -> None:
    _setup_orders(pair, rows=50)
    pair.run(pair.production, "DELETE FROM orders WHERE id = 3")
    diff_file = tmp_path / "d.json"
    diff(pair.restored, pair.production, "orders", out=diff_file)
    with pytest.raises(ReapplyRefused):
        reapply(diff_file, pair.restored, ReapplyOptions(execute=True))
    other = pair.server.dsn("mysql")
    with pytest.raises(ReapplyRefused, match="database"):
        reapply(diff_file, other, ReapplyOptions(execute=True))


def test_unkeyed_table_counts_only(pair: Pair) -> None:
    pair.both("CREATE TABLE logs (msg VARCHAR(10))", "INSERT INTO logs VALUES ('a'), ('b')")
    pair.run(pair.production, "DELETE FROM logs WHERE msg = 'a'")
    table = diff(pair.restored, pair.production, "logs").tables[0]
    assert not table.keyed and table.rows_restored == 2 and table.rows_production == 1


def test_dsn_parsing_and_redaction() -> None:
    dsn = "mysql://app:p@ss/w?rd@db.example:3307/shop?unix_socket=/run/x.sock"
    assert "p@ss" not in redact(dsn) and redact(dsn).startswith("mysql://app:***@")
    parsed = my.parse_dsn("mariadb://u:s%40cret@h:3310/db")
    assert (parsed.user, parsed.password, parsed.host, parsed.port) == ("u", "s@cret", "h", 3310)
    assert describe("mysql://u:x@h:3310/db") == "h:3310/db"
    with pytest.raises(ConfigError):
        my.parse_dsn("mysql://h/db?sslmode=on")
    with pytest.raises(ConfigError, match="unknown table"):
        my_catalog.resolve_table("nope", {"a.b"})
    assert my_catalog.resolve_table("`a`.`b`", {"a.b"}) == "a.b"
