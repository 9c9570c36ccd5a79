"""Formats: DelimitedText options from ADF JSON and their bytes; Parquet read back with pyarrow."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from syncjobs.engine.errors import EngineError
from syncjobs.engine.formats import format_for_dataset
from syncjobs.engine.formats.delimited import DelimitedTextFormat, DelimitedTextOptions
from syncjobs.engine.formats.parquet import ParquetFormat
from syncjobs.engine.types import Batch, Column

PEOPLE = (Column("PersonID", "int"), Column("Name", "string"), Column("Age", "int"))


def written(fmt, batches) -> bytes:
    return b"".join(fmt.encode(batches))


def csv_bytes(rows, columns=PEOPLE, **options) -> bytes:
    return written(DelimitedTextFormat(DelimitedTextOptions(**options)), [Batch(columns, rows)])


# --- DelimitedText options from ADF JSON ---------------------------------------------------------


def test_an_empty_dataset_takes_adfs_write_defaults():
    options = DelimitedTextOptions.from_adf({})
    assert options == DelimitedTextOptions()
    assert (options.column_delimiter, options.row_delimiter, options.quote_char, options.escape_char) == (
        ",",
        "\r\n",
        '"',
        "\\",
    )
    assert not options.first_row_as_header and options.quote_all_text and options.null_value == ""
    assert options.encoding == "UTF-8" and options.compression is None


def test_every_adf_property_is_read():
    tp = {
        "columnDelimiter": "\t",
        "rowDelimiter": "\n",
        "quoteChar": "'",
        "escapeChar": "'",
        "firstRowAsHeader": "true",
        "encodingName": "ISO-8859-1",
        "compressionCodec": "GZip",
        "compressionLevel": "Fastest",
        "nullValue": "NULL",
        "location": {"type": "AzureBlobStorageLocation", "container": "c"},
    }
    options = DelimitedTextOptions.from_adf(tp, {"type": "DelimitedTextWriteSettings", "quoteAllText": False})
    assert options == DelimitedTextOptions(
        column_delimiter="\t",
        row_delimiter="\n",
        quote_char="'",
        escape_char="'",
        first_row_as_header=True,
        quote_all_text=False,
        null_value="NULL",
        encoding="ISO-8859-1",
        compression="gzip",
        compression_level=1,
    )


def test_write_settings_set_quote_all_text_and_the_extension():
    options = DelimitedTextOptions().with_write_settings({"quoteAllText": False, "fileExtension": ".txt"})
    assert not options.quote_all_text and options.file_extension == ".txt"
    assert DelimitedTextFormat(options).extension == ".txt"
    assert DelimitedTextFormat(DelimitedTextOptions(compression="gzip")).extension == ".csv.gz"
    assert DelimitedTextOptions().with_write_settings(None) == DelimitedTextOptions()


@pytest.mark.parametrize(
    ("tp", "named"),
    [
        ({"compressionCodec": "bzip2"}, "compressionCodec"),
        ({"compressionLevel": "Best"}, "compressionLevel"),
        ({"columnDelimiter": "||"}, "columnDelimiter"),
        ({"columnDelimiter": ""}, "columnDelimiter"),
        ({"rowDelimiter": "\n\n"}, "rowDelimiter"),
        ({"quoteChar": "''"}, "quoteChar"),
        ({"escapeChar": ""}, "escapeChar"),
        ({"columnDelimiter": '"'}, "columnDelimiter"),
        ({"nullValue": "a,b"}, "nullValue"),
        ({"encodingName": "klingon"}, "encodingName"),
    ],
)
def test_unsupported_values_are_refused_naming_the_property(tp, named):
    with pytest.raises(EngineError) as caught:
        DelimitedTextOptions.from_adf(tp)
    assert caught.value.reason == "bad_format_option"
    assert named in str(caught.value)


def test_the_factory_picks_the_format_by_dataset_type():
    delimited = format_for_dataset("DelimitedText", {"columnDelimiter": ";"}, {"quoteAllText": False})
    assert isinstance(delimited, DelimitedTextFormat)
    assert delimited.options.column_delimiter == ";" and not delimited.options.quote_all_text
    parquet = format_for_dataset("Parquet", {"compressionCodec": "gzip"})
    assert isinstance(parquet, ParquetFormat) and parquet.compression == "gzip"
    with pytest.raises(EngineError) as caught:
        format_for_dataset("Json", {})
    assert caught.value.reason == "unsupported_format"


# --- DelimitedText bytes -------------------------------------------------------------------------


def test_defaults_quote_text_columns_and_end_rows_with_crlf():
    assert csv_bytes([(1, "aaaa", 21), (2, None, None)]) == b'1,"aaaa",21\r\n2,,\r\n'


def test_the_header_row_comes_first_once():
    rows = [(1, "a", 2)]
    data = written(
        DelimitedTextFormat(DelimitedTextOptions(first_row_as_header=True)), [Batch(PEOPLE, rows), Batch(PEOPLE, rows)]
    )
    assert data == b'PersonID,Name,Age\r\n1,"a",2\r\n1,"a",2\r\n'
    assert csv_bytes([], first_row_as_header=True) == b"PersonID,Name,Age\r\n"


def test_null_and_the_empty_string_stay_distinguishable():
    assert csv_bytes([(1, "", None), (2, None, 3)]) == b'1,"",\r\n2,,3\r\n'
    data = csv_bytes([(1, "", None), (2, "NULL", 3)], null_value="NULL", quote_all_text=False)
    assert data == b'1,,NULL\r\n2,"NULL",3\r\n'


@pytest.mark.parametrize("delimiter", ["\t", ";", "|"])
def test_custom_delimiters_round_trip_through_a_csv_reader(delimiter):
    rows = [(1, f"has {delimiter} inside", 2), (3, "plain", 4)]
    data = csv_bytes(rows, column_delimiter=delimiter, escape_char='"', quote_all_text=False)
    assert data.split(b"\r\n")[1] == f"3{delimiter}plain{delimiter}4".encode()
    read = list(csv.reader(io.StringIO(data.decode(), newline=""), delimiter=delimiter))
    assert read == [[str(v) for v in row] for row in rows]


def test_quotes_escapes_and_line_breaks_are_quoted_and_escaped():
    rows = [(1, 'say "hi"', 2), (2, "back\\slash", 3), (3, "two\r\nlines", 4), (4, "a,b", 5)]
    data = csv_bytes(rows, quote_all_text=False)
    assert data == b'1,"say \\"hi\\"",2\r\n2,back\\slash,3\r\n3,"two\r\nlines",4\r\n4,"a,b",5\r\n'
    doubled = csv_bytes(rows, escape_char='"', quote_all_text=False)
    read = list(csv.reader(io.StringIO(doubled.decode(), newline="")))
    assert read == [[str(v) for v in row] for row in rows]


def test_without_a_quote_character_the_escape_character_escapes():
    rows = [(1, "a,b\\c", 2)]
    assert csv_bytes(rows, quote_char="") == b"1,a\\,b\\\\c,2\r\n"


def test_without_quote_and_escape_a_delimiter_in_a_value_is_refused():
    assert csv_bytes([(1, "plain", 2)], quote_char="", escape_char="") == b"1,plain,2\r\n"
    with pytest.raises(EngineError) as caught:
        csv_bytes([(1, "a,b", 2)], quote_char="", escape_char="")
    assert caught.value.reason == "unquotable_value" and "Name" in str(caught.value)


def test_typed_values_are_written_in_their_plain_text_form():
    columns = tuple(Column(k, k) for k in ("decimal", "float", "bool", "date", "time", "datetime", "binary"))
    row = (Decimal("1.50"), 2.5, True, date(2024, 1, 2), time(3, 4, 5), datetime(2024, 1, 2, 3, 4, 5), b"\x01\xab")
    assert csv_bytes([row], columns) == b"1.50,2.5,True,2024-01-02,03:04:05,2024-01-02 03:04:05,0x01AB\r\n"


@pytest.mark.parametrize(
    ("encoding", "expected_start", "codec"),
    [
        ("UTF-8", b"1,", "utf-8"),
        ("UTF-16", b"\xff\xfe1\x00", "utf-16"),
        ("UTF-16BE", b"\xfe\xff\x001", "utf-16"),
        ("ISO-8859-1", b"1,", "iso-8859-1"),
    ],
)
def test_encodings_write_non_ascii_text(encoding, expected_start, codec):
    rows = [(1, "Ñandú Zoë", 2), (2, "plain", 3)]
    batches = [Batch(PEOPLE, rows[:1]), Batch(PEOPLE, rows[1:])]
    data = written(DelimitedTextFormat(DelimitedTextOptions(encoding=encoding)), batches)
    assert data.startswith(expected_start)
    assert data.decode(codec) == '1,"Ñandú Zoë",2\r\n2,"plain",3\r\n'
    if encoding == "ISO-8859-1":
        assert "Ñ".encode("latin-1") in data and "Ñ".encode() not in data


def test_a_character_the_encoding_cannot_hold_is_refused():
    with pytest.raises(EngineError) as caught:
        csv_bytes([(1, "snow ☃", 2)], encoding="ISO-8859-1")
    assert caught.value.reason == "unencodable_value" and "ISO-8859-1" in str(caught.value)


def test_finish_re_encodes_utf8_split_inside_a_character():
    fmt = DelimitedTextFormat(DelimitedTextOptions(encoding="UTF-16"))
    text = "Zoë ☃\r\n".encode()
    chunks = [text[i : i + 1] for i in range(len(text))]
    assert b"".join(fmt.finish(chunks)) == b"\xff\xfe" + "Zoë ☃\r\n".encode("utf-16-le")


@pytest.mark.parametrize("level", ["Optimal", "Fastest"])
def test_gzip_round_trip_equals_the_plain_file(level):
    rows = [(i, f"name {i}", i % 90) for i in range(3000)]
    batches = [Batch(PEOPLE, rows[:1000]), Batch(PEOPLE, rows[1000:])]
    plain = written(DelimitedTextFormat(DelimitedTextOptions(first_row_as_header=True)), batches)
    options = DelimitedTextOptions.from_adf(
        {"compressionCodec": "gzip", "compressionLevel": level, "firstRowAsHeader": True}
    )
    packed = written(DelimitedTextFormat(options), batches)
    assert packed[:2] == b"\x1f\x8b" and len(packed) < len(plain)
    assert gzip.decompress(packed) == plain


def test_gzip_and_utf16_together():
    options = DelimitedTextOptions(compression="gzip", encoding="UTF-16")
    data = written(DelimitedTextFormat(options), [Batch(PEOPLE, [(1, "Zoë", 2)])])
    assert gzip.decompress(data) == b"\xff\xfe" + '1,"Zoë",2\r\n'.encode("utf-16-le")


# --- Parquet -------------------------------------------------------------------------------------

ALL_KINDS = (
    Column("i", "int"),
    Column("d", "decimal", precision=10, scale=2),
    Column("wide", "decimal", precision=50, scale=5),
    Column("free", "decimal"),
    Column("f", "float"),
    Column("b", "bool"),
    Column("day", "date"),
    Column("t", "time"),
    Column("ts", "datetime"),
    Column("tz", "datetimetz"),
    Column("u", "uuid"),
    Column("s", "string"),
    Column("bin", "binary"),
    Column("j", "json"),
    Column("arr", "array"),
)
PLUS2 = timezone(timedelta(hours=2))
FULL_ROW = (
    9_000_000_000,
    Decimal("12345678.90"),
    Decimal("123456789012345678901234567890.12345"),
    Decimal("1.000000000000000000000000000000000000000001"),
    1.5,
    True,
    date(2024, 2, 29),
    time(23, 59, 59, 123456),
    datetime(2024, 2, 29, 12, 0, 0, 1),
    datetime(2024, 2, 29, 12, 0, tzinfo=PLUS2),
    "6f9619ff-8b86-d011-b42d-00c04fc964ff",
    'Zoë "q", line\nbreak',
    b"\x00\xff",
    {"a": [1, 2], "b": None},
    [1, None, 3],
)


def parquet_table(batches, fmt=None) -> pa.Table:
    return pq.read_table(io.BytesIO(written(fmt or ParquetFormat(), batches)))


def test_parquet_keeps_each_kinds_type_and_value():
    empty_row = (None,) * len(ALL_KINDS[:-4]) + ("", b"", None, [])
    table = parquet_table([Batch(ALL_KINDS, [FULL_ROW, (None,) * len(ALL_KINDS), empty_row])])
    assert [str(t) for t in table.schema.types] == [
        "int64",
        "decimal128(10, 2)",
        "decimal256(50, 5)",
        "string",
        "double",
        "bool",
        "date32[day]",
        "time64[us]",
        "timestamp[us]",
        "timestamp[us, tz=UTC]",
        "string",
        "string",
        "binary",
        "string",
        "string",
    ]
    first, nulls, empties = table.to_pylist()
    assert first["i"] == 9_000_000_000 and first["d"] == Decimal("12345678.90")
    assert first["wide"] == Decimal("123456789012345678901234567890.12345")
    assert first["free"] == "1.000000000000000000000000000000000000000001"
    assert first["f"] == 1.5 and first["b"] is True and first["day"] == date(2024, 2, 29)
    assert first["t"] == time(23, 59, 59, 123456) and first["ts"] == datetime(2024, 2, 29, 12, 0, 0, 1)
    assert first["tz"] == datetime(2024, 2, 29, 10, 0, tzinfo=UTC)
    assert first["u"] == "6f9619ff-8b86-d011-b42d-00c04fc964ff" and first["s"] == 'Zoë "q", line\nbreak'
    assert first["bin"] == b"\x00\xff" and first["j"] == '{"a": [1, 2], "b": null}' and first["arr"] == "{1,NULL,3}"
    assert set(nulls.values()) == {None}
    assert empties["s"] == "" and empties["bin"] == b"" and empties["arr"] == "{}" and empties["i"] is None


def test_parquet_writes_row_groups_as_batches_arrive_and_compresses_as_asked():
    columns = (Column("n", "int"), Column("s", "string"))
    batches = [Batch(columns, [(i, f"row {i}") for i in range(start, start + 100)]) for start in range(0, 500, 100)]
    chunks = list(ParquetFormat(compression="gzip", row_group_rows=200).encode(batches))
    assert len(chunks) == 3  # two full row groups drained as written, then the rest and the footer
    assert chunks[0][:4] == b"PAR1" and chunks[-1][-4:] == b"PAR1"
    meta = pq.ParquetFile(io.BytesIO(b"".join(chunks))).metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [200, 200, 100]
    assert meta.row_group(0).column(0).compression == "GZIP"
    table = pq.read_table(io.BytesIO(b"".join(chunks)))
    assert table.column("n").to_pylist() == list(range(500))


def test_parquet_closes_a_row_group_of_wide_rows_at_its_byte_limit():
    columns = (Column("n", "int"), Column("s", "string"))
    batches = [Batch(columns, [(i, "w" * 1_000) for i in range(start, start + 100)]) for start in range(0, 500, 100)]
    data = b"".join(ParquetFormat(row_group_rows=10_000, row_group_bytes=200_000).encode(batches))
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [200, 200, 100]  # ~110 KB a batch
    assert pq.read_table(io.BytesIO(data)).column("n").to_pylist() == list(range(500))


@pytest.mark.parametrize(("codec", "stored"), [(None, "SNAPPY"), ("snappy", "SNAPPY"), ("none", "UNCOMPRESSED")])
def test_parquet_codec_defaults_to_snappy(codec, stored):
    fmt = ParquetFormat.from_adf({"compressionCodec": codec} if codec else {})
    data = written(fmt, [Batch(PEOPLE, [(1, "a", 2)])])
    assert pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(0).compression == stored


def test_parquet_refuses_codecs_adf_does_not_write():
    with pytest.raises(EngineError) as caught:
        ParquetFormat.from_adf({"compressionCodec": "lzo"})
    assert caught.value.reason == "bad_format_option" and "compressionCodec" in str(caught.value)


def test_an_empty_table_gives_a_readable_file_with_its_columns():
    table = parquet_table([Batch(PEOPLE, [])])
    assert table.num_rows == 0 and table.schema.names == ["PersonID", "Name", "Age"]


def test_temporal_values_given_as_text_stay_text():
    columns = (Column("ts", "datetime", source_type="datetime2(7)"),)
    table = parquet_table([Batch(columns, [("2024-10-03 10:15:03.1234567",)])])
    assert table.schema.types == [pa.string()] and table.column(0).to_pylist() == ["2024-10-03 10:15:03.1234567"]
    nulls_first = parquet_table([Batch(columns, [(None,)]), Batch(columns, [("2024-10-03 10:15:03.1234567",)])])
    assert nulls_first.schema.types == [pa.string()]


def test_sqlite_style_loose_values_are_converted_or_refused_by_name():
    columns = (Column("flag", "bool"), Column("day", "date"), Column("n", "int"))
    table = parquet_table([Batch(columns, [(1, date(2024, 1, 1), 3), (0, "2024-01-02", 4)])])
    assert table.to_pylist()[1] == {"flag": False, "day": date(2024, 1, 2), "n": 4}
    with pytest.raises(EngineError) as caught:
        written(ParquetFormat(), [Batch(columns, [(1, date(2024, 1, 1), "three")])])
    assert caught.value.reason == "bad_value" and "'n'" in str(caught.value)
    with pytest.raises(EngineError) as caught:
        written(ParquetFormat(), [Batch(columns, [(1, date(2024, 1, 1), 2), (1, None, Decimal("1.5"))])])
    assert caught.value.reason == "bad_value" and "whole number" in str(caught.value)


def test_numbers_are_quoted_when_they_hold_the_delimiter_or_equal_the_null_value():
    assert csv_bytes([(1, "a", -2.5)], column_delimiter="-") == b'1-"a"-"-2.5"\r\n'
    assert csv_bytes([(1, "a", 7)], column_delimiter=".") == b'1."a".7\r\n'
    assert csv_bytes([(1.5, "a", 7)], column_delimiter=".") == b'"1.5"."a".7\r\n'
    assert csv_bytes([(0, "a", None)], null_value="0") == b'"0","a",0\r\n'


# --- the column-by-column row path against the value-by-value one --------------------------------

MIXED_VALUES = [
    None, "", "plain", 'say "hi"', "back\\slash", "a,b", "semi;colon", "line\nbreak", "cr\rx", "\\.", "0", "x\x00y",
    0, -17, 2**63, 1.5, -0.0, 1e-07, float("inf"), True, False, Decimal("12.30"), Decimal("-1E+3"),
    datetime(2024, 1, 2, 3, 4, 5, 600), date(2024, 1, 2), time(3, 4, 5), b"\x00\xff",
]  # fmt: skip


def value_by_value(fmt: DelimitedTextFormat, columns, rows) -> bytes:
    """Each value through its column's ``_cell``, one at a time (the reference for the columnar path)."""
    o = fmt.options
    cells = [fmt._cell(o.quote_all_text and c.kind == "string", len(columns) == 1, c.name) for c in columns]
    lines = [
        o.column_delimiter.join(o.null_value if v is None else f(v) for f, v in zip(cells, row, strict=True))
        for row in rows
    ]
    return "".join(line + o.row_delimiter for line in lines).encode()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"escape_char": '"'},
        {"quote_all_text": False},
        {"column_delimiter": ";", "null_value": "NULL", "row_delimiter": "\n"},
        {"column_delimiter": ".", "quote_all_text": False, "null_value": "0"},
        {"column_delimiter": "\x00"},
        {"quote_char": "'", "escape_char": "'", "column_delimiter": "\t"},
    ],
)
def test_columns_are_written_as_the_value_by_value_path_writes_them(options):
    import random

    rng = random.Random(5)
    kinds = ("string", "int", "decimal", "string", "datetime")
    columns = tuple(Column(f"c{i}", kind) for i, kind in enumerate(kinds))
    uniform = [rng.choice([v for v in MIXED_VALUES if v is not None]) for _ in kinds]
    rows = [tuple(rng.choice(MIXED_VALUES) for _ in kinds) for _ in range(400)]
    rows += [tuple(uniform)] * 50 + [(f"t{i}", i, Decimal(i), "no specials", datetime(2024, 1, 1)) for i in range(50)]
    fmt = DelimitedTextFormat(DelimitedTextOptions(**options))
    for batch_rows in (rows[:400], rows[400:450], rows[450:], rows):
        assert written(fmt, [Batch(columns, batch_rows)]) == value_by_value(fmt, columns, batch_rows)
