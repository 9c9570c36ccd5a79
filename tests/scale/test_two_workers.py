"""Runs at scale (issue 14): 200 tables on a schedule, the portal on PostgreSQL, qcluster workers on Redis.

One Add tables submission (``add_tables``, what the wizard's Create calls) over the 200 tables makes
four pipelines of 50 tables each on one ScheduleTrigger every minute. A first tick (Trigger now on
each pipeline) copies every table; then rows change and the schedule fires one tick on one worker, the
next on two (``qcluster`` processes of one worker each, on one Redis queue of the test's own name);
then the trigger stops, change tracking is dropped on one table and a last tick is triggered now:
that table fails with its reason, its run ends "Succeeded with failed tables", every other table is
current (``verify_sync`` exact), and ``/api/tables`` and the Tables page show it *Failing* with its
reason. The wall time of each tick (from the fire to the last run's end) is printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import psycopg
import pytest

from syncjobs.engine.sources.postgres import PostgresSource
from syncjobs.engine.types import TableName
from tests.fixtures.portal import ROOT, Portal
from tests.fixtures.postgres import HOST, PASSWORD, PORT, USER, admin_connect, drop_database, pg_connect
from tests.scale.conftest import FIGURES

pytestmark = pytest.mark.scale
TABLES = int(os.environ.get("CTPORTAL_SCALE_TABLES", "200"))
ROWS = int(os.environ.get("CTPORTAL_SCALE_ROWS", "1000"))  # rows per table
CHANGED = int(os.environ.get("CTPORTAL_SCALE_CHANGED_TABLES", "200"))  # tables with all their rows changed per tick
PIPELINES = -(-TABLES // 50)  # Add tables puts 50 tables in a pipeline (TABLES_PER_PIPELINE), all on one trigger
REDIS = "redis://127.0.0.1:6379/0"


def names() -> list[str]:
    return [f"t{i:04d}" for i in range(TABLES)]


def create_source(config: Any) -> None:
    with pg_connect(config) as conn:
        for name in names():
            conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v text, n int)")
            conn.execute(f"INSERT INTO {name} SELECT i, 'row ' || i, 0 FROM generate_series(1, %s) i", (ROWS,))
    source = PostgresSource(config)
    for name in names():
        source.enable_change_tracking(TableName(name, "public"), track_columns=False)
    source.close()


def change(config: Any, tables: list[str]) -> None:
    with pg_connect(config) as conn:
        for name in tables:
            conn.execute(f"UPDATE {name} SET n = n + 1, v = 'changed'")


def linked_services(config: Any, lake: str) -> list[tuple[str, dict[str, Any]]]:
    """The source database and the folder sink; the rest comes from one Add tables submission."""
    pg = {
        "server": config.host,
        "port": config.port,
        "database": config.database,
        "username": config.username,
        "password": {"type": "SecureString", "value": config.password.reveal()},
        "sslMode": 0,
    }
    return [
        ("linkedService", {"name": "Pg", "properties": {"type": "PostgreSqlV2", "typeProperties": pg}}),
        ("linkedService", {"name": "Lake", "properties": {"type": "FileServer", "typeProperties": {"host": lake}}}),
    ]


class ScalePortal:
    """The portal on its own PostgreSQL database, its workers on Redis, and its run records read directly."""

    def __init__(self, folder: Any, source: Any) -> None:
        self.database = f"ctp_portal_{uuid.uuid4().hex[:10]}"
        with admin_connect() as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.portal = Portal(folder, redis_url=REDIS)
        self.portal.env.update(
            CTPORTAL_DATABASE_URL=f"postgres://{USER}:{PASSWORD}@{HOST}:{PORT}/{self.database}",
            CTPORTAL_Q_CLUSTER_NAME=f"scale-{uuid.uuid4().hex[:8]}",
            CTPORTAL_WORKERS="1",
            CTPORTAL_WORKER_TABLE_CONCURRENCY="4",
            CTPORTAL_LOG_LEVEL="WARNING",
        )
        self.folder, self.source = folder, source
        self.workers: list[subprocess.Popen] = []

    def install(self) -> None:
        """Migrate, link the source and the sink, then add the 200 tables in one submission (as the wizard)."""
        lake = self.folder / "files"
        lake.mkdir(parents=True)
        factory = self.folder / "factory"
        for kind, definition in linked_services(self.source, str(lake)):
            target = factory / kind / f"{definition['name']}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(definition))
        self.portal.manage("migrate", "--noinput")
        self.portal.manage("import_factory", str(factory))
        self.added = self.in_portal("add", "Pg", "Lake", "Tick", *[f"public.{n}" for n in names()])
        assert len(self.added["pipelines"]) == PIPELINES, self.added

    def start_worker(self) -> None:
        self.workers.append(self.portal.spawn_worker(f"qcluster-{len(self.workers)}"))

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(host=HOST, port=PORT, user=USER, password=PASSWORD, dbname=self.database) as conn:
            return conn.execute(sql, params).fetchall()

    def tick(self, seen: int, timeout: float = 300, kind: str = "ScheduleTrigger") -> dict[str, Any]:
        """Wait for the next fire's runs (``kind``: how they were invoked) to end; their statuses, messages
        and the tick's wall time (from the first run's trigger to the last run's end)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.query(
                "SELECT run_id, status, message, failed_tables, triggered_at, run_end FROM syncjobs_pipelinerun "
                "WHERE invoked_by_type = %s ORDER BY triggered_at",
                kind,
            )
            new = rows[seen:]
            if len(new) >= PIPELINES and all(r[1] in ("Succeeded", "Failed", "Cancelled") for r in new[:PIPELINES]):
                runs = new[:PIPELINES]
                wall = (max(r[5] for r in runs) - min(r[4] for r in runs)).total_seconds()
                return {"runs": runs, "wall": wall, "seen": seen + PIPELINES}
            time.sleep(1)
        so_far = self.query("SELECT status, message FROM syncjobs_pipelinerun")
        raise AssertionError(f"no tick ended within {timeout} s; runs so far: {so_far}")

    def manual_tick(self, seen: int) -> dict[str, Any]:
        """Trigger now on every pipeline (a tick that is not measured need not wait for the schedule)."""
        self.in_portal("trigger", *self.added["pipelines"])
        return self.tick(seen, kind="Manual")

    def in_portal(self, *arguments: str) -> Any:
        """``tests/scale/in_portal.py``'s answer (one Django start in the portal's environment)."""
        done = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "scale" / "in_portal.py"), *arguments],
            cwd=ROOT, env=self.portal.env, capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    def verify(self, tables: list[str]) -> dict[str, Any]:
        return self.in_portal("verify", "Pg", self.added["datasets"][-1], *tables)

    def close(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                os.killpg(worker.pid, 15)
                try:
                    worker.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, 9)
        drop_database(self.database)


