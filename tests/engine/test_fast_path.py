"""PostgreSQL's COPY fast path and the row path write the same bytes; the SQLite row path end to end."""

from __future__ import annotations

import csv
import gzip
import io
import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from azure.storage.blob import BlobServiceClient

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.formats.delimited import DelimitedTextFormat, DelimitedTextOptions
from syncjobs.engine.formats.parquet import ParquetFormat
from syncjobs.engine.sinks.azureblob import AzureBlobConfig, AzureBlobSink
from syncjobs.engine.sources import FullTable, Query
from syncjobs.engine.sources.postgres import PostgresSource
from syncjobs.engine.sources.sqlite import SqliteConfig, SqliteSource
from syncjobs.engine.streaming import copy_rows
from syncjobs.engine.types import TableName
from tests.fixtures.postgres import pg_connect

QUOTED_NAME = '"Name, ""quoted"""'  # a column name holding a comma and quotes
EVERY_KIND = (
    'CREATE TABLE "every kind" (id int PRIMARY KEY, n numeric(12, 3), free numeric, f float8, b bool, d date, '
    f"ts timestamp, tz timestamptz, u uuid, {QUOTED_NAME} text, raw bytea, j json, jb jsonb, ints int[])"
)
ROWS = [
    (
        1,
        "12.5",
        "3.14159265358979323846",
        "1.5e-7",
        True,
        "2024-02-29",
        "2024-02-29 12:00:00.123456",
        "2024-02-29 12:00:00+02",
        "6f9619ff-8b86-d011-b42d-00c04fc964ff",
        'say "hi", then\r\nleave',
        b"\x00\xff\\",
        '{"a": [1, 2]}',
        '{"b": "x,y", "a": 1}',
        [1, None, 3],
    ),
    (2, None, None, None, None, None, None, None, None, None, None, None, None, None),
    (
        3,
        "0",
        "-0.001",
        "-0",
        False,
        "0001-01-01",
        "1999-12-31 23:59:59",
        "1970-01-01 00:00:00Z",
        None,
        "",
        b"",
        "[]",
        "{}",
        [],
    ),
    (
        4,
        "1",
        "NaN",
        "Infinity",
        True,
        "9999-12-31",
        "2000-01-01",
        "2000-01-01",
        None,
        "NULL",
        b"x",
        "null",
        "null",
        [7],
    ),
    (
        5,
        "2",
        "2",
        "2",
        True,
        "2000-01-01",
        "2000-01-01",
        "2000-01-01",
        None,
        "Zoë ☃ back\\slash\ttab;semi|pipe",
        b"",
        '"s"',
        '"s"',
        [8],
    ),
    (6, "3", "3", "3", True, "2000-01-01", "2000-01-01", "2000-01-01", None, "\\.", b"", "1", "1", [9]),
]


class RowPathFormat(DelimitedTextFormat):
    """The same format with no native options, so copy_rows takes the row path."""

    def native_options(self) -> None:
        return None


@pytest.fixture
def pg_source(pg_database):
    with pg_connect(pg_database) as conn:
        conn.execute(EVERY_KIND)
        placeholders = ", ".join(["%s"] * len(ROWS[0]))
        conn.cursor().executemany(f'INSERT INTO "every kind" VALUES ({placeholders})', ROWS)
    source = PostgresSource(pg_database)
    yield source
    source.close()


def copied(source, rows, fmt, folder_sink, name) -> tuple[bytes, int]:
    result = copy_rows(source, rows, folder_sink, fmt, name)
    with open(result.files[0].path, "rb") as f:
        return f.read(), result.rows_written


OPTIONS = {
    "defaults": DelimitedTextOptions(),
    "header": DelimitedTextOptions(first_row_as_header=True),
    "tab": DelimitedTextOptions(column_delimiter="\t", first_row_as_header=True),
    "gzip": DelimitedTextOptions(compression="gzip", first_row_as_header=True),
    "utf16": DelimitedTextOptions(encoding="UTF-16", first_row_as_header=True),
    "null text": DelimitedTextOptions(null_value="NULL", quote_all_text=False),
    "doubled quotes, lf": DelimitedTextOptions(escape_char='"', row_delimiter="\n", first_row_as_header=True),
}


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_copy_and_the_row_path_write_the_same_bytes(pg_source, folder_sink, options):
    with pg_source.snapshot() as snap:
        table = snap.describe(TableName("every kind"))
        assert snap.csv_export_possible(options)
    rows = FullTable(table, with_change_columns=True)
    native, native_count = copied(pg_source, rows, DelimitedTextFormat(options), folder_sink, "native.csv")
    by_row, row_count = copied(pg_source, rows, RowPathFormat(options), folder_sink, "rows.csv")
    assert native == by_row
    assert native_count == row_count == len(ROWS)
    plain = gzip.decompress(native) if options.compression else native
    text = plain.decode("utf-16" if options.encoding == "UTF-16" else "utf-8")
    assert "Zoë ☃" in text and "\\x00ff5c" in text  # PostgreSQL's own text for bytea
    if options.first_row_as_header:
        assert text.startswith(options.column_delimiter.join(["id", "n", "free", "f", "b", "d"]))
        assert '"Name, \\"quoted\\""' in text or '"Name, ""quoted"""' in text


