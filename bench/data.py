"""The bench table (int key, varchar, int, numeric, timestamp, boolean, text) in PostgreSQL and SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg

from syncjobs.engine.secret import Secret
from syncjobs.engine.sources.postgres import PostgresConfig, PostgresSource
from syncjobs.engine.sources.sqlite import SqliteConfig, SqliteSource
from syncjobs.engine.types import TableName
from tests.fixtures.pg_cluster import DSN_VARIABLE, PgServer, server_from_environment

TABLE = "bench_rows"
WIDE_TABLE = "bench_wide"
COLUMNS = "id, name, qty, price, created, active, note"
CREATE = (
    f"CREATE TABLE {TABLE} (id int PRIMARY KEY, name varchar(100), qty int, price numeric(12,2), "
    "created timestamp, active boolean, note text)"
)


def server() -> PgServer:
    """The bench's PostgreSQL: CTPORTAL_TEST_PG_DSN (bench/run.py sets it, starting a throwaway cluster if need be)."""
    found = server_from_environment()
    if found is None:
        raise RuntimeError(f"no PostgreSQL for the bench: set {DSN_VARIABLE}, or run bench/run.py, which makes one")
    return found


def connect(database: str) -> psycopg.Connection:
    """An autocommit connection to ``database`` on the bench's server."""
    pg = server()
    return psycopg.connect(
        host=pg.host, port=pg.port, user=pg.user, password=pg.password, dbname=database, autocommit=True
    )


def admin(sql: str) -> None:
    """One statement on PostgreSQL's maintenance database."""
    with connect("postgres") as conn:
        conn.execute(sql)


def pg_config(database: str) -> PostgresConfig:
    """The scratch database as the engine's PostgreSQL source."""
    pg = server()
    return PostgresConfig(host=pg.host, port=pg.port, database=database, username=pg.user, password=Secret(pg.password))


def create_postgres(database: str, rows: int) -> None:
    """A fresh database with ``rows`` rows, change tracking on."""
    admin(f'DROP DATABASE IF EXISTS "{database}"')
    admin(f'CREATE DATABASE "{database}"')
    with connect(database) as conn:
        conn.execute(CREATE)
        conn.execute(
            f"INSERT INTO {TABLE} SELECT i, 'customer name ' || i, i %% 1000, (i %% 100000) / 100.0, "
            "timestamp '2024-01-01' + i * interval '1 second', i %% 2 = 0, repeat('note text ', 1 + i %% 24) || i "
            "FROM generate_series(1, %s) AS i",
            (rows,),
        )
        conn.execute(f"VACUUM ANALYZE {TABLE}")
    source = PostgresSource(pg_config(database))
    source.enable_change_tracking(TableName(TABLE, "public"), track_columns=False)
    source.close()


def create_sqlite(path: Path, rows: int) -> None:
    """The same table in a SQLite file, change tracking on."""
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(CREATE)
        conn.execute(
            f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) "
            f"INSERT INTO {TABLE} SELECT i, 'customer name ' || i, i % 1000, round((i % 100000) / 100.0, 2), "
            "datetime('2024-01-01', '+' || i || ' seconds'), i % 2 = 0, "
            "replace(hex(zeroblob(1 + i % 24)), '00', 'note text ') || i FROM s",
            (rows,),
        )
    source = SqliteSource(SqliteConfig(database=str(path)))
    source.enable_change_tracking(TableName(TABLE), track_columns=False)
    source.close()


def create_wide(kind: str, where: str, rows: int) -> None:
    """A table of ``rows`` rows of 4 KB text each (memory must not grow with a row's width either)."""
    create = f"CREATE TABLE {WIDE_TABLE} (id int PRIMARY KEY, body text)"
    if kind == "postgres":
        with connect(where) as conn:
            conn.execute(create)
            conn.execute(
                f"INSERT INTO {WIDE_TABLE} SELECT i, repeat(md5(i::text), 128) FROM generate_series(1, %s) AS i",
                (rows,),
            )
        source, table = PostgresSource(pg_config(where)), TableName(WIDE_TABLE, "public")
    else:
        with sqlite3.connect(where) as conn:
            conn.execute(create)
            conn.execute(
                f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) "
                f"INSERT INTO {WIDE_TABLE} SELECT i, printf('%.4096c', char(65 + i % 26)) FROM s",
                (rows,),
            )
        source, table = SqliteSource(SqliteConfig(database=where)), TableName(WIDE_TABLE)
    source.enable_change_tracking(table, track_columns=False)
    source.close()


def change_rows(kind: str, where: str, rows: int, count: int = 1000) -> None:
    """Update exactly ``count`` rows spread over the table, each in one transaction."""
    step = max(rows // count, 1)
    sql = f"UPDATE {TABLE} SET qty = qty + 1 WHERE id % {step} = 0 AND id <= {step * count}"
    if kind == "postgres":
        with connect(where) as conn:
            conn.execute(sql)
    else:
        with sqlite3.connect(where) as conn:
            conn.execute(sql)
