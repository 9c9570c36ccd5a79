"""The ADF tutorial ("Incrementally copy data using change tracking"), rebuilt on an embedded SQLite source.

Plain Python: ``seed_tutorial`` stores these objects through the portal's models, and tests use them as
they are. The source database is the tutorial's (``data_source_table`` with five rows, change tracking
on, ``table_store_ChangeTracking_version`` holding the current version); the pipelines are the
tutorial's, with its stored procedure replaced by a ``Script`` activity (SQLite has no procedures),
plus ``IncrementalSync``, the same job done by one ``ChangeTrackingCopy`` activity without the
tutorial's races.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syncjobs.engine.sources.sqlite import SqliteConfig, SqliteSource, create_database
from syncjobs.engine.types import TableName

SOURCE_LS = "TutorialSourceDatabase"
SINK_LS = "TutorialOutputFolder"
TABLE = "data_source_table"
VERSION_TABLE = "table_store_ChangeTracking_version"
LOOKUP_LAST = "LookupLastChangeTrackingVersionActivity"
LOOKUP_CURRENT = "LookupCurrentChangeTrackingVersionActivity"

CREATE_SOURCE = [
    f"create table {TABLE} (PersonID int NOT NULL, Name varchar(255), Age int, PRIMARY KEY (PersonID))",
    f"INSERT INTO {TABLE} (PersonID, Name, Age) VALUES "
    "(1, 'aaaa', 21), (2, 'bbbb', 24), (3, 'cccc', 20), (4, 'dddd', 26), (5, 'eeee', 22)",
]
CREATE_VERSION_TABLE = [
    f"create table {VERSION_TABLE} (TableName varchar(255), SYS_CHANGE_VERSION BIGINT)",
    f"INSERT INTO {VERSION_TABLE} VALUES ('{TABLE}', CHANGE_TRACKING_CURRENT_VERSION())",
]
# Seed, "Add more data to the source table".
TUTORIAL_CHANGES = [
    f"INSERT INTO {TABLE} (PersonID, Name, Age) VALUES (6, 'new','50')",
    f"UPDATE {TABLE} SET [Age] = '10', [name]='update' where [PersonID] = 1",
]
CURRENT_VERSION = f"@activity('{LOOKUP_CURRENT}').output.firstRow.CurrentChangeTrackingVersion"
COPY_QUERY = (
    "SELECT data_source_table.PersonID,data_source_table.Name,data_source_table.Age, CT.SYS_CHANGE_VERSION, "
    "SYS_CHANGE_OPERATION from data_source_table RIGHT OUTER JOIN CHANGETABLE(CHANGES data_source_table, "
    f"@{{activity('{LOOKUP_LAST}').output.firstRow.SYS_CHANGE_VERSION}}) AS CT ON data_source_table.PersonID = "
    f"CT.PersonID where CT.SYS_CHANGE_VERSION <= @{{activity('{LOOKUP_CURRENT}').output.firstRow."
    "CurrentChangeTrackingVersion}"
)


def create_source_database(path: str | Path) -> None:
    """The tutorial's source database as its prerequisites create it, change tracking on."""
    create_database(path)
    source = SqliteSource(SqliteConfig(database=str(path)))
    try:
        for statement in CREATE_SOURCE:
            source.execute(statement)
        source.enable_change_tracking(TableName(TABLE), track_columns=True, retention_days=2)
        for statement in CREATE_VERSION_TABLE:
            source.execute(statement)
    finally:
        source.close()


def apply_tutorial_changes(path: str | Path) -> None:
    """The tutorial's insert and update, each committed on its own."""
    source = SqliteSource(SqliteConfig(database=str(path)))
    try:
        for statement in TUTORIAL_CHANGES:
            source.execute(statement)
    finally:
        source.close()


def _ref(name: str, kind: str = "DatasetReference") -> dict[str, str]:
    return {"referenceName": name, "type": kind}


def _policy() -> dict[str, Any]:
    return {"timeout": "0.12:00:00", "retry": 0, "retryIntervalInSeconds": 30}


def linked_services(database: str, output_folder: str) -> list[dict[str, Any]]:
    """The source database and the folder files are written to."""
    return [
        {"name": SOURCE_LS, "properties": {"type": "Sqlite", "typeProperties": {"database": database}}},
        {"name": SINK_LS, "properties": {"type": "FileServer", "typeProperties": {"host": output_folder}}},
    ]


