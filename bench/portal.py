"""The whole portal: Trigger now on a real qcluster (ORM broker), a full copy PostgreSQL -> Azurite."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import data
from bench.data import TABLE
from tests.fixtures.portal import Portal


def _objects(database: str, connection_string: str) -> dict[str, dict[str, Any]]:
    def ref(name: str, kind: str = "DatasetReference") -> dict[str, str]:
        return {"referenceName": name, "type": kind}

    server = data.server()
    password = {"type": "SecureString", "value": server.password}
    pg = {"server": server.host, "port": server.port, "database": database, "username": server.user, "sslMode": 0}
    pg["password"] = password
    location = {
        "type": "AzureBlobStorageLocation",
        "container": "bench",
        "folderPath": "portal",
        "fileName": {"value": "@concat('full-', pipeline().RunId, '.csv')", "type": "Expression"},
    }
    copy = {
        "name": "CopyAll",
        "type": "Copy",
        "inputs": [ref("BenchTable")],
        "outputs": [ref("BenchCsv")],
        "typeProperties": {"source": {"type": "PostgreSqlV2Source"}, "sink": {"type": "DelimitedTextSink"}},
    }
    return {
        "linkedService/BenchPg": {"name": "BenchPg", "properties": {"type": "PostgreSqlV2", "typeProperties": pg}},
        "linkedService/BenchBlob": {
            "name": "BenchBlob",
            "properties": {"type": "AzureBlobStorage", "typeProperties": {"connectionString": connection_string}},
        },
        "dataset/BenchTable": {
            "name": "BenchTable",
            "properties": {
                "type": "PostgreSqlV2Table",
                "linkedServiceName": ref("BenchPg", "LinkedServiceReference"),
                "typeProperties": {"schema": "public", "table": TABLE},
            },
        },
        "dataset/BenchCsv": {
            "name": "BenchCsv",
            "properties": {
                "type": "DelimitedText",
                "linkedServiceName": ref("BenchBlob", "LinkedServiceReference"),
                "typeProperties": {"location": location},
            },
        },
        "pipeline/BenchFullCopy": {"name": "BenchFullCopy", "properties": {"activities": [copy]}},
    }


def measure_portal(folder: Path, database: str, connection_string: str) -> dict[str, Any]:
    """Seconds from Trigger now to the copy's first read, the run's duration, and rows copied."""
    for path, definition in _objects(database, connection_string).items():
        target = folder / "factory" / f"{path}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(definition))
    portal = Portal(folder)
    portal.manage("migrate", "--noinput")
    portal.manage("import_factory", str(folder / "factory"))
    portal.start_worker()
    try:
        run_id = portal.manage("trigger", "BenchFullCopy", "--wait", "--timeout", "600").stdout.split()[0]
    finally:
        portal.stop()
    with sqlite3.connect(folder / "portal.sqlite3") as conn:
        triggered, duration = conn.execute(
            "SELECT triggered_at, duration_ms FROM syncjobs_pipelinerun WHERE run_id = ?", (run_id.replace("-", ""),)
        ).fetchone()
        started, rows, written = conn.execute(
            "SELECT run_start, rows_written, bytes_written FROM syncjobs_activityrun WHERE pipeline_run_id = ?",
            (run_id.replace("-", ""),),
        ).fetchone()
    to_first_row = (datetime.fromisoformat(started) - datetime.fromisoformat(triggered)).total_seconds()
    return {"to_first_row": to_first_row, "seconds": duration / 1000, "rows": rows, "bytes": written}
