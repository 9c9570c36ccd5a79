"""The PostgreSQL source on a real server: emulated change tracking, typed and text reads, COPY as CSV."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import psycopg
import pytest

from syncjobs.engine.errors import EngineError, TerminalError, TransientError
from syncjobs.engine.formats.delimited import DelimitedTextOptions
from syncjobs.engine.secret import Secret
from syncjobs.engine.sources import Changes, FullTable, Query
from syncjobs.engine.sources.postgres import PostgresSource
from syncjobs.engine.sources.postgres_copy import csv_export_possible, header_line
from syncjobs.engine.sqlnames import quote_ansi as q
from syncjobs.engine.types import (
    SYS_CHANGE_COLUMNS,
    SYS_CHANGE_CREATION_VERSION,
    SYS_CHANGE_OPERATION,
    SYS_CHANGE_VERSION,
    ChangeWindow,
    TableName,
)
from tests.fixtures.postgres import admin_connect, pg_connect

PEOPLE = TableName("data_source_table", "public")
TUTORIAL_ROWS = "(1, 'aaaa', 21), (2, 'bbbb', 24), (3, 'cccc', 20), (4, 'dddd', 26), (5, 'eeee', 22)"
ALL_CHANGE_COLUMNS = (SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION, SYS_CHANGE_CREATION_VERSION, SYS_CHANGE_COLUMNS)


@pytest.fixture
def source(pg_database):
    src = PostgresSource(pg_database)
    yield src
    src.close()


@pytest.fixture
def people(source):
    """The tutorial's table and five rows, change tracking on; returns the version after enabling."""
    source.execute(
        "CREATE TABLE data_source_table (PersonID int NOT NULL, Name varchar(255), Age int, PRIMARY KEY (PersonID))"
    )
    source.execute(f"INSERT INTO data_source_table (PersonID, Name, Age) VALUES {TUTORIAL_ROWS}")
    source.enable_change_tracking(PEOPLE)
    with source.snapshot() as snap:
        return snap.current_version()


def changes(source, table=PEOPLE, after=0, columns=(SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION), text=False):
    """Net changes after ``after`` up to the current version, as rows."""
    with source.snapshot() as snap:
        described = snap.describe(table)
        window = ChangeWindow(after, snap.current_version())
        return [r for b in snap.read(Changes(described, window, columns), text_values=text) for r in b.rows]


def current(source) -> int:
    with source.snapshot() as snap:
        return snap.current_version()


def test_the_tutorials_insert_and_update_give_exactly_an_i_and_a_u_row(source, people):
    source.execute("INSERT INTO data_source_table (PersonID, Name, Age) VALUES (6, 'new', '50')")
    source.execute("UPDATE data_source_table SET Age = '10', name='update' where PersonID = 1")
    assert changes(source, after=people) == [(1, "update", 10, people + 2, "U"), (6, "new", 50, people + 1, "I")]
    assert current(source) == people + 2


def test_the_tutorials_lookup_and_copy_queries_run_unchanged(source, people):
    lookup = "SELECT CHANGE_TRACKING_CURRENT_VERSION() as CurrentChangeTrackingVersion"
    assert source.execute(lookup) == [{"currentchangetrackingversion": people}]
    source.execute("INSERT INTO data_source_table (PersonID, Name, Age) VALUES (6, 'new', '50')")
    source.execute("UPDATE data_source_table SET Age = '10', name='update' where PersonID = 1")
    now = source.execute(lookup)[0]["currentchangetrackingversion"]
    copy_query = (
        "SELECT data_source_table.PersonID,data_source_table.Name,data_source_table.Age, CT.SYS_CHANGE_VERSION, "
        "SYS_CHANGE_OPERATION from data_source_table RIGHT OUTER JOIN CHANGETABLE(CHANGES data_source_table, "
        f"{people}) AS CT ON data_source_table.PersonID = CT.PersonID where CT.SYS_CHANGE_VERSION <= {now}"
    )
    with source.snapshot() as snap:
        rows = sorted(r for b in snap.read(Query(copy_query)) for r in b.rows)
    assert rows == [(1, "update", 10, people + 2, "U"), (6, "new", 50, people + 1, "I")]
    check = source.execute("SELECT CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID('data_source_table')) AS v")
    assert check == [{"v": people}]


