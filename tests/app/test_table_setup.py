"""Add tables (services/table_setup.py): the ADF objects it creates, their round trip, and a run of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncjobs.engine.inventory import TableInfo
from syncjobs.engine.types import TableName
from syncjobs.models import ActivityRun, AuditEntry, Dataset, Pipeline, Trigger
from syncjobs.services.definitions import export_folder, import_folder
from syncjobs.services.runs import trigger_run
from syncjobs.services.table_setup import TableSetupError, add_tables, parse_folder, source_inventory
from tests.app.test_tutorial_walk import pg_linked_service
from tests.factories import in_file_root, make_linked_service
from tests.fixtures.many_tables import make_postgres_source, make_sqlite_source
from tests.fixtures.postgres import pg_connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def sqlite_source(tmp_path: Path) -> Path:
    """Six tables (t0006 without a key), the first four tracked; linked services Db and Out."""
    path = Path(in_file_root(f"{tmp_path.name}-many.sqlite3"))
    make_sqlite_source(path, 6, keyless=["t0006"], tracked=4)
    make_linked_service("Db", database=str(path))
    out = Path(in_file_root(f"{tmp_path.name}-out"))
    out.mkdir()
    make_linked_service("Out", type="FileServer", host=str(out))
    return out


def test_the_objects_are_ordinary_adf_definitions(sqlite_source, admin):
    added = add_tables(
        source="Db",
        tables=["t0001", "t0002"],
        sink="Out",
        folder="raw/{table}",
        format="csv.gz",
        schedule={"frequency": "Minute", "interval": 15},
    )
    assert added.pipeline == "SyncDb" and added.trigger == "SyncDb_Schedule"
    assert added.datasets == ["SyncDb_Source", "SyncDb_Sink"] and added.untracked == []
    (activity,) = Pipeline.objects.get(name="SyncDb").to_adf()["properties"]["activities"]
    assert activity["type"] == "ChangeTrackingCopy"
    assert activity["typeProperties"]["tables"] == [{"table": "t0001"}, {"table": "t0002"}]
    assert activity["typeProperties"]["schemaDriftPolicy"] == "continue"  # the default, written out
    sink = Dataset.objects.get(name="SyncDb_Sink").to_adf()["properties"]
    assert sink["type"] == "DelimitedText" and sink["typeProperties"]["compressionCodec"] == "gzip"
    assert sink["typeProperties"]["location"] == {"type": "FileServerLocation", "folderPath": "raw"}
    trigger = Trigger.objects.get(name="SyncDb_Schedule").to_adf()["properties"]
    assert trigger["runtimeState"] == "Started"
    assert trigger["typeProperties"]["recurrence"]["frequency"] == "Minute"
    assert trigger["typeProperties"]["recurrence"]["interval"] == 15
    created = set(AuditEntry.objects.filter(action="create").values_list("object_name", flat=True))
    assert {"SyncDb", "SyncDb_Source", "SyncDb_Sink", "SyncDb_Schedule"} <= created
    again = add_tables(source="Db", tables=["t0003"], sink="Out", folder="raw", format="parquet")
    assert again.pipeline == "SyncDb_2" and again.trigger is None and again.untracked == []
    assert Dataset.objects.get(name="SyncDb_2_Sink").to_adf()["properties"]["type"] == "Parquet"


def test_a_table_without_a_key_is_refused_with_its_reason(sqlite_source):
    with pytest.raises(TableSetupError) as refused:
        add_tables(source="Db", tables=["t0001", "t0006", "nosuch"], sink="Out", folder="raw")
    assert refused.value.problems == [
        "t0006: refused, no primary key: change tracking needs one to name each changed row",
        "nosuch: no such table in the source",
    ]
    assert not Pipeline.objects.exists() and not Dataset.objects.filter(name__startswith="Sync").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tables": []}, "tables: choose at least one table"),
        ({"format": "xml"}, "format: 'xml' is not one of csv, csv.gz, parquet"),
        ({"folder": "a/{table}/b"}, "{table} may only be the last folder"),
        ({"folder": "a/{tabel}"}, "unknown placeholder(s) {tabel}"),
        ({"folder": "../../etc/{table}"}, "folder: no '..' or '.' folders"),
        ({"folder": "raw/./../{table}"}, "folder: no '..' or '.' folders"),
        ({"folder": "raw\\..\\x"}, "folder: no '..' or '.' folders"),
        ({"sink": "Db"}, "sink: Db (Sqlite) is not a file store"),
        ({"source": "Nope"}, "source: no linked service is called 'Nope'"),
        ({"schedule": {"frequency": "Minute", "interval": 0}}, "schedule:"),
        ({"name": "9lives"}, "name: start with a letter"),
        ({"schema_drift": "ignore"}, "schema drift: 'ignore' is not one of continue, pause, resync"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_message(sqlite_source, kwargs, message):
    request = {"source": "Db", "tables": ["t0001"], "sink": "Out", "folder": "raw", **kwargs}
    with pytest.raises(TableSetupError) as refused:
        add_tables(**request)
    assert message in str(refused.value)


@pytest.mark.parametrize("policy", ["pause", "resync"])
def test_the_schema_drift_policy_is_written_on_every_activity_and_its_tables_follow_it(sqlite_source, policy):
    add_tables(source="Db", tables=["t0001", "t0002"], sink="Out", folder="raw/{table}", schema_drift=policy)
    (activity,) = Pipeline.objects.get(name="SyncDb").to_adf()["properties"]["activities"]
    assert activity["typeProperties"]["schemaDriftPolicy"] == policy


def test_untracked_tables_are_listed_not_dropped(sqlite_source):
    added = add_tables(source="Db", tables=["t0004", "t0005"], sink="Out", folder="raw")
    assert added.tables == [TableName("t0004"), TableName("t0005")]
    assert added.untracked == [TableName("t0005")]


def test_a_blob_folder_starts_with_its_container_and_may_hold_the_schema():
    assert parse_folder("sync/{schema}/{schema}.{table}", has_container=True).root == "{schema}"
    assert parse_folder("sync/{schema}/{table}", has_container=True).container == "sync"
    with pytest.raises(TableSetupError, match="start with the container"):
        parse_folder("{schema}/{table}", has_container=True)


def test_export_and_import_give_back_the_same_objects(sqlite_source, tmp_path):
    add_tables(
        source="Db", tables=["t0001", "t0002"], sink="Out", folder="raw", schedule={"frequency": "Hour", "interval": 1}
    )
    exported = tmp_path / "export"
    export_folder(exported)
    before = {p.relative_to(exported): json.loads(p.read_text()) for p in exported.rglob("*.json")}
    for model in (Trigger, Pipeline, Dataset):
        model.objects.filter(name__startswith="SyncDb").delete()
    import_folder(exported, replace=True)
    again = tmp_path / "again"
    export_folder(again)
    after = {p.relative_to(again): json.loads(p.read_text()) for p in again.rglob("*.json")}
    for trigger in (before, after):
        trigger[Path("trigger/SyncDb_Schedule.json")]["properties"].pop("runtimeState")
    assert after == before


def test_a_run_of_the_created_pipeline_copies_every_table(sqlite_source, settings):
    settings.CTPORTAL_TASKS_INLINE = True
    added = add_tables(source="Db", tables=["t0001", "t0002", "t0003"], sink="Out", folder="raw/{table}")
    run = trigger_run(Pipeline.objects.get(name=added.pipeline))
    run.refresh_from_db()
    assert run.status == "Succeeded", run.message
    outputs = ActivityRun.objects.get(pipeline_run=run, parent=None).output["tables"]
    assert [o["table"] for o in outputs] == ["t0001", "t0002", "t0003"]
    for name in ("t0001", "t0002", "t0003"):
        files = list((sqlite_source / "raw" / name).rglob("part-*.csv"))
        assert files, name
        assert b"id,name,amount" in files[0].read_bytes() and b'"three",30' in files[0].read_bytes()


def test_the_inventory_and_a_run_on_postgresql(pg_database, settings, tmp_path):
    settings.CTPORTAL_TASKS_INLINE = True
    make_postgres_source(pg_database, 5, keyless=["t0005"], tracked=3, schema="sales")
    with pg_connect(pg_database) as conn:
        conn.execute("ANALYZE")
    from syncjobs.services.definitions import save_definition

    linked = save_definition("linkedService", pg_linked_service(pg_database))[0]
    found = {str(t.name): t for t in source_inventory(linked)}
    assert set(found) == {f"sales.t000{i}" for i in range(1, 6)}
    assert found["sales.t0001"].primary_key == ("id",) and found["sales.t0005"].primary_key == ()
    assert found["sales.t0001"].change_tracking and found["sales.t0001"].retention_seconds == 2 * 86400
    assert not found["sales.t0004"].change_tracking and found["sales.t0004"].retention_seconds is None
    assert found["sales.t0001"].row_estimate == 3 and found["sales.t0001"].size_bytes > 0
    from syncjobs.services.table_facts import read_facts

    names = [TableName("t0001", "sales"), TableName("t0004"), TableName("gone", "sales")]
    facts = read_facts(linked, names)  # the Tables page's source facts read the same inventory
    current = facts["sales.t0001"][2]
    assert facts == {
        "sales.t0001": (True, 2 * 86400, current),
        "t0004": (False, None, current),
        "sales.gone": (None, None, current),
    }
    out = Path(in_file_root(f"{tmp_path.name}-pgout"))
    out.mkdir()
    make_linked_service("Out", type="FileServer", host=str(out))
    added = add_tables(
        source="Pg", tables=["sales.t0001", "t0002"], sink="Out", folder="{schema}/{schema}.{table}", format="parquet"
    )
    run = trigger_run(Pipeline.objects.get(name=added.pipeline))
    run.refresh_from_db()
    assert run.status == "Succeeded", run.message
    assert added.folders == {"sales.t0001": "sales/sales.t0001", "sales.t0002": "sales/sales.t0002"}
    for folder in added.folders.values():
        assert list((out / folder).rglob("part-*.parquet"))


def test_a_schema_in_the_folder_gives_one_sink_dataset_and_activity_per_schema(sqlite_source):
    make_linked_service("Lake", type="AzureBlobStorage", connectionString="UseDevelopmentStorage=true")
    known = [
        TableInfo(TableName("orders", "sales"), ("id",), True),
        TableInfo(TableName("lines", "sales"), ("id", "line"), True),
        TableInfo(TableName("people", "hr"), ("id",), False),
    ]
    added = add_tables(
        source="Db",
        tables=["sales.orders", "hr.people", "sales.lines"],
        sink="Lake",
        folder="sync/raw/{schema}/{schema}.{table}",
        format="parquet",
        known=known,
    )
    assert added.datasets == ["SyncDb_Source", "SyncDb_Sink_sales", "SyncDb_Sink_hr"]
    assert added.untracked == [TableName("people", "hr")]
    assert added.folders["hr.people"] == "sync/raw/hr/hr.people"
    sales = Dataset.objects.get(name="SyncDb_Sink_sales").to_adf()["properties"]["typeProperties"]
    assert sales["location"] == {"type": "AzureBlobStorageLocation", "container": "sync", "folderPath": "raw/sales"}
    activities = Pipeline.objects.get(name="SyncDb").to_adf()["properties"]["activities"]
    assert [(a["name"], len(a["typeProperties"]["tables"])) for a in activities] == [("Sync_sales", 2), ("Sync_hr", 1)]
    assert activities[1]["outputs"] == [{"referenceName": "SyncDb_Sink_hr", "type": "DatasetReference"}]


def test_more_tables_than_one_pipeline_holds_make_several_pipelines_on_one_trigger(tmp_path, editor):
    from syncjobs.services import table_setup

    path = Path(in_file_root(f"{tmp_path.name}-wide.sqlite3"))
    names = make_sqlite_source(path, table_setup.TABLES_PER_PIPELINE + 3)
    make_linked_service("Many", database=str(path))
    out = Path(in_file_root(f"{tmp_path.name}-wide-out"))
    out.mkdir()
    make_linked_service("Out", type="FileServer", host=str(out))
    added = table_setup.add_tables(
        source="Many", tables=names, sink="Out", folder="lake/{table}", schedule={"frequency": "Hour", "interval": 1}
    )
    assert added.pipelines == ["SyncMany", "SyncMany_Part02"] and added.pipeline == "SyncMany"
    listed = [
        t["table"]
        for name in added.pipelines
        for a in Pipeline.objects.get(name=name).properties["activities"]
        for t in a["typeProperties"]["tables"]
    ]
    assert listed == names  # every table once, in order, 50 in the first pipeline
    trigger = Trigger.objects.get(name=added.trigger).properties
    assert [p["pipelineReference"]["referenceName"] for p in trigger["pipelines"]] == added.pipelines
    page = editor.get("/tables/add/done/SyncMany/").content.decode()
    assert "SyncMany_Part02" in page and f"<dd>{len(names)}</dd>" in page
    again = table_setup.add_tables(source="Many", tables=names[:1], sink="Out", folder="lake/{table}")
    assert again.pipeline not in added.pipelines  # a later submission never takes a part's name
