"""Issue 3's walk: the tutorial in the portal, on SQLite + a folder and on PostgreSQL + Azurite."""

from __future__ import annotations

import os
import socket

import pytest
from django.core.management import call_command
from django.utils import timezone

from syncjobs import tutorial
from syncjobs.engine import bindings
from syncjobs.engine.types import TableName
from syncjobs.models import ActivityRun, LinkedService, Pipeline, PipelineRun, Watermark
from syncjobs.services.definitions import import_definitions
from syncjobs.services.runs import trigger_run
from tests.fixtures.postgres import pg_connect

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def inline_runs(settings):
    settings.CTPORTAL_TASKS_INLINE = True


def trigger(name: str) -> PipelineRun:
    run = trigger_run(Pipeline.objects.get(name=name))
    run.refresh_from_db()
    return run


def sink_file(run: PipelineRun) -> str:
    sink = bindings.sink_for(LinkedService.objects.get(name=tutorial.SINK_LS).revealed_definition())
    return sink.read(f"adftutorial/incchgtracking/Incremental-{run.run_id}.csv").decode()


def test_the_seeded_tutorial_walk_on_sqlite(tmp_path):
    call_command("seed_tutorial", "--dir", str(tmp_path))
    full = trigger("FullCopyPipeline")
    assert full.status == "Succeeded", full.message
    assert sink_file(full) == '1,"aaaa",21\r\n2,"bbbb",24\r\n3,"cccc",20\r\n4,"dddd",26\r\n5,"eeee",22\r\n'
    baseline = trigger("IncrementalSync")
    assert baseline.status == "Succeeded", baseline.message

    tutorial.apply_tutorial_changes(tmp_path / "source.sqlite3")
    incremental = trigger("IncrementalCopyPipeline")
    assert incremental.status == "Succeeded", incremental.message
    lookup = ActivityRun.objects.get(pipeline_run=incremental, activity_name=tutorial.LOOKUP_LAST)
    base = lookup.output["firstRow"]["SYS_CHANGE_VERSION"]
    expected = [f'1,"update",10,{base + 2},"U"', f'6,"new",50,{base + 1},"I"']
    assert sorted(sink_file(incremental).splitlines()) == expected

    sync = trigger("IncrementalSync")
    assert sync.status == "Succeeded", sync.message
    (table,) = ActivityRun.objects.get(pipeline_run=sync, parent=None).output["tables"]
    assert table["changeTracking"]["mode"] == "delta" and table["changeTracking"]["previousVersion"] == base
    sink = bindings.sink_for(LinkedService.objects.get(name=tutorial.SINK_LS).revealed_definition())
    delta_path = table["files"][0]
    assert sorted((tmp_path / "output" / delta_path).read_bytes().decode().splitlines()) == expected
    assert sink.list("adftutorial/incchgtracking/data_source_table/")  # both sync files are there

    watermark = Watermark.objects.get(source_table=tutorial.TABLE)
    assert watermark.version == base + 2 and watermark.claimed_by is None
    assert [w.mode for w in watermark.windows.order_by("created_at")] == ["full", "delta"]
    copy_run = ActivityRun.objects.get(pipeline_run=incremental, activity_name="IncrementalCopyActivity")
    assert copy_run.rows_read == 2 and copy_run.rows_written == 2 and copy_run.bytes_written > 0
    assert f"CHANGETABLE(CHANGES data_source_table, {base})" in copy_run.input["source"]["query"]


