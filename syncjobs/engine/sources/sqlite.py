"""SQLite source (ours is the linked-service type "Sqlite") on the stdlib sqlite3, with emulated change tracking.

Its connector declaration (type names, form, dialect, capabilities) is on :class:`SqliteSource`.

A snapshot is ``BEGIN`` plus a first read: in WAL mode (which enabling change tracking switches on)
that pins a true snapshot while writers go on; in rollback-journal mode it holds a shared lock, so
writers wait until it ends. Every call opens and closes its own connection. The snapshot and the
column kinds live in ``sqlite_snapshot.py``, the change-tracking DDL and SQL in ``sqlite_tracking.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syncjobs.engine.connectors import Connector, FieldCheck, FormField, LinkedServiceType, required_text
from syncjobs.engine.dialects import ansi
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.sources import sqlite_tracking as ct
from syncjobs.engine.sources.sqlite_snapshot import TABLES_SQL, SqliteSnapshot, engine_error
from syncjobs.engine.sources.tsql_functions import rewrite
from syncjobs.engine.types import Table, TableName

BUSY_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class SqliteConfig:
    """A SQLite database file."""

    database: str  # the file's path


def create_database(path: str | Path) -> None:
    """Create an empty database file (the source itself never creates one: a typo must not make a file)."""
    uri = f"{Path(path).absolute().as_uri()}?mode=rwc"
    sqlite3.connect(uri, uri=True).close()


def _refuse_other_files(action: int, *_: object) -> int:
    """SQLite authorizer: no ATTACH (nor VACUUM INTO, which SQLite checks as one), so a statement
    reaches no file but the linked service's own, which the portal has checked."""
    return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_ATTACH else sqlite3.SQLITE_OK


def split_statements(sql: str) -> list[str]:
    """Split a script into complete statements (strings, comments and trigger bodies respected)."""
    statements, start = [], 0
    for i, ch in enumerate(sql):
        if ch == ";" and sqlite3.complete_statement(sql[start : i + 1]):
            statements.append(sql[start : i + 1].strip())
            start = i + 1
    statements.append(sql[start:].strip())
    return [s for s in statements if s and s != ";"]


