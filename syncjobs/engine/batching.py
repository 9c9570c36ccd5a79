"""Batches bounded by bytes as well as rows, so a table of wide rows holds no more memory than a narrow one.

A copy's memory is a few batches deep (the rows, their text or columns, the encoded bytes). Ten thousand
rows of a narrow table are a few MB; ten thousand rows of 4 KB text are 40 MB, and a copy held several
times that (SQLite -> blob CSV peaked at 365 MB). So a source fetches a small first batch, estimates the
row width from it, and sizes each next fetch to about ``BATCH_BYTES`` of Python objects, never more than
the rows asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from sys import getsizeof
from typing import Any

MIB = 1024 * 1024
BATCH_BYTES = 4 * MIB
FIRST_FETCH_ROWS = 1_000
SAMPLE_ROWS = 32

Rows = Sequence[tuple[Any, ...]]


def estimated_bytes(rows: Rows) -> int:
    """About how much memory ``rows`` hold as Python objects, from up to ``SAMPLE_ROWS`` rows spread evenly."""
    if not rows:
        return 0
    step = max(1, len(rows) // SAMPLE_ROWS)
    sample = rows[::step]
    sampled = sum(getsizeof(row) + sum(map(getsizeof, row)) for row in sample)
    return sampled * len(rows) // len(sample)


def fetch_batches(fetch: Callable[[int], Rows], most_rows: int, budget: int = BATCH_BYTES) -> Iterator[Rows]:
    """Batches from ``fetch(n)`` (a cursor's ``fetchmany``) of at most ``most_rows`` rows and about ``budget`` bytes.

    Yields the first batch even when it is empty (a reader still needs the columns), and stops after
    the first short batch.
    """
    most_rows = max(1, most_rows)
    size = min(most_rows, FIRST_FETCH_ROWS)
    batch = fetch(size)
    yield batch
    while len(batch) == size:
        size = rows_within(batch, most_rows, budget)
        batch = fetch(size)
        if not batch:
            return
        yield batch


def rows_within(seen: Rows, most_rows: int, budget: int = BATCH_BYTES) -> int:
    """How many rows as wide as ``seen`` fit in ``budget`` bytes (at least 1, at most ``most_rows``)."""
    width = max(1, estimated_bytes(seen) // max(1, len(seen)))
    return max(1, min(most_rows, budget // width))
