"""Which PostgreSQL driver reads fastest: psycopg 3 vs pyodbc (odbc-postgresql), and psycopg's COPY.

Creates a 200,000-row table in a scratch database ``ctp_pg_bench``, reads it three ways, prints rows/s
and each way's speed as a ratio of COPY's, and drops the database. Run from the project root:

    .venv/bin/python bench/pg_driver.py [--rows 200000] [--batch 10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pyodbc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import data  # noqa: E402
from tests.fixtures.pg_cluster import DSN_VARIABLE, provide_server  # noqa: E402

DATABASE = "ctp_pg_bench"
SELECT = "SELECT id, name, qty, price, created, active, note FROM bench"


def admin(sql: str) -> None:
    """Run one statement on the maintenance database."""
    with data.connect("postgres") as conn:
        conn.execute(sql)


def create_table(rows: int) -> None:
    """The bench table: int key, varchar, int, numeric(12,2), timestamp, boolean, text."""
    with data.connect(DATABASE) as conn:
        conn.execute(
            "CREATE TABLE bench (id int PRIMARY KEY, name varchar(100), qty int, price numeric(12,2), "
            "created timestamp, active boolean, note text)"
        )
        conn.execute(
            "INSERT INTO bench SELECT i, 'name ' || i, i %% 1000, (i %% 100000) / 100.0, "
            "timestamp '2024-01-01' + i * interval '1 second', i %% 2 = 0, repeat('note ', 1 + i %% 8) || i "
            "FROM generate_series(1, %s) AS i",
            (rows,),
        )
        conn.execute("VACUUM ANALYZE bench")


def psycopg_fetchmany(batch: int) -> int:
    """A server-side cursor read in batches, typed values."""
    count = 0
    with psycopg.connect(data.server().url(DATABASE)) as conn:
        with conn.cursor(name="bench") as cur:
            cur.execute(SELECT)
            while rows := cur.fetchmany(batch):
                count += len(rows)
    return count


def pyodbc_fetchmany(batch: int) -> int:
    """The same read through unixODBC and psqlODBC, streaming with a declared cursor."""
    count = 0
    pg = data.server()
    dsn = (
        f"DRIVER={{PostgreSQL Unicode}};SERVER={pg.host};PORT={pg.port};DATABASE={DATABASE};UID={pg.user};"
        f"PWD={{{pg.password}}};UseDeclareFetch=1;Fetch={batch}"
    )
    conn = pyodbc.connect(dsn, autocommit=False)
    try:
        cur = conn.cursor()
        cur.execute(SELECT)
        while rows := cur.fetchmany(batch):
            count += len(rows)
    finally:
        conn.close()
    return count


def psycopg_copy(batch: int) -> int:
    """COPY (SELECT ...) TO STDOUT as CSV: the database writes the text itself."""
    with psycopg.connect(data.server().url(DATABASE)) as conn:
        lines = 0
        with conn.cursor() as cur, cur.copy(f"COPY ({SELECT}) TO STDOUT WITH (FORMAT csv)") as copy:
            for chunk in copy:
                lines += bytes(chunk).count(b"\n")
    return lines


def measure(name: str, read: Callable[[int], int], batch: int, repeat: int) -> float:
    """Best of ``repeat`` runs, in rows per second."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        count = read(batch)
        best = min(best, time.perf_counter() - started)
    rate = count / best
    print(f"{name:<34} {count:>9,} rows  {best:7.3f} s  {rate:>12,.0f} rows/s")
    return rate


def main() -> None:
    """Set up, measure the three readers, report, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with provide_server() as server:
        os.environ[DSN_VARIABLE] = server.url()
        compare(args)


def compare(args: argparse.Namespace) -> None:
    """Make the table, measure the three readers, print their rates, drop the database."""
    admin(f"DROP DATABASE IF EXISTS {DATABASE}")
    admin(f"CREATE DATABASE {DATABASE}")
    try:
        create_table(args.rows)
        rates = {
            "(a) psycopg server cursor fetchmany": measure(
                "(a) psycopg fetchmany", psycopg_fetchmany, args.batch, args.repeat
            ),
            "(b) pyodbc fetchmany (psqlODBC)": measure(
                "(b) pyodbc fetchmany", pyodbc_fetchmany, args.batch, args.repeat
            ),
            "(c) psycopg COPY ... TO STDOUT csv": measure(
                "(c) psycopg COPY csv", psycopg_copy, args.batch, args.repeat
            ),
        }
        copy_rate = rates["(c) psycopg COPY ... TO STDOUT csv"]
        print()
        for name, rate in rates.items():
            print(f"{name:<40} {rate / copy_rate:6.2f} x COPY")
    finally:
        admin(f"DROP DATABASE IF EXISTS {DATABASE}")


if __name__ == "__main__":
    main()