def test_a_query_gives_the_same_bytes_on_both_paths(pg_source, folder_sink):
    options = DelimitedTextOptions(first_row_as_header=True, null_value="NULL")
    query = Query(f'SELECT id, {QUOTED_NAME} AS name, ints, jb FROM "every kind" ORDER BY id')
    native, _ = copied(pg_source, query, DelimitedTextFormat(options), folder_sink, "q1.csv")
    by_row, _ = copied(pg_source, query, RowPathFormat(options), folder_sink, "q2.csv")
    assert native == by_row
    assert native.startswith(b'id,name,ints,jb\r\n1,"say \\"hi\\", then\r\nleave","{1,NULL,3}",')
    assert b"\r\n2,NULL,NULL,NULL\r\n" in native and b'\r\n4,"NULL",{7},null\r\n' in native


def test_a_single_column_holding_backslash_dot_is_quoted_on_both_paths(pg_source, folder_sink):
    query = Query(f'SELECT {QUOTED_NAME} AS name FROM "every kind" WHERE id = 6')
    options = DelimitedTextOptions(quote_all_text=False)
    native, _ = copied(pg_source, query, DelimitedTextFormat(options), folder_sink, "s1.csv")
    by_row, _ = copied(pg_source, query, RowPathFormat(options), folder_sink, "s2.csv")
    assert native == by_row == b'"\\\\."\r\n'


def test_options_copy_cannot_write_take_the_row_path(pg_source, folder_sink):
    options = DelimitedTextOptions(quote_char="", escape_char="\\", column_delimiter=";", quote_all_text=False)
    query = Query("SELECT id, 'a;b' AS s FROM \"every kind\" WHERE id < 3 ORDER BY id")
    data, count = copied(pg_source, query, DelimitedTextFormat(options), folder_sink, "r.csv")
    assert data == b"1;a\\;b\r\n2;a\\;b\r\n" and count == 2


def test_the_sqlite_row_path_end_to_end(tmp_path, folder_sink):
    database = tmp_path / "source.db"
    with sqlite3.connect(database) as conn:
        conn.execute(
            'CREATE TABLE people (PersonID INTEGER PRIMARY KEY, "Name" NVARCHAR(50), Age INT, '
            "Score DECIMAL(6,2), Seen DATETIME, Photo BLOB, Ok BOOLEAN)"
        )
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (1, "aaaa", 21, "1.5", "2024-01-01 10:00:00", b"\x01", 1),
                (2, 'say "hi", Zoë', None, None, None, None, 0),
                (3, "", 0, "-2", None, b"", None),
            ],
        )
    source = SqliteSource(SqliteConfig(database=str(database)))
    try:
        with source.snapshot() as snap:
            table = snap.describe(TableName("people"))
        options = DelimitedTextOptions(first_row_as_header=True, encoding="ISO-8859-1", compression="gzip")
        data, count = copied(source, FullTable(table), DelimitedTextFormat(options), folder_sink, "p.csv.gz")
    finally:
        source.close()
    assert count == 3
    text = gzip.decompress(data).decode("latin-1")
    assert text == (
        "PersonID,Name,Age,Score,Seen,Photo,Ok\r\n"
        '1,"aaaa",21,1.50,2024-01-01 10:00:00,0x01,1\r\n'
        '2,"say \\"hi\\", Zoë",,,,,0\r\n'
        '3,"",0,-2.00,,0x,\r\n'
    )
    read = list(csv.reader(io.StringIO(text, newline=""), escapechar="\\", doublequote=False))
    assert read[2][1] == 'say "hi", Zoë' and read[3][1] == ""


