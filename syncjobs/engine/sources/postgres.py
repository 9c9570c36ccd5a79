"""PostgreSQL source (ADF's PostgreSqlV2) on psycopg 3, with emulated change tracking and COPY as CSV.

psycopg 3 was measured against pyodbc + psqlODBC (bench/pg_driver.py): its server-side cursor reads
about 2.8 times as fast, and its COPY ... TO STDOUT lets the database write DelimitedText itself.
The snapshot lives in ``postgres_snapshot.py``, the change-tracking SQL in ``postgres_tracking.py``
and the COPY options in ``postgres_copy.py``. Its connector declaration (type names, form, dialect,
capabilities) is on :class:`PostgresSource`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import psycopg

from syncjobs.engine.connectors import (
    Connector,
    FieldCheck,
    FormField,
    LinkedServiceType,
    port_number,
    required_text,
    secret_value,
)
from syncjobs.engine.dialects import ansi
from syncjobs.engine.errors import EngineError, TerminalError, TransientError
from syncjobs.engine.secret import Secret
from syncjobs.engine.sources import postgres_tracking as ct
from syncjobs.engine.sources.postgres_snapshot import KEY_SQL, TABLES_SQL, PostgresSnapshot, qualified
from syncjobs.engine.sources.tsql_functions import rewrite
from syncjobs.engine.types import Column, Table, TableName

# ADF's PostgreSqlV2 sslMode numbers 0 to 5, in libpq's words.
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass(frozen=True)
class PostgresConfig:
    """ADF's PostgreSqlV2 linked service: server, port, database, username, password, SSL mode."""

    host: str
    database: str
    username: str
    password: Secret = field(default_factory=lambda: Secret(""))
    port: int = 5432
    ssl_mode: str = "prefer"
    connect_timeout: int = 15


def _message_of(exc: BaseException, config: PostgresConfig) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    secret = config.password.reveal()
    return text.replace(secret, "***") if secret else text


_CONNECT_REASONS = [
    ("could not translate host name", "name_resolution", False),
    ("name or service not known", "name_resolution", False),
    ("connection refused", "refused", True),
    ("timeout expired", "timeout", True),
    ("timed out", "timeout", True),
    ("password authentication failed", "login_failed", False),
    ("no password supplied", "login_failed", False),
    ("role ", "login_failed", False),
    ("no pg_hba.conf entry", "login_failed", False),
    ("database ", "database_missing", False),
    ("ssl", "tls", False),
    ("certificate", "tls", False),
]
_SQLSTATE_REASONS = {
    "40001": ("serialization", True),
    "40P01": ("deadlock", True),
    "57014": ("timeout", True),
    "55P03": ("lock_timeout", True),
    "57P01": ("connection_lost", True),
    "42P01": ("table_not_found", False),
    "42501": ("permission_denied", False),
    "25006": ("read_only", False),
    "28P01": ("login_failed", False),
    "28000": ("login_failed", False),
    "3D000": ("database_missing", False),
}


def engine_error(exc: psycopg.Error, config: PostgresConfig, connecting: bool = False) -> EngineError:
    """Map a psycopg error to a terminal or transient engine error with a reason code (no secrets)."""
    message = _message_of(exc, config)
    state = getattr(exc, "sqlstate", None) or ""
    reason, transient = _SQLSTATE_REASONS.get(state, ("", False))
    if not reason and connecting:
        lowered = message.lower()
        reason, transient = next(
            ((r, t) for text, r, t in _CONNECT_REASONS if text in lowered), ("connect_failed", True)
        )
    if not reason:
        if state[:2] in ("08", "53", "57", "58") or (isinstance(exc, psycopg.OperationalError) and not state):
            reason, transient = "connection_lost", True
        elif state[:2] == "42":
            reason = "invalid_query"
        else:
            reason = "query_failed"
    if connecting:
        message = f"cannot connect to PostgreSQL {config.host}:{config.port}/{config.database}: {message}"
    return (TransientError if transient else TerminalError)(reason, message)


def _connect(config: PostgresConfig, autocommit: bool = False) -> psycopg.Connection:
    try:
        return psycopg.connect(
            host=config.host,
            port=config.port,
            dbname=config.database,
            user=config.username,
            password=config.password.reveal() or None,
            sslmode=config.ssl_mode,
            connect_timeout=config.connect_timeout,
            application_name="ctportal",
            client_encoding="UTF8",
            # Stable text forms: what COPY writes must not depend on the server's defaults.
            options="-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres -c extra_float_digits=1 "
            "-c bytea_output=hex",
            autocommit=autocommit,
        )
    except psycopg.Error as exc:
        raise engine_error(exc, config, connecting=True) from None


