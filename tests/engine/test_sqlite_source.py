"""The SQLite source and its emulated change tracking, on real database files under tmp_path."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.sources import Changes, FullTable, Query, Source
from syncjobs.engine.sources.sqlite import SqliteConfig, SqliteSource, create_database, split_statements
from syncjobs.engine.sources.sqlite_snapshot import _as_decimal, _decimal_column, _decimal_text, column_kind
from syncjobs.engine.sqlnames import quote_ansi as q
from syncjobs.engine.types import (
    SYS_CHANGE_COLUMNS,
    SYS_CHANGE_CREATION_VERSION,
    SYS_CHANGE_OPERATION,
    SYS_CHANGE_VERSION,
    ChangeWindow,
    TableName,
)

PEOPLE = TableName("data_source_table")
TUTORIAL_ROWS = "(1, 'aaaa', 21), (2, 'bbbb', 24), (3, 'cccc', 20), (4, 'dddd', 26), (5, 'eeee', 22)"
ALL_CHANGE_COLUMNS = (SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION, SYS_CHANGE_CREATION_VERSION, SYS_CHANGE_COLUMNS)


@pytest.fixture
def source(tmp_path: Path) -> SqliteSource:
    create_database(tmp_path / "source.sqlite3")
    return SqliteSource(SqliteConfig(database=str(tmp_path / "source.sqlite3")))


def tutorial(source: SqliteSource, track: bool = True) -> None:
    """The seed's data_source_table with its five rows, tracked as the tutorial does."""
    source.execute(
        "create table data_source_table (PersonID int NOT NULL, Name varchar(255), Age int, PRIMARY KEY (PersonID));"
        f"INSERT INTO data_source_table (PersonID, Name, Age) VALUES {TUTORIAL_ROWS}"
    )
    if track:
        source.enable_change_tracking(PEOPLE)


def changes(source: SqliteSource, name: TableName, after: int, upto: int | None = None, columns=None) -> list[tuple]:
    with source.snapshot() as snap:
        table = snap.describe(name)
        window = ChangeWindow(after, snap.current_version() if upto is None else upto)
        rowset = Changes(table, window, *(() if columns is None else (columns,)))
        return [row for batch in snap.read(rowset) for row in batch.rows]


def current(source: SqliteSource) -> int:
    with source.snapshot() as snap:
        return snap.current_version()


def test_the_sqlite_source_implements_the_source_protocol(source):
    assert isinstance(source, Source)
    assert source.supports_change_tracking and not source.supports_native_csv and not source.supports_text_values


def test_the_tutorials_insert_and_update_come_back_as_one_u_and_one_i(source):
    tutorial(source)
    assert current(source) == 0
    source.execute("INSERT INTO data_source_table (PersonID, Name, Age) VALUES (6, 'new', '50')")
    source.execute("UPDATE data_source_table SET Age = '10', name='update' where PersonID = 1")
    assert changes(source, PEOPLE, 0) == [(1, "update", 10, 2, "U"), (6, "new", 50, 1, "I")]


def test_the_tutorials_own_lookup_and_copy_queries_run_unchanged(source):
    tutorial(source)
    lookup = "SELECT CHANGE_TRACKING_CURRENT_VERSION() as CurrentChangeTrackingVersion"
    assert source.execute(lookup) == [{"CurrentChangeTrackingVersion": 0}]
    source.execute("INSERT INTO data_source_table (PersonID, Name, Age) VALUES (6, 'new', '50')")
    source.execute("UPDATE data_source_table SET Age = '10', name='update' where PersonID = 1")
    assert source.execute(lookup) == [{"CurrentChangeTrackingVersion": 2}]
    copy_query = (
        "SELECT data_source_table.PersonID,data_source_table.Name,data_source_table.Age, CT.SYS_CHANGE_VERSION, "
        "SYS_CHANGE_OPERATION from data_source_table RIGHT OUTER JOIN CHANGETABLE(CHANGES data_source_table, 0) "
        "AS CT ON data_source_table.PersonID = CT.PersonID where CT.SYS_CHANGE_VERSION <= 2"
    )
    with source.snapshot() as snap:
        batches = list(snap.read(Query(copy_query)))
    assert sorted(batches[0].rows) == [(1, "update", 10, 2, "U"), (6, "new", 50, 1, "I")]
    assert [(c.name, c.kind) for c in batches[0].columns] == [
        ("PersonID", "int"),
        ("Name", "string"),
        ("Age", "int"),
        ("SYS_CHANGE_VERSION", "int"),
        ("SYS_CHANGE_OPERATION", "string"),
    ]
    check = "SELECT CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID('data_source_table')) AS v"
    assert source.execute(check) == [{"v": 0}]


