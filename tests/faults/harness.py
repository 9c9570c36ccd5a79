"""The fault suite's bench: a whole portal (real qcluster workers, a control process) syncing a PostgreSQL table
to Azurite through a ChangeTrackingCopy, with changes flowing into the table and faults injected by real means.

Every scenario ends the same way: recover what the faults left, run once more to catch up, check that no
run is left unfinished, and replay the sink with verify_sync; the numbers go into the tally.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncjobs.engine.sources.postgres import PostgresConfig, PostgresSource
from syncjobs.engine.types import TableName
from tests.fixtures.portal import ROOT, Portal
from tests.fixtures.postgres import pg_connect

TABLE = "items"
PIPELINE = "Sync"
STALLED_SECONDS = 4  # the stall limit the suite's portal runs with (heartbeats every second)
FINISHED = ("Succeeded", "Failed", "Cancelled")


@dataclass
class TallyRow:
    """One line of the fault suite's tally."""

    fault: str
    runs: int
    rows_lost: int
    rows_stale: int
    rows_extra: int
    duplicates: int
    unfinished: int
    stray_files: int  # files in the sink no manifest names (attempts that died must leave none)


TALLY: list[TallyRow] = []


class Worker:
    """One ``manage.py qcluster`` in its own process group: killed, frozen and thawed as a whole."""

    def __init__(self, process: subprocess.Popen, log: Path) -> None:
        self.process, self.log = process, log

    def signal(self, which: signal.Signals) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, which)

    def kill(self) -> None:
        """``kill -9`` of the cluster and its workers."""
        self.signal(signal.SIGKILL)
        self.process.wait(10)

    def freeze(self) -> None:
        """SIGSTOP: the worker stops dead (heartbeat thread included), as a frozen host would."""
        self.signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT: the frozen worker carries on where it stopped."""
        self.signal(signal.SIGCONT)

    def died(self) -> bool:
        return self.process.poll() is not None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.thaw()
            self.kill()


class Writer:
    """Changes flowing into the source table: inserts, updates and deletes, a few rows per transaction."""

    def __init__(self, config: PostgresConfig, next_id: int, seed: int = 13) -> None:
        self.config, self.next_id = config, next_id
        self.random = random.Random(seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.transactions = 0

    def burst(self, transactions: int = 20) -> None:
        """Some transactions now."""
        with pg_connect(self.config) as conn:
            for _ in range(transactions):
                self._transaction(conn)

    def _transaction(self, conn: Any) -> None:
        with conn.transaction():
            for _ in range(self.random.randint(1, 5)):
                kind, key = self.random.random(), self.random.randint(1, self.next_id)
                if kind < 0.4:
                    self.next_id += 1
                    conn.execute(f"INSERT INTO {TABLE} VALUES (%s, %s, %s)", (self.next_id, "new", 0))
                elif kind < 0.85:
                    conn.execute(f"UPDATE {TABLE} SET n = n + 1, v = 'changed' WHERE id = %s", (key,))
                else:
                    conn.execute(f"DELETE FROM {TABLE} WHERE id = %s", (key,))
        self.transactions += 1

    def start(self) -> None:
        """Keep writing in the background until ``stop``."""

        def loop() -> None:
            with pg_connect(self.config) as conn:
                while not self._stop.wait(0.01):
                    self._transaction(conn)

        self._thread = threading.Thread(target=loop, name="fault-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)


class FaultPortal:
    """A portal syncing ``items`` (PostgreSQL) to Azurite, with workers to kill and a control process."""

    def __init__(self, folder: Path, pg: PostgresConfig, azurite: Any, container: str, *, redis_url: str = "") -> None:
        self.folder, self.pg, self.azurite, self.container = folder, pg, azurite, container
        self.portal = Portal(folder, redis_url=redis_url)
        self.portal.env.update(
            CTPORTAL_STALLED_RUN_SECONDS=str(STALLED_SECONDS),
            CTPORTAL_HEARTBEAT_SECONDS="1",
            CTPORTAL_QUEUED_RUN_SECONDS="2",
            CTPORTAL_LOG_LEVEL="INFO",
        )
        self.workers: list[Worker] = []
        self.control: subprocess.Popen | None = None
        self.triggered = 0
        self.writer: Writer | None = None

    # --- set-up -------------------------------------------------------------------------------------

    def install(self, rows: int, max_rows_per_file: int, retry: int = 0) -> None:
        """The source table with ``rows`` rows and change tracking, the portal and its definitions."""
        with pg_connect(self.pg) as conn:
            conn.execute(f"CREATE TABLE {TABLE} (id int PRIMARY KEY, v text, n int)")
            conn.execute(f"INSERT INTO {TABLE} SELECT i, 'row ' || i, 0 FROM generate_series(1, %s) i", (rows,))
            conn.execute(f"VACUUM ANALYZE {TABLE}")
        source = PostgresSource(self.pg)
        source.enable_change_tracking(TableName(TABLE, "public"), track_columns=False)
        source.close()
        self.writer = Writer(self.pg, rows)
        factory = self.folder / "factory"
        for kind, definition in self._definitions(max_rows_per_file, retry):
            target = factory / kind / f"{definition['name']}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(definition))
        self.portal.manage("migrate", "--noinput")
        self.portal.manage("import_factory", str(factory))
        self._start_control()

    def _definitions(self, max_rows_per_file: int, retry: int) -> list[tuple[str, dict[str, Any]]]:
        def ref(name: str, kind: str = "DatasetReference") -> dict[str, str]:
            return {"referenceName": name, "type": kind}

        pg = {
            "server": self.pg.host,
            "port": self.pg.port,
            "database": self.pg.database,
            "username": self.pg.username,
            "password": {"type": "SecureString", "value": self.pg.password.reveal()},
        }
        blob = {"connectionString": self.azurite.connection_string}
        location = {"type": "AzureBlobStorageLocation", "container": self.container, "folderPath": "lake"}
        sync = {
            "name": "SyncItems",
            "type": "ChangeTrackingCopy",
            "policy": {"retry": retry},
            "inputs": [ref("Items")],
            "outputs": [ref("Lake")],
            "typeProperties": {
                "batchRows": 1000,
                "sink": {"type": "DelimitedTextSink", "formatSettings": {"maxRowsPerFile": max_rows_per_file}},
            },
        }
        return [
            ("linkedService", {"name": "Pg", "properties": {"type": "PostgreSqlV2", "typeProperties": pg}}),
            ("linkedService", {"name": "Blob", "properties": {"type": "AzureBlobStorage", "typeProperties": blob}}),
            ("dataset", {"name": "Items", "properties": {
                "type": "PostgreSqlV2Table", "linkedServiceName": ref("Pg", "LinkedServiceReference"),
                "typeProperties": {"schema": "public", "table": TABLE}}}),
            ("dataset", {"name": "Lake", "properties": {
                "type": "DelimitedText", "linkedServiceName": ref("Blob", "LinkedServiceReference"),
                "typeProperties": {"location": location, "firstRowAsHeader": True}}}),
            ("pipeline", {"name": PIPELINE, "properties": {"activities": [sync]}}),
        ]  # fmt: skip

    def _start_control(self) -> None:
        self.control = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "faults" / "control.py")],
            cwd=ROOT,
            env=self.portal.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert json.loads(self.control.stdout.readline()) == {"ready": True}

    # --- the portal -----------------------------------------------------------------------------------

    def call(self, op: str, **arguments: Any) -> dict[str, Any]:
        """One command to the control process."""
        assert self.control is not None
        self.control.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        self.control.stdin.flush()
        answer = json.loads(self.control.stdout.readline())
        assert "error" not in answer, answer["error"]
        return answer

    def start_worker(self, **env: str) -> Worker:
        """A new qcluster (``env``: extra variables, e.g. a fault point)."""
        log = f"qcluster-{len(self.workers)}"
        worker = Worker(self.portal.spawn_worker(log, env), self.folder / f"{log}.log")
        self.workers.append(worker)
        return worker

    def trigger(self) -> str:
        self.triggered += 1
        return self.call("trigger", pipeline=PIPELINE)["run_id"]

    def status(self, run_id: str) -> str:
        return self.call("status", run_id=run_id)["status"]

    def watermark(self) -> dict[str, Any]:
        return self.call("watermark")

    def output(self, run_id: str) -> dict[str, Any]:
        """The ChangeTrackingCopy's output for the table, of the run's last attempt."""
        return self.call("outputs", run_id=run_id)["outputs"][-1]["output"]["tables"][0]

    def wait_for(self, condition: Callable[[], bool], failure: str, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, failure
            time.sleep(0.05)

    def wait(self, run_id: str, seconds: float = 120) -> str:
        """Wait for a run to end; its status."""
        self.wait_for(lambda: self.status(run_id) in FINISHED, f"run {run_id} never ended", seconds)
        return self.status(run_id)

    def sync(self) -> str:
        """A run that must succeed (a worker must be running)."""
        run_id = self.trigger()
        status = self.wait(run_id)
        assert status == "Succeeded", self.call("status", run_id=run_id)
        return run_id

    def pending_parts(self) -> int:
        """Parts the pending window has committed (-1: no window pending)."""
        pending = self.watermark()["pending"]
        return -1 if pending is None else sum(1 for r in pending["ranges"] if r.get("part"))

    def settle(self) -> None:
        """End every run the faults left (recovery, as the worker's schedule does), then catch up once."""
        if not [w for w in self.workers if not w.died()]:
            self.start_worker()
        self.wait_for(lambda: self._recovered_all(), "runs were left unfinished", 120)
        self.sync()

    def _recovered_all(self) -> bool:
        self.call("recover")
        return self.call("unfinished")["unfinished"] == 0

    # --- the proof ------------------------------------------------------------------------------------

    def verify(self) -> dict[str, Any]:
        return self.call("verify", linked_service="Pg", table=f"public.{TABLE}", dataset="Lake")

    def tally(self, fault: str) -> dict[str, Any]:
        """Verify, record the tally's row, and return the report (the test asserts on it)."""
        report = self.verify()
        unfinished = self.call("unfinished")["unfinished"]
        row = TallyRow(
            fault,
            self.triggered,
            report["rows_missing"],
            report["rows_stale"],
            report["rows_extra"],
            report["duplicate_deliveries"],
            unfinished,
            len(self.stray_files()),
        )
        TALLY.append(row)
        counts = (row.rows_lost, row.rows_stale, row.rows_extra, row.duplicates, row.unfinished, row.stray_files)
        assert counts == (0, 0, 0, 0, 0, 0), (report, self.stray_files())
        assert report["exact"], report
        return report

    def stray_files(self) -> list[str]:
        """Blobs under the table's windows that no manifest names (and windows left without a manifest)."""
        from azure.storage.blob import BlobServiceClient

        with BlobServiceClient.from_connection_string(self.azurite.connection_string) as service:
            container = service.get_container_client(self.container)
            names = [b.name for b in container.list_blobs(name_starts_with=f"lake/public.{TABLE}/")]
            named: set[str] = set()
            for name in names:
                if name.endswith("/_manifest.json"):
                    prefix = name.rsplit("/", 1)[0]
                    manifest = json.loads(container.download_blob(name).readall())
                    named |= {name, *(f"{prefix}/{f['name']}" for f in manifest["files"])}
        return [name for name in names if name not in named]

    def log_lines(self, worker: Worker, text: str) -> list[str]:
        return [line for line in worker.log.read_text(errors="replace").splitlines() if text in line]

    def close(self) -> None:
        if self.writer is not None:
            self.writer.stop()
        for worker in self.workers:
            worker.stop()
        if self.control is not None and self.control.poll() is None:
            self.control.stdin.close()
            self.control.wait(10)
        self.portal.stop()
