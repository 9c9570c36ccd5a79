"""SQL Server source (ADF's SqlServer / AzureSqlDatabase) on pyodbc, with SQL Server's own change tracking.

Values, by SQL Server type (``Batch`` rows hold these; ``Column.kind`` in brackets):

- tinyint, smallint, int, bigint: int [int]
- decimal, numeric, money, smallmoney: Decimal, exact [decimal]
- float, real: float [float]
- bit: bool [bool]
- date: datetime.date [date]
- time: text ``10:15:03.1234567`` [time]; datetime, smalldatetime, datetime2: text
  ``2024-10-03 10:15:03.1234567`` [datetime]; always 7 digits, keeping the 100 ns digit Python drops
- datetimeoffset: text ``2024-10-03 10:15:03.1234567 +02:00``, local time and offset as stored [datetimetz]
- uniqueidentifier: text in SQL Server's upper-case form ``6F9619FF-8B86-D011-B42D-00C04FC964FF`` [uuid]
- char, varchar, nchar, nvarchar, text, ntext (incl. max), xml, sysname: str [string]; sql_variant: the
  value of its underlying type [string]
- binary, varbinary (incl. max), image, rowversion, hierarchyid, geometry, geography: bytes [binary]

A query's column kinds come from pyodbc's description, the converted types by their values' text.

Snapshots: with snapshot isolation allowed, ``SET TRANSACTION ISOLATION LEVEL SNAPSHOT; BEGIN TRAN``.
SQL Server fixes the snapshot at the transaction's first read of data, not at BEGIN TRAN, and catalogue
views are not versioned, so reading ``sys.objects`` pins nothing: ``describe`` first reads one row of
the described table itself (``pin_sql``), before the change-tracking functions run; a query read
without a describe is its own first read. Otherwise the seed's documented fallback: READ COMMITTED,
the window bounded on both sides (``CHANGETABLE(CHANGES t, after) ... WHERE SYS_CHANGE_VERSION <=
upto``) and ``recheck_min_valid_version`` after reading; ``is_snapshot_isolation`` says which.

Its connector declaration (type names, form, dialect, capabilities) is on :class:`SqlServerSource`.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

import pyodbc

from syncjobs.engine.batching import fetch_batches
from syncjobs.engine.connectors import Connector, FieldCheck, FormField, LinkedServiceType, port_number, secret_value
from syncjobs.engine.dialects import Dialect
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.keyset import KeyRange, KeyValues
from syncjobs.engine.secret import Secret
from syncjobs.engine.sources import FullTable, Query, RowSet
from syncjobs.engine.sources import sqlserver_sql as tsql
from syncjobs.engine.sources.keyset_sql import boundary_select, range_condition
from syncjobs.engine.sources.sqlserver_errors import engine_error
from syncjobs.engine.sources.sqlserver_odbc import SqlServerConfig, choose_driver, odbc_connection_string
from syncjobs.engine.sqlnames import quote_tsql
from syncjobs.engine.types import Batch, Column, Table, TableName

AUTHENTICATION_TYPES = ("SQL", "ServicePrincipal", "SystemAssignedManagedIdentity", "UserAssignedManagedIdentity",
                        "Windows")  # fmt: skip
FORM = (
    FormField("server", "Server", help="host name or address; 'host,port' also works"),
    FormField("port", "Port", "int", default=1433),
    FormField("database", "Database"),
    FormField("authenticationType", "Authentication", "choice", choices=(("SQL", "SQL authentication"),),
              default="SQL"),
    FormField("userName", "User name"),
    FormField("password", "Password", "secret"),
    FormField("encrypt", "Encrypt", "choice", choices=tuple((v, v) for v in ("mandatory", "optional", "strict")),
              default="mandatory"),
    FormField("trustServerCertificate", "Trust server certificate", "bool"),
    FormField("connectionString", "Or: connection string", help="ODBC or ADO.NET; replaces the fields above when set"),
)  # fmt: skip
TSQL = Dialect("SQL Server", quote_tsql, first_rows="SELECT TOP ({limit}) * FROM {table}",
               no_rows="SELECT TOP 0 * FROM ({query}) AS q", procedure_call="EXEC {name} {arguments}",
               procedure_argument="@{name} = ?", is_change_tracking_native=True)  # fmt: skip


def sqlserver_address(server: Any, port: Any = None) -> tuple[str, int]:
    """SQL Server's ``host`` or ``host,port`` (the port after the comma wins over ``port``), checked."""
    host, comma, after = str(server or "").partition(",")
    if comma:
        try:
            return host.strip(), port_number(after, "server")
        except TerminalError:
            raise TerminalError(
                "bad_linked_service",
                f"server: the port after the comma in {str(server)[:60]!r} must be a number from 1 to 65535",
            ) from None
    return host.strip(), port_number(port or 1433, "port")