class SqliteSource(Connector):
    """A SQLite database file through the stdlib sqlite3."""

    is_source = True
    linked_service_types = (LinkedServiceType("Sqlite", "SQLite", dataset="SqliteTable", copy_source="SqliteSource"),)
    form = (FormField("database", "Database file", "file", required=True, help="absolute path of the .sqlite3 file"),)
    dialect = ansi("SQLite")  # no stored procedures: a Script activity runs SQL instead

    supports_change_tracking = True
    """Change tracking is emulated with triggers and ``_ctportal_*`` side tables."""
    supports_native_csv = False
    """SQLite has no COPY: DelimitedText always goes through the row path."""
    supports_text_values = False
    """SQLite has no text form of its own for values: they always come typed."""

    def __init__(self, config: SqliteConfig) -> None:
        self.config = config

    @classmethod
    def from_type_properties(cls, tp: dict[str, Any], *, name: str = "?", quick: bool = False) -> SqliteSource:
        """The file named by ``database`` (the portal checks first that it lies inside the file roots)."""
        return cls(SqliteConfig(database=required_text(tp, "database", name)))

    @classmethod
    def check_type_properties(cls, tp: dict[str, Any], check: FieldCheck) -> None:
        """``database`` is required."""
        check.text("database")

    def _open(self) -> sqlite3.Connection:
        """A connection in autocommit (we issue BEGIN/COMMIT) to an existing file, never creating one."""
        uri = f"{Path(self.config.database).absolute().as_uri()}?mode=rw"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, detect_types=0, timeout=BUSY_TIMEOUT_SECONDS)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        except sqlite3.Error as exc:
            raise engine_error(exc, self.config.database) from None
        conn.set_authorizer(_refuse_other_files)
        return conn

    @contextmanager
    def _transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """One transaction on a new connection: COMMIT on leaving, ROLLBACK on any error."""
        conn = self._open()
        try:
            if begin:
                conn.execute(begin)
            yield conn
            if conn.in_transaction:
                conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise engine_error(exc, self.config.database) from None
            raise
        finally:
            conn.close()

    def test_connection(self) -> None:
        """Open the file (never creating it) and read its schema."""
        with self._transaction(begin="") as conn:
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()

    @contextmanager
    def snapshot(self) -> Iterator[SqliteSnapshot]:
        """BEGIN plus a first read pins the snapshot; query_only keeps it from writing anything."""
        with self._transaction(begin="") as conn:
            conn.execute("PRAGMA query_only = ON")
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            yield SqliteSnapshot(conn, self.config.database)

    def catalogue(self) -> list[Table]:
        """Every user table (not sqlite_*, not _ctportal_*, not virtual)."""
        with self.snapshot() as snap:
            return [snap.describe(TableName(name)) for (name,) in snap.rows(TABLES_SQL)]

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a script (T-SQL change-tracking functions allowed) in one committed transaction.

        Returns the rows of the last statement that had a result set, as dicts. VACUUM, which cannot
        run inside a transaction, runs on its own.
        """
        statements = split_statements(sql)
        if len(statements) > 1 and parameters:
            raise TerminalError("invalid_query", "parameters can only be given to a single statement")
        alone = len(statements) == 1 and statements[0].split(None, 1)[0].upper().rstrip(";") == "VACUUM"
        rows: list[dict[str, Any]] = []
        with self._transaction(begin="" if alone else "BEGIN IMMEDIATE") as conn:
            dialect = SqliteSnapshot(conn, self.config.database)
            for statement in statements:
                cursor = conn.execute(rewrite(statement, dialect), tuple(parameters))
                if cursor.description:
                    names = [d[0] for d in cursor.description]
                    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return rows

    def _plan(self, snap: SqliteSnapshot, name: TableName, track_columns: bool, retention_days: int) -> list[str]:
        """The statements that start tracking the table (raises no_primary_key)."""
        table = snap.describe(name)
        if not table.primary_key:
            raise TerminalError("no_primary_key", f"table {table.name} has no primary key; change tracking needs one")
        next_id = (
            snap.rows(f"SELECT coalesce(max(id), 0) + 1 FROM {ct.TABLES}")[0][0] if snap.tracking_installed() else 1
        )
        columns = [c.name for c in table.columns] if track_columns else None
        return ct.enable_statements(next_id, table.name.name, table.primary_key, columns, retention_days)

    def change_tracking_statements(
        self, name: TableName, *, track_columns: bool = True, retention_days: int = 2
    ) -> list[str]:
        """The SQL that enable_change_tracking runs, for the operator to read."""
        with self.snapshot() as snap:
            return [ct.WAL, *ct.INSTALL, *self._plan(snap, name, track_columns, retention_days)]

    def enable_change_tracking(self, name: TableName, *, track_columns: bool = True, retention_days: int = 2) -> None:
        """Track the table (already tracked: unchanged), installing the side tables and WAL mode if needed."""
        with self._transaction() as conn:
            snap = SqliteSnapshot(conn, self.config.database)
            snap.describe(name)  # table_not_found before anything is installed
            for statement in ct.INSTALL:
                conn.execute(statement)
            tracked = snap.registration(snap.table_name(name))
            if tracked and tracked[2]:
                return
            if tracked:  # the table was dropped and re-created: its triggers went with it
                for statement in ct.disable_statements(tracked[0]):
                    conn.execute(statement)
            for statement in self._plan(snap, name, track_columns, retention_days):
                conn.execute(statement)
        with self._transaction(begin="") as conn:
            conn.execute(ct.WAL).fetchall()  # persistent; outside any transaction, as SQLite requires

    def disable_change_tracking(self, name: TableName) -> None:
        """Stop tracking the table and drop its log (not tracked: nothing happens)."""
        with self._transaction() as conn:
            tracked = SqliteSnapshot(conn, self.config.database).registration(name.name)
            for statement in ct.disable_statements(tracked[0]) if tracked else []:
                conn.execute(statement)

    def cleanup_change_tracking(self, now: datetime | None = None) -> int:
        """Purge change information older than each table's retention; return how many entries went.

        Each table's minimum valid version rises to the newest version older than its retention (as
        on SQL Server, so a table nobody changed expires too). ``now`` (naive means UTC) is for tests.
        """
        moment = now or datetime.now(UTC)
        epoch = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
        purged = 0
        with self._transaction() as conn:
            if not SqliteSnapshot(conn, self.config.database).tracking_installed():
                return 0
            for table_id, retention in conn.execute(f"SELECT id, retention_seconds FROM {ct.TABLES}").fetchall():
                horizon = conn.execute(ct.horizon_sql(), (epoch - retention,)).fetchone()[0]
                if horizon is not None:
                    purged += conn.execute(ct.purge_log_sql(table_id), (horizon,)).rowcount
                    conn.execute(ct.raise_min_valid_sql(), (table_id, horizon))
            purged += conn.execute(ct.purge_versions_sql()).rowcount
        return purged

    def close(self) -> None:
        """Nothing to release: every call opens and closes its own connection."""
