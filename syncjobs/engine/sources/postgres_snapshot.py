"""A PostgreSQL snapshot: one REPEATABLE READ, READ ONLY transaction that describes, reads and exports.

It is also the T-SQL rewriter's dialect, so the tutorial's queries run inside the same snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Generator, Iterator, Sequence
from typing import Any

import psycopg
from psycopg.types.string import TextLoader

from syncjobs.engine.batching import fetch_batches
from syncjobs.engine.errors import EngineError, TerminalError
from syncjobs.engine.sources import Changes, FullTable, Query, RowSet
from syncjobs.engine.sources import postgres_tracking as ct
from syncjobs.engine.sources.emulated import EmulatedTrackingSnapshot
from syncjobs.engine.sources.postgres_copy import QUOTED_KINDS, copy_options, copy_out, csv_export_possible, header_line
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

ErrorMap = Callable[[psycopg.Error], EngineError]

_KINDS = {
    "int2": "int",
    "int4": "int",
    "int8": "int",
    "numeric": "decimal",
    "float4": "float",
    "float8": "float",
    "bool": "bool",
    "date": "date",
    "time": "time",
    "timestamp": "datetime",
    "timestamptz": "datetimetz",
    "uuid": "uuid",
    "bytea": "binary",
    "json": "json",
    "jsonb": "json",
}
# What each change column is called in CHANGETABLE's output, and its kind.
_CHANGE_COLUMNS = {
    SYS_CHANGE_VERSION: ("sys_change_version", "int"),
    SYS_CHANGE_CREATION_VERSION: ("sys_change_creation_version", "int"),
    SYS_CHANGE_OPERATION: ("sys_change_operation", "string"),
    SYS_CHANGE_COLUMNS: ("sys_change_columns", "string"),
}
_TYPES_SQL = (
    "SELECT t.oid::int, b.typname, b.typcategory FROM pg_type t JOIN pg_type b "
    "ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END WHERE t.oid = ANY(%s)"
)
_COLUMNS_SQL = (
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, b.typname, b.typcategory, "
    "CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END "
    "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
    "JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
    "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
)
KEY_SQL = (
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_index i "
    "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, pos) "
    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
    "WHERE i.indisprimary AND i.indrelid = %s ORDER BY k.pos"
)
TABLES_SQL = (
    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT LIKE 'pg\\_%%' "
    "AND n.nspname NOT IN ('information_schema', 'ctportal_ct') ORDER BY 1, 2"
)


def _kind(base: str, category: str) -> str:
    return "array" if category == "A" else _KINDS.get(base, "string")


def qualified(name: TableName) -> str:
    return ".".join(quote_ansi(p) for p in ([name.schema] if name.schema else []) + [name.name])


def _candidates(name: TableName) -> list[str]:
    """How to look a name up: as written (exact case), then folded to lower case as PostgreSQL would."""
    exact = qualified(name)
    folded = qualified(TableName(name.name.lower(), name.schema.lower() if name.schema else None))
    return [exact] if folded == exact else [exact, folded]


class PostgresSnapshot(EmulatedTrackingSnapshot):
    """A REPEATABLE READ, READ ONLY transaction on one connection; also the T-SQL rewriter's dialect."""

    _tracking = ct
    _null_version = "CAST(NULL AS bigint)"

    def __init__(self, conn: psycopg.Connection, errors: ErrorMap) -> None:
        self._conn = conn
        self._errors = errors
        self._cursors = 0
        self._installed: bool | None = None

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a query in this transaction and fetch its (small) result."""
        try:
            return self._conn.execute(sql, params).fetchall()
        except psycopg.Error as exc:
            raise self._errors(exc) from None

    def tracking_installed(self) -> bool:
        """Whether enable_change_tracking has ever installed the ctportal_ct schema here."""
        if not self._installed:
            self._installed = self.rows("SELECT to_regclass('ctportal_ct.tables') IS NOT NULL")[0][0]
        return bool(self._installed)

    def relid(self, name: TableName) -> int:
        """The table's oid (raises table_not_found)."""
        for candidate in _candidates(name):
            found: int | None = self.rows("SELECT to_regclass(%s)::oid::int", (candidate,))[0][0]
            if found:
                return found
        raise TerminalError("table_not_found", f"table {name} does not exist (or is not visible to this user)")

    def describe(self, name: TableName) -> Table:
        """Columns with kinds, primary key in key order, change-tracking state, row estimate."""
        relid = self.relid(name)
        schema, table, reltuples = self.rows(
            "SELECT n.nspname, c.relname, c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = %s",
            (relid,),
        )[0]
        columns = tuple(self._column(*row) for row in self.rows(_COLUMNS_SQL, (relid,)))
        key = tuple(row[0] for row in self.rows(KEY_SQL, (relid,)))
        tracked = self.tracking_state(relid)
        return Table(
            name=TableName(table, schema),
            columns=columns,
            primary_key=key,
            change_tracking=tracked is not None,
            track_columns=bool(tracked),
            row_estimate=int(reltuples) if reltuples >= 0 else None,
        )

    @staticmethod
    def _column(name: str, source_type: str, not_null: bool, base: str, category: str, typmod: int) -> Column:
        precision = scale = None
        if base == "numeric" and typmod >= 4:
            precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        return Column(name, _kind(base, category), source_type, not not_null, precision, scale)

    def tracking_state(self, relid: int) -> bool | None:
        """None when not tracked, else whether columns are tracked."""
        if not self.tracking_installed():
            return None
        rows = self.rows(f"SELECT track_columns FROM {ct.S}.tables WHERE relid = %s::oid::regclass", (relid,))
        return rows[0][0] if rows else None

    def current_version(self) -> int:
        """CHANGE_TRACKING_CURRENT_VERSION() as this snapshot sees it (0 before tracking is installed)."""
        return self.rows(f"SELECT {ct.current_version_sql()}")[0][0] if self.tracking_installed() else 0

    def min_valid_version(self, table: Table) -> int:
        """The table's minimum valid version (raises change_tracking_disabled)."""
        relid = self.relid(table.name)
        version: int | None = (
            self.rows(f"SELECT {ct.min_valid_version_sql(relid)}")[0][0] if self.tracking_installed() else None
        )
        if version is None:
            raise TerminalError(
                "change_tracking_disabled",
                f"change tracking is not enabled on table {table.name}; enable it before a change-tracking copy",
            )
        return version

    def min_valid_version_sql(self, table: TableName) -> str:
        """CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID('t')) in SQL."""
        if not self.tracking_installed():
            return "CAST(NULL AS bigint)"
        return ct.min_valid_version_sql(self.relid(table))

    def changetable_sql(self, table: TableName, after_sql: str) -> str:
        """CHANGETABLE(CHANGES t, after) as a parenthesized subquery."""
        described = self.describe(table)
        self.min_valid_version(described)
        return ct.changes_sql(self.relid(table), described.primary_key, after_sql, None, described.track_columns)

    def select_sql(self, rows: RowSet) -> tuple[str, Sequence[Any] | None, tuple[Column, ...] | None]:
        """The SELECT behind ``rows``, its parameters, and its columns when known without running it."""
        if isinstance(rows, Query):
            return rewrite(rows.sql.strip().rstrip(";"), self), (tuple(rows.parameters) or None), None
        table = rows.table
        names = ", ".join(f"t.{quote_ansi(c.name)}" for c in table.columns)
        if isinstance(rows, FullTable):
            columns = table.columns
            if rows.with_change_columns:
                names += f", NULL::bigint AS {quote_ansi(SYS_CHANGE_VERSION)}"
                names += f", NULL::text AS {quote_ansi(SYS_CHANGE_OPERATION)}"
                columns += (Column(SYS_CHANGE_VERSION, "int"), Column(SYS_CHANGE_OPERATION, "string"))
            return f"SELECT {names} FROM {qualified(table.name)} t", None, columns
        return self._changes_select(rows)

    def _changes_select(self, rows: Changes) -> tuple[str, None, tuple[Column, ...]]:
        table = rows.table
        if not table.primary_key:
            raise TerminalError("no_primary_key", f"table {table.name} has no primary key")
        self.min_valid_version(table)
        relid = self.relid(table.name)
        changes = ct.changes_sql(
            relid, table.primary_key, str(int(rows.window.after)), rows.window.upto, table.track_columns
        )
        picks = [
            f"ct.{quote_ansi(c.name)}" if c.name in table.primary_key else f"t.{quote_ansi(c.name)}"
            for c in table.columns
        ]
        columns = list(table.columns)
        for name in rows.change_columns:
            own, kind = _CHANGE_COLUMNS[name]
            picks.append(f"ct.{own} AS {quote_ansi(name)}")
            columns.append(Column(name, kind))
        on = " AND ".join(f"t.{quote_ansi(k)} = ct.{quote_ansi(k)}" for k in table.primary_key)
        order = ", ".join(f"ct.{quote_ansi(k)}" for k in table.primary_key)
        source = f"{changes} AS ct LEFT JOIN {qualified(table.name)} t ON {on}"
        sql = f"SELECT {', '.join(picks)} FROM {source} ORDER BY {order}"
        return sql, None, tuple(columns)

    def _describe_result(self, sql: str, params: Sequence[Any] | None) -> tuple[tuple[Column, ...], list[int]]:
        """Column names, kinds and type oids of a query, from declaring it (nothing is fetched)."""
        self._cursors += 1
        with self._conn.cursor(name=f"ctportal_describe_{self._cursors}") as cur:
            try:
                cur.execute(sql, params)
            except psycopg.Error as exc:
                raise self._errors(exc) from None
            described = cur.description or []
        oids = [d.type_code for d in described]
        kinds = {oid: _kind(base, cat) for oid, base, cat in self.rows(_TYPES_SQL, (oids,))}
        columns = tuple(
            Column(d.name, kinds.get(d.type_code, "string"), precision=d.precision, scale=d.scale) for d in described
        )
        return columns, oids

    def read(self, rows: RowSet, *, batch_rows: int = 10_000, text_values: bool = False) -> Iterator[Batch]:
        """Stream rows through a server-side cursor, at most ``batch_rows`` (and about 4 MB) at a time.

        One empty batch when there are no rows.
        """
        sql, params, known = self.select_sql(rows)
        described, oids = self._describe_result(sql, params)
        columns = known or described
        kinds = dict(zip(oids, (c.kind for c in described), strict=True))
        self._cursors += 1
        with self._conn.cursor(name=f"ctportal_read_{self._cursors}") as cur:
            for oid in oids:
                if text_values or kinds[oid] in ("string", "uuid"):
                    cur.adapters.register_loader(oid, TextLoader)
            try:
                cur.execute(sql, params)
                for batch in fetch_batches(cur.fetchmany, batch_rows):  # the first even when empty: a header needs it
                    yield Batch(columns, batch, text_values)
            except psycopg.Error as exc:
                raise self._errors(exc) from None

    def csv_export_possible(self, options: Any) -> bool:
        """Whether COPY can write DelimitedText with these options byte for byte."""
        return csv_export_possible(options)

    def export_delimited(self, rows: RowSet, options: Any) -> Generator[bytes, None, int]:
        """COPY (SELECT ...) TO STDOUT as CSV, yielding UTF-8 bytes as they arrive; returns the row count."""
        if not csv_export_possible(options):
            raise TerminalError("not_supported", "COPY cannot write these DelimitedText options; use the row path")
        sql, params, known = self.select_sql(rows)
        columns = known or self._describe_result(sql, params)[0]
        quoted = [c.name for c in columns if c.kind in QUOTED_KINDS] if options.quote_all_text else []
        if len(set(quoted)) != len(quoted):
            raise TerminalError("not_supported", "COPY cannot force quotes on duplicate column names; use the row path")
        copy_sql = f"COPY ({sql}) TO STDOUT WITH ({copy_options(options, quoted)})"
        if options.first_row_as_header:
            yield header_line([c.name for c in columns], options).encode()
        return (yield from self._copy(copy_sql, params, options.row_delimiter.encode()))

    def export_typed_csv(
        self, rows: RowSet, kinds: Collection[str]
    ) -> tuple[tuple[Column, ...], Iterator[bytes]] | None:
        """COPY as plain CSV for a typed reader (Parquet's), or None when a column's kind is not in ``kinds``.

        The CSV: comma, ``"`` quotes doubled, NULL an unquoted empty field, rows ending in "\\n", no
        header. Values are PostgreSQL's own text (the row path's drivers parse the same text), dates
        in ISO form (None unless DateStyle is ISO), and timestamptz as UTC wall-clock time.
        """
        if isinstance(rows, Changes):
            return None
        sql, params, known = self.select_sql(rows)
        columns = known or self._describe_result(sql, params)[0]
        names = [c.name for c in columns]
        if len(set(names)) != len(names) or any(c.kind not in kinds for c in columns):
            return None
        if not self.rows("SELECT current_setting('DateStyle')")[0][0].upper().startswith("ISO"):
            return None
        picks = ", ".join(
            f"q.{quote_ansi(c.name)} AT TIME ZONE 'UTC'" if c.kind == "datetimetz" else f"q.{quote_ansi(c.name)}"
            for c in columns
        )
        copy_sql = f"COPY (SELECT {picks} FROM ({sql}) q) TO STDOUT WITH (FORMAT csv)"
        return columns, self._copy(copy_sql, params, b"\n")

    def _copy(self, copy_sql: str, params: Sequence[Any] | None, row_end: bytes) -> Generator[bytes, None, int]:
        try:
            query = psycopg.ClientCursor(self._conn).mogrify(copy_sql, params).encode(self._conn.info.encoding)
            return (yield from copy_out(self._conn, query, row_end))
        except psycopg.Error as exc:
            raise self._errors(exc) from None