def datasets() -> list[dict[str, Any]]:
    """SourceDataset, ChangeTrackingDataset and SinkDataset, as the tutorial defines them."""

    def table(name: str, table_name: str) -> dict[str, Any]:
        return {
            "name": name,
            "properties": {
                "linkedServiceName": _ref(SOURCE_LS, "LinkedServiceReference"),
                "type": "SqliteTable",
                "typeProperties": {"table": table_name},
            },
        }

    sink = {
        "name": "SinkDataset",
        "properties": {
            "linkedServiceName": _ref(SINK_LS, "LinkedServiceReference"),
            "type": "DelimitedText",
            "typeProperties": {
                "location": {
                    "type": "FileServerLocation",
                    "folderPath": "adftutorial/incchgtracking",
                    "fileName": {"value": "@concat('Incremental-',pipeline().RunId,'.csv')", "type": "Expression"},
                },
                "columnDelimiter": ",",
                "escapeChar": "\\",
                "firstRowAsHeader": False,
                "quoteChar": '"',
            },
        },
    }
    return [table("SourceDataset", TABLE), table("ChangeTrackingDataset", VERSION_TABLE), sink]


def _copy_sink() -> dict[str, Any]:
    return {
        "type": "DelimitedTextSink",
        "formatSettings": {"type": "DelimitedTextWriteSettings", "quoteAllText": True, "fileExtension": ".csv"},
    }


def full_copy_pipeline() -> dict[str, Any]:
    """FullCopyPipeline: one Copy of the whole table."""
    copy = {
        "name": "FullCopyActivity",
        "type": "Copy",
        "dependsOn": [],
        "policy": _policy(),
        "typeProperties": {"source": {"type": "SqliteSource"}, "sink": _copy_sink()},
        "inputs": [_ref("SourceDataset")],
        "outputs": [_ref("SinkDataset")],
    }
    return {"name": "FullCopyPipeline", "properties": {"activities": [copy]}}


def incremental_copy_pipeline() -> dict[str, Any]:
    """IncrementalCopyPipeline: two Lookups, the Copy of the window between them, then the version update."""
    after_lookups = [{"activity": n, "dependencyConditions": ["Succeeded"]} for n in (LOOKUP_LAST, LOOKUP_CURRENT)]
    update = f"UPDATE {VERSION_TABLE} SET SYS_CHANGE_VERSION = ? WHERE TableName = ?"
    activities = [
        {
            "name": LOOKUP_LAST,
            "type": "Lookup",
            "dependsOn": [],
            "policy": _policy(),
            "typeProperties": {
                "source": {"type": "SqliteSource"},
                "dataset": _ref("ChangeTrackingDataset"),
                "firstRowOnly": True,
            },
        },
        {
            "name": LOOKUP_CURRENT,
            "type": "Lookup",
            "dependsOn": [],
            "policy": _policy(),
            "typeProperties": {
                "source": {
                    "type": "SqliteSource",
                    "query": "SELECT CHANGE_TRACKING_CURRENT_VERSION() as CurrentChangeTrackingVersion",
                },
                "dataset": _ref("SourceDataset"),
                "firstRowOnly": True,
            },
        },
        {
            "name": "IncrementalCopyActivity",
            "type": "Copy",
            "dependsOn": after_lookups,
            "policy": _policy(),
            "typeProperties": {
                "source": {"type": "SqliteSource", "query": {"value": COPY_QUERY, "type": "Expression"}},
                "sink": _copy_sink(),
            },
            "inputs": [_ref("SourceDataset")],
            "outputs": [_ref("SinkDataset")],
        },
        {
            "name": "UpdateChangeTrackingVersionActivity",
            "description": "The tutorial's Update_ChangeTracking_Version procedure, as a script (SQLite has none).",
            "type": "Script",
            "dependsOn": [{"activity": "IncrementalCopyActivity", "dependencyConditions": ["Succeeded"]}],
            "policy": _policy(),
            "linkedServiceName": _ref(SOURCE_LS, "LinkedServiceReference"),
            "typeProperties": {
                "scripts": [
                    {
                        "type": "NonQuery",
                        "text": update,
                        "parameters": [
                            {
                                "name": "CurrentTrackingVersion",
                                "type": "Int64",
                                "direction": "Input",
                                "value": {
                                    "value": CURRENT_VERSION,
                                    "type": "Expression",
                                },
                            },
                            {
                                "name": "TableName",
                                "type": "String",
                                "direction": "Input",
                                "value": {
                                    "value": f"@activity('{LOOKUP_LAST}').output.firstRow.TableName",
                                    "type": "Expression",
                                },
                            },
                        ],
                    }
                ]
            },
        },
    ]
    return {"name": "IncrementalCopyPipeline", "properties": {"activities": activities}}


def incremental_sync_pipeline() -> dict[str, Any]:
    """IncrementalSync: the same delta by one ChangeTrackingCopy, its watermark kept by the portal."""
    sync = {
        "name": "SyncDataSourceTable",
        "type": "ChangeTrackingCopy",
        "dependsOn": [],
        "policy": _policy(),
        "typeProperties": {"sink": _copy_sink()},
        "inputs": [_ref("SourceDataset")],
        "outputs": [_ref("SinkDataset")],
    }
    return {"name": "IncrementalSync", "properties": {"activities": [sync]}}


def pipelines() -> list[dict[str, Any]]:
    """The three pipelines."""
    return [full_copy_pipeline(), incremental_copy_pipeline(), incremental_sync_pipeline()]