_COMPARABLE_KINDS = ("int", "decimal", "float", "bool", "date", "time", "datetime", "datetimetz", "uuid", "binary")


def _comparable(column: Column) -> bool:
    """Whether ``=`` compares the column's values (json, xml, geometric and array types go by their text)."""
    text = column.source_type.startswith(("text", "character varying", "character("))
    return column.kind in _COMPARABLE_KINDS or text


class PostgresSource(Connector):
    """PostgreSQL through psycopg 3."""

    is_source = True
    linked_service_types = (
        LinkedServiceType(
            "PostgreSqlV2",
            "PostgreSQL",
            dataset="PostgreSqlV2Table",
            copy_source="PostgreSqlV2Source",
            legacy_datasets=("PostgreSqlTable",),
        ),
    )
    form = (
        FormField("server", "Server", required=True),
        FormField("port", "Port", "int", default=5432),
        FormField("database", "Database", required=True),
        FormField("username", "User name", required=True),
        FormField("password", "Password", "secret"),
        FormField("sslMode", "SSL mode", "choice", choices=tuple(enumerate(SSL_MODES)), default=2),
    )
    dialect = ansi("PostgreSQL", procedure_call="CALL {name}({arguments})", procedure_argument="{quoted} => %s")

    supports_change_tracking = True
    """Change tracking is emulated with triggers and side tables in the schema ctportal_ct."""
    supports_native_csv = True
    """COPY ... TO STDOUT writes CSV in the database: DelimitedText as is, and plain CSV Parquet parses in C++."""
    supports_text_values = True
    """``read(text_values=True)`` gives PostgreSQL's own text output, the same text COPY writes."""

    def __init__(self, config: PostgresConfig) -> None:
        self.config = config
        # Keep one idle connection for the next snapshot (a run's worker thread copying table after
        # table: a quiet table then costs its queries, not a new connection); closed by close().
        self.keep_connection = False
        self._idle: psycopg.Connection | None = None
        self._idle_lock = threading.Lock()

    @classmethod
    def from_type_properties(cls, tp: dict[str, Any], *, name: str = "?", quick: bool = False) -> PostgresSource:
        """``server``, ``port``, ``database``, ``username``, ``password`` and ``sslMode`` (a number or a name)."""
        ssl = tp.get("sslMode", 2)
        ssl_mode = dict(enumerate(SSL_MODES)).get(int(ssl), "prefer") if str(ssl).isdigit() else str(ssl)
        config = PostgresConfig(
            host=required_text(tp, "server", name),
            database=required_text(tp, "database", name),
            username=str(tp.get("username", "")),
            password=Secret(secret_value(tp.get("password"))),
            port=port_number(tp.get("port") or 5432, "port"),
            ssl_mode=ssl_mode,
        )
        return cls(config)

    @classmethod
    def check_type_properties(cls, tp: dict[str, Any], check: FieldCheck) -> None:
        """Server, database and user name are required; the port is a port; sslMode is 0 to 5."""
        for key in ("server", "database", "username"):
            check.text(key)
        check.integer("port", minimum=1, maximum=65535)
        if check.integer("sslMode", minimum=0) not in (None, *range(len(SSL_MODES))):
            check.add("sslMode", "must be 0 (disable) to 5 (verify-full)")

    def _errors(self, exc: psycopg.Error) -> EngineError:
        return engine_error(exc, self.config)

    def test_connection(self) -> None:
        """Connect and run SELECT 1."""
        with _connect(self.config, autocommit=True) as conn:
            conn.execute("SELECT 1")

    @contextmanager
    def snapshot(self) -> Iterator[PostgresSnapshot]:
        """BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; COMMIT (ROLLBACK on error) on leaving."""
        conn = self._connection()
        try:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield PostgresSnapshot(conn, self._errors)
            conn.execute("COMMIT")
        except BaseException as exc:
            with suppress(psycopg.Error):
                conn.execute("ROLLBACK")
            conn.close()  # never kept after an error
            if isinstance(exc, psycopg.Error):
                raise engine_error(exc, self.config) from None
            raise
        self._keep_or_close(conn)

    def _connection(self) -> psycopg.Connection:
        """The idle connection kept from the last snapshot when it is still sound, else a new one."""
        with self._idle_lock:
            kept, self._idle = self._idle, None
        if kept is not None and not kept.broken and kept.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            return kept
        if kept is not None:
            kept.close()
        return _connect(self.config, autocommit=True)

    def _keep_or_close(self, conn: psycopg.Connection) -> None:
        with self._idle_lock:
            kept = self.keep_connection and self._idle is None
            if kept:
                self._idle = conn
        if not kept:
            conn.close()

    def catalogue(self) -> list[Table]:
        """Every user table outside pg_catalog, information_schema and ctportal_ct."""
        with self.snapshot() as snap:
            return [snap.describe(TableName(name, schema)) for schema, name in snap.rows(TABLES_SQL)]

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run ``sql`` (T-SQL change-tracking functions allowed) in one committed transaction."""
        with _connect(self.config) as conn:
            try:
                text = rewrite(sql, PostgresSnapshot(conn, self._errors))
                cur = conn.execute(text, tuple(parameters) or None)
                rows: list[dict[str, Any]] = []
                while True:
                    if cur.description:
                        names = [d.name for d in cur.description]
                        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
                    if not cur.nextset():
                        break
                conn.commit()
                return rows
            except psycopg.Error as exc:
                raise engine_error(exc, self.config) from None

    def _tracking_plan(
        self, conn: psycopg.Connection, name: TableName, track_columns: bool, retention_days: int
    ) -> tuple[int, list[str]]:
        """The table's oid and the statements that start tracking it."""
        snap = PostgresSnapshot(conn, self._errors)
        table = snap.describe(name)
        if not table.primary_key:
            raise TerminalError("no_primary_key", f"table {table.name} has no primary key; change tracking needs one")
        relid = snap.relid(table.name)
        keys = [(k, t) for k, t in snap.rows(KEY_SQL, (relid,))]
        columns = [(c.name, _comparable(c)) for c in table.columns] if track_columns else None
        return relid, ct.enable_statements(relid, qualified(table.name), keys, columns, retention_days)

    def change_tracking_statements(
        self, name: TableName, *, track_columns: bool = True, retention_days: int = 2
    ) -> list[str]:
        """The SQL that enable_change_tracking runs, for the operator to read."""
        with _connect(self.config) as conn:
            return [*ct.INSTALL, *self._tracking_plan(conn, name, track_columns, retention_days)[1]]

    def _run_ddl(self, build: Callable[[psycopg.Connection], list[str]]) -> None:
        with _connect(self.config) as conn:
            try:
                for statement in build(conn):
                    conn.execute(statement)
                conn.commit()
            except psycopg.Error as exc:
                raise engine_error(exc, self.config) from None

    def enable_change_tracking(self, name: TableName, *, track_columns: bool = True, retention_days: int = 2) -> None:
        """Install the ctportal_ct schema if needed, then track the table (already tracked: unchanged)."""

        def build(conn: psycopg.Connection) -> list[str]:
            relid, statements = self._tracking_plan(conn, name, track_columns, retention_days)
            for statement in ct.INSTALL:
                conn.execute(statement)
            return [] if PostgresSnapshot(conn, self._errors).tracking_state(relid) is not None else statements

        self._run_ddl(build)

    def disable_change_tracking(self, name: TableName) -> None:
        """Stop tracking the table and drop its log."""

        def build(conn: psycopg.Connection) -> list[str]:
            snap = PostgresSnapshot(conn, self._errors)
            table = snap.describe(name)
            return ct.disable_statements(snap.relid(name), qualified(table.name)) if table.change_tracking else []

        self._run_ddl(build)

    def cleanup_change_tracking(self, now: datetime | None = None) -> int:
        """Purge change information older than each table's retention; return how many entries went."""
        with _connect(self.config) as conn:
            try:
                if not PostgresSnapshot(conn, self._errors).tracking_installed():
                    return 0
                moment = now or cast(tuple[Any, ...], conn.execute("SELECT clock_timestamp()").fetchone())[0]
                conn.execute(ct.raise_min_valid_versions_sql(), {"now": moment})
                purged = 0
                for log_table, min_valid in conn.execute(ct.tracked_logs_sql()).fetchall():
                    purged += conn.execute(ct.purge_log_sql(log_table), (min_valid,)).rowcount
                purged += conn.execute(ct.purge_commits_sql()).rowcount
                conn.commit()
                return purged
            except psycopg.Error as exc:
                raise engine_error(exc, self.config) from None

    def close(self) -> None:
        """Close the connection kept for the next snapshot, if any (every other call closes its own)."""
        with self._idle_lock:
            kept, self._idle = self._idle, None
        if kept is not None:
            kept.close()