def test_deleted_rows_keep_their_keys(source):
    tutorial(source)
    source.execute("DELETE FROM data_source_table WHERE PersonID = 3")
    assert changes(source, PEOPLE, 0) == [(3, None, None, 1, "D")]


def test_insert_then_update_is_an_insert_and_insert_then_delete_is_a_delete(source):
    tutorial(source)
    source.execute(
        "INSERT INTO data_source_table VALUES (7, 'seven', 70);"
        "UPDATE data_source_table SET Name = 'seven again' WHERE PersonID = 7;"
        "INSERT INTO data_source_table VALUES (8, 'eight', 80);"
        "DELETE FROM data_source_table WHERE PersonID = 8;"
    )
    rows = changes(source, PEOPLE, 0, columns=ALL_CHANGE_COLUMNS)
    assert rows == [(7, "seven again", 70, 2, "I", 1, None), (8, None, None, 4, "D", 3, None)]


def test_an_update_of_an_old_row_has_no_creation_version_but_a_later_window_sees_the_insert(source):
    tutorial(source)
    source.execute("INSERT INTO data_source_table VALUES (9, 'nine', 90)")
    source.execute("UPDATE data_source_table SET Age = 91 WHERE PersonID IN (1, 9)")
    rows = changes(source, PEOPLE, 1, columns=ALL_CHANGE_COLUMNS)
    assert rows == [(1, "aaaa", 91, 2, "U", None, "Age"), (9, "nine", 91, 3, "U", 1, "Age")]


def test_a_primary_key_update_is_a_delete_of_the_old_key_and_an_insert_of_the_new(source):
    tutorial(source)
    source.execute("UPDATE data_source_table SET PersonID = 20 WHERE PersonID = 2")
    assert changes(source, PEOPLE, 0) == [(2, None, None, 1, "D"), (20, "bbbb", 24, 1, "I")]


def test_composite_keys_of_any_type_identify_rows(source):
    source.execute(
        "CREATE TABLE lines (OrderID int NOT NULL, Line varchar(10) NOT NULL, Code blob NOT NULL, Qty int, "
        "PRIMARY KEY (Line, OrderID, Code));"
        "INSERT INTO lines VALUES (1, 'a', x'00', 1), (1, 'b', x'00', 2), (2, 'a', x'00', 3), (2, 'a', x'01', 4)"
    )
    source.enable_change_tracking(TableName("lines"))
    source.execute("UPDATE lines SET Qty = 20 WHERE OrderID = 1 AND Line = 'b'")
    source.execute("DELETE FROM lines WHERE OrderID = 2 AND Line = 'a' AND Code = x'00'")
    source.execute("UPDATE lines SET Qty = 40 WHERE Code = x'01'")
    assert changes(source, TableName("lines"), 0) == [
        (2, "a", b"\x00", None, 2, "D"),
        (2, "a", b"\x01", 40, 3, "U"),
        (1, "b", b"\x00", 20, 1, "U"),
    ]


def test_column_tracking_names_every_column_an_update_changed_in_table_order(source):
    tutorial(source)
    source.execute(
        "UPDATE data_source_table SET Age = 99 WHERE PersonID = 1;"
        "UPDATE data_source_table SET Name = 'renamed' WHERE PersonID = 1;"
        "UPDATE data_source_table SET Age = 30, Name = Name WHERE PersonID = 2;"
        "UPDATE data_source_table SET Age = NULL WHERE PersonID = 3;"
    )
    rows = changes(source, PEOPLE, 0, columns=(SYS_CHANGE_OPERATION, SYS_CHANGE_COLUMNS))
    assert [(r[0], r[3], r[4]) for r in rows] == [(1, "U", "Name,Age"), (2, "U", "Age"), (3, "U", "Age")]


def test_without_column_tracking_changed_columns_are_null(source):
    tutorial(source, track=False)
    source.enable_change_tracking(PEOPLE, track_columns=False)
    source.execute("UPDATE data_source_table SET Age = 99 WHERE PersonID = 1")
    with source.snapshot() as snap:
        assert not snap.describe(PEOPLE).track_columns
    assert changes(source, PEOPLE, 0, columns=(SYS_CHANGE_COLUMNS,)) == [(1, "aaaa", 99, None)]


