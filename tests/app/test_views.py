"""Author, Monitor and Manage pages through Django's test client, on the seeded tutorial."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from syncjobs import tutorial
from syncjobs.models import LinkedService, Pipeline, PipelineRun
from syncjobs.services.monitor import purge_old_runs
from syncjobs.services.runs import trigger_run
from tests.app.conftest import in_file_root, make_run
from tests.fixtures.postgres import HOST as PG_HOST
from tests.fixtures.postgres import PASSWORD as PG_PASSWORD
from tests.fixtures.postgres import PORT as PG_PORT
from tests.fixtures.postgres import USER as PG_USER

pytestmark = pytest.mark.django_db


def text(response) -> str:
    assert response.status_code == 200, response.content[:500]
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def test_every_page_needs_a_sign_in(client):
    for url in ("/monitor/", "/author/", "/manage/", "/api/pipelines"):
        response = client.get(url)
        assert response.status_code in (302, 401)
    assert client.get("/monitor/")["Location"].startswith("/accounts/login/")


def test_layout_shows_the_user_role_and_the_rail(operator, seeded):
    page = text(operator.get("/monitor/"))
    assert operator.user.username in page and '<span class="role">Operator</span>' in page
    assert all(f">{label}</a>" in page for label in ("Author", "Monitor", "Manage"))


def test_monitor_lists_runs_with_filters_sort_and_pages(operator, seeded):
    full = trigger_run(Pipeline.objects.get(name="FullCopyPipeline"))
    page = text(operator.get("/monitor/"))
    assert "FullCopyPipeline" in page and str(full.run_id) in page and "Succeeded" in page
    old = make_run(Pipeline.objects.get(name="IncrementalSync"), triggered_at=timezone.now() - timedelta(days=3))
    assert str(old.run_id) not in text(operator.get("/monitor/?range=24h"))
    assert str(old.run_id) in text(operator.get("/monitor/?range=7d"))
    assert str(full.run_id) not in text(operator.get("/monitor/?range=7d&status=Queued"))
    for _ in range(60):
        make_run(Pipeline.objects.get(name="IncrementalSync"))
    first = text(operator.get("/monitor/?range=all&sort=pipeline"))
    assert "Page 1 of 2" in first and "62 runs" in first


def test_statuses_json_and_the_run_page(operator, seeded):
    trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    tutorial.apply_tutorial_changes(seeded / "source.sqlite3")
    run = trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    data = operator.get(f"/monitor/statuses.json?ids={run.run_id}").json()[str(run.run_id)]
    assert data["status"] == "Succeeded" and data["active"] is False
    page = text(operator.get(f"/monitor/runs/{run.run_id}/"))
    assert "SyncDataSourceTable" in page and "gantt-bar succeeded" in page
    assert 'mode <strong class="mode">delta</strong>' in page and "data_source_table" in page
    assert "Copy: 2 rows read, 2 rows written" in page.replace("<strong>", "").replace("</strong>", "")


def test_handled_and_suspicious_outcomes_are_labelled(operator, seeded):
    run = trigger_run(Pipeline.objects.get(name="IncrementalCopyPipeline"))
    run.refresh_from_db()
    copy = run.activity_runs.get(activity_name="IncrementalCopyActivity")
    lookup = run.activity_runs.get(activity_name=tutorial.LOOKUP_CURRENT)
    lookup.output = {"firstRow": {"CurrentChangeTrackingVersion": 99}}  # the source moved...
    lookup.save()
    assert copy.output["rowsCopied"] == 0  # ...but nothing came through
    assert "Succeeded but suspicious" in text(operator.get("/monitor/"))


def test_cancel_and_rerun_from_the_monitor(operator, seeded):
    queued = make_run(Pipeline.objects.get(name="FullCopyPipeline"))
    operator.post(f"/monitor/runs/{queued.run_id}/cancel")
    assert PipelineRun.objects.get(pk=queued.pk).status == "Cancelled"
    response = operator.post(f"/monitor/runs/{queued.run_id}/rerun")
    new = PipelineRun.objects.exclude(pk=queued.pk).get(run_group_id=queued.run_group_id)
    assert response["Location"] == f"/monitor/runs/{new.run_id}/" and new.status == "Succeeded"
    assert "Runs in this group" in text(operator.get(f"/monitor/runs/{new.run_id}/"))


def test_viewers_cannot_change_anything(viewer, seeded):
    run = make_run(Pipeline.objects.get(name="FullCopyPipeline"))
    denied = viewer.post(f"/monitor/runs/{run.run_id}/cancel")
    assert denied.status_code == 403 and "This needs the Operator role; yours is Viewer." in denied.content.decode()
    assert '<span class="role">Viewer</span>' in text(viewer.get("/monitor/"))


def test_manage_creates_a_linked_service_and_never_shows_its_password(admin, pg_database):
    form = {
        "name": "Warehouse",
        "server": pg_database.host,
        "port": str(pg_database.port),
        "database": pg_database.database,
        "username": pg_database.username,
        "password": pg_database.password.reveal(),
        "sslMode": "0",
    }
    response = admin.post("/manage/linkedservices/new/PostgreSqlV2/", form)
    assert response.status_code == 302
    page = text(admin.get("/manage/linkedservices/Warehouse/"))
    assert pg_database.password.reveal() not in page and "A value is stored" in page
    assert "127.0.0.1/" + pg_database.database in text(admin.get("/manage/"))
    kept = {**form, "password": "", "existing": "Warehouse", "kind": "PostgreSqlV2"}
    admin.post("/manage/linkedservices/Warehouse/", kept)
    assert LinkedService.objects.get(name="Warehouse").secrets()  # an empty field kept the stored password
    assert "Connection successful." in text(admin.post("/manage/test-connection/", kept))


@pytest.mark.parametrize(
    ("kind", "fields", "words"),
    [
        ("Sqlite", {"database": "{root}/nonexistent/folder/x.sqlite3"}, "does not exist"),
        (
            "PostgreSqlV2",
            {
                "server": PG_HOST,
                "port": str(PG_PORT),
                "database": "ctp_no_such_db",
                "username": PG_USER,
                "password": PG_PASSWORD,
                "sslMode": "0",
            },
            "The database does not exist",
        ),
        (
            "PostgreSqlV2",
            {"server": "127.0.0.1", "port": "1", "database": "x", "username": "postgres", "sslMode": "0"},
            "The connection was refused",
        ),
        (
            "PostgreSqlV2",
            {"server": "no-such-host.invalid", "port": "5432", "database": "x", "username": "u", "sslMode": "0"},
            "could not be resolved",
        ),
        ("FileServer", {"host": "{root}/nonexistent/out"}, "The folder does not exist"),
    ],
)
def test_test_connection_says_what_failed(admin, pg_server, kind, fields, words):
    fields = {k: v.replace("{root}", in_file_root()) for k, v in fields.items()}
    page = text(admin.post("/manage/test-connection/", {"kind": kind, "name": "T", **fields}))
    assert words in page


def test_test_connection_to_azurite_and_to_a_stopped_port(admin, azurite):
    good = {"kind": "AzureBlobStorage", "name": "B", "connectionString": azurite.connection_string}
    assert "Connection successful." in text(admin.post("/manage/test-connection/", good))
    dead = azurite.connection_string.replace(f":{azurite.port}", ":1")
    assert "The connection was refused" in text(
        admin.post("/manage/test-connection/", {**good, "connectionString": dead})
    )


def test_dataset_picker_lists_live_tables_and_previews_rows(editor, seeded):
    tables = text(editor.get(f"/author/catalogue/?linked_service={tutorial.SOURCE_LS}"))
    assert "data_source_table" in tables and "PersonID" in tables and "on (columns)" in tables
    preview = text(editor.get(f"/author/catalogue/?linked_service={tutorial.SOURCE_LS}&table=data_source_table"))
    assert "aaaa" in preview and "eeee" in preview
    response = editor.post(
        "/author/datasets/new/", {"name": "People", "linked_service": tutorial.SOURCE_LS, "table": "data_source_table"}
    )
    assert response.status_code == 302
    assert "SqliteTable" in text(editor.get("/author/datasets/People/"))


def test_pipeline_page_draws_the_graph_and_validates(editor, seeded):
    page = text(editor.get("/author/pipelines/IncrementalCopyPipeline/"))
    assert 'class="edge Succeeded"' in page and tutorial.LOOKUP_LAST in page
    definition = Pipeline.objects.get(name="IncrementalCopyPipeline").definition
    import json

    broken = json.dumps(definition).replace("@{activity('Lookup", "@{activty('Lookup", 1)
    found = text(
        editor.post("/author/pipelines/IncrementalCopyPipeline/", {"definition": broken, "action": "validate"})
    )
    assert "unknown function 'activty'" in found and "position 0" in found
    clean = text(
        editor.post(
            "/author/pipelines/FullCopyPipeline/",
            {"definition": json.dumps(Pipeline.objects.get(name="FullCopyPipeline").definition), "action": "validate"},
        )
    )
    assert "Validation passed" in clean


def test_validate_compiles_plain_queries_live(editor, seeded):
    import json

    definition = Pipeline.objects.get(name="IncrementalCopyPipeline").definition
    definition["properties"]["activities"][1]["typeProperties"]["source"]["query"] = (
        "SELECT nope FROM data_source_table"
    )
    found = text(
        editor.post(
            "/author/pipelines/IncrementalCopyPipeline/", {"definition": json.dumps(definition), "action": "validate"}
        )
    )
    assert "the query does not compile" in found and "nope" in found


def test_trigger_now_goes_to_the_run(operator, seeded):
    response = operator.post("/author/pipelines/FullCopyPipeline/trigger", {})
    run = PipelineRun.objects.get()
    assert response["Location"] == f"/monitor/runs/{run.run_id}/" and run.status == "Succeeded"


def test_pipeline_history_and_watermarks_pages(operator, seeded):
    trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    assert "<polyline" in text(operator.get("/monitor/pipelines/IncrementalSync/"))
    watermarks = text(operator.get("/monitor/watermarks/"))
    assert "data_source_table" in watermarks and "Check the lag" in watermarks
    from syncjobs.models import Watermark

    lag = text(operator.get(f"/monitor/watermarks/?lag={Watermark.objects.get().pk}"))
    assert "0</strong> versions behind" in lag


def test_retention_purges_old_finished_runs(settings):
    settings.CTPORTAL_RUN_RETENTION_DAYS = 30
    old = make_run(status="Succeeded", triggered_at=timezone.now() - timedelta(days=31))
    recent = make_run(status="Succeeded")
    assert purge_old_runs() == 1
    assert not PipelineRun.objects.filter(pk=old.pk).exists() and PipelineRun.objects.filter(pk=recent.pk).exists()


def test_triggers_are_listed_and_started_from_manage(operator, seeded):
    from syncjobs.adf.repository import save_definition
    from syncjobs.models import Trigger

    recurrence = {"frequency": "Hour", "interval": 1, "startTime": "2026-01-01T00:00:00Z", "timeZone": "UTC"}
    save_definition(
        "trigger",
        {
            "name": "Hourly",
            "properties": {
                "type": "ScheduleTrigger",
                "typeProperties": {"recurrence": recurrence},
                "pipelines": [{"pipelineReference": {"referenceName": "IncrementalSync", "type": "PipelineReference"}}],
            },
        },
    )
    page = text(operator.get("/manage/"))
    assert "<title>Linked services · ctportal</title>" in page
    assert page.count('/manage/triggers/Hourly/">Hourly</a></td>') == 1 and "every 1 hour" in page and "Stopped" in page
    operator.post("/manage/triggers/Hourly/state", {"state": "start"})
    assert Trigger.objects.get(name="Hourly").runtime_state == "Started"
    assert "Trigger Hourly is Started." in text(operator.get("/manage/"))


def test_an_activity_form_edits_the_pipeline_and_renames_follow_dependencies(editor, seeded):
    pipeline = Pipeline.objects.get(name="IncrementalCopyPipeline")
    page = text(editor.get("/author/pipelines/IncrementalCopyPipeline/"))
    assert "Edit IncrementalCopyActivity" in page
    index = [a["name"] for a in pipeline.properties["activities"]].index("IncrementalCopyActivity")
    copy_activity = pipeline.properties["activities"][index]
    import json

    form = {
        f"a{index}-original": "IncrementalCopyActivity",
        f"a{index}-name": "CopyChanges",
        f"a{index}-description": "copies the window",
        f"a{index}-retry": "2",
        f"a{index}-retry_interval": "60",
        f"a{index}-timeout": "0.01:00:00",
        f"a{index}-type_properties": json.dumps(copy_activity["typeProperties"]),
    }
    response = editor.post(f"/author/pipelines/IncrementalCopyPipeline/activities/{index}", form)
    assert response.status_code == 302
    saved = Pipeline.objects.get(name="IncrementalCopyPipeline").properties["activities"]
    renamed = next(a for a in saved if a["name"] == "CopyChanges")
    assert renamed["policy"]["retry"] == 2 and renamed["policy"]["timeout"] == "0.01:00:00"
    update = next(a for a in saved if a["type"] == "Script")
    assert update["dependsOn"][0]["activity"] == "CopyChanges"
    bad = {**form, f"a{index}-original": "CopyChanges", f"a{index}-type_properties": "{nope"}
    page = text(editor.post(f"/author/pipelines/IncrementalCopyPipeline/activities/{index}", bad))
    assert "not valid JSON" in page
