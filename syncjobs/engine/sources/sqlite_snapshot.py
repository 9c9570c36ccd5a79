"""A SQLite snapshot: one read transaction that describes and reads; also the T-SQL rewriter's dialect.

Column kinds come from the declared type, in SQLite's own affinity order:

=====================================  ==========  =========================================
declared type                          kind        value
=====================================  ==========  =========================================
contains INT (INTEGER, BIGINT...)      int         as stored
BOOLEAN, BOOL                          bool        as stored (0/1)
contains REAL, FLOA, DOUB              float       as stored
NUMERIC, DECIMAL, (p, s) if given      decimal     Decimal, padded to the scale when exact
DATETIME, TIMESTAMP...                 datetime    as stored (usually ISO text)
DATE                                   date        as stored (usually ISO text)
BLOB                                   binary      as stored
JSON, JSONB                            json        as stored (text)
anything else, or no type              string      as stored
=====================================  ==========  =========================================

"As stored" is what sqlite3 returns: int, float, str, bytes or None, since SQLite keeps whatever a
row was given. Query results have no declared types: their kinds come from the first batch's values.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from functools import cache
from operator import mod
from typing import Any

from syncjobs.engine.batching import Rows, fetch_batches
from syncjobs.engine.errors import EngineError, TerminalError, TransientError
from syncjobs.engine.sources import Changes, FullTable, Query, RowSet
from syncjobs.engine.sources import sqlite_tracking as ct
from syncjobs.engine.sources.emulated import EmulatedTrackingSnapshot
from syncjobs.engine.sources.tsql_functions import rewrite
from syncjobs.engine.sqlnames import quote_ansi
from syncjobs.engine.types import (
    SYS_CHANGE_COLUMNS,
    SYS_CHANGE_CREATION_VERSION,
    SYS_CHANGE_OPERATION,
    SYS_CHANGE_VERSION,
    Batch,
    Column,
    Table,
    TableName,
)

_CHANGE_KINDS = {
    SYS_CHANGE_VERSION: "int",
    SYS_CHANGE_CREATION_VERSION: "int",
    SYS_CHANGE_OPERATION: "string",
    SYS_CHANGE_COLUMNS: "string",
}
_ERRORS = {
    "BUSY": ("locked", True),
    "LOCKED": ("locked", True),
    "IOERR": ("io_error", True),
    "CANTOPEN": ("database_missing", False),
    "NOTADB": ("not_a_database", False),
    "CORRUPT": ("corrupt", False),
    "READONLY": ("read_only", False),
    "FULL": ("disk_full", False),
    "PERM": ("permission_denied", False),
    "AUTH": ("permission_denied", False),
    "CONSTRAINT": ("constraint", False),
    "INTERRUPT": ("cancelled", False),
}
_TYPE = re.compile(r"^\s*([^(]*?)\s*(?:\(\s*([+-]?\d+)\s*(?:,\s*([+-]?\d+)\s*)?\))?\s*$")
TABLES_SQL = (
    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
    "AND name NOT LIKE '\\_ctportal\\_%' ESCAPE '\\' AND coalesce(sql, '') NOT LIKE 'CREATE VIRTUAL%' ORDER BY name"
)


def engine_error(exc: sqlite3.Error, database: str) -> EngineError:
    """Map a sqlite3 error to a terminal or transient engine error with a reason code."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    reason, transient = _ERRORS.get(name.split("_")[1] if name.count("_") else "", ("", False))
    text = str(exc) or exc.__class__.__name__
    if not reason:
        reason = "table_not_found" if text.startswith("no such table") else "invalid_query"
        reason = reason if name in ("SQLITE_ERROR", "") else "query_failed"
    return (TransientError if transient else TerminalError)(reason, f"SQLite {database}: {text}")


def column_kind(declared: str) -> tuple[str, int | None, int | None]:
    """The kind, precision and scale of a declared column type (see the module's table)."""
    match = _TYPE.match(declared)
    base = (match.group(1) if match else declared).upper()
    precision = int(match.group(2)) if match and match.group(2) else None
    scale = int(match.group(3)) if match and match.group(3) else (0 if precision is not None else None)
    if "INT" in base:
        return "int", None, None
    if base in ("BOOLEAN", "BOOL"):
        return "bool", None, None
    if any(word in base for word in ("REAL", "FLOA", "DOUB")):
        return "float", None, None
    if base.startswith(("NUMERIC", "DECIMAL")):
        return "decimal", precision, scale
    kinds = {"DATE": "date", "DATETIME": "datetime", "BLOB": "binary", "JSON": "json", "JSONB": "json"}
    return ("datetime" if base.startswith("TIMESTAMP") else kinds.get(base, "string")), None, None