def test_a_window_excludes_versions_at_or_below_after_and_above_upto(source):
    tutorial(source)
    for pid in (1, 2, 3, 4):
        source.execute(f"UPDATE data_source_table SET Age = 0 WHERE PersonID = {pid}")
    rows = changes(source, PEOPLE, 1, upto=3)
    assert [(r[0], r[3]) for r in rows] == [(2, 2), (3, 3)]
    assert changes(source, PEOPLE, 4) == []


def test_cleanup_drops_expired_changes_and_raises_the_minimum_valid_version(source):
    tutorial(source)
    source.execute("UPDATE data_source_table SET Age = 1 WHERE PersonID = 1")
    source.execute("UPDATE data_source_table SET Age = 2 WHERE PersonID = 2")
    assert source.cleanup_change_tracking() == 0  # nothing is older than two days yet
    with source.snapshot() as snap:
        assert snap.min_valid_version(snap.describe(PEOPLE)) == 0
        identity = snap.database_identity(2)
    later = datetime.now(UTC) + timedelta(days=3)
    assert source.cleanup_change_tracking(now=later) == 2 + 1  # two log entries, one version record
    with source.snapshot() as snap:
        assert snap.min_valid_version(snap.describe(PEOPLE)) == 2
        assert snap.current_version() == 2
        assert snap.database_identity(2) == identity  # the newest version's record stays
    assert changes(source, PEOPLE, 0) == []
    source.execute("UPDATE data_source_table SET Age = 3 WHERE PersonID = 3")
    assert changes(source, PEOPLE, 2) == [(3, "cccc", 3, 3, "U")]


def test_a_writer_committing_during_a_snapshot_is_invisible_to_it(source, tmp_path):
    tutorial(source)
    writer = sqlite3.connect(tmp_path / "source.sqlite3", isolation_level=None, timeout=30)
    with source.snapshot() as snap:
        seen = snap.current_version()
        writer.execute("BEGIN")
        writer.execute("INSERT INTO data_source_table VALUES (6, 'late', 1)")
        writer.execute("COMMIT")
        table = snap.describe(PEOPLE)
        assert snap.current_version() == seen
        assert len(list(snap.read(FullTable(table)))[0].rows) == 5
        assert [row for b in snap.read(Changes(table, ChangeWindow(0, 10))) for row in b.rows] == []
    writer.close()
    assert current(source) > seen
    assert changes(source, PEOPLE, seen) == [(6, "late", 1, seen + 1, "I")]


def test_the_identity_changes_after_an_older_copy_is_restored_and_written_past_the_old_version(source, tmp_path):
    tutorial(source)
    path = tmp_path / "source.sqlite3"
    src, dst = sqlite3.connect(path), sqlite3.connect(tmp_path / "backup.sqlite3")
    src.backup(dst)
    src.close()
    dst.close()
    source.execute("UPDATE data_source_table SET Age = 1 WHERE PersonID = 1")
    with source.snapshot() as snap:
        synced = snap.current_version()
        before = snap.database_identity(synced)
        assert snap.database_identity(0).endswith(":0")
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    shutil.copyfile(tmp_path / "backup.sqlite3", path)
    for age in (2, 3):
        source.execute(f"UPDATE data_source_table SET Age = {age} WHERE PersonID = 5")
    with source.snapshot() as snap:
        assert snap.current_version() > synced
        after = snap.database_identity(synced)
    assert after.split(":")[0] == before.split(":")[0]
    assert after != before


def test_a_table_without_a_primary_key_cannot_be_tracked(source):
    source.execute("CREATE TABLE heap (a int)")
    with pytest.raises(TerminalError) as caught:
        source.enable_change_tracking(TableName("heap"))
    assert caught.value.reason == "no_primary_key" and "heap" in caught.value.message
    with source.snapshot() as snap:
        with pytest.raises(TerminalError) as caught:
            list(snap.read(Changes(snap.describe(TableName("heap")), ChangeWindow(0, 0))))
    assert caught.value.reason == "no_primary_key"


def test_an_untracked_table_says_so_clearly(source):
    tutorial(source, track=False)
    with source.snapshot() as snap:
        with pytest.raises(TerminalError) as caught:
            snap.min_valid_version(snap.describe(PEOPLE))
        assert not snap.describe(PEOPLE).change_tracking
    assert caught.value.reason == "change_tracking_disabled"
    assert "data_source_table" in caught.value.message
    with pytest.raises(TerminalError) as caught:
        source.execute("SELECT * FROM CHANGETABLE(CHANGES data_source_table, 0) AS CT")
    assert caught.value.reason == "change_tracking_disabled"


