"""The performance benchmark (issue 5): copies against the database's own export, deltas, Trigger now, monitor.

    .venv/bin/python bench/run.py [--rows 1000000] [--big] [--repeat 3] [--wide-rows 50000]
                                  [--skip-portal] [--skip-monitor]

Prints one table: each figure, the target, and its ratio against the limit measured in the same run
(the database's own CSV export to a file plus a raw parallel upload of that file to Azurite), each the
median of ``--repeat`` interleaved rounds.
Everything runs on loopback: PostgreSQL from CTPORTAL_TEST_PG_DSN or else a throwaway cluster started
here (tests/fixtures/pg_cluster.py; scratch databases, dropped at the end),
SQLite in a temporary folder, Azurite started here.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import data  # noqa: E402
from tests.fixtures.azurite import Azurite, free_port  # noqa: E402
from tests.fixtures.pg_cluster import DSN_VARIABLE, provide_server  # noqa: E402

MB = 1024 * 1024
FORMATS = ("csv", "csv.gz", "parquet")


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh process (its own peak memory) and read its JSON answer."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "measure.py"), json.dumps(spec)], capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode:
        raise RuntimeError(f"measurement {spec['kind']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Table:
    """The printed table: one row per measurement."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def add(self, name: str, figure: dict[str, Any] | None, rows: int, limit: float | None, target: str) -> None:
        if figure is None:
            self.rows.append((name, "n/a", "", "", "", "", target))
            return
        seconds = figure["seconds"]
        rate = f"{rows / seconds:,.0f}" if rows and seconds else ""
        mb_s = f"{figure['bytes'] / MB / seconds:,.1f}" if figure.get("bytes") and seconds else ""
        peak = f"{figure['peak_mb']:.0f}" if figure.get("peak_mb") else "—"
        ratio = f"{seconds / limit:.2f}" if limit else ""
        self.rows.append((name, f"{seconds:.3f}", rate, mb_s, peak, ratio, target))

    def note(self, name: str, value: str, target: str) -> None:
        self.rows.append((name, value, "", "", "", "", target))

    def print(self) -> None:
        header = ("measurement", "seconds", "rows/s", "MB/s", "peak MB", "ratio", "target")
        widths = [max(len(str(r[i])) for r in [header, *self.rows]) for i in range(len(header))]
        for row in [header, tuple("-" * w for w in widths), *self.rows]:
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def bench_source(
    table: Table, kind: str, where: str, rows: int, work: Path, azurite: Azurite, label: str, repeat: int
) -> None:
    """Limit, full copies (CSV, CSV.gz, Parquet) and a 1,000-row delta for one source.

    The limit and the copies run in ``repeat`` interleaved rounds and each figure is the median round
    (its peak the highest): Azurite slows as its store fills, so a limit measured once, first, would
    flatter the limit over the copies that follow it.
    """
    cs = azurite.connection_string
    exported = str(work / f"{label}.csv")
    specs = {
        "export": {"kind": "export", "source": kind, "where": where, "file": exported},
        "upload": {"kind": "upload", "file": exported, "connection_string": cs},
    }
    for fmt in FORMATS:
        specs[fmt] = copy_spec(kind, where, fmt, f"{label}-{fmt}", cs)
    rounds = [{name: child(spec) for name, spec in specs.items()} for _ in range(max(1, repeat))]
    figures = {name: median_round([r[name] for r in rounds]) for name in specs}
    export, upload = figures["export"], figures["upload"]
    limit = export["seconds"] + upload["seconds"]
    table.add(f"{label}: database's own CSV export", export, rows, None, "")
    table.add(f"{label}: raw upload of that file", upload, rows, None, "")
    table.add(f"{label}: LIMIT = export + upload", {"seconds": limit, "bytes": export["bytes"]}, rows, limit, "")
    target = "ratio <= 1.0" if kind == "postgres" else "ratio <= 1.5"
    for fmt in FORMATS:
        targets = ", ".join(part for part in (_format_target(fmt, target), "peak < 150 MB") if part)
        table.add(f"{label}: engine full copy -> Azurite {fmt}", figures[fmt], rows, limit, targets)
    baseline = figures["csv"]["watermark"]
    data.change_rows(kind, where, rows)
    delta = child(copy_spec(kind, where, "csv", f"{label}-delta", cs, watermark=baseline))
    assert delta["mode"] == "delta" and delta["rows"] == 1000, delta
    table.add(f"{label}: delta of 1,000 changed rows", delta, delta["rows"], None, "< 1 s")


