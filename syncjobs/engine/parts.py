"""A window's part files: full windows read key range by key range (resumable, optionally in parallel),
deltas split as they stream. Every part is checksummed as written; a part that holds no rows is dropped.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial

from syncjobs.engine.formats import Format
from syncjobs.engine.keyset import KeyRange
from syncjobs.engine.sinks import Sink, SinkWriter
from syncjobs.engine.sources import Changes, FullTable, Snapshot, Source
from syncjobs.engine.streaming import Reading, StopCheck, encode_batches, stream_rows
from syncjobs.engine.types import Batch, Table
from syncjobs.engine.windows import PartWritten, PendingWindow, RangeState, WindowJournal, part_name

logger = logging.getLogger(__name__)


class ChecksumWriter:
    """A sink writer that also hashes and counts what goes through it."""

    def __init__(self, writer: SinkWriter) -> None:
        self._writer = writer
        self._hash = hashlib.sha256()
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        """Hash, then write."""
        self._hash.update(data)
        self._writer.write(data)
        self.bytes_written += len(data)

    def commit(self) -> str:
        """Commit the file."""
        return self._writer.commit()

    def abort(self) -> None:
        """Drop the file."""
        self._writer.abort()

    @property
    def checksum(self) -> str:
        """``sha256:<hex>`` of the bytes written."""
        return "sha256:" + self._hash.hexdigest()


@dataclass(frozen=True)
class PartTarget:
    """Where a window's parts go and how they are written."""

    sink: Sink
    fmt: Format
    prefix: str
    claim: int
    batch_rows: int
    should_stop: StopCheck | None
    reading: Reading

    def path(self, index: int) -> str:
        """The sink path of part ``index``."""
        return f"{self.prefix}/{part_name(index, self.claim, self.fmt.extension)}"

    def write(self, index: int, produce: Callable[[SinkWriter], tuple[Counter[str], int]]) -> PartWritten | None:
        """Write one part with ``produce``; commit it, or drop it when it holds no rows (None)."""
        path = self.path(index)
        writer = ChecksumWriter(self.sink.open(path, block_bytes=self.fmt.upload_block_bytes))
        try:
            counts, rows = produce(writer)
            if rows == 0:
                writer.abort()
                return None
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        return PartWritten(index, path, rows, writer.bytes_written, writer.checksum, dict(counts))


def write_delta_parts(snapshot: Snapshot, rows: Changes, target: PartTarget, max_rows: int) -> list[PartWritten]:
    """A delta's changes in parts of at most ``max_rows`` rows; none at all for a quiet window."""
    fmt = target.fmt
    batches = snapshot.read(rows, batch_rows=target.batch_rows, text_values=target.reading.text_values)
    parts = []
    for index, part_batches in enumerate(split_batches(batches, max_rows)):
        part = target.write(index, partial(_encode_into, part_batches, fmt, target.should_stop))
        if part is not None:
            parts.append(part)
    return parts


def _encode_into(
    batches: Iterable[Batch], fmt: Format, should_stop: StopCheck | None, writer: SinkWriter
) -> tuple[Counter[str], int]:
    return encode_batches(batches, fmt, writer, should_stop)


def split_batches(batches: Iterable[Batch], max_rows: int) -> Iterator[Iterator[Batch]]:
    """Cut a batch stream into runs of at most ``max_rows`` rows (each consumed before the next is asked for).

    Empty batches are skipped, so a stream without rows gives no run at all.
    """
    source = iter(batches)
    carry: list[Batch] = []

    def next_batch() -> Batch | None:
        if carry:
            return carry.pop()
        return next((b for b in source if len(b)), None)

    def run(first: Batch) -> Iterator[Batch]:
        room: int = max_rows
        batch: Batch | None = first
        while batch is not None:
            if len(batch) > room:
                carry.append(Batch(batch.columns, batch.rows[room:], batch.text_values))
                yield Batch(batch.columns, batch.rows[:room], batch.text_values)
                return
            yield batch
            room -= len(batch)
            batch = next_batch() if room else None

    while (first := next_batch()) is not None:
        yield run(first)


def record_or_remove(
    journal: WindowJournal, window: PendingWindow, sink: Sink, parts: Iterable[PartWritten | None]
) -> None:
    """Record the window; if the journal refuses (the claim was lost), remove ``parts``: never recorded,
    no manifest can name them, and a run that lost its claim leaves nothing behind."""
    try:
        journal.record(window)
    except BaseException:
        remove_parts(sink, parts)
        raise


