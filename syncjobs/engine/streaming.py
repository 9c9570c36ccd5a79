"""Rows into a file: through the database's own export when it has one, else batch by batch through the format."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import cast

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.formats import Format
from syncjobs.engine.gcpause import collector_paused
from syncjobs.engine.heap import large_allocations_mapped
from syncjobs.engine.sinks import Sink, SinkWriter
from syncjobs.engine.sources import Changes, CsvExportingSnapshot, FullTable, Query, RowSet, Snapshot, Source
from syncjobs.engine.types import SYS_CHANGE_OPERATION, Batch, CopyResult, FileWritten

StopCheck = Callable[[], bool]
DEFAULT_BATCH_ROWS = 10_000


@dataclass(frozen=True)
class Reading:
    """What a copy asks its source for, by what the source declares (its ``supports_*`` flags)."""

    native: bool = False  # the database's own CSV export (``supports_native_csv``)
    text_values: bool = False  # values in the database's own text form (``supports_text_values``)

    @classmethod
    def of(cls, source: Source, fmt: Format) -> Reading:
        """How ``source`` is read for ``fmt``."""
        return cls(source.supports_native_csv, fmt.wants_text_values and source.supports_text_values)


def stream_rows(
    snapshot: Snapshot,
    rows: RowSet,
    fmt: Format,
    writer: SinkWriter,
    batch_rows: int,
    should_stop: StopCheck | None,
    reading: Reading,
) -> tuple[Counter[str], int]:
    """Stream ``rows`` into ``writer``; return rows per operation and the row count."""
    large_allocations_mapped()
    with collector_paused():
        native = _native_chunks(cast(CsvExportingSnapshot, snapshot), rows, fmt) if reading.native else None
        if native is not None:
            counter = _RowCounter(native)
            for chunk in fmt.finish(counter):
                check_stop(should_stop)
                writer.write(chunk)
            return Counter(), counter.rows
        batches = snapshot.read(rows, batch_rows=batch_rows, text_values=reading.text_values)
        return encode_batches(batches, fmt, writer, should_stop)


def encode_batches(
    batches: Iterable[Batch], fmt: Format, writer: SinkWriter, should_stop: StopCheck | None
) -> tuple[Counter[str], int]:
    """Encode batches with ``fmt`` into ``writer``; return rows per operation and the row count."""
    counts: Counter[str] = Counter()
    total = 0

    def counted() -> Iterator[Batch]:
        nonlocal total
        for batch in batches:
            check_stop(should_stop)
            total += len(batch)
            _count_operations(batch, counts)
            yield batch

    with collector_paused():
        for chunk in fmt.encode(counted()):
            writer.write(chunk)
    return counts, total


def _native_chunks(
    snapshot: CsvExportingSnapshot, rows: RowSet, fmt: Format
) -> Generator[bytes, None, int | None] | None:
    """The export of a source that ``supports_native_csv``, when it has one for this format and these options.

    DelimitedText: the source writes the file's text itself (PostgreSQL's COPY). Parquet: the source
    writes typed CSV that the format parses in C++ (pyarrow) instead of reading rows into Python.
    """
    if isinstance(rows, Changes):
        return None
    options = fmt.native_options()
    if options is not None and snapshot.csv_export_possible(options):
        return snapshot.export_delimited(rows, options)
    parse = getattr(fmt, "from_typed_csv", None)
    if parse is None:
        return None
    export = snapshot.export_typed_csv(rows, getattr(fmt, "typed_csv_kinds", frozenset()))
    return None if export is None else parse(export[1], export[0])


class _RowCounter:
    """Passes chunks through and keeps the row count the export returns when it ends."""

    def __init__(self, chunks: Generator[bytes, None, int | None]) -> None:
        self._chunks = chunks
        self.rows = 0

    def __iter__(self) -> Iterator[bytes]:
        self.rows = (yield from self._chunks) or 0


def _count_operations(batch: Batch, counts: Counter[str]) -> None:
    names = [c.name for c in batch.columns]
    if SYS_CHANGE_OPERATION not in names:
        return
    index = names.index(SYS_CHANGE_OPERATION)
    counts.update(row[index] for row in batch.rows if row[index] is not None)


def check_stop(should_stop: StopCheck | None) -> None:
    """Raise ``cancelled`` when the copy should stop (cancel or timeout); nothing it wrote is committed."""
    if should_stop is not None and should_stop():
        raise TerminalError("cancelled", "the copy was cancelled; nothing was written and the watermark did not move")


def copy_rows(
    source: Source,
    rows: Query | FullTable,
    sink: Sink,
    fmt: Format,
    path: str,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    should_stop: StopCheck | None = None,
) -> CopyResult:
    """A plain copy (ADF's Copy activity): a table or a query, in one snapshot, to one file."""
    started = time.monotonic()
    with source.snapshot() as snapshot:
        writer = sink.open(path, block_bytes=fmt.upload_block_bytes)
        try:
            _, rows_written = stream_rows(snapshot, rows, fmt, writer, batch_rows, should_stop, Reading.of(source, fmt))
            written = writer.commit()
        except BaseException:
            writer.abort()
            raise
    return CopyResult(
        mode="full",
        reason="",
        reason_code="",
        previous_version=None,
        watermark=None,
        min_valid_version=None,
        rows_read=rows_written,
        rows_written=rows_written,
        bytes_written=writer.bytes_written,
        files=(FileWritten(written, writer.bytes_written, rows_written),),
        seconds=time.monotonic() - started,
    )