@pytest.mark.timeout(1500)
def test_200_tables_on_a_schedule_with_one_and_two_workers(tmp_path, pg_database):
    create_source(pg_database)
    scale = ScalePortal(tmp_path, pg_database)
    try:
        scale.install()
        scale.start_worker()
        first = scale.manual_tick(0)  # the full copies
        assert [r[1] for r in first["runs"]] == ["Succeeded"] * PIPELINES, first["runs"]

        scale.portal.manage("triggers", "start", scale.added["trigger"])  # the measured ticks: on the schedule
        change(pg_database, names()[:CHANGED])
        one = scale.tick(0)
        assert [r[1] for r in one["runs"]] == ["Succeeded"] * PIPELINES, one["runs"]

        scale.start_worker()
        change(pg_database, names()[:CHANGED])
        two = scale.tick(one["seen"])
        assert [r[1] for r in two["runs"]] == ["Succeeded"] * PIPELINES, two["runs"]
        scale.portal.manage("triggers", "stop", scale.added["trigger"])

        broken = names()[7]
        PostgresSource(pg_database).disable_change_tracking(TableName(broken, "public"))
        change(pg_database, names()[:CHANGED])
        last = scale.manual_tick(first["seen"])
        statuses = sorted((r[1], r[3]) for r in last["runs"])
        assert statuses == [
            ("Succeeded", []),
            ("Succeeded", []),
            ("Succeeded", []),
            ("Succeeded", [f"public.{broken}"]),
        ]
        failing = [r for r in last["runs"] if r[3]][0]
        assert failing[2].startswith(f"Succeeded with failed tables (1 table): public.{broken}: ")
        ((status, error),) = scale.query(
            "SELECT status, error FROM syncjobs_activityrun WHERE pipeline_run_id = %s AND \"table\" = %s",
            failing[0], f"public.{broken}",
        )  # fmt: skip
        assert status == "Failed" and "change tracking" in error["message"].lower(), error

        others = [f"public.{n}" for n in names() if n != broken]
        reports = scale.verify(others)
        inexact = {t: r for t, r in reports.items() if not r["exact"]}
        assert not inexact, inexact
        shown = scale.in_portal("tables", "failing")
        assert shown["api_status"] == 200
        (table,) = [t for t in shown["api"] if t["table"] == broken]
        assert "change tracking" in table["lastError"]["message"].lower(), table
        assert [t["table"] for t in shown["api"]] == [broken], shown["api"]
        assert broken in shown["page"] and "Failing" in shown["page"]
        FIGURES.append(
            f"{TABLES} tables, {CHANGED} x {ROWS:,} rows changed per tick, {PIPELINES} pipelines per fire:"
            f"\n  initial tick (full copies), 1 worker: {first['wall']:.1f} s"
            f"\n  changed tick, 1 worker: {one['wall']:.1f} s"
            f"\n  changed tick, 2 workers: {two['wall']:.1f} s (ratio 1/2: {one['wall'] / two['wall']:.2f})"
            f"\n  tick with one table broken, 2 workers: {last['wall']:.1f} s"
        )
    finally:
        scale.close()