def test_deleted_rows_keep_their_keys(source, people):
    source.execute("DELETE FROM data_source_table WHERE PersonID = 3")
    assert changes(source, after=people) == [(3, None, None, people + 1, "D")]


def test_insert_then_update_is_an_insert_and_insert_then_delete_is_a_delete(source, people):
    source.execute("INSERT INTO data_source_table VALUES (7, 'seven', 70)")
    source.execute("UPDATE data_source_table SET Name = 'seven again' WHERE PersonID = 7")
    source.execute("INSERT INTO data_source_table VALUES (8, 'eight', 80)")
    source.execute("DELETE FROM data_source_table WHERE PersonID = 8")
    rows = changes(source, after=people, columns=ALL_CHANGE_COLUMNS)
    assert rows == [
        (7, "seven again", 70, people + 2, "I", people + 1, None),
        (8, None, None, people + 4, "D", people + 3, None),
    ]


def test_a_primary_key_update_is_a_delete_of_the_old_key_and_an_insert_of_the_new(source, people):
    source.execute("UPDATE data_source_table SET PersonID = 20 WHERE PersonID = 2")
    assert changes(source, after=people) == [(2, None, None, people + 1, "D"), (20, "bbbb", 24, people + 1, "I")]


def test_composite_keys_identify_rows(source):
    source.execute(
        'CREATE TABLE lines ("Order" int, "Line" text, qty int, PRIMARY KEY ("Line", "Order"));'
        "INSERT INTO lines VALUES (1, 'a', 1), (1, 'b', 2), (2, 'a', 3)"
    )
    table = TableName("lines")
    source.enable_change_tracking(table)
    base = current(source)
    source.execute("""UPDATE lines SET qty = 20 WHERE "Order" = 1 AND "Line" = 'b'""")
    source.execute("""DELETE FROM lines WHERE "Order" = 2 AND "Line" = 'a'""")
    with source.snapshot() as snap:
        assert snap.describe(table).primary_key == ("Line", "Order")
    assert changes(source, table, base) == [(2, "a", None, base + 2, "D"), (1, "b", 20, base + 1, "U")]


def test_column_tracking_names_the_columns_updates_changed_in_table_order(source, people):
    source.execute("UPDATE data_source_table SET Age = 99 WHERE PersonID = 1")
    source.execute("UPDATE data_source_table SET Name = 'renamed' WHERE PersonID = 1")
    source.execute("UPDATE data_source_table SET Age = 30, Name = Name WHERE PersonID = 2")
    source.execute("INSERT INTO data_source_table VALUES (6, 'new', 50)")
    rows = changes(source, after=people, columns=(SYS_CHANGE_OPERATION, SYS_CHANGE_COLUMNS))
    assert [(r[0], r[3], r[4]) for r in rows] == [(1, "U", "name,age"), (2, "U", "age"), (6, "I", None)]


def test_without_column_tracking_updates_name_no_columns(source):
    source.execute("CREATE TABLE plain (id int PRIMARY KEY, v text); INSERT INTO plain VALUES (1, 'a')")
    source.enable_change_tracking(TableName("plain"), track_columns=False)
    base = current(source)
    source.execute("UPDATE plain SET v = 'b'")
    assert changes(source, TableName("plain"), base, (SYS_CHANGE_OPERATION, SYS_CHANGE_COLUMNS)) == [
        (1, "b", "U", None)
    ]


def test_truncate_is_a_delete_of_every_row(source, people):
    source.execute("TRUNCATE data_source_table")
    assert [(r[0], r[4]) for r in changes(source, after=people)] == [(k, "D") for k in range(1, 6)]


def test_cleanup_raises_the_minimum_valid_version_and_purges_old_changes(source, people):
    source.execute("UPDATE data_source_table SET Age = 1 WHERE PersonID = 1")
    source.execute("UPDATE data_source_table SET Age = 2 WHERE PersonID = 2")
    newest = current(source)
    assert source.cleanup_change_tracking() == 0  # everything is younger than the two days' retention
    with source.snapshot() as snap:
        floor_identity = snap.database_identity(newest - 1)
    assert source.cleanup_change_tracking(now=datetime.now(UTC) + timedelta(days=3)) == 2 + 1  # log rows + commits
    with source.snapshot() as snap:
        table = snap.describe(PEOPLE)
        assert snap.min_valid_version(table) == newest
        assert snap.current_version() == newest
        assert snap.database_identity(newest).split(":")[1] not in ("", "0", "expired", "None")
        # The newest purged commit stays as a floor, so a watermark just behind still has its identity.
        assert snap.database_identity(newest - 1) == floor_identity
        assert snap.database_identity(people).endswith(":expired")
    assert changes(source, after=people) == []
    source.execute("UPDATE data_source_table SET Age = 3 WHERE PersonID = 3")
    assert changes(source, after=newest) == [(3, "cccc", 3, newest + 1, "U")]


