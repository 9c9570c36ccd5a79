"""Batches bounded by bytes as well as rows: wide rows come fewer at a time, every row exactly once."""

from __future__ import annotations

from syncjobs.engine.batching import BATCH_BYTES, FIRST_FETCH_ROWS, estimated_bytes, fetch_batches


def cursor(rows):
    """A list read the way a DB-API cursor's fetchmany reads a result, recording each size asked for."""
    asked = []
    position = 0

    def fetchmany(size):
        nonlocal position
        asked.append(size)
        batch, position = rows[position : position + size], position + size
        return batch

    return fetchmany, asked


def test_narrow_rows_come_a_small_batch_first_then_as_many_as_asked():
    rows = [(i, f"row {i}") for i in range(25_500)]
    fetch, asked = cursor(rows)
    batches = list(fetch_batches(fetch, 10_000))
    assert [len(b) for b in batches] == [FIRST_FETCH_ROWS, 10_000, 10_000, 4_500]
    assert [row for batch in batches for row in batch] == rows
    assert asked == [FIRST_FETCH_ROWS, 10_000, 10_000, 10_000]


def test_wide_rows_come_about_the_byte_budget_at_a_time():
    rows = [(i, "x" * 10_000) for i in range(5_000)]
    fetch, _ = cursor(rows)
    batches = list(fetch_batches(fetch, 10_000))
    assert [row for batch in batches for row in batch] == rows
    assert all(len(b) < 500 for b in batches[1:])  # ~10 KB rows: about 400 to a batch
    assert all(0.8 * BATCH_BYTES < estimated_bytes(b) <= BATCH_BYTES for b in batches[1:-1])


def test_no_rows_is_one_empty_batch_and_a_full_last_batch_asks_once_more():
    fetch, asked = cursor([])
    assert list(fetch_batches(fetch, 10_000)) == [[]]
    assert asked == [FIRST_FETCH_ROWS]
    fetch, asked = cursor([(i,) for i in range(6)])
    assert [len(b) for b in fetch_batches(fetch, 3)] == [3, 3]
    assert asked == [3, 3, 3]


def test_the_estimate_grows_with_the_values_held():
    narrow = [(i, "a") for i in range(1_000)]
    wide = [(i, "a" * 1_000) for i in range(1_000)]
    assert estimated_bytes([]) == 0
    assert estimated_bytes(wide) - estimated_bytes(narrow) == 999 * 1_000  # 999 more characters a row