def copy_spec(kind: str, where: str, fmt: str, label: str, connection_string: str, **more: Any) -> dict[str, Any]:
    """A ``measure.py`` spec for one engine copy (``more``: ``table``, ``watermark``)."""
    spec = {"kind": "copy", "source": kind, "where": where, "format": fmt, "label": label}
    return {**spec, "connection_string": connection_string, **more}


def bench_resume(table: Table, where: str, rows: int, work: Path, azurite: Azurite, part_rows: int) -> None:
    """A full copy in parts killed (SIGKILL) once half its parts are committed, then resumed, against the
    same copy from scratch."""
    cs = azurite.connection_string
    scratch = child(copy_spec("postgres", where, "csv", "resume-scratch", cs, part_rows=part_rows))
    journal = work / "resume-journal.json"
    half = max(1, rows // part_rows // 2)
    spec = copy_spec("postgres", where, "csv", "resume", cs, part_rows=part_rows, journal=str(journal))
    started = time.perf_counter()
    killed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "measure.py"), json.dumps({**spec, "kill_after": half})], cwd=ROOT
    )
    lost = time.perf_counter() - started
    if killed.returncode != -signal.SIGKILL:
        raise RuntimeError(f"the copy to kill half way ended with {killed.returncode}")
    resumed = child({**spec, "resume": True})
    assert resumed["parts_resumed"] == half, resumed
    label = f"PostgreSQL {rows:,} in {part_rows:,}-row parts"
    table.add(f"{label}: full copy from scratch", scratch, rows, None, "")
    table.add(f"{label}: killed at 50 % (after {lost:.2f} s), resumed", resumed, resumed["rows"], None, "")
    table.note(f"{label}: what the resume saves", f"{scratch['seconds'] - resumed['seconds']:.2f} s", "")


def bench_wide_rows(table: Table, kind: str, where: str, rows: int, azurite: Azurite, label: str) -> None:
    """Peak memory of full copies of rows 4 KB wide: batches and row groups are bounded in bytes too."""
    data.create_wide(kind, where, rows)
    for fmt in ("csv", "parquet"):
        spec = copy_spec(kind, where, fmt, f"{label}-wide-{fmt}", azurite.connection_string, table=data.WIDE_TABLE)
        table.add(f"{label}: {rows:,} rows of 4 KB -> Azurite {fmt}", child(spec), rows, None, "peak < 150 MB")


