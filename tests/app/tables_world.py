"""A shop database synced to a folder, for the Tables page and API tests: real SQLite change tracking,
real runs carried out inline, a started schedule trigger every 15 minutes.

``ShopSync`` copies ``customers`` and ``orders`` (one ChangeTrackingCopy naming ``tables``), ``ItemsSync``
copies ``items`` (the input dataset's own table), ``NotesSync`` copies ``notes``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncjobs.engine import bindings
from syncjobs.engine.types import TableName
from syncjobs.models import LinkedService, Pipeline, SyncedTable, Trigger
from syncjobs.services.definitions import save_definition
from syncjobs.services.runs import trigger_run

TABLES = ("customers", "orders", "items", "notes")


@dataclass
class Shop:
    """The world: the source's path, the sink folder, and helpers to run and look tables up."""

    database: Path
    lake: Path

    def table(self, name: str) -> SyncedTable:
        return SyncedTable.objects.select_related("watermark").get(table_name=name)

    def run(self, pipeline: str, **kwargs: Any) -> Any:
        return trigger_run(Pipeline.objects.get(name=pipeline), **kwargs)

    def sql(self, statement: str) -> None:
        with sqlite3.connect(self.database) as conn:
            conn.execute(statement)
        conn.close()

    def source(self) -> Any:
        return bindings.source_for(LinkedService.objects.get(name="Shop").revealed_definition())


def _ref(name: str, kind: str = "DatasetReference") -> dict[str, str]:
    return {"referenceName": name, "type": kind}


def _copy(name: str, source: str, **type_properties: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "ChangeTrackingCopy",
        "typeProperties": type_properties,
        "inputs": [_ref(source)],
        "outputs": [_ref("Lake")],
    }


def build_shop(folder: Path) -> Shop:
    """Create the database, enable change tracking on its tables, and save the portal's objects."""
    database, lake = folder / "shop.sqlite3", folder / "lake"
    lake.mkdir()
    with sqlite3.connect(database) as conn:
        for table in TABLES:
            conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, note TEXT)")  # noqa: S608 - fixed names
            conn.executemany(f"INSERT INTO {table} (note) VALUES (?)", [("a",), ("b",), ("c",)])  # noqa: S608
    conn.close()
    save_definition("linkedService", _linked("Shop", "Sqlite", {"database": str(database)}))
    save_definition("linkedService", _linked("LakeFolder", "FileServer", {"host": str(lake)}))
    shop = Shop(database, lake)
    source = shop.source()
    try:
        for table in TABLES:
            source.enable_change_tracking(TableName(table), retention_days=2)
    finally:
        source.close()
    for table in TABLES:
        save_definition("dataset", _table_dataset(table.title(), table))
    save_definition("dataset", _sink())
    save_definition(
        "pipeline",
        _pipeline("ShopSync", _copy("CopyShop", "Customers", tables=[{"table": "customers"}, {"table": "orders"}])),
    )
    save_definition("pipeline", _pipeline("ItemsSync", _copy("CopyItems", "Items")))
    save_definition("pipeline", _pipeline("NotesSync", _copy("CopyNotes", "Notes")))
    recurrence = {"frequency": "Minute", "interval": 15, "startTime": "2026-01-01T00:00:00Z", "timeZone": "UTC"}
    trigger = {
        "type": "ScheduleTrigger",
        "typeProperties": {"recurrence": recurrence},
        "pipelines": [
            {"pipelineReference": _ref(p, "PipelineReference")} for p in ("ShopSync", "ItemsSync", "NotesSync")
        ],
    }
    save_definition("trigger", {"name": "Every15", "properties": trigger})
    Trigger.objects.get(name="Every15").start()
    return shop


def _linked(name: str, kind: str, tp: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "properties": {"type": kind, "typeProperties": tp}}


def _table_dataset(name: str, table: str) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            "type": "SqliteTable",
            "linkedServiceName": _ref("Shop", "LinkedServiceReference"),
            "typeProperties": {"table": table},
        },
    }


def _sink() -> dict[str, Any]:
    location = {"type": "FileServerLocation", "folderPath": "shop"}
    return {
        "name": "Lake",
        "properties": {
            "type": "DelimitedText",
            "linkedServiceName": _ref("LakeFolder", "LinkedServiceReference"),
            "typeProperties": {"location": location, "columnDelimiter": ",", "firstRowAsHeader": True},
        },
    }


def _pipeline(name: str, *activities: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "properties": {"activities": list(activities)}}