def _as_decimal(value: Any, scale: int | None) -> Any:
    """A stored number or numeric text as a Decimal; padded to ``scale`` only when no digit is lost."""
    if value is None or isinstance(value, bytes):
        return value
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        exponent = number.as_tuple().exponent  # a letter for NaN and infinities
        if scale is not None and isinstance(exponent, int) and exponent >= -scale:
            number = number.quantize(Decimal(1).scaleb(-scale))
    except (InvalidOperation, ValueError):
        return value  # SQLite keeps any text in any column; pass it on as it is
    return number


def _decimal_text(value: Any, scale: int | None) -> Any:
    """``format(_as_decimal(value, scale), "f")`` without building a Decimal for plain numbers (CSV's hot path)."""
    if scale is not None and type(value) in (int, float):
        text = repr(value)
        if text.isdigit() or (text[0] == "-" and text[1:].isdigit()):
            return f"{text}.{'0' * scale}" if scale else text
        whole, dot, fraction = text.partition(".")
        if dot and whole.lstrip("-").isdigit() and fraction.isdigit():
            return text + "0" * (scale - len(fraction)) if len(fraction) <= scale else text
    converted = _as_decimal(value, scale)
    return format(converted, "f") if isinstance(converted, Decimal) else converted


def _decimal_column(values: Sequence[Any], scale: int | None, as_text: bool) -> list[Any]:
    """A whole decimal column as ``_as_decimal`` (or, ``as_text``, ``_decimal_text``) gives each value.

    When every value is an int or a float, they are ``repr``-ed together and padded to the scale with
    a few regex passes over the joined column; Decimals, if wanted, are then built by one ``map``.
    """
    kinds = set(map(type, values))
    present = [v for v in values if v is not None] if type(None) in kinds else values
    texts = _padded_texts(present, scale) if kinds <= {int, float, type(None)} and present else None
    if texts is None:
        convert = _decimal_text if as_text else _as_decimal
        return [convert(v, scale) for v in values]
    converted = iter(texts if as_text else map(Decimal, texts))
    return [None if v is None else next(converted) for v in values] if present is not values else list(converted)


def _padded_texts(numbers: Sequence[int | float], scale: int | None) -> list[str] | None:
    """``_decimal_text`` of ints and floats, or None when one needs the Decimal route (exponent, inf, nan).

    Ints get their zeros from a per-type format string; floats' ``repr`` fractions shorter than the
    scale are padded by regexes that find the separator after them (a literal: fast, no templates).
    """
    forms = {int: f"%d.{'0' * scale}" if scale else "%d", float: "%r"}
    whole = "\x00".join(map(mod, map(forms.__getitem__, map(type, numbers)), numbers)) + "\x00"
    if "e" in whole or "n" in whole:
        return None
    width = scale or 0
    for digits in range(1, width):
        whole = _fraction_end(digits).sub("0" * (width - digits) + "\x00", whole)
    return whole.split("\x00")[:-1]


@cache
def _fraction_end(digits: int) -> re.Pattern[str]:
    """The separator after a fraction of exactly ``digits`` digits (and so where its padding goes)."""
    return re.compile(rf"(?<=\.\d{{{digits}}})\x00")


def _converted(columns: Sequence[Column], rows: Rows, text_values: bool = False) -> Rows:
    decimals = [(i, c.scale) for i, c in enumerate(columns) if c.kind == "decimal"]
    if not decimals or not rows:
        return rows
    values: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for i, scale in decimals:
        values[i] = _decimal_column(values[i], scale, text_values)
    return list(zip(*values, strict=True))


def _result_columns(description: Sequence[Any], rows: Rows) -> tuple[Column, ...]:
    """A query's columns: kinds from the first non-NULL value of each in the first batch."""
    kinds = {int: "int", float: "float", bytes: "binary", bool: "bool"}
    columns = []
    for i, d in enumerate(description):
        value = next((row[i] for row in rows if row[i] is not None), None)
        columns.append(Column(d[0], kinds.get(type(value), "string")))
    return tuple(columns)


