"""PostgreSQL's COPY ... TO STDOUT as DelimitedText: the COPY options, the header row, and the row ends."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from contextlib import suppress
from functools import partial
from itertools import islice
from operator import itemgetter
from typing import Any

import psycopg
from psycopg import pq

from syncjobs.engine.sqlnames import quote_ansi, quote_literal

QUOTED_KINDS = ("string",)  # the kinds DelimitedText's quoteAllText quotes


def csv_export_possible(options: Any) -> bool:
    """COPY takes one-byte ASCII delimiter, quote and escape, and ends rows with "\\n" (or "\\r\\n" after us)."""
    one = (options.column_delimiter, options.quote_char, options.escape_char)
    if any(len(c) != 1 or not c.isascii() or c in "\r\n" for c in one):
        return False
    if options.column_delimiter in (options.quote_char, options.escape_char):
        return False
    null = options.null_value
    return options.row_delimiter in ("\n", "\r\n") and not any(
        ch in null for ch in ("\r", "\n", options.column_delimiter, options.quote_char)
    )


def copy_options(options: Any, force_quote: Sequence[str]) -> str:
    """The WITH (...) options of COPY ... TO STDOUT for DelimitedText options."""
    parts = [
        "FORMAT csv",
        f"DELIMITER {quote_literal(options.column_delimiter)}",
        f"QUOTE {quote_literal(options.quote_char)}",
        f"ESCAPE {quote_literal(options.escape_char)}",
        f"NULL {quote_literal(options.null_value)}",
    ]
    if force_quote:
        parts.append(f"FORCE_QUOTE ({', '.join(quote_ansi(n) for n in force_quote)})")
    return ", ".join(parts)


def header_line(names: Sequence[str], options: Any) -> str:
    """The header row: a name is quoted when it holds the delimiter, the quote or a line break (as COPY does)."""
    quote: str = options.quote_char
    escape: str = options.escape_char
    delimiter: str = options.column_delimiter
    row_end: str = options.row_delimiter
    specials = (delimiter, quote, "\r", "\n")

    def cell(name: str) -> str:
        if name and not any(s in name for s in specials if s):
            return name
        return quote + "".join(escape + ch if ch in (quote, escape) else ch for ch in name) + quote

    return delimiter.join(cell(n) for n in names) + row_end


def copy_out(
    conn: psycopg.Connection[Any], query: bytes, row_end: bytes, size: int = 256 * 1024
) -> Generator[bytes, None, int]:
    """Run ``COPY ... TO STDOUT`` and yield its bytes in chunks of about ``size``; returns the row count.

    libpq is called directly (``get_copy_data`` driven by C-level ``map``/``islice``): psycopg's ``Copy``
    iterator costs a Python generator round trip per row, which made reading cost more than the export. The
    protocol sends exactly one CopyData message per row, ending in "\\n", so turning row ends into
    ``row_end`` needs no parsing: when a chunk holds no more "\\n" than messages, ``replace`` is exact;
    otherwise each message's last byte is replaced. Raises ``psycopg.Error``; if the reader stops
    early, the COPY is cancelled and drained so the connection can roll back.
    """
    pgconn = conn.pgconn
    started = pgconn.exec_(query)
    if started.status != pq.ExecStatus.COPY_OUT:
        raise _error(started, conn)
    finished = False
    try:
        # One CopyData message per row, until libpq answers (-1, b"") at the end (-2 raises). Each
        # memoryview becomes bytes at once: held, they would set off the garbage collector.
        messages = iter(partial(pgconn.get_copy_data, 0), (-1, b""))
        rows = map(bytes, map(itemgetter(1), messages))
        count = 64  # rows per chunk, adjusted to keep chunks near ``size`` bytes
        while parts := list(islice(rows, count)):
            chunk = _with_row_ends(parts, row_end)
            yield chunk
            count = max(1, size * len(parts) // len(chunk))
        finished = True  # the results are read to the end below, even when the COPY failed
        return _final_row_count(conn)
    finally:
        if not finished:
            _abandon(conn)


def _with_row_ends(parts: list[Any], row_end: bytes) -> bytes:
    chunk = b"".join(parts)
    if row_end == b"\n":
        return chunk
    if chunk.count(b"\n") == len(parts):  # no line break inside a value: every "\n" ends a row
        return chunk.replace(b"\n", row_end)
    return b"".join(piece for part in parts for piece in (part[:-1], row_end))


def _final_row_count(conn: psycopg.Connection[Any]) -> int:
    pgconn, rows, failed = conn.pgconn, -1, None
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK:
            failed = failed or _error(result, conn)
        elif result.command_tuples is not None:
            rows = result.command_tuples
    if failed is not None:
        raise failed
    return rows


def _abandon(conn: psycopg.Connection[Any]) -> None:
    """Cancel a COPY the reader left, and read to its end, so the connection is free again."""
    pgconn = conn.pgconn
    with suppress(psycopg.Error):
        conn.cancel_safe(timeout=10)
    with suppress(psycopg.Error):
        while pgconn.get_copy_data(0)[0] > 0:
            pass
    with suppress(psycopg.Error):
        while pgconn.get_result() is not None:
            pass


def _error(result: Any, conn: psycopg.Connection[Any]) -> psycopg.Error:
    """The psycopg error class of a failed result's SQLSTATE, with the server's message."""
    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    message = (result.error_message or conn.pgconn.error_message or b"COPY failed").decode(errors="replace")
    cls = psycopg.errors.lookup(state.decode()) if state else psycopg.OperationalError
    return cls(message.removeprefix("ERROR:  ").strip())