def test_a_missing_table_or_file_is_a_clear_error_and_no_file_is_created(source, tmp_path):
    tutorial(source)
    with source.snapshot() as snap:
        with pytest.raises(TerminalError) as caught:
            snap.describe(TableName("nope"))
    assert caught.value.reason == "table_not_found"
    missing = SqliteSource(SqliteConfig(database=str(tmp_path / "missing.sqlite3")))
    with pytest.raises(TerminalError) as caught:
        missing.test_connection()
    assert caught.value.reason == "database_missing"
    assert not (tmp_path / "missing.sqlite3").exists()


def test_a_snapshot_never_writes(source):
    tutorial(source)
    with source.snapshot() as snap:
        with pytest.raises(TerminalError) as caught:
            list(snap.read(Query("DELETE FROM data_source_table RETURNING PersonID")))
    assert caught.value.reason == "read_only"
    assert len(source.execute("SELECT * FROM data_source_table")) == 5


HOSTILE = ['x"; DROP TABLE victim; --', "x]; DROP TABLE victim; --", "x'); DROP TABLE victim; --"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_and_odd_names_work_and_are_never_executed(source, hostile):
    columns = (hostile, 'na"me', "[br]", "semi;colon", "Ñame, ñandú")
    source.execute("CREATE TABLE victim (a int); INSERT INTO victim VALUES (1)")
    source.execute(
        f"CREATE TABLE {q(hostile)} ({q(columns[0])} int PRIMARY KEY, "
        + ", ".join(f"{q(c)} text" for c in columns[1:])
        + f"); INSERT INTO {q(hostile)} VALUES (1, 'a', 'b', 'c', 'd'), (2, 'a', 'b', 'c', 'd')"
    )
    source.enable_change_tracking(TableName(hostile))
    statements = source.change_tracking_statements(TableName(hostile))
    assert statements[0] == "PRAGMA journal_mode = WAL" and any("_ctportal_ct_2_update" in s for s in statements)
    source.execute(f"UPDATE {q(hostile)} SET {q(columns[4])} = 'é', {q(columns[1])} = 'z' WHERE {q(columns[0])} = 1")
    source.execute(f"DELETE FROM {q(hostile)} WHERE {q(columns[0])} = 2")
    rows = changes(source, TableName(hostile), 0, columns=(SYS_CHANGE_OPERATION, SYS_CHANGE_COLUMNS))
    assert rows == [(1, "z", "b", "c", "é", "U", 'na"me,Ñame, ñandú'), (2, None, None, None, None, "D", None)]
    via_query = source.execute(f"SELECT * FROM CHANGETABLE(CHANGES {q(hostile)}, 0) AS CT ORDER BY 1")
    assert [r[hostile] for r in via_query] == [1, 2]
    source.disable_change_tracking(TableName(hostile))
    assert source.execute("SELECT a FROM victim") == [{"a": 1}]
    assert [t.name.name for t in source.catalogue()] == sorted([hostile, "victim"])


def test_reenabling_tracking_moves_the_minimum_valid_version_past_old_watermarks(source):
    tutorial(source)
    source.execute("UPDATE data_source_table SET Age = 1 WHERE PersonID = 1")
    watermark = current(source)
    source.disable_change_tracking(PEOPLE)
    source.execute("UPDATE data_source_table SET Age = 2 WHERE PersonID = 2")  # nobody logs this
    source.enable_change_tracking(PEOPLE)
    with source.snapshot() as snap:
        assert snap.min_valid_version(snap.describe(PEOPLE)) > watermark


def test_a_dropped_and_recreated_table_is_untracked_until_enabled_again(source):
    tutorial(source)
    source.execute("DROP TABLE data_source_table")
    tutorial(source, track=False)
    with source.snapshot() as snap:
        assert not snap.describe(PEOPLE).change_tracking
    source.enable_change_tracking(PEOPLE)
    source.execute("DELETE FROM data_source_table WHERE PersonID = 5")
    assert [r[0] for r in changes(source, PEOPLE, current(source) - 1)] == [5]


def test_enabling_switches_to_wal_and_installs_only_prefixed_side_tables(source, tmp_path):
    tutorial(source)
    source.enable_change_tracking(PEOPLE)  # already tracked: unchanged
    conn = sqlite3.connect(tmp_path / "source.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [n for (n,) in conn.execute("SELECT name FROM sqlite_schema WHERE name <> 'data_source_table'")]
    conn.close()
    assert names and all(n.startswith(("_ctportal_", "sqlite_autoindex_")) for n in names)
    assert [t.name.name for t in source.catalogue()] == ["data_source_table"]


def test_describe_gives_kinds_keys_and_row_counts(source):
    source.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, big BIGINT, r REAL, d DOUBLE PRECISION, n NUMERIC, "
        "m DECIMAL(10, 2), flag BOOLEAN, day DATE, at DATETIME, ts TIMESTAMP, b BLOB, j JSON, s VARCHAR(9), x);"
        "INSERT INTO t (id, m, n) VALUES (1, 1.5, '2.25'), (2, '12345678901234.5', 7), (3, 'n/a', NULL)"
    )
    with source.snapshot() as snap:
        table = snap.describe(TableName("T"))
        kinds = [c.kind for c in table.columns]
        rows = list(snap.read(FullTable(table)))[0].rows
    assert kinds == "int int float float decimal decimal bool date datetime datetime binary json string string".split()
    assert table.name.name == "t" and table.primary_key == ("id",) and table.row_estimate == 3
    assert (table.column("m").precision, table.column("m").scale) == (10, 2)
    assert not table.column("id").nullable
    assert [(r[4], r[5]) for r in rows] == [
        (Decimal("2.25"), Decimal("1.50")),
        (Decimal(7), Decimal("12345678901234.50")),
        (None, "n/a"),
    ]
    assert column_kind("UNSIGNED BIG INT") == ("int", None, None)
    assert column_kind("numeric(18)") == ("decimal", 18, 0)


def test_primary_keys_come_in_key_order(source):
    source.execute("CREATE TABLE k (a int, b int, c int, PRIMARY KEY (c, a))")
    with source.snapshot() as snap:
        assert snap.describe(TableName("k")).primary_key == ("c", "a")


def test_25000_rows_come_a_first_small_batch_then_batches_of_10000(source):
    source.execute(
        "CREATE TABLE many (id INTEGER PRIMARY KEY, v TEXT);"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25000) "
        "INSERT INTO many SELECT i, 'row ' || i FROM n"
    )
    with source.snapshot() as snap:
        batches = list(
            snap.read(FullTable(snap.describe(TableName("many")), with_change_columns=True), batch_rows=10_000)
        )
    assert [len(b) for b in batches] == [1_000, 10_000, 10_000, 4_000]
    assert batches[3].rows[-1] == (25000, "row 25000", None, None)
    assert [c.name for c in batches[0].columns][-2:] == [SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION]