def test_versions_follow_commit_order_not_write_order(source, people):
    first, second = pg_connect_tx(source), pg_connect_tx(source)
    try:
        first.execute("UPDATE data_source_table SET Age = 101 WHERE PersonID = 1")  # T1 writes first
        second.execute("UPDATE data_source_table SET Age = 102 WHERE PersonID = 2")  # T2 writes second
        second.commit()  # ... and commits first
        with source.snapshot() as early:
            seen = early.current_version()
            window = Changes(early.describe(PEOPLE), ChangeWindow(people, seen))
            early_rows = [r for b in early.read(window) for r in b.rows]
            first.commit()  # T1 commits while the early snapshot is still open
            assert [r for b in early.read(window) for r in b.rows] == early_rows
        assert early_rows == [(2, "bbbb", 102, seen, "U")]
        late = changes(source, after=seen)
        assert late == [(1, "aaaa", 101, seen + 1, "U")]
        assert late[0][3] > early_rows[0][3]
    finally:
        first.close()
        second.close()


def test_a_repeatable_read_writer_is_not_failed_by_another_committer(source, people):
    writer, other = pg_connect_tx(source), pg_connect_tx(source)
    try:
        writer.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        writer.execute("SELECT count(*) FROM data_source_table").fetchone()  # the snapshot is taken here
        other.execute("UPDATE data_source_table SET Age = 1 WHERE PersonID = 1")
        other.commit()
        writer.execute("UPDATE data_source_table SET Age = 2 WHERE PersonID = 2")
        writer.commit()
    finally:
        writer.close()
        other.close()
    assert [(r[0], r[3]) for r in changes(source, after=people)] == [(1, people + 1), (2, people + 2)]


def test_two_tables_changed_in_one_transaction_share_a_version(source):
    source.execute("CREATE TABLE one (id int PRIMARY KEY, v int); CREATE TABLE two (id int PRIMARY KEY, v int)")
    source.execute("INSERT INTO one VALUES (1, 0); INSERT INTO two VALUES (1, 0)")
    for name in ("one", "two"):
        source.enable_change_tracking(TableName(name))
    base = current(source)
    source.execute("UPDATE one SET v = 1; UPDATE two SET v = 2; UPDATE one SET v = 3")
    assert changes(source, TableName("one"), base) == [(1, 3, base + 1, "U")]
    assert changes(source, TableName("two"), base) == [(1, 2, base + 1, "U")]


def test_a_restored_database_reports_a_different_identity_for_versions_it_forgot(source, people, pg_database):
    source.execute("UPDATE data_source_table SET Age = 1 WHERE PersonID = 1")
    kept = current(source)
    with source.snapshot() as snap:
        kept_identity = snap.database_identity(kept)
        assert snap.database_identity(0).endswith(":0")
    backup = f"{pg_database.database}_bak"
    with admin_connect() as admin:
        admin.execute(f"CREATE DATABASE {q(backup)} TEMPLATE {q(pg_database.database)}")
    source.execute("UPDATE data_source_table SET Age = 2 WHERE PersonID = 1")
    synced = current(source)
    with source.snapshot() as snap:
        synced_identity = snap.database_identity(synced)
    with admin_connect() as admin:
        admin.execute(f"DROP DATABASE {q(pg_database.database)} WITH (FORCE)")
        admin.execute(f"ALTER DATABASE {q(backup)} RENAME TO {q(pg_database.database)}")
    assert current(source) == kept
    source.execute("UPDATE data_source_table SET Age = 3 WHERE PersonID = 1")
    with source.snapshot() as snap:
        assert snap.current_version() == synced
        assert snap.database_identity(synced) != synced_identity
        assert snap.database_identity(kept) == kept_identity


def test_re_enabling_tracking_invalidates_older_watermarks(source, people):
    source.disable_change_tracking(PEOPLE)
    source.execute("UPDATE data_source_table SET Age = 1 WHERE PersonID = 1")  # not tracked: lost
    source.enable_change_tracking(PEOPLE)
    with source.snapshot() as snap:
        assert snap.min_valid_version(snap.describe(PEOPLE)) > people


