"""Key ranges: their JSON form, and the SQL that bounds a part (row values, and SQL Server's spelled-out form)."""

from __future__ import annotations

import random
import sqlite3
from datetime import date, datetime, time
from decimal import Decimal
from uuid import UUID

from syncjobs.engine.keyset import KeyRange, key_from_json, key_to_json
from syncjobs.engine.sources.keyset_sql import boundary_select, range_condition
from syncjobs.engine.sqlnames import quote_ansi, quote_tsql


def test_key_values_survive_json_with_their_types():
    key = (
        1,
        "text",
        Decimal("1.50"),
        b"\x00\xff",
        datetime(2024, 2, 29, 12, 0, 1, 5),
        date(2024, 1, 1),
        time(23, 59),
        UUID(int=7),
        2.5,
        None,
        True,
    )
    assert key_from_json(key_to_json(key)) == key
    assert key_to_json(None) is None and key_from_json(None) is None
    ranged = KeyRange((1, "a"), None)
    assert KeyRange.from_json(ranged.to_json()) == ranged and not ranged.is_everything and KeyRange().is_everything


def test_the_spelled_out_comparison_selects_exactly_what_row_values_select():
    conn = sqlite3.connect(":memory:")
    conn.execute('CREATE TABLE t ("a" int, "b" text, "c" int, PRIMARY KEY ("a", "b", "c"))')
    rows = [(a, b, c) for a in range(4) for b in "xyz" for c in range(3)]
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    chance = random.Random(5)
    for _ in range(200):
        start, end = sorted(chance.sample(rows, 2))
        keys = KeyRange(chance.choice([start, None]), chance.choice([end, None]))
        picked = {}
        for row_values in (True, False):
            condition, params = range_condition(("a", "b", "c"), keys, quote_ansi, "?", row_values=row_values)
            where = f" WHERE {condition}" if condition else ""
            picked[row_values] = conn.execute(f"SELECT * FROM t{where}", params).fetchall()
        expected = [r for r in rows if (keys.start is None or r >= keys.start) and (keys.end is None or r < keys.end)]
        assert sorted(picked[True]) == sorted(picked[False]) == expected


def test_sql_server_finds_the_next_part_with_offset_fetch_and_spelled_out_keys():
    sql, params = boundary_select(
        "[dbo].[t]", ("a", "b"), KeyRange((1, "x"), None), 1000, quote_tsql, "?", row_values=False,
        fetch_clause="OFFSET {offset} ROWS FETCH NEXT 1 ROWS ONLY",
    )  # fmt: skip
    assert sql == (
        "SELECT [a], [b] FROM [dbo].[t] WHERE (([a] > ?) OR ([a] = ? AND [b] >= ?)) "
        "ORDER BY [a], [b] OFFSET 1000 ROWS FETCH NEXT 1 ROWS ONLY"
    )
    assert params == [1, 1, "x"]
