"""Add tables with 2,000 tables in the source: the inventory's time on PostgreSQL and SQLite against baselines
measured in the same run (one ``SELECT 1`` round trip, and the per-table catalogue the Author page uses),
and the server time of the wizard's grid page.

Run as ``python bench/tables_wizard.py [--tables 2000] [--tracked 200]``; it uses CTPORTAL_TEST_PG_DSN or
starts a throwaway PostgreSQL cluster, and a scratch portal in a temporary folder. Prints a table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
SCRATCH = Path(tempfile.mkdtemp(prefix="bench-wizard-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctportal.settings")
os.environ["CTPORTAL_DATA_DIR"] = str(SCRATCH / "portal")
os.environ["CTPORTAL_DATABASE_URL"] = f"sqlite:///{SCRATCH / 'portal' / 'portal.sqlite3'}"
os.environ["CTPORTAL_FILE_ROOTS"] = str(SCRATCH / "files")
(SCRATCH / "portal").mkdir()
(SCRATCH / "files").mkdir()

import django  # noqa: E402

django.setup()

from bench.data import admin, pg_config  # noqa: E402
from syncjobs.engine.inventory import inventory  # noqa: E402
from syncjobs.engine.sources.postgres import PostgresSource  # noqa: E402
from syncjobs.engine.sources.sqlite import SqliteConfig, SqliteSource  # noqa: E402
from tests.fixtures.many_tables import make_postgres_source, make_sqlite_source  # noqa: E402
from tests.fixtures.pg_cluster import DSN_VARIABLE, provide_server  # noqa: E402

DATABASE = "bench_wizard"


def median_ms(action: Callable[[], Any], repeat: int) -> float:
    """Median wall time of ``action`` in milliseconds, after one warm-up call."""
    action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def round_trip(source: Any) -> None:
    """The least a catalogue read can cost: a snapshot and ``SELECT 1``."""
    with source.snapshot() as snap:
        snap.rows("SELECT 1")


def measure_source(label: str, source: Any, repeat: int) -> list[tuple[str, float]]:
    """Round trip, inventory and the per-table catalogue of one source, in milliseconds."""
    found = inventory(source)
    print(f"{label}: {len(found)} tables, {sum(t.change_tracking for t in found)} tracked", flush=True)  # noqa: T201
    return [
        (f"{label} SELECT 1 round trip", median_ms(lambda: round_trip(source), repeat)),
        (f"{label} inventory (one query)", median_ms(lambda: inventory(source), repeat)),
        (f"{label} per-table catalogue", median_ms(source.catalogue, 1)),
    ]


def grid_page_ms(linked_name: str, repeat: int) -> float:
    """Server time of ``/tables/add/?source=`` (the 2,000-row grid), as an Editor."""
    from django.test import Client

    from syncjobs.access import Role
    from tests.factories import make_user, signed_in

    client: Client = signed_in(make_user(Role.EDITOR, "bench-editor"))
    client.defaults["HTTP_HOST"] = "127.0.0.1"
    url = f"/tables/add/?source={linked_name}"
    assert client.get(url).status_code == 200
    return median_ms(lambda: client.get(url), repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--tracked", type=int, default=200, help="tables given change tracking")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    figures: list[tuple[str, float]] = []
    sqlite_path = SCRATCH / "files" / "many.sqlite3"
    started = time.perf_counter()
    make_sqlite_source(sqlite_path, args.tables, keyless=["t0002"], tracked=args.tracked)
    print(f"SQLite source made in {time.perf_counter() - started:.1f} s", flush=True)  # noqa: T201
    sqlite = SqliteSource(SqliteConfig(str(sqlite_path)))
    figures += measure_source("SQLite", sqlite, args.repeat)
    with provide_server() as server:
        os.environ[DSN_VARIABLE] = server.url()
        admin(f'DROP DATABASE IF EXISTS "{DATABASE}"')
        admin(f'CREATE DATABASE "{DATABASE}"')
        config = pg_config(DATABASE)
        started = time.perf_counter()
        make_postgres_source(config, args.tables, keyless=["t0002"], tracked=args.tracked)
        print(f"PostgreSQL source made in {time.perf_counter() - started:.1f} s", flush=True)  # noqa: T201
        postgres = PostgresSource(config)
        try:
            figures += measure_source("PostgreSQL", postgres, args.repeat)
        finally:
            postgres.close()
            admin(f'DROP DATABASE IF EXISTS "{DATABASE}"')
    from django.core.management import call_command

    from tests.factories import make_linked_service

    call_command("migrate", "--noinput", verbosity=0)
    make_linked_service("Many", database=str(sqlite_path))
    figures.append(("Grid page /tables/add/ (SQLite source), server time", grid_page_ms("Many", args.repeat)))
    report(figures, args.tables)


def report(figures: list[tuple[str, float]], tables: int) -> None:
    """The figures, each inventory as a multiple of its round trip and a fraction of the per-table loop."""
    by_name = dict(figures)
    print(f"\n{tables} tables")  # noqa: T201
    for name, ms in figures:
        print(f"  {name:<55} {ms:10.1f} ms")  # noqa: T201
    for label in ("SQLite", "PostgreSQL"):
        trip, inv, loop = (
            by_name[f"{label} {k}"] for k in ("SELECT 1 round trip", "inventory (one query)", "per-table catalogue")
        )
        print(
            f"  {label}: inventory = {inv / trip:.1f}x a round trip; the per-table loop takes {loop / inv:.0f}x as long"
        )  # noqa: T201


if __name__ == "__main__":
    main()