def _fetch(cur: pyodbc.Cursor, size: int = 1000) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    while batch := cur.fetchmany(size):
        rows.extend(tuple(r) for r in batch)
    return rows


class SqlServerSnapshot:
    """One snapshot (or, without snapshot isolation, READ COMMITTED) transaction on one connection."""

    def __init__(self, conn: pyodbc.Connection, config: SqlServerConfig, is_snapshot_isolation: bool) -> None:
        self._conn = conn
        self._config = config
        self.is_snapshot_isolation = is_snapshot_isolation
        self._pinned = False

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a small query in this transaction and return its rows."""
        try:
            with self._conn.cursor() as cur:
                cur.execute(sql, *params)
                return _fetch(cur)
        except pyodbc.Error as exc:
            raise engine_error(exc, self._config) from None

    def _object_id(self, name: TableName) -> int:
        found = self.rows(tsql.OBJECT_ID_SQL, (tsql.qualified(name),))[0][0]
        if found is None:
            raise TerminalError("table_not_found", f"table {tsql.qualified(name)} does not exist (or is not visible)")
        return int(found)

    def describe(self, name: TableName) -> Table:
        """Columns with kinds, primary key in key order, change-tracking state, row estimate."""
        object_id = self._object_id(name)
        if not self._pinned:
            self.rows(tsql.pin_sql(name))
            self._pinned = True
        schema, table, tracked_id, track_columns, estimate = self.rows(tsql.TABLE_SQL, (object_id,))[0]
        return Table(
            name=TableName(table, schema),
            columns=tuple(tsql.column_of(*row) for row in self.rows(tsql.COLUMNS_SQL, (object_id,))),
            primary_key=tuple(row[0] for row in self.rows(tsql.KEY_SQL, (object_id,))),
            change_tracking=tracked_id is not None,
            track_columns=bool(track_columns),
            row_estimate=None if estimate is None else int(estimate),
        )

    def current_version(self) -> int:
        """CHANGE_TRACKING_CURRENT_VERSION() (raises change_tracking_disabled when the database has it off)."""
        version = self.rows(tsql.CURRENT_VERSION_SQL)[0][0]
        if version is None:
            database = self.rows(tsql.DATABASE_NAME_SQL)[0][0]
            raise TerminalError(
                "change_tracking_disabled",
                f"change tracking is not enabled on database {database}; enable it with: "
                f"{tsql.enable_database_sql(database, 2)}",
            )
        return int(version)

    def min_valid_version(self, table: Table) -> int:
        """CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(N'...')) (raises change_tracking_disabled)."""
        version = self.rows(tsql.min_valid_version_sql(table.name))[0][0]
        if version is None:
            database = self.rows(tsql.DATABASE_NAME_SQL)[0][0]
            statements = "; ".join(tsql.enable_statements(database, table.name, True, 2))
            raise TerminalError(
                "change_tracking_disabled",
                f"change tracking is not enabled on table {tsql.qualified(table.name)}; enable it with: {statements}",
            )
        return int(version)

    def recheck_min_valid_version(self, table: Table) -> int:
        """The minimum valid version read again after the changes (the fallback without snapshot isolation)."""
        return self.min_valid_version(table)

    def database_identity(self, version: int) -> str:
        """``<recovery fork guid>:<create date>``: both change when the database is restored or re-created."""
        fork, created = self.rows(tsql.IDENTITY_SQL)[0]
        return f"{fork or ''}:{created}"

    def _select(self, rows: RowSet) -> tuple[str, tuple[Any, ...], tuple[Column, ...] | None]:
        if isinstance(rows, Query):
            return rows.sql, tuple(rows.parameters), None
        if isinstance(rows, FullTable):
            sql, columns = tsql.full_select(rows.table, rows.with_change_columns)
            keys = rows.table.primary_key
            condition, params = range_condition(keys, rows.keys, quote_tsql, "?", row_values=False, prefix="T.")
            return (f"{sql} WHERE {condition}" if condition else sql), tuple(params), columns
        table = rows.table
        if not table.primary_key:
            raise TerminalError("no_primary_key", f"table {table.name} has no primary key")
        self.min_valid_version(table)
        sql, columns = tsql.changes_select(table, rows.change_columns)
        return sql, (int(rows.window.after), int(rows.window.upto)), columns

    def key_boundary(self, table: Table, keys: KeyRange, offset: int) -> KeyValues | None:
        """The primary key ``offset`` rows into ``keys`` (OFFSET ... FETCH on the key's index), or None."""
        fetch = "OFFSET {offset} ROWS FETCH NEXT 1 ROWS ONLY"
        sql, params = boundary_select(
            tsql.qualified(table.name), table.primary_key, keys, offset, quote_tsql, "?", row_values=False,
            fetch_clause=fetch,
        )  # fmt: skip
        found = self.rows(sql, params)
        return tuple(found[0]) if found else None

    def read(self, rows: RowSet, *, batch_rows: int = 10_000, text_values: bool = False) -> Iterator[Batch]:
        """Stream rows with fetchmany, at most ``batch_rows`` (and about 4 MB) at a time (one empty batch for none)."""
        sql, params, known = self._select(rows)
        cur = self._conn.cursor()
        try:
            cur.execute(sql, *params)
            while cur.description is None and cur.nextset():
                pass  # a query's leading statements without results (SET, DECLARE...)
            if cur.description is None:
                yield Batch(known or (), [])
                return
            batches = fetch_batches(lambda size: [tuple(r) for r in cur.fetchmany(size)], batch_rows)
            batch = next(batches)
            columns = known or tsql.query_columns(cur.description, batch)
            yield Batch(columns, batch)
            for batch in batches:
                yield Batch(columns, batch)
        except pyodbc.Error as exc:
            raise engine_error(exc, self._config) from None
        finally:
            cur.close()

    def export_delimited(self, rows: RowSet, options: Any) -> Generator[bytes, None, int]:
        """Not supported: SQL Server has no COPY; the row path writes DelimitedText."""
        raise TerminalError("not_supported", "SQL Server cannot write DelimitedText itself; use the row path")


class SqlServerSource(Connector):
    """SQL Server or Azure SQL Database through pyodbc (ODBC Driver 18, or FreeTDS)."""

    is_source = True
    linked_service_types = (
        LinkedServiceType("SqlServer", "SQL Server", dataset="SqlServerTable", copy_source="SqlServerSource",
                          legacy_copy=("SqlSource",)),
        LinkedServiceType("AzureSqlDatabase", "Azure SQL Database", dataset="AzureSqlTable",
                          copy_source="AzureSqlSource"),
    )  # fmt: skip
    form = FORM
    dialect = TSQL

    supports_change_tracking = True
    """SQL Server's own change tracking: CHANGETABLE, CHANGE_TRACKING_CURRENT_VERSION()..."""
    supports_native_csv = False
    """SQL Server cannot stream DelimitedText to a client; rows go through the format."""
    supports_text_values = False
    """Values are typed (the datetime2, datetimeoffset, time and uniqueidentifier texts aside)."""

    def __init__(self, config: SqlServerConfig) -> None:
        self.config = config

    @classmethod
    def from_type_properties(cls, tp: dict[str, Any], *, name: str = "?", quick: bool = False) -> SqlServerSource:
        """A ``connectionString``, or ``server`` (``host,port`` too), ``port``, ``database``, ``userName``..."""
        if tp.get("connectionString"):
            return cls(SqlServerConfig(connection_string=Secret(secret_value(tp["connectionString"]))))
        server, port = sqlserver_address(tp.get("server", ""), tp.get("port"))
        encrypt = str(tp.get("encrypt", "mandatory")).lower() not in ("optional", "false", "no", "0")
        return cls(
            SqlServerConfig(
                server=server, port=port, database=str(tp.get("database", "")), user=str(tp.get("userName", "")),
                password=Secret(secret_value(tp.get("password"))), encrypt=encrypt,
                trust_server_certificate=bool(tp.get("trustServerCertificate", False)),
            )
        )  # fmt: skip

    @classmethod
    def check_type_properties(cls, tp: dict[str, Any], check: FieldCheck) -> None:
        """Without a connection string: a server (its port a port), a database, and a user for SQL logins."""
        if tp.get("connectionString"):
            return
        server, port = check.text("server"), check.integer("port", minimum=1, maximum=65535)
        if server is not None:
            try:
                sqlserver_address(server, port)
            except TerminalError as exc:
                field, _, message = exc.message.partition(": ")
                check.add(field, message)
        check.text("database")
        check.choice("authenticationType", AUTHENTICATION_TYPES)
        if str(tp.get("authenticationType", "SQL")).upper() == "SQL":
            check.text("userName")

    def _connect(self) -> pyodbc.Connection:
        driver = choose_driver(self.config)
        text, timeout = odbc_connection_string(self.config, driver)
        try:
            conn = pyodbc.connect(text.reveal(), autocommit=True, timeout=timeout)
        except pyodbc.Error as exc:
            raise engine_error(exc, self.config, connecting=True) from None
        for sql_type, converter in tsql.OUTPUT_CONVERTERS.items():
            conn.add_output_converter(sql_type, converter)
        return conn

    def test_connection(self) -> None:
        """Connect and run SELECT 1."""
        with self.snapshot() as snap:
            snap.rows("SELECT 1")

    @contextmanager
    def snapshot(self) -> Iterator[SqlServerSnapshot]:
        """SNAPSHOT when the database allows it, else READ COMMITTED; COMMIT (ROLLBACK on error) on leaving."""
        conn = self._connect()
        try:
            allowed = conn.execute(tsql.SNAPSHOT_STATE_SQL).fetchone()[0] == 1
            conn.execute(f"SET TRANSACTION ISOLATION LEVEL {'SNAPSHOT' if allowed else 'READ COMMITTED'}; BEGIN TRAN;")
            yield SqlServerSnapshot(conn, self.config, allowed)
            conn.execute("IF @@TRANCOUNT > 0 COMMIT TRAN")
        except BaseException as exc:
            with suppress(pyodbc.Error):
                conn.execute("IF @@TRANCOUNT > 0 ROLLBACK TRAN")
            if isinstance(exc, pyodbc.Error):
                raise engine_error(exc, self.config) from None
            raise
        finally:
            conn.close()

    def catalogue(self) -> list[Table]:
        """Every user table, described."""
        with self.snapshot() as snap:
            return [snap.describe(TableName(name, schema)) for schema, name in snap.rows(tsql.TABLES_SQL)]

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run T-SQL as written (``EXEC proc`` or ``{CALL proc (?)}`` too) in autocommit, as SSMS would, so
        ALTER DATABASE and BACKUP work; return the rows of the last result set."""
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, *parameters)
                rows: list[dict[str, Any]] = []
                while True:
                    if cur.description:
                        names = [d[0] for d in cur.description]
                        rows = [dict(zip(names, row, strict=True)) for row in _fetch(cur)]
                    if not cur.nextset():
                        return rows
        except pyodbc.Error as exc:
            raise engine_error(exc, self.config) from None
        finally:
            conn.close()

    def change_tracking_statements(
        self, name: TableName, *, track_columns: bool = True, retention_days: int = 2
    ) -> list[str]:
        """The statements that enable change tracking on the database and the table, for the operator to read."""
        database = self.config.database or self.execute(tsql.DATABASE_NAME_SQL + " AS name")[0]["name"]
        return tsql.enable_statements(database, name, track_columns, retention_days)

    def enable_change_tracking(self, name: TableName, *, track_columns: bool = True, retention_days: int = 2) -> None:
        """Run the statements that are still needed (each is skipped when already in effect)."""
        with self.snapshot() as snap:
            table = snap.describe(name)
            database = snap.rows(tsql.DATABASE_NAME_SQL)[0][0]
            database_on = snap.rows(tsql.DATABASE_TRACKED_SQL)[0][0] > 0
        if not table.primary_key:
            raise TerminalError("no_primary_key", f"table {table.name} has no primary key; change tracking needs one")
        if not database_on:
            self.execute(tsql.enable_database_sql(database, retention_days))
        if not snap.is_snapshot_isolation:
            self.execute(tsql.allow_snapshot_sql(database))
        if not table.change_tracking:
            self.execute(tsql.enable_table_sql(table.name, track_columns))

    def disable_change_tracking(self, name: TableName) -> None:
        """ALTER TABLE ... DISABLE CHANGE_TRACKING (when it is tracked)."""
        with self.snapshot() as snap:
            table = snap.describe(name)
        if table.change_tracking:
            self.execute(tsql.disable_table_sql(table.name))

    def cleanup_change_tracking(self, now: datetime | None = None) -> int:
        """Return 0: SQL Server's own auto cleanup purges change information after the retention."""
        return 0

    def close(self) -> None:
        """Nothing to release: every call opens and closes its own connection."""
