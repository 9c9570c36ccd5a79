"""The change-tracking copy: one function for every source.

Inside one snapshot (seed, "Use snapshot isolation"): describe the table (the first read pins the
snapshot), check the stored watermark against the table's own minimum valid version and the
database's identity, read the current version, read the net changes in ``(watermark, current]``, stream
them through the format into the sink, commit the sink, and only then hand the new watermark back for
the caller to store. Anything that goes wrong before ``commit`` aborts the file and returns no
watermark, so a failed or killed copy never advances it and a rerun copies the same window again.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import cast

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.formats import Format
from syncjobs.engine.gcpause import collector_paused
from syncjobs.engine.heap import large_allocations_mapped
from syncjobs.engine.sinks import Sink, SinkWriter
from syncjobs.engine.sources import Changes, CsvExportingSnapshot, FullTable, Query, RowSet, Snapshot, Source
from syncjobs.engine.types import (
    SYS_CHANGE_OPERATION,
    SYS_CHANGE_VERSION,
    Batch,
    ChangeWindow,
    CopyResult,
    FileWritten,
    Table,
    TableName,
    Watermark,
)

StopCheck = Callable[[], bool]
DEFAULT_BATCH_ROWS = 10_000


@dataclass(frozen=True)
class Plan:
    """What one change-tracking copy will do, decided inside the snapshot."""

    mode: str  # "full", "delta" or "reinitialized"
    reason_code: str
    reason: str
    current_version: int
    min_valid_version: int


def plan_copy(snapshot: Snapshot, table: Table, watermark: Watermark | None) -> Plan:
    """Decide between a delta and a full copy, checking the watermark as the seed prescribes."""
    if not table.primary_key:
        raise TerminalError(
            "no_primary_key",
            f"table {table.name} has no primary key; change tracking needs one to identify rows",
        )
    min_valid = snapshot.min_valid_version(table)  # raises change_tracking_disabled
    current = snapshot.current_version()
    if watermark is None:
        return Plan("full", "no_watermark", "first copy: full copy and a new baseline", current, min_valid)
    reinit = _reinit_reason(snapshot, watermark, current, min_valid)
    if reinit:
        return Plan("reinitialized", reinit[0], reinit[1], current, min_valid)
    return Plan("delta", "", "", current, min_valid)


def _reinit_reason(snapshot: Snapshot, watermark: Watermark, current: int, min_valid: int) -> tuple[str, str] | None:
    if current < watermark.version:
        return (
            "restored",
            f"the source's current version {current} is below the stored watermark {watermark.version}: "
            "the database was restored or re-created",
        )
    if watermark.version < min_valid:
        return (
            "min_version_expired",
            f"the watermark {watermark.version} is older than the table's minimum valid version {min_valid}: "
            "change information was cleaned up",
        )
    if watermark.database_identity and snapshot.database_identity(watermark.version) != watermark.database_identity:
        return (
            "identity_changed",
            f"the database's history at version {watermark.version} is not the one last synced: "
            "it was restored or re-created",
        )
    return None


def copy_table(
    source: Source,
    table_name: TableName,
    sink: Sink,
    fmt: Format,
    path: str,
    watermark: Watermark | None,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    should_stop: StopCheck | None = None,
    change_columns: tuple[str, ...] = (SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION),
) -> CopyResult:
    """Copy a table's changes since ``watermark`` (or the whole table) to ``path`` in ``sink``.

    Returns the result with the new watermark; the caller stores it. Raises EngineError on failure,
    having aborted the file.
    """
    started = time.monotonic()
    if not source.supports_change_tracking:
        raise TerminalError(
            "change_tracking_unsupported", f"this source has no change tracking to copy {table_name} by"
        )
    with source.snapshot() as snapshot:
        table = snapshot.describe(table_name)
        plan = plan_copy(snapshot, table, watermark)
        rows = _rowset(table, plan, watermark, change_columns)
        writer = sink.open(path, block_bytes=fmt.upload_block_bytes)
        try:
            counts, rows_written = _write(source, snapshot, rows, fmt, writer, batch_rows, should_stop)
            _recheck(snapshot, table, plan, watermark)
            identity = snapshot.database_identity(plan.current_version)
            written = writer.commit()
        except BaseException:
            writer.abort()
            raise
    return CopyResult(
        mode=plan.mode,
        reason=plan.reason,
        reason_code=plan.reason_code,
        previous_version=watermark.version if watermark else None,
        watermark=Watermark(plan.current_version, identity),
        min_valid_version=plan.min_valid_version,
        rows_read=rows_written,
        rows_written=rows_written,
        bytes_written=writer.bytes_written,
        files=(FileWritten(written, writer.bytes_written, rows_written),),
        seconds=time.monotonic() - started,
        counts=dict(counts),
    )


def _rowset(table: Table, plan: Plan, watermark: Watermark | None, change_columns: tuple[str, ...]) -> RowSet:
    if plan.mode == "delta":
        assert watermark is not None
        return Changes(table, ChangeWindow(watermark.version, plan.current_version), change_columns)
    return FullTable(table, with_change_columns=bool(change_columns))


def _recheck(snapshot: Snapshot, table: Table, plan: Plan, watermark: Watermark | None) -> None:
    """Without snapshot isolation (SQL Server's documented fallback), re-validate after reading."""
    recheck = getattr(snapshot, "recheck_min_valid_version", None)
    if plan.mode != "delta" or recheck is None or watermark is None:
        return
    if watermark.version < recheck(table):
        raise TerminalError(
            "min_version_expired",
            f"change information for {table.name} was cleaned up while it was being read; run again to reinitialize",
        )


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
            _, rows_written = _write(source, snapshot, rows, fmt, writer, batch_rows, should_stop)
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


def _write(
    source: Source,
    snapshot: Snapshot,
    rows: RowSet,
    fmt: Format,
    writer: SinkWriter,
    batch_rows: int,
    should_stop: StopCheck | None,
) -> tuple[Counter[str], int]:
    """Stream ``rows`` into ``writer``; return rows per operation and the row count."""
    large_allocations_mapped()
    with collector_paused():
        counts: Counter[str] = Counter()
        native = _native_chunks(source, snapshot, rows, fmt)
        if native is not None:
            counter = _RowCounter(native)
            for chunk in fmt.finish(counter):
                _check_stop(should_stop)
                writer.write(chunk)
            return counts, counter.rows
        total = 0
        text_values = fmt.wants_text_values and source.supports_text_values

        def batches() -> Iterator[Batch]:
            nonlocal total
            for batch in snapshot.read(rows, batch_rows=batch_rows, text_values=text_values):
                _check_stop(should_stop)
                total += len(batch)
                _count_operations(batch, counts)
                yield batch

        for chunk in fmt.encode(batches()):
            writer.write(chunk)
        return counts, total


def _native_chunks(source: Source, snapshot: Snapshot, rows: RowSet, fmt: Format) -> Iterator[bytes] | None:
    """The source's own export, when it ``supports_native_csv`` and has one for this format and these options.

    DelimitedText: the source writes the file's text itself (PostgreSQL's COPY). Parquet: the source
    writes typed CSV that the format parses in C++ (pyarrow) instead of reading rows into Python.
    """
    if isinstance(rows, Changes) or not source.supports_native_csv:
        return None
    exporting = cast(CsvExportingSnapshot, snapshot)
    options = fmt.native_options()
    if options is not None and exporting.csv_export_possible(options):
        return exporting.export_delimited(rows, options)
    parse = getattr(fmt, "from_typed_csv", None)
    if parse is None:
        return None
    export = exporting.export_typed_csv(rows, fmt.typed_csv_kinds)
    return None if export is None else parse(export[1], export[0])


class _RowCounter:
    """Passes chunks through and keeps the row count the export returns when it ends."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self.rows = 0

    def __iter__(self) -> Iterator[bytes]:
        self.rows = yield from self._chunks
        self.rows = self.rows or 0


def _count_operations(batch: Batch, counts: Counter[str]) -> None:
    names = [c.name for c in batch.columns]
    if SYS_CHANGE_OPERATION not in names:
        return
    index = names.index(SYS_CHANGE_OPERATION)
    counts.update(row[index] for row in batch.rows if row[index] is not None)


def _check_stop(should_stop: StopCheck | None) -> None:
    if should_stop is not None and should_stop():
        raise TerminalError("cancelled", "the copy was cancelled; nothing was written and the watermark did not move")


def rows_of(batches: Iterable[Batch]) -> list[tuple]:
    """All rows of a batch stream (for lookups and tests; never for copies)."""
    return [row for batch in batches for row in batch.rows]