def remove_parts(sink: Sink, parts: Iterable[PartWritten | None]) -> None:
    """Delete part files, best effort (a failure here must not hide the error being raised)."""
    for part in parts:
        if part is not None:
            try:
                sink.delete(part.path)
            except Exception:  # noqa: S110 - never read without a manifest; the next window's cleanup tries again
                pass


class RangePlan:
    """A full window's key ranges: split as they are reached (``max_rows`` each), then marked done.

    The ranges always partition the key space in key order; one not done is still to read (after a
    crash, a rerun reads those again, in its own snapshot). Splitting reads one index (``key_boundary``).
    """

    def __init__(self, window: PendingWindow, snapshot: Snapshot, table: Table, max_rows: int) -> None:
        self.window = window
        self._ranges = list(window.ranges) or [RangeState(KeyRange())]
        self._snapshot, self._table, self._max_rows = snapshot, table, max_rows
        self._next_index = max((p.index for p in window.parts), default=-1) + 1
        self.planned = 0

    def __iter__(self) -> Iterator[tuple[int, KeyRange]]:
        """Each range to read now, with its part number."""
        i = 0
        while i < len(self._ranges):
            state = self._ranges[i]
            if not state.done:
                keys = state.keys
                boundary = self._snapshot.key_boundary(self._table, keys, self._max_rows)
                if boundary is not None:
                    keys = KeyRange(keys.start, boundary)
                    self._ranges[i : i + 1] = [RangeState(keys), RangeState(KeyRange(boundary, state.keys.end))]
                index, self._next_index = self._next_index, self._next_index + 1
                self.planned += 1
                yield index, keys
            i += 1

    def finish(self, keys: KeyRange, part: PartWritten | None) -> PendingWindow:
        """Mark the range done (with its part, None when it held no rows); return the window as it now stands."""
        at = next(i for i, r in enumerate(self._ranges) if r.keys == keys and not r.done)
        self._ranges[at] = RangeState(keys, True, part)
        self.window = self.window.with_ranges(self._ranges)
        return self.window


def write_full_parts(
    snapshot: Snapshot,
    rows: FullTable,
    source: Source,
    plan: RangePlan,
    target: PartTarget,
    journal: WindowJournal,
    parallel: int = 1,
) -> PendingWindow:
    """Read every range of ``rows`` not done; each part is committed, then recorded done. Returns the window."""
    if parallel <= 1:
        for index, keys in plan:
            part = _read_range(snapshot, rows, keys, target, index, target.should_stop)
            record_or_remove(journal, plan.finish(keys, part), target.sink, [part])
        return plan.window
    return _write_parallel(source, rows, plan, target, journal, parallel)


def _read_range(
    snapshot: Snapshot, rows: FullTable, keys: KeyRange, target: PartTarget, index: int, stop: StopCheck | None
) -> PartWritten | None:
    ranged = FullTable(rows.table, rows.with_change_columns, None if keys.is_everything else keys)
    logger.info("reading part %d of %s (claim %d)", index, target.prefix, target.claim)
    return target.write(
        index, lambda w: stream_rows(snapshot, ranged, target.fmt, w, target.batch_rows, stop, target.reading)
    )


def _in_own_snapshot(
    source: Source, rows: FullTable, keys: KeyRange, target: PartTarget, index: int, stop: StopCheck
) -> PartWritten | None:
    with source.snapshot() as snapshot:
        return _read_range(snapshot, rows, keys, target, index, stop)


def _write_parallel(
    source: Source, rows: FullTable, plan: RangePlan, target: PartTarget, journal: WindowJournal, parallel: int
) -> PendingWindow:
    """Ranges read over ``parallel`` connections, each part in its own snapshot; the window is recorded
    from this thread only, as parts finish (in any order)."""
    stop = threading.Event()
    running: dict[Future[PartWritten | None], KeyRange] = {}

    def settle(block_until: int) -> None:
        while len(running) > block_until:
            done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
            if target.should_stop is not None and target.should_stop():
                stop.set()
            for future in done:
                part = future.result()
                record_or_remove(journal, plan.finish(running.pop(future), part), target.sink, [part])

    with ThreadPoolExecutor(parallel, thread_name_prefix="ctportal-part") as pool:
        try:
            for index, keys in plan:
                settle(parallel - 1)
                running[pool.submit(_in_own_snapshot, source, rows, keys, target, index, stop.is_set)] = keys
            settle(0)
        except BaseException:
            stop.set()
            raise
    return plan.window
