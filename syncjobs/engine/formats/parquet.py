"""ADF's Parquet, written with pyarrow, a row group per 16,384 rows or 4 MB, memory flat whatever the table's size.

Column types come from ``Column.kind`` (the table in ``formats/__init__.py``). Temporal values that a
source gives as text (SQL Server's datetime2/time/datetimeoffset keep their 7 digits that way, SQLite
stores dates as text) stay text: such a column is written as a string column. The choice is made once,
from the first batch's values (or, when it has none, from the source type), because a Parquet file has
one schema.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from functools import partial
from itertools import chain
from typing import Any

# pyarrow's default allocator, mimalloc, kept about 30 MB more resident memory through a 1M-row copy
# (its per-thread heaps hold freed pages), which broke the 150 MB budget; jemalloc does not. Arrow's C++
# side reads this once, when pyarrow loads, so it is set before the import (an operator's value wins).
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")

import pyarrow as pa  # noqa: E402
import pyarrow.csv as pa_csv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from syncjobs.engine.batching import estimated_bytes
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.formats.delimited import render
from syncjobs.engine.types import Batch, Column

# A row group is held in memory (its rows, then its encoded pages) until written, and each leaves about
# 1 KB of metadata per column in the writer, built again into the footer at the end. On the 10M-row bench
# table 8,192-row groups peaked at the footer (+10 MB); 16,384 rows were lower overall (139 vs 145 MB)
# and 32,768 no lower. Wide rows close a group at ROW_GROUP_BYTES instead (Arrow's bytes from the typed
# CSV export, ``batching.estimated_bytes`` of the rows on the row path).
ROW_GROUP_ROWS = 16_384
ROW_GROUP_BYTES = 4 * 1024 * 1024
CODECS = {"snappy": "snappy", "gzip": "gzip", "none": "none"}  # ADF's copy codecs (lzo is not supported)
TEMPORAL: dict[str, type[date] | type[time]] = {
    "date": date,
    "time": time,
    "datetime": datetime,
    "datetimetz": datetime,
}
# Source types whose temporal values arrive as text (SQL Server's converters, SQLite's storage).
TEXT_TEMPORAL_TYPES = ("datetime2", "datetimeoffset", "smalldatetime", "datetime", "time", "timestamp")


class _Drain:
    """A write-only file that hands its bytes out after each row group, so nothing piles up."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._written += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def _array_text(value: Any) -> str:
    """A Python list in PostgreSQL's array text form: ``{1,2,NULL}``, ``{"a b","x\\"y"}``."""
    if isinstance(value, list | tuple):
        return "{" + ",".join(_array_text(v) for v in value) + "}"
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = render(value)
    if text == "" or text.upper() == "NULL" or any(c in text for c in '{},"\\ \t\r\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _int(value: Any) -> int:
    """An exact integer; a fraction is refused rather than cut off."""
    if isinstance(value, float | Decimal) and value != int(value):
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        if value.lower() in ("1", "true", "t"):
            return True
        if value.lower() in ("0", "false", "f"):
            return False
        raise ValueError(value)
    return bool(value)


def _decimal_type(column: Column) -> pa.DataType | None:
    p, s = column.precision, column.scale
    if p is None or s is None or not 0 < p <= 76 or not 0 <= s <= p:
        return None
    return pa.decimal128(p, s) if p <= 38 else pa.decimal256(p, s)


def _finite_decimal(value: Any) -> Decimal:
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise ValueError(value)
    return number


def _as_temporal(kind: str) -> Callable[[Any], Any]:
    wanted = TEMPORAL[kind]

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            return wanted.fromisoformat(value)
        if kind == "date" and isinstance(value, datetime):
            return value.date()
        return value

    return convert


def _text_temporal(column: Column, first: Any) -> bool:
    """Whether a temporal column is written as text: its values come as text (or, none seen, its type's do)."""
    if first is not None:
        return isinstance(first, str)
    return column.source_type.lower().split("(")[0].strip() in TEXT_TEMPORAL_TYPES


def column_plan(column: Column, first: Any = None) -> tuple[pa.DataType, Callable[[Any], Any] | None]:
    """The Parquet type of a column and the conversion its non-null values need (None: as they are)."""
    kind = column.kind
    if kind == "int":
        return pa.int64(), _int
    if kind == "decimal":
        typed = _decimal_type(column)
        return (typed, _finite_decimal) if typed is not None else (pa.string(), render)
    if kind == "float":
        return pa.float64(), float
    if kind == "bool":
        return pa.bool_(), _bool
    if kind in TEMPORAL:
        if _text_temporal(column, first):
            return pa.string(), render
        types = {
            "date": pa.date32(),
            "time": pa.time64("us"),
            "datetime": pa.timestamp("us"),
            "datetimetz": pa.timestamp("us", tz="UTC"),
        }
        return types[kind], _as_temporal(kind)
    if kind == "binary":
        return pa.binary(), lambda v: v.encode() if isinstance(v, str) else bytes(v)
    if kind == "json":
        return pa.string(), _json_text
    if kind == "array":
        return pa.string(), lambda v: v if isinstance(v, str) else _array_text(v)
    return pa.string(), render  # string, uuid and anything unknown: text


class ParquetFormat:
    """ADF's Parquet: typed columns, streamed row group by row group."""

    wants_text_values = False
    extension = ".parquet"
    upload_block_bytes: int | None = 2 * 1024 * 1024
    """Parquet's output is a fifth of CSV's: 2 MiB blocks upload it as fast, with 10 MB less in flight
    than the sink's 4 MiB blocks, room its writer needs for its row groups and footer."""

    def __init__(
        self, compression: str = "snappy", row_group_rows: int = ROW_GROUP_ROWS, row_group_bytes: int = ROW_GROUP_BYTES
    ) -> None:
        self.compression = compression
        self.row_group_rows = row_group_rows
        self.row_group_bytes = row_group_bytes

    def _group_full(self, rows: int, size: int) -> bool:
        return rows >= self.row_group_rows or size >= self.row_group_bytes

    @classmethod
    def from_adf(cls, type_properties: dict[str, Any] | None) -> ParquetFormat:
        """The format of a Parquet dataset's typeProperties (``compressionCodec``: snappy, gzip or none)."""
        raw = (type_properties or {}).get("compressionCodec")
        codec = "snappy" if raw in (None, "") else str(raw).lower()
        if codec not in CODECS:
            raise TerminalError(
                "bad_format_option", f"compressionCodec {raw!r} is not supported for Parquet (snappy, gzip or none)"
            )
        return cls(CODECS[codec])

    def native_options(self) -> None:
        """No source writes Parquet itself."""
        return None

    def finish(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Parquet bytes need nothing more."""
        yield from chunks

    def encode(self, batches: Iterable[Batch]) -> Iterator[bytes]:
        """Batches to Parquet bytes, a chunk per row group (and the footer last)."""
        drain, writer, plans, held, count, size = _Drain(), None, [], [], 0, 0
        try:
            for batch in batches:
                if writer is None:
                    plans = [column_plan(c, _first(batch, i)) for i, c in enumerate(batch.columns)]
                    schema = pa.schema([pa.field(c.name, t) for c, (t, _) in zip(batch.columns, plans, strict=True)])
                    writer = pq.ParquetWriter(drain, schema, compression=self.compression)
                held.append(batch)
                count, size = count + len(batch), size + estimated_bytes(batch.rows)
                if self._group_full(count, size):
                    writer.write_table(_table(held, plans, writer.schema), row_group_size=count)
                    held, count, size = [], 0, 0
                    yield drain.take()
            if writer is None:
                writer = pq.ParquetWriter(drain, pa.schema([]), compression=self.compression)
            if count:
                writer.write_table(_table(held, plans, writer.schema), row_group_size=count)
        finally:
            if writer is not None:
                writer.close()
        yield drain.take()

    typed_csv_kinds = frozenset(
        {"int", "decimal", "float", "bool", "date", "time", "datetime", "datetimetz", "string", "uuid"}
    )
    """The kinds ``from_typed_csv`` can parse (the rest take the row path)."""

    def from_typed_csv(self, chunks: Iterable[bytes], columns: Sequence[Column]) -> Generator[bytes, None, int]:
        """A source's typed CSV export (``export_typed_csv``) to Parquet bytes; returns the row count.

        pyarrow's CSV reader parses each column straight into its Parquet type in C++, so no value
        becomes a Python object: the same types and values as ``encode`` gives for the row path.
        """
        plans = [column_plan(c, _TYPED) for c in columns]
        schema = pa.schema([pa.field(c.name, t) for c, (t, _) in zip(columns, plans, strict=True)])
        parsed = {f"c{i}": pa.timestamp("us") if _is_utc(t) else t for i, (t, _) in enumerate(plans)}
        drain, held, count, size, total = _Drain(), [], 0, 0, 0
        with pq.ParquetWriter(drain, schema, compression=self.compression) as writer:
            for batch in _batches(partial(_csv_reader, chunks, parsed), columns):
                held.append(pa.RecordBatch.from_arrays(_retyped(batch, schema), schema=schema))
                count, size = count + batch.num_rows, size + batch.nbytes
                if self._group_full(count, size):
                    writer.write_table(pa.Table.from_batches(held), row_group_size=count)
                    total, held, count, size = total + count, [], 0, 0
                    yield drain.take()
            if count:
                writer.write_table(pa.Table.from_batches(held), row_group_size=count)
        yield drain.take()
        return total + count


_TYPED = object()  # a first value that is not text: temporal columns keep their types


def _is_utc(arrow_type: pa.DataType) -> bool:
    return pa.types.is_timestamp(arrow_type) and arrow_type.tz is not None


def _retyped(batch: pa.RecordBatch, schema: pa.Schema) -> list[pa.Array]:
    """UTC wall-clock timestamps become UTC instants: the same numbers, so a zero-copy view."""
    return [c.view(f.type) if _is_utc(f.type) else c for c, f in zip(batch.columns, schema, strict=True)]


def _csv_reader(chunks: Iterable[bytes], types: dict[str, pa.DataType]) -> Any:
    """pyarrow's streaming CSV reader over the export, each column parsed as its type."""
    return pa_csv.open_csv(
        _ChunkFile(iter(chunks)),
        read_options=pa_csv.ReadOptions(column_names=list(types), block_size=1 << 19),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=types,
            null_values=[""],
            true_values=["t"],
            false_values=["f"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


def _batches(open_reader: Callable[[], Any], columns: Sequence[Column]) -> Iterator[pa.RecordBatch]:
    """The reader's batches; a value its column's type cannot hold is a bad_value naming the column."""
    try:
        yield from open_reader()  # opening reads the first block already
    except pa.ArrowInvalid as exc:
        found = re.search(r"column #(\d+)", str(exc))
        name = columns[int(found.group(1))].name if found else "?"
        raise TerminalError("bad_value", f"column {name!r} has a value Parquet cannot hold: {exc}") from None


class _ChunkFile(io.RawIOBase):
    """Byte chunks as a readable file, for pyarrow's CSV reader."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _first(batch: Batch, index: int) -> Any:
    return next((row[index] for row in batch.rows if row[index] is not None), None)


def _table(batches: list[Batch], plans: list[tuple[pa.DataType, Any]], schema: pa.Schema) -> pa.Table:
    arrays = []
    columns = list(zip(*chain.from_iterable(b.rows for b in batches), strict=True))
    for i, (arrow_type, convert) in enumerate(plans):
        column = batches[0].columns[i]
        values = columns[i]
        try:
            arrays.append(_array(values, arrow_type, convert))
        except (ValueError, TypeError, ArithmeticError, pa.ArrowException) as exc:
            raise TerminalError(
                "bad_value",
                f"column {column.name!r} ({column.kind}) has a value Parquet cannot hold as {arrow_type}: {exc}",
            ) from None
    return pa.Table.from_arrays(arrays, schema=schema)


_INTEGER_TYPES = frozenset({int, bool, type(None)})  # what pyarrow turns into an integer without losing anything


def _array(values: Sequence[Any], arrow_type: pa.DataType, convert: Callable[[Any], Any] | None) -> pa.Array:
    """pyarrow's own conversion when the values already fit (fast), else each value converted first.

    pyarrow would cut a float or Decimal down to an int64 silently, so integer columns holding them take
    the checked conversion; every other mismatch makes pyarrow raise, and the conversion runs then.
    """
    kinds = set(map(type, values))
    if pa.types.is_boolean(arrow_type) and kinds == {int}:  # SQLite's booleans are 0 and 1
        return pa.array(map(bool, values), type=arrow_type, size=len(values))
    if convert is None or not (pa.types.is_integer(arrow_type) and not _INTEGER_TYPES.issuperset(kinds)):
        try:
            return pa.array(values, type=arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            if convert is None:
                raise
    return pa.array([None if v is None else convert(v) for v in values], type=arrow_type)