def test_a_table_without_a_primary_key_or_tracking_gives_clear_errors(source, people):
    source.execute("CREATE TABLE heap (a int); CREATE TABLE untracked (id int PRIMARY KEY)")
    with pytest.raises(TerminalError) as caught:
        source.enable_change_tracking(TableName("heap"))
    assert caught.value.reason == "no_primary_key" and "heap" in caught.value.message
    with source.snapshot() as snap:
        with pytest.raises(TerminalError) as caught:
            snap.min_valid_version(snap.describe(TableName("untracked")))
        assert caught.value.reason == "change_tracking_disabled" and "untracked" in caught.value.message
        with pytest.raises(TerminalError) as caught:
            list(snap.read(Query("SELECT * FROM CHANGETABLE(CHANGES untracked, 0) AS CT")))
        assert caught.value.reason == "change_tracking_disabled"
        with pytest.raises(TerminalError) as caught:
            snap.describe(TableName("missing"))
        assert caught.value.reason == "table_not_found"


@pytest.mark.parametrize("hostile", ['x"; DROP TABLE victim; --', "x'); DROP TABLE victim; --", "ñandú [x] $$;"])
def test_hostile_names_are_quoted_and_never_executed(source, hostile):
    column = f"{hostile} id"
    source.execute("CREATE TABLE victim (id int PRIMARY KEY); INSERT INTO victim VALUES (1)")
    source.execute(f"CREATE TABLE {q(hostile)} ({q(column)} int PRIMARY KEY, {q(hostile)} text)")
    source.execute(f"INSERT INTO {q(hostile)} VALUES (1, 'a'), (2, 'b')")
    table = TableName(hostile, "public")
    source.enable_change_tracking(table)
    base = current(source)
    source.execute(f"UPDATE {q(hostile)} SET {q(hostile)} = 'c' WHERE {q(column)} = 1")
    source.execute(f"DELETE FROM {q(hostile)} WHERE {q(column)} = 2")
    assert changes(source, table, base, ALL_CHANGE_COLUMNS) == [
        (1, "c", base + 1, "U", None, hostile),
        (2, None, base + 2, "D", None, None),
    ]
    quoted = '"' + hostile.replace('"', '""') + '"'
    with source.snapshot() as snap:
        rows = [
            r for b in snap.read(Query(f"SELECT * FROM CHANGETABLE(CHANGES {quoted}, {base}) AS CT")) for r in b.rows
        ]
        assert [r[0] for r in rows] == [1, 2]
        assert snap.describe(table).columns[1].name == hostile
    source.disable_change_tracking(table)
    assert source.execute("SELECT count(*) AS n FROM victim") == [{"n": 1}]


TYPES_DDL = (
    "CREATE TABLE types (id int PRIMARY KEY, n numeric(12,3), ts timestamptz, u uuid, b bytea, j json, jb jsonb, "
    "a int[], ta text[], f float8, d date, t time, bo boolean, s varchar(10), big bigint, stamp timestamp)"
)
TYPES_ROW = (
    "INSERT INTO types VALUES (1, 1234.5, '2024-03-01 12:34:56.789+02', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', "
    """'\\x00ff41', '{"a": [1, 2]}', '{"b": null, "a": 1}', '{1,2,NULL}', '{"x y","q\\"z"}', 0.1, '2024-02-29', """
    "'23:59:59.5', true, 'é', 9007199254740993, '2024-01-02 03:04:05'), (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "NULL, NULL, NULL, NULL, NULL, '', NULL, NULL)"
)


