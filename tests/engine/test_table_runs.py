"""Runs at scale in the engine: a ChangeTrackingCopy's tables as their own activity runs, copied in
parallel, failing, skipped and retried alone; independent activities at once. Real SQLite and
PostgreSQL sources, a real folder sink, the in-memory host."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from syncjobs.engine.errors import EngineError
from syncjobs.engine.pipeline.host import WatermarkKey
from syncjobs.engine.pipeline.runner import run_pipeline
from syncjobs.engine.sources.sqlite import SqliteConfig, SqliteSource, create_database
from syncjobs.engine.types import TableName
from tests.engine.run_helpers import ls, pg_linked_service
from tests.engine.run_hosts import MemoryHost, info
from tests.engine.sources_under_test import PostgresUnderTest, SqliteUnderTest

SINK_FOLDER = "lake/tables"


def people_tables(u: Any, names: list[str], rows: int) -> None:
    """Tracked tables of ``rows`` people each."""
    for name in names:
        u.run(f"CREATE TABLE {u.qt(name)} (id int NOT NULL PRIMARY KEY, name varchar(40), age int)")
        if rows:
            values = ", ".join(f"({i}, 'person {i}', {i % 90})" for i in range(1, rows + 1))
            u.run(f"INSERT INTO {u.qt(name)} VALUES {values}")
        u.source.enable_change_tracking(u.table(name))


class Tables:
    """One pipeline of one ChangeTrackingCopy over ``tables`` of a source, into a folder sink."""

    def __init__(self, source_service: dict[str, Any], output: Path, tables: list[TableName]) -> None:
        sink = ls("Lake", "FileServer", host=str(output))
        self.host = MemoryHost([source_service, sink])
        self.output = output
        self.source_name = source_service["name"]
        self.tables = tables
        self.datasets = {
            "Src": {
                "name": "Src",
                "properties": {
                    "linkedServiceName": {"referenceName": self.source_name, "type": "LinkedServiceReference"},
                    "type": "SqliteTable" if source_service["properties"]["type"] == "Sqlite" else "PostgreSqlV2Table",
                    "typeProperties": {"table": tables[0].name},
                },
            },
            "Out": {
                "name": "Out",
                "properties": {
                    "linkedServiceName": {"referenceName": "Lake", "type": "LinkedServiceReference"},
                    "type": "DelimitedText",
                    "typeProperties": {
                        "location": {"type": "FileServerLocation", "folderPath": SINK_FOLDER},
                        "columnDelimiter": ",",
                        "firstRowAsHeader": True,
                    },
                },
            },
        }

    def copy_activity(self, name: str = "SyncTables", batch_count: int | None = None, after=()) -> dict[str, Any]:
        listed = [{"schema": t.schema, "table": t.name} if t.schema else {"table": t.name} for t in self.tables]
        tp: dict[str, Any] = {"tables": listed}
        if batch_count:
            tp["batchCount"] = batch_count
        return {
            "name": name,
            "type": "ChangeTrackingCopy",
            "dependsOn": [{"activity": a, "dependencyConditions": ["Succeeded"]} for a in after],
            "typeProperties": tp,
            "inputs": [{"referenceName": "Src", "type": "DatasetReference"}],
            "outputs": [{"referenceName": "Out", "type": "DatasetReference"}],
        }

    def run(self, *activities: dict[str, Any], **info_overrides: Any):
        pipeline = {"name": "Tables", "properties": {"activities": list(activities) or [self.copy_activity()]}}
        snapshot = {"pipeline": pipeline, "datasets": self.datasets, "linkedServices": dict(self.host.linked_services)}
        self.host.runs.clear()
        return run_pipeline(snapshot, info("Tables", **info_overrides), self.host)

    def key(self, table: TableName) -> WatermarkKey:
        return WatermarkKey(self.source_name, table, f"Out:{SINK_FOLDER}")

    def version(self, table: TableName) -> int | None:
        state = self.host.watermarks.get(self.key(table))
        return state.watermark.version if state and state.watermark else None

    def files(self, table: TableName) -> list[Path]:
        return sorted(p for p in (self.output / SINK_FOLDER).rglob("*") if p.is_file() and f"/{table}/" in str(p))


@pytest.fixture
def sqlite_tables(tmp_path):
    u = SqliteUnderTest(tmp_path)
    names = [f"t{i}" for i in range(6)]
    people_tables(u, names, 3000)
    output = tmp_path / "out"
    output.mkdir()
    yield u, Tables(ls("Src", "Sqlite", database=str(u.path)), output, [u.table(n) for n in names])
    u.close()


def overlapped(runs: list[dict[str, Any]]) -> bool:
    """Some two of these activity runs ran at the same time."""
    spans = sorted((r["started"], r["ended"]) for r in runs)
    return any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))


def test_each_table_is_its_own_activity_run_and_tables_copy_in_parallel(sqlite_tables):
    _, t = sqlite_tables
    outcome = t.run(t.copy_activity(batch_count=3))
    assert outcome.status == "Succeeded", outcome.message
    tables = t.host.tables()
    assert sorted(tables) == [f"t{i}" for i in range(6)]
    parent = t.host.run("SyncTables")
    assert all(r["parent"] == parent["id"] and r["status"] == "Succeeded" for r in tables.values())
    assert all(
        r["output"]["rowsCopied"] == 3000 and r["output"]["changeTracking"]["mode"] == "full" for r in tables.values()
    )
    assert parent["output"]["rowsCopied"] == 6 * 3000 and parent["output"]["failedTables"] == []
    assert overlapped(list(tables.values()))  # recorded start and end times cross
    running_at_once = max(
        sum(1 for r in tables.values() if r["started"] <= s["started"] < r["ended"]) for s in tables.values()
    )
    assert running_at_once <= 3  # batchCount caps the degree
    assert t.host.threads == {threading.get_ident()}  # every host call on the runner's thread


def test_one_table_at_a_time_when_the_worker_limit_is_one(sqlite_tables):
    _, t = sqlite_tables
    outcome = t.run(t.copy_activity(batch_count=10), table_concurrency=1)
    assert outcome.status == "Succeeded", outcome.message
    assert not overlapped(list(t.host.tables().values()))


@pytest.fixture
def pg_tables(pg_database, tmp_path):
    u = PostgresUnderTest(pg_database)
    names = ["orders", "customers", "invoices", "payments"]
    people_tables(u, names, 200)
    output = tmp_path / "out"
    output.mkdir()
    yield u, Tables(pg_linked_service(pg_database, "Pg"), output, [u.table(n) for n in names])
    for name in names:
        u.run(f"DROP TABLE IF EXISTS {u.qt(name)}")
    u.close()


def test_one_dropped_table_fails_alone_the_others_advance_and_retry_copies_only_it(pg_tables):
    u, t = pg_tables
    assert t.run().status == "Succeeded"
    before = {table.name: t.version(table) for table in t.tables}
    u.run(f"UPDATE {u.qt('orders')} SET age = age + 1 WHERE id <= 10", f"UPDATE {u.qt('payments')} SET age = 1")
    u.run(f"ALTER TABLE {u.qt('invoices')} RENAME TO invoices_gone")
    outcome = t.run()
    assert outcome.status == "Succeeded"
    assert list(outcome.failed_tables) == ["public.invoices"]
    assert outcome.message.startswith("Succeeded with failed tables (1 table): public.invoices: ")
    tables = t.host.tables()
    assert (
        tables["public.invoices"]["status"] == "Failed" and "invoices" in tables["public.invoices"]["error"]["message"]
    )
    for name in ("orders", "customers", "payments"):
        assert tables[f"public.{name}"]["status"] == "Succeeded"
        assert t.version(u.table(name)) > before[name]  # the others advanced
    assert (
        tables["public.orders"]["output"]["rowsCopied"] == 10
        and tables["public.payments"]["output"]["rowsCopied"] == 200
    )
    assert len(t.files(u.table("orders"))) > len(t.files(u.table("invoices")))
    assert t.version(u.table("invoices")) == before["invoices"]  # nothing moved for the failed one
    assert t.host.run("SyncTables")["output"]["failedTables"] == ["public.invoices"]

    u.run(
        f"ALTER TABLE {u.qt('invoices_gone')} RENAME TO invoices", f"UPDATE {u.qt('invoices')} SET age = 2 WHERE id = 1"
    )
    retry = t.run(table_filter=tuple(outcome.failed_tables))
    assert retry.status == "Succeeded" and not retry.failed_tables, retry.message
    assert list(t.host.tables()) == ["public.invoices"]  # only the failed table copied
    assert t.host.tables()["public.invoices"]["output"]["rowsCopied"] == 1


def test_every_table_failing_fails_the_run_naming_them(pg_tables):
    u, t = pg_tables
    for name in ("orders", "customers", "invoices", "payments"):
        u.source.disable_change_tracking(u.table(name))
    outcome = t.run()
    assert outcome.status == "Failed"
    assert sorted(outcome.failed_tables) == ["public.customers", "public.invoices", "public.orders", "public.payments"]
    assert "4 of 4 tables failed: public.orders: " in outcome.message


def test_a_busy_table_and_a_paused_table_are_skipped_not_failed(sqlite_tables):
    u, t = sqlite_tables
    t.host.claimed[t.key(u.table("t1"))] = 99  # another run is writing t1's window
    t.host.paused.add("t2")
    outcome = t.run()
    assert outcome.status == "Succeeded" and not outcome.failed_tables, outcome.message
    tables = t.host.tables()
    assert (
        tables["t1"]["status"] == "Skipped"
        and tables["t1"]["output"]["message"] == "skipped: previous window still running"
    )
    assert tables["t2"]["status"] == "Skipped" and tables["t2"]["output"]["message"] == "skipped: paused"
    assert t.version(u.table("t1")) is None and t.version(u.table("t2")) is None
    assert all(t.version(u.table(n)) is not None for n in ("t0", "t3", "t4", "t5"))
    assert t.host.run("SyncTables")["output"]["skippedTables"] == ["t1", "t2"]


def test_cancel_stops_the_tables_and_the_run(sqlite_tables):
    _, t = sqlite_tables
    t.host.cancel_after = 3
    outcome = t.run(t.copy_activity(batch_count=2))
    assert outcome.status == "Cancelled"
    assert t.host.run("SyncTables")["status"] == "Cancelled"
    assert len(t.host.tables()) < 6


def test_independent_activities_run_at_the_same_time_dependent_ones_after(tmp_path):
    database = tmp_path / "s.db"
    create_database(database)
    SqliteSource(SqliteConfig(database=str(database))).close()
    host = MemoryHost([ls("Src", "Sqlite", database=str(database))])

    def wait(name: str, after=()):
        deps = [{"activity": a, "dependencyConditions": ["Succeeded"]} for a in after]
        return {"name": name, "type": "Wait", "dependsOn": deps, "typeProperties": {"waitTimeInSeconds": 0.4}}

    activities = [wait("A"), wait("B"), wait("C"), wait("Then", after=["A", "B"])]
    snapshot = {
        "pipeline": {"name": "P", "properties": {"activities": activities}},
        "datasets": {},
        "linkedServices": {},
    }
    outcome = run_pipeline(snapshot, info("P"), host)
    assert outcome.status == "Succeeded", outcome.message
    runs = {r["name"]: r for r in host.runs}
    assert overlapped([runs["A"], runs["B"], runs["C"]])
    assert max(runs[n]["started"] for n in "ABC") < min(runs[n]["ended"] for n in "ABC")  # all three at once
    assert runs["Then"]["started"] >= max(runs["A"]["ended"], runs["B"]["ended"])
    assert host.threads == {threading.get_ident()}

    host.runs.clear()
    outcome = run_pipeline(snapshot, info("P", activity_concurrency=1), host)
    assert outcome.status == "Succeeded" and not overlapped([r for r in host.runs if r["name"] in "ABC"])


def test_cancel_stops_parallel_activities(tmp_path):
    host = MemoryHost([])
    host.cancel_after = 5
    waits = [{"name": n, "type": "Wait", "typeProperties": {"waitTimeInSeconds": 60}} for n in ("A", "B", "C")]
    snapshot = {"pipeline": {"name": "P", "properties": {"activities": waits}}, "datasets": {}, "linkedServices": {}}
    outcome = run_pipeline(snapshot, info("P"), host)
    assert outcome.status == "Cancelled"
    assert {r["status"] for r in host.runs} == {"Cancelled"}


def test_a_worker_threads_postgres_source_keeps_one_connection_table_after_table(pg_database):
    from syncjobs.engine.sources.postgres import PostgresSource

    source = PostgresSource(pg_database)

    def backend() -> int:
        with source.snapshot() as snapshot:
            return snapshot.rows("SELECT pg_backend_pid()")[0][0]

    assert backend() != backend()  # by default each snapshot has its own connection
    source.keep_connection = True
    first = backend()
    assert backend() == first
    with pytest.raises(EngineError), source.snapshot() as snapshot:  # an error: that connection is not kept
        snapshot.rows("SELECT * FROM no_such_table")
    assert backend() != first
    source.close()
    assert source._idle is None