def test_wide_rows_come_about_4_mb_at_a_time(source):
    source.execute(
        "CREATE TABLE wide (id INTEGER PRIMARY KEY, body TEXT);"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
        "INSERT INTO wide SELECT i, printf('%.10000c', 'w') FROM n"
    )
    with source.snapshot() as snap:
        sizes = [len(b) for b in snap.read(FullTable(snap.describe(TableName("wide"))), batch_rows=10_000)]
    assert sum(sizes) == 5_000 and sizes[0] == 1_000
    assert all(350 < size < 450 for size in sizes[1:-1])  # 10 KB rows: about 4 MB is ~400 rows


def test_an_empty_result_is_one_empty_batch_with_its_columns(source):
    tutorial(source)
    with source.snapshot() as snap:
        batches = list(snap.read(Query("SELECT PersonID, Name FROM data_source_table WHERE 0")))
    assert [(len(b), [c.name for c in b.columns]) for b in batches] == [(0, ["PersonID", "Name"])]


def test_execute_runs_a_script_in_one_transaction_and_returns_the_last_result(source):
    tutorial(source)
    assert source.execute("UPDATE data_source_table SET Age = ? WHERE PersonID = ?", (40, 4)) == []
    script = "UPDATE data_source_table SET Age = 41 WHERE PersonID = 4; SELECT 'a;b' AS s; -- done"
    assert source.execute(script) == [{"s": "a;b"}]
    with pytest.raises(TerminalError):
        source.execute("UPDATE data_source_table SET Age = 0; SELECT * FROM no_such_table")
    assert source.execute("SELECT Age FROM data_source_table WHERE PersonID = 4") == [{"Age": 41}]
    assert split_statements("CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END; SELECT 2") == [
        "CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END;",
        "SELECT 2",
    ]