class SqliteSnapshot(EmulatedTrackingSnapshot):
    """One read transaction on one connection; also the T-SQL rewriter's dialect."""

    _tracking = ct
    _null_version = "CAST(NULL AS INTEGER)"

    def __init__(self, conn: sqlite3.Connection, database: str) -> None:
        self._conn = conn
        self._database = database

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query in this transaction and fetch its (small) result."""
        try:
            return self._conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise engine_error(exc, self._database) from None

    def tracking_installed(self) -> bool:
        """Whether enable_change_tracking ever installed the side tables here."""
        return bool(self.rows("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_ctportal_tables'"))

    def table_name(self, name: TableName) -> str:
        """The table's name as stored (SQLite names are case-insensitive); raises table_not_found."""
        if (name.schema or "main").lower() != "main":
            raise TerminalError("table_not_found", f"table {name} does not exist: SQLite has only the schema main")
        found = self.rows(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE", (name.name,)
        )
        if not found:
            raise TerminalError("table_not_found", f"table {name} does not exist in {self._database}")
        stored: str = found[0][0]
        return stored

    def registration(self, table: str) -> tuple[int, bool, bool] | None:
        """(registry id, track_columns, triggers intact) of a tracked table, or None."""
        if not self.tracking_installed():
            return None
        found = self.rows(f"SELECT id, track_columns FROM {ct.TABLES} WHERE table_name = ?", (table,))
        if not found:
            return None
        table_id, track_columns = found[0]
        names = ct.trigger_names(table_id)
        present = self.rows(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name IN (?, ?, ?) AND tbl_name = ?",
            (*names, table),
        )[0][0]
        return table_id, bool(track_columns), present == len(names)

    def _row_estimate(self, table: str) -> int:
        if self.rows("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'"):
            stat = self.rows("SELECT stat FROM sqlite_stat1 WHERE tbl = ? LIMIT 1", (table,))
            if stat and str(stat[0][0]).split(" ")[0].isdigit():
                return int(str(stat[0][0]).split(" ")[0])
        count: int = self.rows(f"SELECT count(*) FROM {quote_ansi(table)}")[0][0]
        return count

    def describe(self, name: TableName) -> Table:
        """Columns with kinds, primary key in key order, change-tracking state, row estimate."""
        table = self.table_name(name)
        info = self.rows(
            'SELECT name, type, "notnull", pk FROM pragma_table_xinfo(?) WHERE hidden <> 1 ORDER BY cid', (table,)
        )
        key = tuple(n for n, _, _, pk in sorted(info, key=lambda r: r[3]) if pk)
        columns = []
        for col, declared, not_null, pk in info:
            kind, precision, scale = column_kind(declared or "")
            rowid = pk and len(key) == 1 and (declared or "").upper() == "INTEGER"
            columns.append(Column(col, kind, declared or "", not (not_null or rowid), precision, scale))
        tracked = self.registration(table)
        return Table(
            name=TableName(table),
            columns=tuple(columns),
            primary_key=key,
            change_tracking=bool(tracked and tracked[2]),
            track_columns=bool(tracked and tracked[2] and tracked[1]),
            row_estimate=self._row_estimate(table),
        )

    def current_version(self) -> int:
        """CHANGE_TRACKING_CURRENT_VERSION() as this snapshot sees it (0 before tracking is installed)."""
        version: int = self.rows(f"SELECT {ct.current_version_sql()}")[0][0] if self.tracking_installed() else 0
        return version

    def _tracked_id(self, name: TableName) -> int:
        table = self.table_name(name)
        tracked = self.registration(table)
        if not tracked or not tracked[2]:
            raise TerminalError(
                "change_tracking_disabled",
                f"change tracking is not enabled on table {table}; enable it with enable_change_tracking "
                "(the linked service's change-tracking page) before a change-tracking copy",
            )
        return tracked[0]

    def min_valid_version(self, table: Table) -> int:
        """The table's minimum valid version (raises change_tracking_disabled)."""
        table_id = self._tracked_id(table.name)
        version: int = self.rows(f"SELECT min_valid_version FROM {ct.TABLES} WHERE id = ?", (table_id,))[0][0]
        return version

    def min_valid_version_sql(self, table: TableName) -> str:
        """CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID('t')) in SQL."""
        real = self.table_name(table)
        return ct.min_valid_version_sql(real) if self.tracking_installed() else "CAST(NULL AS INTEGER)"

    def changetable_sql(self, table: TableName, after_sql: str) -> str:
        """CHANGETABLE(CHANGES t, after) as a parenthesized subquery (raises change_tracking_disabled)."""
        described = self.describe(table)
        table_id = self._tracked_id(table)
        names = [c.name for c in described.columns] if described.track_columns else None
        return ct.changes_sql(table_id, described.primary_key, names, after_sql, None)

    def select_sql(self, rows: RowSet) -> tuple[str, Sequence[Any], tuple[Column, ...] | None]:
        """The SELECT behind ``rows``, its parameters, and its columns when known without running it."""
        if isinstance(rows, Query):
            return rewrite(rows.sql.strip().rstrip(";"), self), tuple(rows.parameters), None
        table = rows.table
        if isinstance(rows, FullTable):
            names = [quote_ansi(c.name) for c in table.columns]
            columns = table.columns
            if rows.with_change_columns:
                names += [f"NULL AS {quote_ansi(SYS_CHANGE_VERSION)}", f"NULL AS {quote_ansi(SYS_CHANGE_OPERATION)}"]
                columns += (Column(SYS_CHANGE_VERSION, "int"), Column(SYS_CHANGE_OPERATION, "string"))
            return f"SELECT {', '.join(names)} FROM {quote_ansi(table.name.name)}", (), columns
        return self._changes_select(rows)

    def _changes_select(self, rows: Changes) -> tuple[str, Sequence[Any], tuple[Column, ...]]:
        table = rows.table
        if not table.primary_key:
            raise TerminalError("no_primary_key", f"table {table.name} has no primary key")
        table_id = self._tracked_id(table.name)
        names = [c.name for c in table.columns] if table.track_columns else None
        changes = ct.changes_sql(table_id, table.primary_key, names, str(int(rows.window.after)), rows.window.upto)
        picks = [f"{'ct' if c.name in table.primary_key else 't'}.{quote_ansi(c.name)}" for c in table.columns]
        columns = list(table.columns)
        for name in rows.change_columns:
            if name not in _CHANGE_KINDS:
                raise TerminalError("invalid_request", f"{name!r} is not a change-tracking column")
            picks.append(f"ct.{quote_ansi(name)}")
            columns.append(Column(name, _CHANGE_KINDS[name]))
        on = " AND ".join(f"t.{quote_ansi(k)} IS ct.{quote_ansi(k)}" for k in table.primary_key)
        order = ", ".join(f"ct.{quote_ansi(k)}" for k in table.primary_key)
        source = f"{changes} AS ct LEFT JOIN {quote_ansi(table.name.name)} AS t ON {on}"
        return f"SELECT {', '.join(picks)} FROM {source} ORDER BY {order}", (), tuple(columns)

    def read(self, rows: RowSet, *, batch_rows: int = 10_000, text_values: bool = False) -> Iterator[Batch]:
        """Stream rows with ``fetchmany``, at most ``batch_rows`` and about 4 MB at a time (one empty batch for none).

        SQLite has no text form of its own: values come typed, except that with ``text_values`` decimals
        come as the text the row path would write for them (skipping a Decimal per value).
        """
        sql, params, known = self.select_sql(rows)
        try:
            cursor = self._conn.execute(sql, tuple(params))
            batches = fetch_batches(cursor.fetchmany, batch_rows)
            batch = next(batches)
            columns = known or _result_columns(cursor.description or (), batch)
            yield Batch(columns, _converted(columns, batch, text_values))  # even when empty: a header needs them
            for batch in batches:
                yield Batch(columns, _converted(columns, batch, text_values))
        except sqlite3.Error as exc:
            raise engine_error(exc, self._database) from None

    def export_delimited(self, rows: RowSet, options: Any) -> Iterator[bytes]:
        """SQLite cannot write DelimitedText itself: always raises not_supported."""
        raise TerminalError("not_supported", "SQLite cannot write DelimitedText itself; use the row path")
