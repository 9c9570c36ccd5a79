"""Files read back into rows, for verification: a format's bytes to one tuple per row.

Only ``verification.py`` reads files. Both sides of a comparison (a part file, and the source's rows
encoded by the same format) are read back the same way, so a value's written form is compared with
itself: CSV gives each field's text, Parquet each value as pyarrow returns it.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.formats import Format


def file_rows(fmt: Format, data: bytes) -> Iterator[tuple[Any, ...]]:
    """The data rows of one file (a header row is skipped)."""
    options = getattr(fmt, "options", None)
    if options is not None and hasattr(options, "column_delimiter"):
        return _delimited_rows(options, data)
    return _parquet_rows(data)


def _delimited_rows(options: Any, data: bytes) -> Iterator[tuple[str, ...]]:
    from syncjobs.engine.formats.delimited import codec_for

    if len(options.column_delimiter) != 1 or options.row_delimiter not in ("\n", "\r\n", "\r"):
        raise TerminalError(
            "not_supported", "verification reads DelimitedText with a one-character delimiter and line-break rows"
        )
    raw = gzip.decompress(data) if options.compression == "gzip" else data
    codec, bom = codec_for(options.encoding)
    text = raw.removeprefix(bom).decode(codec)
    quote, escape = options.quote_char, options.escape_char
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=options.column_delimiter,
        quotechar=quote or None,
        escapechar=(escape or None) if escape != quote else None,
        doublequote=bool(quote) and escape in ("", quote),
        quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE,
        strict=True,
    )
    if options.first_row_as_header:
        next(reader, None)
    return (tuple(row) for row in reader)


def _parquet_rows(data: bytes) -> Iterator[tuple[Any, ...]]:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    columns = [column.to_pylist() for column in table.columns]
    return iter(zip(*columns, strict=True)) if columns else iter(())
