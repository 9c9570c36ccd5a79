"""A source's tables at a glance: schema, name, primary key, change tracking (and its retention), rows, size.

``Source.catalogue()`` describes each table with its columns, a few queries per table: right for one
table, slow for 2,000. The inventory asks each database's catalogue once for every table (plus a check
that the portal's change-tracking registry exists on PostgreSQL and SQLite, where the portal emulates
change tracking), inside one read-only snapshot.

SQL Server: ``sys.tables``, ``sys.indexes``/``sys.index_columns`` (the key), ``sys.change_tracking_tables``
and ``sys.change_tracking_databases`` (retention), ``sys.dm_db_partition_stats`` (rows and size; it needs
VIEW DATABASE STATE, so without it the rows come from ``sys.partitions`` and the size stays unknown).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from syncjobs.engine.errors import EngineError, TerminalError
from syncjobs.engine.types import TableName

KEY_SEPARATOR = "\x1f"  # between key column names in one field: no identifier a person types holds it
SQLITE_SIZE_LIMIT = 256 * 1024 * 1024  # dbstat reads every page: sizes only for databases up to this size


@dataclass(frozen=True)
class TableInfo:
    """One table of the inventory."""

    name: TableName
    primary_key: tuple[str, ...]
    change_tracking: bool
    retention_seconds: int | None = None  # change information kept this long (None when not tracked)
    row_estimate: int | None = None  # the database's estimate; None when it has none
    size_bytes: int | None = None  # data and indexes; None when the database does not say cheaply

    @property
    def has_key(self) -> bool:
        """The table has a primary key (change tracking and windowed copies need one)."""
        return bool(self.primary_key)

    @property
    def retention(self) -> str:
        """The retention in words ("2 days", "12 hours"), or "" when unknown."""
        seconds = self.retention_seconds
        if not seconds:
            return ""
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if seconds % size == 0:
                count = seconds // size
                return f"{count} {unit}{'' if count == 1 else 's'}"
        return f"{seconds} seconds"

    @property
    def refusal(self) -> str:
        """Why the table cannot be synced, or "" when it can."""
        return "" if self.has_key else "no primary key: change tracking needs one to name each changed row"


class Rows(Protocol):
    """A snapshot's ``rows(sql, params)``: every source's snapshot has it."""

    def rows(self, sql: str, params: Sequence[Any] = ...) -> list[tuple[Any, ...]]:
        """Run a read-only query and fetch its rows."""
        ...


# --- SQLite --------------------------------------------------------------------------------------------

SQLITE_TABLES = (
    "SELECT m.name, (SELECT group_concat(p.name, char(31)) FROM "
    "(SELECT name FROM pragma_table_info(m.name) WHERE pk > 0 ORDER BY pk) AS p) AS primary_key{tracked} "
    "FROM sqlite_schema m{join} WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
    "AND m.name NOT LIKE '\\_ctportal\\_%' ESCAPE '\\' AND coalesce(m.sql, '') NOT LIKE 'CREATE VIRTUAL%' "
    "ORDER BY m.name"
)
SQLITE_TRACKED = ", t.id IS NOT NULL, t.retention_seconds"
SQLITE_JOIN = ' LEFT JOIN "_ctportal_tables" t ON t.table_name = m.name COLLATE NOCASE'
SQLITE_ROWS = "SELECT tbl, max(CAST(stat AS INTEGER)) FROM sqlite_stat1 GROUP BY tbl"
SQLITE_DB_SIZE = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
# Bytes per b-tree, and its leaf cells: a table's rows (the index b-trees' leaf cells are not counted).
SQLITE_SIZES = (
    "SELECT name, sum(pgsize), sum(CASE WHEN pagetype = 'leaf' THEN ncell ELSE 0 END) FROM dbstat GROUP BY name"
)
SQLITE_INDEXES = "SELECT name, tbl_name FROM sqlite_schema WHERE type = 'index'"


def sqlite_inventory(snap: Rows) -> list[TableInfo]:
    """Every user table of a SQLite database (a constant number of queries, whatever the table count)."""
    found = {name for (name,) in snap.rows("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    tracked = "_ctportal_tables" in found
    sql = SQLITE_TABLES.format(tracked=SQLITE_TRACKED if tracked else "", join=SQLITE_JOIN if tracked else "")
    estimates = dict(snap.rows(SQLITE_ROWS)) if "sqlite_stat1" in found else {}
    sizes, counted = _sqlite_sizes(snap)
    return [
        TableInfo(
            TableName(row[0]),
            _keys(row[1]),
            bool(row[2]) if tracked else False,
            _int(row[3]) if tracked and row[2] else None,
            _int(counted.get(row[0], estimates.get(row[0]))),
            sizes.get(row[0]),
        )
        for row in snap.rows(sql)
    ]


def _sqlite_sizes(snap: Rows) -> tuple[dict[str, int], dict[str, int]]:
    """Bytes per table (its indexes included) and rows per table, from dbstat in one pass over the file.

    Both empty when SQLite was built without dbstat, or the file is past SQLITE_SIZE_LIMIT (dbstat reads
    every page; the rows then come from sqlite_stat1 when ANALYZE made it).
    """
    try:
        if int(snap.rows(SQLITE_DB_SIZE)[0][0]) > SQLITE_SIZE_LIMIT:
            return {}, {}
        trees = snap.rows(SQLITE_SIZES)
    except EngineError:  # SQLite built without dbstat
        return {}, {}
    owner: dict[str, str] = {str(k): str(v) for k, v in snap.rows(SQLITE_INDEXES)}
    sizes: dict[str, int] = {}
    rows: dict[str, int] = {}
    for name, size, cells in trees:
        table = owner.get(str(name), str(name))
        sizes[table] = sizes.get(table, 0) + int(size or 0)
        if str(name) not in owner:
            rows[table] = int(cells or 0)
    return sizes, rows


# --- PostgreSQL ----------------------------------------------------------------------------------------

POSTGRES_TABLES = (
    "SELECT n.nspname, c.relname, "
    "(SELECT array_agg(a.attname::text ORDER BY k.pos) FROM pg_index i "
    "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, pos) "
    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
    "WHERE i.indrelid = c.oid AND i.indisprimary) AS primary_key, "
    "c.reltuples::bigint, pg_total_relation_size(c.oid){tracked} "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace{join} "
    "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT LIKE 'pg\\_%%' "
    "AND n.nspname NOT IN ('information_schema', 'ctportal_ct') ORDER BY 1, 2"
)
POSTGRES_TRACKED = ", t.relid IS NOT NULL, extract(epoch FROM t.retention)::bigint"
POSTGRES_JOIN = " LEFT JOIN ctportal_ct.tables t ON t.relid = c.oid"
POSTGRES_HAS_REGISTRY = "SELECT to_regclass('ctportal_ct.tables') IS NOT NULL"


def postgres_inventory(snap: Rows) -> list[TableInfo]:
    """Every user table of a PostgreSQL database, in two queries."""
    tracked = bool(snap.rows(POSTGRES_HAS_REGISTRY)[0][0])
    sql = POSTGRES_TABLES.format(tracked=POSTGRES_TRACKED if tracked else "", join=POSTGRES_JOIN if tracked else "")
    return [
        TableInfo(
            TableName(row[1], row[0]),
            tuple(row[2] or ()),
            bool(row[5]) if tracked else False,
            _int(row[6]) if tracked and row[5] else None,
            _int(row[3]) if row[3] is not None and row[3] >= 0 else None,
            _int(row[4]),
        )
        for row in snap.rows(sql)
    ]


# --- SQL Server ----------------------------------------------------------------------------------------

# Retention in seconds from sys.change_tracking_databases (retention_period in MINUTES, HOURS or DAYS).
_TSQL_RETENTION = (
    "(SELECT TOP (1) d.retention_period * CASE d.retention_period_units_desc "
    "WHEN N'MINUTES' THEN 60 WHEN N'HOURS' THEN 3600 ELSE 86400 END "
    "FROM sys.change_tracking_databases AS d WHERE d.database_id = DB_ID())"
)
_TSQL_KEY = (
    "(SELECT STRING_AGG(c.name, NCHAR(31)) WITHIN GROUP (ORDER BY ic.key_ordinal) "
    "FROM sys.indexes AS i JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id "
    "JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id "
    "WHERE i.object_id = t.object_id AND i.is_primary_key = 1 AND ic.key_ordinal > 0)"
)
SQLSERVER_TABLES = (
    "SELECT SCHEMA_NAME(t.schema_id) AS schema_name, t.name, "
    f"{_TSQL_KEY} AS primary_key, "
    "CASE WHEN ct.object_id IS NULL THEN 0 ELSE 1 END AS tracked, "
    f"CASE WHEN ct.object_id IS NULL THEN NULL ELSE {_TSQL_RETENTION} END AS retention_seconds, "
    "{rows} AS row_estimate, {size} AS size_bytes "
    "FROM sys.tables AS t LEFT JOIN sys.change_tracking_tables AS ct ON ct.object_id = t.object_id "
    "WHERE t.is_ms_shipped = 0 ORDER BY 1, 2"
)
SQLSERVER_STATS = SQLSERVER_TABLES.format(
    rows="(SELECT SUM(s.row_count) FROM sys.dm_db_partition_stats AS s "
    "WHERE s.object_id = t.object_id AND s.index_id IN (0, 1))",
    size="(SELECT SUM(s.used_page_count) * 8192 FROM sys.dm_db_partition_stats AS s WHERE s.object_id = t.object_id)",
)
# Without VIEW DATABASE STATE: sys.partitions has the rows, nothing cheap has the size.
SQLSERVER_PLAIN = SQLSERVER_TABLES.format(
    rows="(SELECT SUM(p.rows) FROM sys.partitions AS p WHERE p.object_id = t.object_id AND p.index_id IN (0, 1))",
    size="CAST(NULL AS bigint)",
)


def sqlserver_inventory(snap: Rows) -> list[TableInfo]:
    """Every user table of a SQL Server database in one query (sys.partitions when DMVs are not allowed)."""
    try:
        rows = snap.rows(SQLSERVER_STATS)
    except EngineError as exc:
        if exc.reason != "permission_denied" and "permission" not in exc.message.lower():
            raise
        rows = snap.rows(SQLSERVER_PLAIN)
    return [TableInfo(TableName(r[1], r[0]), _keys(r[2]), bool(r[3]), _int(r[4]), _int(r[5]), _int(r[6])) for r in rows]


INVENTORIES: dict[str, Callable[[Rows], list[TableInfo]]] = {
    "SQLite": sqlite_inventory,
    "PostgreSQL": postgres_inventory,
    "SQL Server": sqlserver_inventory,
}


def inventory(source: Any) -> list[TableInfo]:
    """Every user table of ``source`` (a ``sources.Source``), read in one snapshot."""
    reader = INVENTORIES.get(source.dialect.name)
    if reader is None:
        raise TerminalError("unsupported_source", f"{source.dialect.name} has no table inventory")
    with source.snapshot() as snap:
        return reader(snap)


def _keys(value: Any) -> tuple[str, ...]:
    return tuple(value.split(KEY_SEPARATOR)) if value else ()


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
