"""One adapter per source so the conformance suite can set up tables the same way on each.

Each adapter wraps a real source (SQLite file, PostgreSQL database, SQL Server when a DSN is given)
and adds what only tests need: quoting for hand-written DDL, a second connection for concurrent
writers, forcing change information to expire, and a backup/restore of the database.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from syncjobs.engine.sqlnames import quote_ansi, quote_tsql
from syncjobs.engine.types import TableName

SQLSERVER_DSN_VARIABLE = "CTPORTAL_TEST_SQLSERVER_DSN"


class SourceUnderTest:
    """What the conformance suite needs beyond the Source protocol."""

    name = ""
    source: Any

    def q(self, identifier: str) -> str:
        """Quote an identifier for hand-written DDL and DML."""
        return quote_ansi(identifier)

    def table(self, name: str) -> TableName:
        """A table name as this source qualifies it."""
        return TableName(name)

    def qt(self, name: str) -> str:
        """A quoted, qualified table name."""
        table = self.table(name)
        return ".".join(self.q(p) for p in ([table.schema] if table.schema else []) + [table.name])

    def run(self, *statements: str) -> None:
        """Run statements, each in its own committed transaction."""
        for sql in statements:
            self.source.execute(sql)

    def connect(self) -> Any:
        """A second DB-API connection, not in autocommit, for concurrent writers."""
        raise NotImplementedError

    def expire_change_information(self) -> None:
        """Make every change recorded so far too old to read (retention cleanup)."""
        self.source.cleanup_change_tracking(now=datetime.now(UTC) + timedelta(days=30))

    def backup(self) -> None:
        raise NotImplementedError

    def restore(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the source (and drop what the test created where the database outlives it)."""
        self.source.close()


class SqliteUnderTest(SourceUnderTest):
    name = "sqlite"

    def __init__(self, folder: Path) -> None:
        from syncjobs.engine.sources.sqlite import SqliteConfig, SqliteSource, create_database

        self.path = folder / "source.sqlite3"
        create_database(self.path)
        self.source = SqliteSource(SqliteConfig(database=str(self.path)))

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    def backup(self) -> None:
        self.source.close()
        src, dst = sqlite3.connect(self.path), sqlite3.connect(str(self.path) + ".bak")
        src.backup(dst)
        src.close()
        dst.close()

    def restore(self) -> None:
        self.source.close()
        for suffix in ("-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        shutil.copyfile(str(self.path) + ".bak", self.path)


class PostgresUnderTest(SourceUnderTest):
    name = "postgres"

    def __init__(self, config: Any) -> None:
        from syncjobs.engine.sources.postgres import PostgresSource

        self.config = config
        self.source = PostgresSource(config)
        self.backup_name = f"{config.database}_bak"

    def table(self, name: str) -> TableName:
        return TableName(name, "public")

    def connect(self) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.config.host,
            port=self.config.port,
            dbname=self.config.database,
            user=self.config.username,
            password=self.config.password.reveal(),
        )

    def _admin(self, sql: str) -> None:
        import psycopg

        config = self.config
        with psycopg.connect(
            host=config.host,
            port=config.port,
            dbname="postgres",
            user=config.username,
            password=config.password.reveal(),
        ) as conn:
            conn.autocommit = True
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.config.database,),
            )
            conn.execute(sql)

    def backup(self) -> None:
        self.source.close()
        self._admin(f"DROP DATABASE IF EXISTS {quote_ansi(self.backup_name)}")
        self._admin(f"CREATE DATABASE {quote_ansi(self.backup_name)} TEMPLATE {quote_ansi(self.config.database)}")

    def restore(self) -> None:
        self.source.close()
        self._admin(f"DROP DATABASE {quote_ansi(self.config.database)}")
        self._admin(f"ALTER DATABASE {quote_ansi(self.backup_name)} RENAME TO {quote_ansi(self.config.database)}")


class SqlServerUnderTest(SourceUnderTest):
    """Runs against the server named by CTPORTAL_TEST_SQLSERVER_DSN, in a schema of its own."""

    name = "sqlserver"

    def __init__(self, dsn: str) -> None:
        from syncjobs.engine.secret import Secret
        from syncjobs.engine.sources.sqlserver import SqlServerConfig, SqlServerSource

        self.dsn = dsn
        self.schema = f"ctp_{uuid.uuid4().hex[:8]}"
        self.source = SqlServerSource(SqlServerConfig(connection_string=Secret(dsn)))
        self.source.execute(f"CREATE SCHEMA {quote_tsql(self.schema)}")

    def q(self, identifier: str) -> str:
        return quote_tsql(identifier)

    def table(self, name: str) -> TableName:
        return TableName(name, self.schema)

    def connect(self) -> Any:
        import pyodbc

        return pyodbc.connect(self.dsn, autocommit=False)

    def expire_change_information(self) -> None:
        # SQL Server's cleanup runs on its own schedule; turning tracking off and on again for every
        # table in our schema is the real way to make old change information invalid on demand.
        tables = self.source.execute(
            "SELECT t.name FROM sys.change_tracking_tables c JOIN sys.tables t ON t.object_id = c.object_id "
            "WHERE SCHEMA_NAME(t.schema_id) = ?",
            (self.schema,),
        )
        for row in tables:
            name = self.table(row["name"])
            self.source.disable_change_tracking(name)
            self.source.enable_change_tracking(name)

    def _database(self) -> str:
        return self.source.execute("SELECT DB_NAME() AS name")[0]["name"]

    def close(self) -> None:
        """Drop the test's schema: the server is shared and outlives the test."""
        tables = self.source.execute(
            "SELECT t.name, CASE WHEN c.object_id IS NULL THEN 0 ELSE 1 END AS tracked FROM sys.tables t "
            "LEFT JOIN sys.change_tracking_tables c ON c.object_id = t.object_id WHERE SCHEMA_NAME(t.schema_id) = ?",
            (self.schema,),
        )
        for row in tables:
            if row["tracked"]:
                self.source.disable_change_tracking(self.table(row["name"]))
            self.source.execute(f"DROP TABLE {self.qt(row['name'])}")
        self.source.execute(f"DROP SCHEMA {quote_tsql(self.schema)}")
        self.source.close()

    def backup(self) -> None:
        database = self._database()
        self.source.execute(
            f"BACKUP DATABASE {quote_tsql(database)} TO DISK = N'ctportal_conformance.bak' WITH INIT, COPY_ONLY"
        )

    def restore(self) -> None:
        import pyodbc

        database = self._database()
        self.source.close()
        with pyodbc.connect(self.dsn, autocommit=True) as conn:
            conn.execute("USE master")
            conn.execute(f"ALTER DATABASE {quote_tsql(database)} SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
            conn.execute(
                f"RESTORE DATABASE {quote_tsql(database)} FROM DISK = N'ctportal_conformance.bak' WITH REPLACE"
            )
            conn.execute(f"ALTER DATABASE {quote_tsql(database)} SET MULTI_USER")


def sqlserver_dsn() -> str:
    """The DSN of the SQL Server to test against, or "" when none is given."""
    return os.environ.get(SQLSERVER_DSN_VARIABLE, "")
