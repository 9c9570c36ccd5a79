"""Formats: batches in, bytes out.

``delimited.py`` (ADF's DelimitedText) and ``parquet.py`` implement :class:`Format`. A format that a
source can produce natively (DelimitedText from PostgreSQL's COPY) exposes ``native_options`` and
``finish``; the row path and the native path then share ``finish`` (encoding, compression) and must
give the same bytes for the same data and options (tests/engine/test_fast_path.py). Parquet has a
native path too: a source that can export typed CSV (``export_typed_csv``: PostgreSQL's COPY) hands it
to ``ParquetFormat.from_typed_csv``, which parses it with pyarrow in C++; the tables it writes equal
the row path's.

How each ``Column.kind`` is written. DelimitedText asks sources for their own text form of values
(``wants_text_values``): PostgreSQL gives exactly the text COPY writes; SQLite and SQL Server give
typed values, written as the CSV column says. Parquet asks for typed values.

==========  ===================================================  ==========================================
kind        DelimitedText (CSV)                                  Parquet
==========  ===================================================  ==========================================
int         digits                                               int64
decimal     fixed point, all its digits (``12.500``)             decimal128(p, s) (decimal256 past 38
                                                                 digits) when the source gives precision
                                                                 and scale; otherwise string (PostgreSQL's
                                                                 unconstrained numeric, NaN)
float       Python's shortest repr (PostgreSQL: its own text)    float64
bool        ``True``/``False`` (PostgreSQL: ``t``/``f``;         bool (SQLite's 0/1 and "true"/"false"
            SQLite: its stored 0/1)                              converted)
date        ISO ``2024-02-29``                                   date32 (ISO text parsed)
time        ISO ``23:59:59.123456``                              time64(us)
datetime    ``2024-02-29 12:00:00.123456``                       timestamp(us)
datetimetz  ``2024-02-29 12:00:00+02:00`` (PostgreSQL: in the    timestamp(us, UTC)
            session's time zone)
uuid        the source's text (SQL Server upper case)            string
string      as is; quoted when quoteAllText                      string
binary      ``0x01AB`` (PostgreSQL: ``\\x01ab``)                 binary
json        its text                                             string (typed JSON re-serialized with
                                                                 ``json.dumps``; JSON ``null`` from
                                                                 PostgreSQL's driver arrives as NULL)
array       the source's text ``{1,NULL,3}``                     string in PostgreSQL's array text form
==========  ===================================================  ==========================================

Temporal values a source gives as text (SQL Server's datetime2, time and datetimeoffset, which keep
their 7 digits that way; SQLite's DATETIME) stay text in both formats: Parquet writes such a column
as string, decided once from the first batch (or the source type when it holds only NULLs).

NULL and the empty string stay distinguishable: in CSV NULL is ``nullValue`` unquoted and a text equal
to ``nullValue`` is quoted (with quoteChar empty they cannot be told apart when nullValue is empty); in
Parquet NULL is a null.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol


class Format(Protocol):
    """A file format."""

    extension: str
    """The usual file extension, with its dot (".csv", ".csv.gz", ".parquet")."""
    wants_text_values: bool
    """Ask sources for their own text form of values (CSV) rather than typed values (Parquet)."""
    upload_block_bytes: int | None
    """Block size for a sink that uploads in blocks, or None for the sink's own (``Sink.open``)."""

    def encode(self, batches: Iterable[Any]) -> Iterator[bytes]:
        """Turn a stream of ``types.Batch`` into the file's bytes, in chunks."""
        ...

    def native_options(self) -> Any | None:
        """Options a source may use to write this format itself, or None when it cannot."""
        ...

    def finish(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Apply encoding and compression to natively produced UTF-8 bytes."""
        ...


def format_for_dataset(
    dataset_type: str, type_properties: dict[str, Any], write_settings: dict[str, Any] | None = None
) -> Format:
    """The format of a file dataset: ``DelimitedText`` or ``Parquet``, with its ADF options."""
    from syncjobs.engine.errors import TerminalError

    if dataset_type == "DelimitedText":
        from syncjobs.engine.formats.delimited import DelimitedTextFormat, DelimitedTextOptions

        return DelimitedTextFormat(DelimitedTextOptions.from_adf(type_properties, write_settings))
    if dataset_type == "Parquet":
        from syncjobs.engine.formats.parquet import ParquetFormat

        return ParquetFormat.from_adf(type_properties)
    raise TerminalError(
        "unsupported_format", f"dataset type {dataset_type!r} is not a file format (DelimitedText or Parquet)"
    )
