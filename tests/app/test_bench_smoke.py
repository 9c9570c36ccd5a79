"""The benchmark must keep running (a smoke test at tiny sizes; the figures themselves are not judged here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.pg_cluster import DSN_VARIABLE
from tests.fixtures.postgres import SERVER

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_prints_every_figure(pg_server):
    done = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--rows",
            "3000",
            "--repeat",
            "2",
            "--wide-rows",
            "200",
            "--monitor-runs",
            "300",
            "--part-rows",
            "500",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, DSN_VARIABLE: SERVER.url()},  # the session's server, not a cluster of its own
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    for name in (
        "PostgreSQL 3,000: LIMIT = export + upload",
        "PostgreSQL 3,000: engine full copy -> Azurite csv ",
        "PostgreSQL 3,000: engine full copy -> Azurite parquet",
        "PostgreSQL 3,000: delta of 1,000 changed rows",
        "PostgreSQL 3,000 in 500-row parts: full copy from scratch",
        "PostgreSQL 3,000 in 500-row parts: killed at 50 %",
        "PostgreSQL 3,000 in 500-row parts: what the resume saves",
        "SQLite 3,000: engine full copy -> Azurite csv.gz",
        "PostgreSQL: 200 rows of 4 KB -> Azurite parquet",
        "SQLite: 200 rows of 4 KB -> Azurite csv",
        "portal: Trigger now -> first row read",
        "monitor (300 runs / 3,000 activity runs): one run's page",
    ):
        assert any(line.startswith(name) for line in lines), (name, done.stdout)


def test_the_tables_wizard_bench_prints_its_figures(pg_server):
    done = subprocess.run(
        [sys.executable, "bench/tables_wizard.py", "--tables", "20", "--tracked", "5", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, DSN_VARIABLE: SERVER.url()},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for figure in ("SQLite inventory (one query)", "PostgreSQL per-table catalogue", "Grid page /tables/add/"):
        assert figure in done.stdout, done.stdout
    assert "PostgreSQL: inventory =" in done.stdout


def test_the_tables_tick_bench_prints_its_figures(pg_server):
    done = subprocess.run(
        [
            sys.executable,
            "bench/tables_tick.py",
            "--tables",
            "4",
            "--rows",
            "20",
            "--changed",
            "2",
            "--changed-rows",
            "10",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, DSN_VARIABLE: SERVER.url()},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("ratio concurrency 1 / 4", "per quiet table, concurrency 1", "bare version check"):
        assert name in done.stdout, done.stdout


def test_the_tables_page_bench_prints_its_figures(tmp_path):
    done = subprocess.run(
        [sys.executable, "bench/tables_page.py", "40"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **{k: v for k, v in os.environ.items() if k != "CTPORTAL_DATABASE_URL"},
            "CTPORTAL_DATA_DIR": str(tmp_path),
        },
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ('"tables": 40', '"tables_page_ms"', '"tables_page_x_monitor"', '"api_tables_top_100_ms"'):
        assert name in done.stdout, done.stdout
