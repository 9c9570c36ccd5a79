"""One tick over many tables (issue 14): N tables in PostgreSQL, one ChangeTrackingCopy over all of them.

    .venv/bin/python bench/tables_tick.py [--tables 200] [--changed 20] [--rows 1000] [--azurite]

Creates N tables (default 200) of ``--rows`` rows with change tracking on, and one pipeline of one
ChangeTrackingCopy over them into a folder (or Azurite with ``--azurite``), run through the portal's own
run service (``services.runs``: the DjangoRunHost over a scratch portal database, the run inline in
this process). Prints:

- the initial tick (a full copy of every table);
- one tick after 1,000 rows changed in each of ``--changed`` tables, with table concurrency 1 and 4
  (CTPORTAL_WORKER_TABLE_CONCURRENCY), and their ratio;
- a quiet tick (no table changed) per table, against a bare version check measured in the same run:
  the source's snapshot (a new connection, BEGIN, the change-tracking current version, COMMIT), once
  per table, one after another: what a hand-written poller pays per table at least.

PostgreSQL from CTPORTAL_TEST_PG_DSN, or a throwaway cluster started here (tests/fixtures/pg_cluster.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import data  # noqa: E402
from tests.fixtures.pg_cluster import DSN_VARIABLE, provide_server  # noqa: E402

CONTAINER = "tables"


def create_tables(database: str, count: int, rows: int) -> list[str]:
    """``count`` tables of ``rows`` rows each, change tracking on; their names."""
    from syncjobs.engine.sources.postgres import PostgresSource
    from syncjobs.engine.types import TableName

    data.admin(f'DROP DATABASE IF EXISTS "{database}"')
    data.admin(f'CREATE DATABASE "{database}"')
    names = [f"t{i:04d}" for i in range(count)]
    with data.connect(database) as conn:
        for name in names:
            conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, name varchar(60), qty int, note text)")
            conn.execute(
                f"INSERT INTO {name} SELECT i, 'name ' || i, i %% 97, repeat('x', 20) FROM generate_series(1, %s) i",
                (rows,),
            )
    source = PostgresSource(data.pg_config(database))
    for name in names:
        source.enable_change_tracking(TableName(name, "public"), track_columns=False)
    source.close()
    return names


def change_rows(database: str, names: list[str], count: int) -> None:
    """Update ``count`` rows of each table in ``names``."""
    with data.connect(database) as conn:
        for name in names:
            conn.execute(f"UPDATE {name} SET qty = qty + 1 WHERE id <= %s", (count,))


def setup_portal(folder: Path) -> None:
    """A scratch portal (SQLite database in ``folder``), runs carried out inline in this process."""
    os.environ.update(
        CTPORTAL_DATA_DIR=str(folder),
        CTPORTAL_DATABASE_URL=f"sqlite:///{folder / 'portal.sqlite3'}",
        CTPORTAL_TASKS_INLINE="true",
        DJANGO_SETTINGS_MODULE="ctportal.settings",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def define_objects(database: str, names: list[str], folder: Path, connection_string: str) -> Any:
    """The linked services, datasets and the pipeline; returns the pipeline."""
    from syncjobs.services.definitions import save_definition

    def ref(name: str, kind: str = "DatasetReference") -> dict[str, str]:
        return {"referenceName": name, "type": kind}

    pg = data.server()
    source = {"server": pg.host, "port": pg.port, "database": database, "username": pg.user, "sslMode": 0}
    source["password"] = {"type": "SecureString", "value": pg.password}
    save_definition("linkedService", {"name": "Pg", "properties": {"type": "PostgreSqlV2", "typeProperties": source}})
    if connection_string:
        sink = {"type": "AzureBlobStorage", "typeProperties": {"connectionString": connection_string}}
        location = {"type": "AzureBlobStorageLocation", "container": CONTAINER, "folderPath": "tick"}
    else:
        out = folder / "files" / "out"
        out.mkdir(parents=True)
        sink = {"type": "FileServer", "typeProperties": {"host": str(out)}}
        location = {"type": "FileServerLocation", "folderPath": "tick"}
    save_definition("linkedService", {"name": "Lake", "properties": sink})
    table = {"schema": "public", "table": names[0]}
    save_definition(
        "dataset",
        {
            "name": "Src",
            "properties": {
                "type": "PostgreSqlV2Table",
                "linkedServiceName": ref("Pg", "LinkedServiceReference"),
                "typeProperties": table,
            },
        },
    )
    save_definition(
        "dataset",
        {
            "name": "Out",
            "properties": {
                "type": "DelimitedText",
                "linkedServiceName": ref("Lake", "LinkedServiceReference"),
                "typeProperties": {"location": location, "columnDelimiter": ",", "firstRowAsHeader": True},
            },
        },
    )
    copy = {
        "name": "SyncTables",
        "type": "ChangeTrackingCopy",
        "typeProperties": {"tables": [{"schema": "public", "table": n} for n in names], "batchCount": 50},
        "inputs": [ref("Src")],
        "outputs": [ref("Out")],
    }
    return save_definition("pipeline", {"name": "Tick", "properties": {"activities": [copy]}})[0]


def tick(pipeline: Any, concurrency: int) -> dict[str, Any]:
    """One run of the pipeline at this table concurrency: wall seconds, rows, status."""
    from django.conf import settings

    from syncjobs.models import ActivityRun
    from syncjobs.services.runs import trigger_run

    settings.CTPORTAL_WORKER_TABLE_CONCURRENCY = concurrency
    started = time.perf_counter()
    run = trigger_run(pipeline)
    seconds = time.perf_counter() - started
    run.refresh_from_db()
    if run.status != "Succeeded" or run.failed_tables:
        raise RuntimeError(f"tick {run.run_id} ended {run.status}: {run.message[:2000]}")
    parent = ActivityRun.objects.get(pipeline_run=run, parent=None)
    return {"seconds": seconds, "rows": parent.output["rowsCopied"], "tables": len(parent.output["tables"])}


def version_checks(database: str, count: int) -> float:
    """Seconds for ``count`` bare version checks, one after another (a new connection each, as a snapshot)."""
    from syncjobs.engine.sources.postgres import PostgresSource

    source = PostgresSource(data.pg_config(database))
    started = time.perf_counter()
    for _ in range(count):
        with source.snapshot() as snapshot:
            snapshot.current_version()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--rows", type=int, default=1000, help="rows per table")
    parser.add_argument("--changed", type=int, default=20, help="tables with 1,000 rows changed before the tick")
    parser.add_argument("--changed-rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the changed and quiet ticks (median)")
    parser.add_argument("--azurite", action="store_true", help="sink to Azurite instead of a folder")
    args = parser.parse_args()
    with provide_server() as server, tempfile.TemporaryDirectory(prefix="tables-tick-") as work:
        os.environ[DSN_VARIABLE] = server.url()
        measure(args, Path(work))


def measure(args: argparse.Namespace, work: Path) -> None:
    database = f"bench_tables_{uuid.uuid4().hex[:8]}"
    azurite = None
    try:
        connection_string = ""
        if args.azurite:
            from azure.storage.blob import BlobServiceClient

            from tests.fixtures.azurite import Azurite, free_port

            azurite = Azurite(work / "azurite", free_port())
            azurite.start()
            connection_string = azurite.connection_string
            BlobServiceClient.from_connection_string(connection_string).create_container(CONTAINER)
        started = time.perf_counter()
        names = create_tables(database, args.tables, args.rows)
        print(f"created {len(names)} tables of {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
        setup_portal(work / "portal")
        pipeline = define_objects(database, names, work / "portal", connection_string)
        report(args, database, names, pipeline)
    finally:
        if azurite is not None:
            azurite.stop()
        data.admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def report(args: argparse.Namespace, database: str, names: list[str], pipeline: Any) -> None:
    """Run the ticks and print the figures."""
    full = tick(pipeline, 4)
    changed = names[: args.changed]
    by_degree: dict[int, list[float]] = {1: [], 4: []}
    for _ in range(args.repeat):
        for degree in (1, 4):
            change_rows(database, changed, args.changed_rows)
            figure = tick(pipeline, degree)
            assert figure["rows"] == len(changed) * args.changed_rows, figure
            by_degree[degree].append(figure["seconds"])
    quiet: dict[int, list[float]] = {1: [], 4: []}
    checks = []
    for _ in range(args.repeat):
        for degree in (1, 4):
            quiet[degree].append(tick(pipeline, degree)["seconds"])
        checks.append(version_checks(database, len(names)))
    one, four = statistics.median(by_degree[1]), statistics.median(by_degree[4])
    check = statistics.median(checks) / len(names)
    rows = [
        (
            "initial tick (full copy of every table), concurrency 4",
            f"{full['seconds']:.2f} s",
            f"{full['rows']:,} rows",
        ),
        (f"tick, {len(changed)} tables x {args.changed_rows:,} rows changed, concurrency 1", f"{one:.2f} s", ""),
        (f"tick, {len(changed)} tables x {args.changed_rows:,} rows changed, concurrency 4", f"{four:.2f} s", ""),
        ("  ratio concurrency 1 / 4", f"{one / four:.2f}", "higher is better (2 cores here)"),
    ]
    for degree in (1, 4):
        per_table = statistics.median(quiet[degree]) / len(names)
        rows.append((f"quiet tick, concurrency {degree}", f"{statistics.median(quiet[degree]):.2f} s", ""))
        rows.append(
            (
                f"  per quiet table, concurrency {degree}",
                f"{per_table * 1000:.1f} ms",
                f"{per_table / check:.2f}x a check",
            )
        )
    rows.append(("bare version check (new connection, one after another)", f"{check * 1000:.1f} ms", "baseline"))
    print(f"\n{len(names)} tables, one ChangeTrackingCopy, sink {'Azurite' if args.azurite else 'folder'}")
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