def median_round(figures: list[dict[str, Any]]) -> dict[str, Any]:
    """The figure with the median time, with the highest peak memory of all rounds."""
    ordered = sorted(figures, key=lambda figure: figure["seconds"])
    peaks = [figure["peak_mb"] for figure in figures if figure.get("peak_mb")]
    return {**ordered[len(ordered) // 2], "peak_mb": max(peaks) if peaks else None}


def _format_target(fmt: str, target: str) -> str:
    return {"csv": target, "parquet": "not slower than CSV"}.get(fmt, "")


def bench_monitor(table: Table, runs: int, per_run: int) -> None:
    """Monitor pages' server time with ``runs`` pipeline runs and ``runs * per_run`` activity runs."""
    database = f"ctp_bench_portal_{uuid.uuid4().hex[:8]}"
    data.admin(f'CREATE DATABASE "{database}"')
    try:
        env = {**os.environ, "CTPORTAL_DATABASE_URL": data.server().url(database)}
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "monitor_pages.py"), str(runs), str(per_run)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
        )
        if done.returncode:
            raise RuntimeError(done.stderr[-3000:])
        pages = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        data.admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    history = f"{runs:,} runs / {runs * per_run:,} activity runs"
    for key, name in (
        ("list_default_ms", "runs list, last 24 h"),
        ("list_all_ms", "runs list, all, page 100, by duration"),
        ("list_filtered_ms", "runs list, filtered"),
        ("run_page_ms", "one run's page"),
        ("list_100_ms", "runs list, all, 100 per page"),
        ("new_runs_ms", "new runs of the last 5 minutes (the list's live update)"),
        ("group_rows_ms", "a rerun group expanded"),
        ("home_ms", "Home"),
    ):
        table.note(f"monitor ({history}): {name}", f"{pages[key]:.0f} ms", "< 150 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big", action="store_true", help="also a 10,000,000-row PostgreSQL table")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds of limit and copies (median)")
    parser.add_argument("--wide-rows", type=int, default=50_000, help="rows of the 4 KB-per-row table")
    parser.add_argument("--skip-portal", action="store_true")
    parser.add_argument("--skip-monitor", action="store_true")
    parser.add_argument("--part-rows", type=int, default=100_000, help="maxRowsPerFile of the resume measurement")
    parser.add_argument("--monitor-runs", type=int, default=100_000)
    args = parser.parse_args()
    with provide_server() as server:
        os.environ[DSN_VARIABLE] = server.url()  # for bench/measure.py and the portal, in their own processes
        table = measure_all(args)
    table.print()


def measure_all(args: argparse.Namespace) -> Table:
    """Every figure of the run, in one table."""
    table = Table()
    databases = []
    with tempfile.TemporaryDirectory(prefix="ctp-bench-") as tmp:
        work = Path(tmp)
        azurite = Azurite(work / "azurite", free_port())
        (work / "azurite").mkdir()
        azurite.start()
        from azure.storage.blob import BlobServiceClient

        BlobServiceClient.from_connection_string(azurite.connection_string).create_container("bench")
        try:
            sizes = [args.rows] + ([10_000_000] if args.big else [])
            for rows in sizes:
                database = f"ctp_bench_{uuid.uuid4().hex[:8]}"
                databases.append(database)
                data.create_postgres(database, rows)
                bench_source(table, "postgres", database, rows, work, azurite, f"PostgreSQL {rows:,}", args.repeat)
            bench_resume(table, databases[0], args.rows, work, azurite, args.part_rows)
            bench_wide_rows(table, "postgres", databases[0], args.wide_rows, azurite, "PostgreSQL")
            sqlite_path = work / "bench.sqlite3"
            data.create_sqlite(sqlite_path, args.rows)
            bench_source(
                table, "sqlite", str(sqlite_path), args.rows, work, azurite, f"SQLite {args.rows:,}", args.repeat
            )
            bench_wide_rows(table, "sqlite", str(sqlite_path), args.wide_rows, azurite, "SQLite")
            if not args.skip_portal:
                from bench.portal import measure_portal

                portal_dir = work / "portal"
                portal_dir.mkdir()
                figure = measure_portal(portal_dir, databases[0], azurite.connection_string)
                table.add(
                    f"portal: Trigger now -> full copy of {args.rows:,} rows",
                    {**figure, "peak_mb": None},
                    figure["rows"],
                    None,
                    "",
                )
                table.note("portal: Trigger now -> first row read", f"{figure['to_first_row']:.3f} s", "< 1 s")
            if not args.skip_monitor:
                bench_monitor(table, args.monitor_runs, 10)
        finally:
            azurite.stop()
            for database in databases:
                data.admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return table


if __name__ == "__main__":
    main()