def test_types_come_back_typed_or_as_postgresqls_own_text(source):
    source.execute(TYPES_DDL)
    source.execute(TYPES_ROW)
    with source.snapshot() as snap:
        table = snap.describe(TableName("types"))
        typed = [r for b in snap.read(FullTable(table)) for r in b.rows]
        text = [r for b in snap.read(FullTable(table), text_values=True) for r in b.rows]
    kinds = [c.kind for c in table.columns]
    assert kinds == [
        "int", "decimal", "datetimetz", "uuid", "binary", "json", "json", "array", "array", "float", "date",
        "time", "bool", "string", "int", "datetime",
    ]  # fmt: skip
    assert (table.columns[1].precision, table.columns[1].scale) == (12, 3)
    assert typed[0] == (
        1, Decimal("1234.500"), datetime(2024, 3, 1, 10, 34, 56, 789000, tzinfo=UTC),
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", b"\x00\xffA", {"a": [1, 2]}, {"a": 1, "b": None}, [1, 2, None],
        ["x y", 'q"z'], 0.1, date(2024, 2, 29), time(23, 59, 59, 500000), True, "é", 9007199254740993,
        datetime(2024, 1, 2, 3, 4, 5),
    )  # fmt: skip
    assert text[0] == (
        "1", "1234.500", "2024-03-01 10:34:56.789+00", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "\\x00ff41",
        '{"a": [1, 2]}', '{"a": 1, "b": null}', "{1,2,NULL}", '{"x y","q\\"z"}', "0.1", "2024-02-29",
        "23:59:59.5", "t", "é", "9007199254740993", "2024-01-02 03:04:05",
    )  # fmt: skip
    assert typed[1] == (2, *[None] * 12, "", None, None)
    assert text[1] == ("2", *[None] * 12, "", None, None)