def test_the_fast_path_is_only_taken_when_copy_can_match(pg_source):
    with pg_source.snapshot() as snap:
        assert snap.csv_export_possible(DelimitedTextOptions())
        assert not snap.csv_export_possible(replace(DelimitedTextOptions(), quote_char=""))
        assert not snap.csv_export_possible(replace(DelimitedTextOptions(), row_delimiter="|"))


def test_postgresql_to_parquet_keeps_types(pg_source, folder_sink):
    with pg_source.snapshot() as snap:
        table = snap.describe(TableName("every kind"))
    data, count = copied(pg_source, FullTable(table), ParquetFormat(), folder_sink, "every.parquet")
    read = pq.read_table(io.BytesIO(data))
    assert count == len(ROWS) and read.num_rows == len(ROWS)
    types = dict(zip(read.schema.names, (str(t) for t in read.schema.types), strict=True))
    assert types == {
        "id": "int64",
        "n": "decimal128(12, 3)",
        "free": "string",
        "f": "double",
        "b": "bool",
        "d": "date32[day]",
        "ts": "timestamp[us]",
        "tz": "timestamp[us, tz=UTC]",
        "u": "string",
        'Name, "quoted"': "string",
        "raw": "binary",
        "j": "string",
        "jb": "string",
        "ints": "string",
    }
    first, nulls, zeros = (dict(r) for r in sorted(read.to_pylist(), key=lambda r: r["id"])[:3])
    assert first["n"] == Decimal("12.500") and first["free"] == "3.14159265358979323846"
    assert first["ts"] == datetime(2024, 2, 29, 12, 0, 0, 123456)
    assert first["tz"] == datetime(2024, 2, 29, 10, 0, tzinfo=UTC)
    assert first["u"] == "6f9619ff-8b86-d011-b42d-00c04fc964ff" and first["raw"] == b"\x00\xff\\"
    assert first["ints"] == "{1,NULL,3}" and json.loads(first["jb"]) == {"a": 1, "b": "x,y"}
    assert set(nulls.values()) - {2} == {None}
    assert zeros['Name, "quoted"'] == "" and zeros["raw"] == b"" and zeros["ints"] == "{}"


TYPED_KINDS = (
    "CREATE TABLE typed (id int PRIMARY KEY, small int2, big int8, n numeric(12, 3), free numeric, r float4, "
    "f float8, b bool, d date, t time, ts timestamp, tz timestamptz, u uuid, v varchar(20), c char(3), s text)"
)
TYPED_ROWS = [
    (1, 1, 2**62, "12.5", "3.14159265358979323846", "1.1", "1.5e-7", True, "2024-02-29", "23:59:59.999999",
     "2024-02-29 12:00:00.123456", "2024-02-29 12:00:00+02", "6f9619ff-8b86-d011-b42d-00c04fc964ff", "a,b",
     "x", 'say "hi", then\r\nleave'),
    (2,) + (None,) * 15,
    (3, -1, -(2**63), "-0.001", "NaN", "-0", "Infinity", False, "0001-01-01", "00:00:00", "1970-01-01 00:00:00",
     "1970-01-01 00:00:00Z", None, "", "", ""),
    (4, 0, 0, "0", "-12.500", "NaN", "-Infinity", True, "9999-12-31", "12:00:00.5", "2000-01-01 00:00:00.5",
     "1900-06-30 23:59:59.999999+05:30", None, "NULL", "\\.", "Zoë ☃ \\ back\tslash"),
]  # fmt: skip


def comparable(table) -> list[dict]:
    """A table's rows with NaN made equal to itself (pyarrow's equals holds NaN != NaN)."""
    return [{k: "NaN" if v != v else v for k, v in row.items()} for row in table.to_pylist()]


class RowPathParquet(ParquetFormat):
    """Parquet without the typed CSV export, so copy_rows reads rows."""

    from_typed_csv = None


@pytest.fixture
def typed_source(pg_database):
    with pg_connect(pg_database) as conn:
        conn.execute(f"ALTER DATABASE \"{pg_database.database}\" SET timezone TO 'Asia/Kolkata'")
        conn.execute(TYPED_KINDS)
        conn.cursor().executemany(f"INSERT INTO typed VALUES ({', '.join(['%s'] * 16)})", TYPED_ROWS)
    source = PostgresSource(pg_database)
    yield source
    source.close()