def test_native_csv_is_not_supported(source):
    tutorial(source)
    with source.snapshot() as snap:
        with pytest.raises(TerminalError) as caught:
            snap.export_delimited(Query("SELECT 1"), None)
    assert caught.value.reason == "not_supported"


@pytest.mark.parametrize("scale", [None, 0, 2, 4])
def test_decimal_text_is_exactly_the_row_paths_text_of_the_decimal(scale):
    """The CSV shortcut for numeric columns writes what format(Decimal, "f") would, for every kind of value."""
    import random
    from decimal import Decimal

    rng = random.Random(7)
    values = [0, -0.0, 5, -5, 1.5, 123.45, 123.456, -0.01, 1e-05, 1e16, 1.2e-7, 10**20, 99.9, 0.1 + 0.2]
    values += [float("inf"), float("nan"), "12.3", "abc", b"x"]
    values += [rng.uniform(-1e6, 1e6) for _ in range(2000)] + [round(rng.uniform(-1e4, 1e4), 2) for _ in range(2000)]
    for value in values:
        typed = _as_decimal(value, scale)
        assert _decimal_text(value, scale) == (format(typed, "f") if isinstance(typed, Decimal) else typed), value


@pytest.mark.parametrize("scale", [None, 0, 1, 2, 3, 6])
def test_a_decimal_column_matches_the_value_by_value_conversion(scale):
    import random

    rng = random.Random(scale)
    odd = [None, 0, -0.0, 5, -7, 12.3, 12.345, 1e-05, 1e20, float("inf"), 0.1 + 0.2, 100.0, 2**62, "1.5", b"\x01"]
    for _ in range(300):
        column = [
            rng.choice(odd)
            if rng.random() < 0.3
            else rng.choice([rng.randint(-(10**6), 10**6), round(rng.uniform(-1e4, 1e4), rng.randint(0, 7))])
            for _ in range(rng.randint(1, 40))
        ]
        if rng.random() < 0.6:  # most columns hold only plain ints and floats: the joined fast path
            column = [
                v
                for v in column
                if v is None or (type(v) in (int, float) and "e" not in repr(v) and "n" not in repr(v))
            ]
        assert _decimal_column(column, scale, as_text=True) == [_decimal_text(v, scale) for v in column]
        decimals = _decimal_column(column, scale, as_text=False)
        expected = [_as_decimal(v, scale) for v in column]
        assert [(type(d), str(d)) for d in decimals] == [(type(d), str(d)) for d in expected]


def test_a_script_never_creates_a_missing_database_file(tmp_path):
    missing = SqliteSource(SqliteConfig(database=str(tmp_path / "typo.sqlite3")))
    with pytest.raises(TerminalError) as caught:
        missing.execute("CREATE TABLE t (x int)")
    assert caught.value.reason == "database_missing"
    assert not (tmp_path / "typo.sqlite3").exists()


@pytest.mark.parametrize(
    "statement",
    [
        "ATTACH DATABASE '{other}' AS other",
        "VACUUM INTO '{made}'",
    ],
)
def test_a_script_reaches_no_file_but_its_own(source, tmp_path, statement):
    """ATTACH would open any file on the host (the portal's own database among them)."""
    tutorial(source)
    other = tmp_path / "other.sqlite3"
    create_database(other)
    with pytest.raises(TerminalError):
        source.execute(statement.format(other=other, made=tmp_path / "made.sqlite3"))
    assert not (tmp_path / "made.sqlite3").exists()


class Untracked(SqliteSource):
    """A source declaring no change tracking."""

    supports_change_tracking = False


def test_a_change_tracking_copy_from_a_source_without_change_tracking_is_refused_before_it_reads(tmp_path):
    from syncjobs.engine.changetracking import copy_table
    from syncjobs.engine.formats.delimited import DelimitedTextFormat, DelimitedTextOptions
    from syncjobs.engine.sinks.folder import FolderConfig, FolderSink

    create_database(tmp_path / "untracked.sqlite3")
    source = Untracked(SqliteConfig(database=str(tmp_path / "untracked.sqlite3")))
    sink = FolderSink(FolderConfig(root=str(tmp_path)))
    with pytest.raises(TerminalError) as caught:
        copy_table(source, PEOPLE, sink, DelimitedTextFormat(DelimitedTextOptions()), "out/people.csv", None)
    assert caught.value.reason == "change_tracking_unsupported"
    assert sink.list("out/") == []