def test_query_columns_get_kinds_from_their_types(source):
    source.execute(TYPES_DDL)
    source.execute(TYPES_ROW)
    with source.snapshot() as snap:
        batch = next(snap.read(Query("SELECT id, n, u, jb, a, s AS label FROM types WHERE id = %s", (1,))))
    assert [(c.name, c.kind) for c in batch.columns] == [
        ("id", "int"), ("n", "decimal"), ("u", "uuid"), ("jb", "json"), ("a", "array"), ("label", "string"),
    ]  # fmt: skip
    assert batch.rows == [(1, Decimal("1234.500"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", {"a": 1, "b": None},
                           [1, 2, None], "é")]  # fmt: skip


def test_reads_stream_a_small_batch_first_then_batches_of_the_asked_size(source):
    source.execute("CREATE TABLE big AS SELECT i AS id, 'row ' || i AS label FROM generate_series(1, 25000) i")
    with source.snapshot() as snap:
        batches = list(snap.read(Query("SELECT id, label FROM big ORDER BY id"), batch_rows=10_000))
    assert [len(b) for b in batches] == [1_000, 10_000, 10_000, 4_000]
    assert batches[3].rows[-1] == (25000, "row 25000")
    with source.snapshot() as snap:
        empty = list(snap.read(Query("SELECT id, label FROM big WHERE id < 0")))
    assert [(len(b), [c.name for c in b.columns]) for b in empty] == [(0, ["id", "label"])]


def test_wide_rows_stream_about_4_mb_at_a_time(source):
    source.execute("CREATE TABLE wide AS SELECT i AS id, repeat('w', 10000) AS body FROM generate_series(1, 5000) i")
    with source.snapshot() as snap:
        sizes = [len(b) for b in snap.read(Query("SELECT id, body FROM wide"), batch_rows=10_000)]
    assert sum(sizes) == 5_000 and sizes[0] == 1_000
    assert all(350 < size < 450 for size in sizes[1:-1])  # 10 KB rows: about 4 MB is ~400 rows


def test_the_catalogue_lists_user_tables_with_keys_estimates_and_tracking(source, people):
    source.execute("CREATE SCHEMA other; CREATE TABLE other.t (a int, b text, PRIMARY KEY (b, a)); ANALYZE other.t")
    tables = {str(t.name): t for t in source.catalogue()}
    assert sorted(tables) == ["other.t", "public.data_source_table"]
    assert tables["public.data_source_table"].change_tracking and tables["public.data_source_table"].track_columns
    assert tables["other.t"].primary_key == ("b", "a") and not tables["other.t"].change_tracking
    assert tables["other.t"].row_estimate == 0


# Hand-written PostgreSQL CSV rules: quote a value when forced or when it holds the delimiter, the quote,
# CR or LF, or equals the NULL string; inside quotes, put the escape before every quote and escape.
def pg_csv(rows, options, forced=(), header=None) -> bytes:
    d, qc, e, null = options.column_delimiter, options.quote_char, options.escape_char, options.null_value

    def cell(i, value):
        if value is None:
            return null
        if i in forced or value == null or any(c in value for c in (d, qc, "\r", "\n")):
            return qc + "".join(e + c if c in (qc, e) else c for c in value) + qc
        return value

    lines = [header] if header else []
    lines += [d.join(cell(i, v) for i, v in enumerate(row)) for row in rows]
    return "".join(line + options.row_delimiter for line in lines).encode()


AWKWARD = [
    ("1", "plain", "1"),
    ("2", "line one\nline two", None),
    ("3", 'say "hi"', "3"),
    ("4", "back\\slash", "4"),
    ("5", "", "5"),
    ("6", None, "6"),
    ("7", "a,b", "7"),
    ("8", "cr\r\nlf\n", "8"),
    ("9", '\\"\n"', "9"),
]


def export(source, rows, options) -> tuple[bytes, int]:
    with source.snapshot() as snap:
        assert snap.csv_export_possible(options)
        chunks = snap.export_delimited(rows, options)
        out = []
        while True:
            try:
                out.append(next(chunks))
            except StopIteration as done:
                return b"".join(out), done.value


@pytest.mark.parametrize("row_delimiter", ["\n", "\r\n"])
@pytest.mark.parametrize("quote_all_text", [True, False])
def test_copy_writes_postgresqls_csv_byte_for_byte(source, row_delimiter, quote_all_text):
    source.execute("CREATE TABLE awkward (id int PRIMARY KEY, s text, n int)")
    with pg_connect(source.config) as conn:
        conn.cursor().executemany("INSERT INTO awkward VALUES (%s, %s, %s)", AWKWARD)
    options = DelimitedTextOptions(row_delimiter=row_delimiter, quote_all_text=quote_all_text, first_row_as_header=True)
    with source.snapshot() as snap:
        table = snap.describe(TableName("awkward"))
    data, count = export(source, Query("SELECT * FROM awkward ORDER BY id"), options)
    forced = (1,) if quote_all_text else ()
    assert data == pg_csv(AWKWARD, options, forced, header="id,s,n")
    assert count == len(AWKWARD)
    full, _ = export(source, FullTable(table, with_change_columns=True), replace(options, first_row_as_header=False))
    expected = pg_csv([(*row, None, None) for row in AWKWARD], options, forced)
    assert sorted(full.split(b"\n9,")) == sorted(expected.split(b"\n9,"))


def test_copy_takes_other_delimiters_quotes_and_null_strings(source):
    source.execute("CREATE TABLE awkward (id int PRIMARY KEY, s text, n int)")
    with pg_connect(source.config) as conn:
        conn.cursor().executemany("INSERT INTO awkward VALUES (%s, %s, %s)", AWKWARD)
    options = DelimitedTextOptions(column_delimiter="\t", quote_char="'", escape_char="'", null_value="NULL")
    data, _ = export(source, Query("SELECT id, s, n FROM awkward ORDER BY id"), options)
    assert data == pg_csv(AWKWARD, options, forced=(1,))


def test_the_header_quotes_names_that_need_it_with_either_escape():
    names = ["id", "Person ID", 'na"me', "semi;colon", "Ñame"]
    assert header_line(names, DelimitedTextOptions()) == 'id,Person ID,"na\\"me",semi;colon,Ñame\r\n'
    assert header_line(names, DelimitedTextOptions(escape_char='"', row_delimiter="\n")) == (
        'id,Person ID,"na""me",semi;colon,Ñame\n'
    )


def test_copy_refuses_what_it_cannot_write(source):
    for options in (
        DelimitedTextOptions(column_delimiter="||"),
        DelimitedTextOptions(quote_char=""),
        DelimitedTextOptions(row_delimiter="\r"),
        DelimitedTextOptions(null_value="a,b"),
        DelimitedTextOptions(column_delimiter="¦"),
    ):
        assert not csv_export_possible(options)
    with source.snapshot() as snap:
        with pytest.raises(TerminalError) as caught:
            next(snap.export_delimited(Query("SELECT 1"), DelimitedTextOptions(quote_char="")))
    assert caught.value.reason == "not_supported"


def test_a_copy_stopped_early_is_cancelled_and_the_connection_stays_usable(source):
    with source.snapshot() as snap:
        chunks = snap.export_delimited(Query("SELECT i FROM generate_series(1, 5000000) i"), DelimitedTextOptions())
        assert next(chunks).startswith(b"1\r\n2\r\n")
        chunks.close()
    with source.snapshot() as snap:
        assert snap.rows("SELECT 2") == [(2,)]


def test_a_failing_copy_names_the_error(source):
    with source.snapshot() as snap, pytest.raises(TerminalError) as caught:
        b"".join(
            snap.export_delimited(Query("SELECT 1 / (i - 3) FROM generate_series(1, 5) i"), DelimitedTextOptions())
        )
    assert "division by zero" in str(caught.value)


def test_a_long_copy_with_scattered_line_breaks_keeps_every_row(source):
    source.execute(
        "CREATE TABLE long AS SELECT i AS id, CASE WHEN i % 997 = 0 THEN 'two' || chr(10) || 'lines' "
        "ELSE 'value ' || i END AS s FROM generate_series(1, 30000) i"
    )
    data, count = export(source, Query("SELECT id, s FROM long ORDER BY id"), DelimitedTextOptions())
    expected = "".join(
        f'{i},"two\nlines"\r\n' if i % 997 == 0 else f'{i},"value {i}"\r\n' for i in range(1, 30001)
    ).encode()
    assert count == 30000 and data == expected


def test_connection_failures_say_why_and_never_show_the_password(pg_database):
    cases = {
        "name_resolution": replace(pg_database, host="nonexistent.invalid"),
        "refused": replace(pg_database, port=1),
        "login_failed": replace(pg_database, username="nobody", password=Secret("hunter2-very-secret")),
        "database_missing": replace(pg_database, database="ctp_t_missing"),
        "tls": replace(pg_database, ssl_mode="require"),
    }
    for reason, config in cases.items():
        with pytest.raises(EngineError) as caught:
            PostgresSource(config).test_connection()
        assert caught.value.reason == reason, caught.value
        assert isinstance(caught.value, TransientError) == (reason == "refused")
        assert "hunter2" not in str(caught.value) and "hunter2" not in repr(config)


def test_query_errors_are_terminal_or_transient_by_cause(source):
    with pytest.raises(TransientError) as caught:
        source.execute("SET statement_timeout = 50; SELECT pg_sleep(2)")
    assert caught.value.reason == "timeout"
    with pytest.raises(TerminalError) as caught:
        source.execute("SELECT * FROM no_such_table")
    assert caught.value.reason == "table_not_found"
    with source.snapshot() as snap, pytest.raises(TerminalError) as caught:
        snap.rows("CREATE TABLE sneaky (a int)")
    assert caught.value.reason == "read_only"


def pg_connect_tx(source) -> psycopg.Connection:
    """A second connection in an ordinary (not autocommit) transaction, as an application writes."""
    return pg_connect(source.config, autocommit=False)


def test_a_changed_row_keeps_its_creation_version_from_before_the_window(source, people):
    source.execute("INSERT INTO data_source_table VALUES (9, 'nine', 9)")
    inserted = current(source)
    source.execute("UPDATE data_source_table SET Age = 10 WHERE PersonID = 9")
    assert changes(source, after=inserted, columns=ALL_CHANGE_COLUMNS) == [
        (9, "nine", 10, inserted + 1, "U", inserted, "age")
    ]
    assert uuid.UUID(current_identity(source).split(":")[0])


def current_identity(source) -> str:
    with source.snapshot() as snap:
        return snap.database_identity(snap.current_version())


def test_column_tracking_survives_columns_added_dropped_and_renamed(source, people):
    source.execute("ALTER TABLE data_source_table ADD COLUMN doc json, DROP COLUMN Age")
    source.execute("""UPDATE data_source_table SET doc = '{"a": 1}' WHERE PersonID = 1""")
    source.execute("ALTER TABLE data_source_table RENAME COLUMN Name TO FullName")
    source.execute("UPDATE data_source_table SET FullName = 'x' WHERE PersonID = 2")
    rows = changes(source, after=people, columns=(SYS_CHANGE_OPERATION, SYS_CHANGE_COLUMNS))
    assert [(r[0], r[-2], r[-1]) for r in rows] == [(1, "U", "doc"), (2, "U", "fullname")]


def test_json_columns_are_compared_by_their_text(source):
    source.execute(
        "CREATE TABLE docs (id int PRIMARY KEY, doc json, tags text[]); INSERT INTO docs VALUES (1, '{}', '{a}')"
    )
    source.enable_change_tracking(TableName("docs"))
    base = current(source)
    source.execute("""UPDATE docs SET doc = '{"b": 2}', tags = tags""")
    assert changes(source, TableName("docs"), base, (SYS_CHANGE_COLUMNS,)) == [(1, {"b": 2}, ["a"], "doc")]