def test_parquet_from_copy_holds_what_the_row_path_holds(typed_source, folder_sink):
    with typed_source.snapshot() as snap:
        table = snap.describe(TableName("typed"))
        assert snap.export_typed_csv(FullTable(table), ParquetFormat.typed_csv_kinds) is not None
    tables = []
    for rows in (FullTable(table, with_change_columns=True), Query("SELECT s, id AS s2, tz FROM typed WHERE id > 1")):
        native, count = copied(typed_source, rows, ParquetFormat(), folder_sink, "native.parquet")
        by_row, row_count = copied(typed_source, rows, RowPathParquet(), folder_sink, "rows.parquet")
        a, b = pq.read_table(io.BytesIO(native)), pq.read_table(io.BytesIO(by_row))
        assert a.schema == b.schema and comparable(a) == comparable(b)
        assert count == row_count == a.num_rows > 0
        tables.append(a)
    first = tables[0].to_pylist()[0]
    assert first["tz"] == datetime(2024, 2, 29, 10, 0, tzinfo=UTC) and first["s"] == 'say "hi", then\r\nleave'


def test_parquet_from_copy_closes_row_groups_of_wide_rows_at_the_byte_limit(typed_source, folder_sink):
    typed_source.execute(
        "CREATE TABLE wide AS SELECT i AS id, repeat('w', 1000) AS body FROM generate_series(1, 3000) AS i"
    )
    fmt = ParquetFormat(row_group_bytes=1_000_000)
    data, count = copied(typed_source, Query("SELECT id, body FROM wide ORDER BY id"), fmt, folder_sink, "w.parquet")
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    groups = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    assert count == sum(groups) == 3_000 and len(groups) >= 3 and max(groups) < 1_500  # ~1 MB of 1 KB rows
    assert pq.read_table(io.BytesIO(data)).column("id").to_pylist() == list(range(1, 3_001))


def test_a_copy_uploads_in_the_block_size_its_format_asks_for(typed_source, azurite, blob_container):
    class SmallBlocks(ParquetFormat):
        upload_block_bytes = 1024

    sink = AzureBlobSink(AzureBlobConfig.from_connection_string(azurite.connection_string, container=blob_container))
    copy_rows(typed_source, Query("SELECT * FROM typed"), sink, SmallBlocks(), "typed.parquet")
    client = BlobServiceClient.from_connection_string(azurite.connection_string)
    committed, _ = client.get_blob_client(blob_container, "typed.parquet").get_block_list("committed")
    assert len(committed) > 1 and {block.size for block in committed[:-1]} == {1024}
    assert pq.read_table(io.BytesIO(sink.read("typed.parquet"))).num_rows == len(TYPED_ROWS)
    sink.close()


def test_parquet_takes_the_row_path_for_kinds_csv_cannot_carry_or_a_non_iso_datestyle(pg_source, folder_sink):
    with pg_source.snapshot() as snap:
        table = snap.describe(TableName("every kind"))
        assert snap.export_typed_csv(FullTable(table), ParquetFormat.typed_csv_kinds) is None  # bytea, json, arrays
        snap.rows("SELECT set_config('DateStyle', 'SQL, DMY', true)")
        assert snap.export_typed_csv(Query('SELECT id, d FROM "every kind"'), ParquetFormat.typed_csv_kinds) is None


def test_a_value_parquet_cannot_hold_fails_the_copy_on_both_paths(typed_source, folder_sink):
    query = Query("SELECT id, 'NaN'::numeric(6, 2) AS price FROM typed")
    for fmt in (ParquetFormat(), RowPathParquet()):
        with pytest.raises(TerminalError) as caught:
            copied(typed_source, query, fmt, folder_sink, "bad.parquet")
        assert caught.value.reason == "bad_value" and "price" in str(caught.value)
    assert not list(folder_sink.list())


class TypedOnly(PostgresSource):
    """PostgreSQL declaring neither COPY nor its own text forms: a copy must not ask it for either."""

    supports_native_csv = False
    supports_text_values = False


def test_a_copy_asks_a_source_only_for_what_it_declares(pg_database, pg_source, folder_sink):
    rows = Query('SELECT id, raw, ts FROM "every kind" WHERE id = 1')
    fmt = DelimitedTextFormat(DelimitedTextOptions())
    declared, _ = copied(pg_source, rows, fmt, folder_sink, "declared.csv")
    typed, count = copied(TypedOnly(pg_database), rows, fmt, folder_sink, "typed.csv")
    assert declared == b"1,\\x00ff5c,2024-02-29 12:00:00.123456\r\n"  # PostgreSQL's own text (COPY's)
    assert typed == b"1,0x00FF5C,2024-02-29 12:00:00.123456\r\n" and count == 1  # typed rows, as from SQLite