def test_the_walk_on_postgresql_and_azurite(pg_database, azurite, blob_container):
    with pg_connect(pg_database) as conn:
        conn.execute(tutorial.CREATE_SOURCE[0])
        conn.execute(tutorial.CREATE_SOURCE[1])
    source = bindings.source_for(pg_linked_service(pg_database))
    source.enable_change_tracking(TableName(tutorial.TABLE, "public"))
    source.close()
    objects = [
        ("linkedService", pg_linked_service(pg_database)),
        (
            "linkedService",
            {
                "name": "Blob",
                "properties": {
                    "type": "AzureBlobStorage",
                    "typeProperties": {"connectionString": azurite.connection_string},
                },
            },
        ),
        (
            "dataset",
            {
                "name": "PgTable",
                "properties": {
                    "type": "PostgreSqlV2Table",
                    "linkedServiceName": {"referenceName": "Pg", "type": "LinkedServiceReference"},
                    "typeProperties": {"schema": "public", "table": tutorial.TABLE},
                },
            },
        ),
        (
            "dataset",
            {
                "name": "BlobCsv",
                "properties": {
                    "type": "DelimitedText",
                    "linkedServiceName": {"referenceName": "Blob", "type": "LinkedServiceReference"},
                    "typeProperties": {
                        "location": {
                            "type": "AzureBlobStorageLocation",
                            "container": blob_container,
                            "folderPath": "ct",
                        },
                        "columnDelimiter": ",",
                        "quoteChar": '"',
                        "escapeChar": "\\",
                    },
                },
            },
        ),
        (
            "pipeline",
            {
                "name": "PgSync",
                "properties": {
                    "activities": [
                        {
                            "name": "Sync",
                            "type": "ChangeTrackingCopy",
                            "inputs": [{"referenceName": "PgTable", "type": "DatasetReference"}],
                            "outputs": [{"referenceName": "BlobCsv", "type": "DatasetReference"}],
                        }
                    ]
                },
            },
        ),
    ]
    import_definitions(objects)
    assert trigger("PgSync").status == "Succeeded"
    with pg_connect(pg_database) as conn:
        for statement in tutorial.TUTORIAL_CHANGES:
            conn.execute(
                statement.replace("[", '"')
                .replace("]", '"')
                .replace('"Age"', "age")
                .replace('"name"', "name")
                .replace('"PersonID"', "personid")
            )
    run = trigger("PgSync")
    assert run.status == "Succeeded", run.message
    (table,) = ActivityRun.objects.get(pipeline_run=run, parent=None).output["tables"]
    base = table["changeTracking"]["previousVersion"]
    blob_sink = bindings.sink_for(LinkedService.objects.get(name="Blob").revealed_definition())
    lines = sorted(blob_sink.read(table["files"][0]).decode().splitlines())
    assert lines == [f'1,"update",10,{base + 2},"U"', f'6,"new",50,{base + 1},"I"']
    assert table["files"][0].startswith(f"{blob_container}/ct/public.data_source_table/")


def pg_linked_service(config):
    return {
        "name": "Pg",
        "properties": {
            "type": "PostgreSqlV2",
            "typeProperties": {
                "server": config.host,
                "port": config.port,
                "database": config.database,
                "username": config.username,
                "password": {"type": "SecureString", "value": config.password.reveal()},
                "sslMode": 0,
            },
        },
    }


def test_two_runs_of_one_watermark_never_overlap(tmp_path):
    call_command("seed_tutorial", "--dir", str(tmp_path))
    assert trigger("IncrementalSync").status == "Succeeded"
    holder = PipelineRun.objects.create(  # a live run, still copying this table
        pipeline_name="IncrementalSync",
        definition={},
        status="InProgress",
        heartbeat_at=timezone.now(),
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )
    watermark = Watermark.objects.get(source_table=tutorial.TABLE)
    assert watermark.claim(holder)
    tutorial.apply_tutorial_changes(tmp_path / "source.sqlite3")
    blocked = trigger("IncrementalSync")  # the busy table is skipped for this tick, not a failed run
    assert blocked.status == "Succeeded" and not blocked.failed_tables
    skipped = ActivityRun.objects.get(pipeline_run=blocked, table=tutorial.TABLE)
    assert skipped.status == "Skipped" and skipped.output["message"] == "skipped: previous window still running"
    assert "another run" in skipped.output["reason"]
    version = Watermark.objects.get(pk=watermark.pk).version
    holder.fail("done")
    after = trigger("IncrementalSync")  # the holder ended: its claim no longer counts
    assert after.status == "Succeeded"
    assert Watermark.objects.get(pk=watermark.pk).version == version + 2
