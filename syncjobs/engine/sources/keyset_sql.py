"""Key ranges in SQL: the condition a part's read adds, and the query that finds where the next part starts.

PostgreSQL and SQLite compare row values (``(a, b) >= (%s, %s)``); SQL Server has none, so there the
comparison is spelled out column by column (``a > ? OR (a = ? AND b >= ?)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from syncjobs.engine.keyset import KeyRange, KeyValues


def _row_values(columns: Sequence[str], op: str, placeholder: str) -> str:
    if len(columns) == 1:
        return f"{columns[0]} {op} {placeholder}"
    return f"({', '.join(columns)}) {op} ({', '.join([placeholder] * len(columns))})"


def _spelled_out(columns: Sequence[str], op: str, placeholder: str) -> str:
    """Lexicographic ``columns op values`` without row values: one alternative per leading column."""
    strict = op.rstrip("=")
    alternatives = []
    for i, column in enumerate(columns):
        equal = [f"{c} = {placeholder}" for c in columns[:i]]
        last = op if i == len(columns) - 1 else strict
        alternatives.append("(" + " AND ".join([*equal, f"{column} {last} {placeholder}"]) + ")")
    return "(" + " OR ".join(alternatives) + ")"


def _bound(
    columns: Sequence[str], op: str, values: KeyValues, placeholder: str, row_values: bool
) -> tuple[str, list[Any]]:
    if row_values:
        return _row_values(columns, op, placeholder), list(values)
    # The i-th alternative compares the first i + 1 columns, so it takes the first i + 1 values.
    return _spelled_out(columns, op, placeholder), [v for i in range(len(columns)) for v in values[: i + 1]]


def range_condition(
    keys: Sequence[str],
    key_range: KeyRange | None,
    quote: Callable[[str], str],
    placeholder: str,
    *,
    row_values: bool = True,
    prefix: str = "",
) -> tuple[str, list[Any]]:
    """``start <= key < end`` as a condition (without WHERE) and its parameters; ``("", [])`` when unbounded."""
    if key_range is None:
        return "", []
    columns = [f"{prefix}{quote(k)}" for k in keys]
    parts, params = [], []
    for op, values in ((">=", key_range.start), ("<", key_range.end)):
        if values is not None:
            text, values_params = _bound(columns, op, values, placeholder, row_values)
            parts.append(text)
            params += values_params
    return " AND ".join(parts), params


def boundary_select(
    table_sql: str,
    keys: Sequence[str],
    key_range: KeyRange,
    offset: int,
    quote: Callable[[str], str],
    placeholder: str,
    *,
    row_values: bool = True,
    fetch_clause: str = "LIMIT 1 OFFSET {offset}",
) -> tuple[str, list[Any]]:
    """The key ``offset`` rows into ``key_range`` in key order (where the next part starts), and its parameters."""
    condition, params = range_condition(keys, key_range, quote, placeholder, row_values=row_values)
    names = ", ".join(quote(k) for k in keys)
    where = f" WHERE {condition}" if condition else ""
    return f"SELECT {names} FROM {table_sql}{where} ORDER BY {names} {fetch_clause.format(offset=int(offset))}", params
