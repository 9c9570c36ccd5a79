"""SecureString values never appear where a person or a log can read them.

One run uses a SecureString parameter in a SetVariable, a Script, a Lookup and a failing query (whose
error quotes what was derived from it); then the pages, the API, the admin, an export, the database rows
and the captured logs are searched for the value and its obvious forms.
"""

from __future__ import annotations

import base64
import html
import importlib
import json
import logging
from datetime import UTC, datetime

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection
from django_q.models import OrmQ, Task
from django_q.signing import SignedPackage

from syncjobs import tutorial
from syncjobs.models import ActivityRun, Pipeline, PipelineRun, RunStatus, Trigger
from syncjobs.secrets import MASK, decrypt_mapping
from syncjobs.services.definitions import export_definition, save_definition
from syncjobs.services.runs import trigger_run
from syncjobs.services.triggers import fire_trigger

pytestmark = pytest.mark.django_db

SECRET = "Tr0ub4dor-&-3-horse"
DEFAULT = "default-Secret-42x"


def forms(secret: str) -> list[str]:
    encoded = base64.b64encode(secret.encode()).decode()
    return [secret, secret.upper(), encoded, encoded.rstrip("=")]


def secretive_pipeline() -> Pipeline:
    ls = {"type": "LinkedServiceReference"}

    def script(name: str, linked_service: str, text: str, after: str | None = None) -> dict:
        step = {"name": name, "type": "Script", "linkedServiceName": {**ls, "referenceName": linked_service}}
        step["typeProperties"] = {"scripts": [{"type": "Query", "text": text}]}
        step["dependsOn"] = [{"activity": after, "dependencyConditions": ["Succeeded"]}] if after else []
        return step

    lookup = {
        "name": "Look",
        "type": "Lookup",
        "dependsOn": [{"activity": "Echo", "dependencyConditions": ["Succeeded"]}],
        "typeProperties": {
            "source": {"type": "SqliteSource", "query": "SELECT '@{pipeline().parameters.fallback}' AS f"},
            "dataset": {"referenceName": "SourceDataset", "type": "DatasetReference"},
        },
    }
    activities = [
        {
            "name": "Encode",
            "type": "SetVariable",
            "typeProperties": {"variableName": "token", "value": "@base64(pipeline().parameters.secret)"},
        },
        script(
            "Echo", tutorial.SOURCE_LS, "SELECT '@{variables('token')}' AS t, '@{pipeline().parameters.secret}' AS s"
        ),
        lookup,
        script("Broken", tutorial.SOURCE_LS, "SELECT * FROM [@{toUpper(pipeline().parameters.secret)}]", "Look"),
    ]
    activities[1]["dependsOn"] = [{"activity": "Encode", "dependencyConditions": ["Succeeded"]}]
    parameters = {
        "secret": {"type": "SecureString"},
        "fallback": {"type": "SecureString", "defaultValue": DEFAULT},
        "label": {"type": "String", "defaultValue": "nightly"},
    }
    definition = {"parameters": parameters, "variables": {"token": {"type": "String"}}, "activities": activities}
    return save_definition("pipeline", {"name": "Secretive", "properties": definition})[0]


@pytest.fixture
def secret_run(admin, seeded, caplog) -> PipelineRun:
    with caplog.at_level(logging.DEBUG):
        run = trigger_run(secretive_pipeline(), {"secret": SECRET})
    run.refresh_from_db()
    return run


def assert_clean(text: str, where: str) -> None:
    for value in forms(SECRET) + forms(DEFAULT):
        assert value not in text, f"{value!r} in {where}"


def test_the_run_did_use_the_secrets(secret_run):
    """So the searches below look for values that were really there."""
    assert secret_run.status == RunStatus.FAILED
    broken = ActivityRun.objects.get(pipeline_run=secret_run, activity_name="Broken")
    assert f"no such table: {MASK}" in broken.error["message"]  # SQLite quoted the (derived) secret
    statuses = dict(ActivityRun.objects.filter(pipeline_run=secret_run).values_list("activity_name", "status"))
    assert statuses == {"Encode": "Succeeded", "Echo": "Succeeded", "Look": "Succeeded", "Broken": "Failed"}


def test_database_rows_hold_no_secret(secret_run):
    with connection.cursor() as cursor:
        for table in ("syncjobs_pipelinerun", "syncjobs_activityrun", "syncjobs_pipeline", "django_q_task"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            assert_clean(json.dumps(cursor.fetchall(), default=str), table)
    assert Task.objects.filter(args__isnull=False).exists() or not Task.objects.exists()


def test_pages_hold_no_secret(admin, secret_run):
    for url in (
        "/monitor/",
        f"/monitor/runs/{secret_run.run_id}/",
        "/monitor/pipelines/Secretive/",
        "/author/pipelines/Secretive/",
    ):
        response = admin.get(url)
        assert response.status_code == 200, url
        assert_clean(html.unescape(response.content.decode()), url)
    assert "hidden: the activity reads a SecureString parameter" in html.unescape(
        admin.get(f"/monitor/runs/{secret_run.run_id}/").content.decode()
    )


def test_the_api_holds_no_secret(admin, secret_run):
    auth = {"Authorization": f"Bearer {admin.token}"}
    window = json.dumps({"lastUpdatedAfter": "2000-01-01T00:00:00Z", "lastUpdatedBefore": "2100-01-01T00:00:00Z"})
    answers = [
        admin.get(f"/api/pipelineruns/{secret_run.run_id}", headers=auth),
        admin.post(
            f"/api/pipelineruns/{secret_run.run_id}/queryActivityruns",
            data=window,
            content_type="application/json",
            headers=auth,
        ),
        admin.post("/api/queryPipelineRuns", data=window, content_type="application/json", headers=auth),
        admin.get("/api/pipelines/Secretive", headers=auth),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.content
        assert_clean(answer.content.decode(), answer.request["PATH_INFO"])
    activities = answers[1].json()["value"]
    assert {a["activityName"] for a in activities} == {"Encode", "Echo", "Look", "Broken"}


def test_the_admin_holds_no_secret(admin, secret_run):
    pages = [f"/admin/syncjobs/pipelinerun/{secret_run.pk}/change/", "/admin/syncjobs/pipeline/"]
    pages += [f"/admin/syncjobs/activityrun/{a.pk}/change/" for a in secret_run.activity_runs.all()]
    pages += [f"/admin/syncjobs/pipeline/{secret_run.pipeline_id}/change/", "/admin/django_q/failure/"]
    for url in pages:
        response = admin.get(url)
        assert response.status_code == 200, url
        assert_clean(html.unescape(response.content.decode()), url)


def test_exports_hold_no_secret(admin, secret_run, tmp_path):
    call_command("export_factory", str(tmp_path / "export"))
    exported = "".join(p.read_text() for p in (tmp_path / "export").rglob("*.json"))
    assert "Secretive" in exported
    assert_clean(exported, "export_factory")
    assert export_definition(Pipeline.objects.get(name="Secretive"))["properties"]["parameters"]["fallback"] == {
        "type": "SecureString",
        "defaultValue": MASK,
    }


def test_logs_hold_no_secret(secret_run, caplog):
    logged = caplog.get_records("setup")
    assert logged  # the run logged (django-q's task, its failure...)
    assert_clean("\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in logged), "logs")


def test_a_secure_default_value_still_reaches_the_run(secret_run):
    """Its default is stored encrypted apart, and the run gets it: the Lookup read it (its output is hidden)."""
    look = ActivityRun.objects.get(pipeline_run=secret_run, activity_name="Look")
    assert look.status == "Succeeded" and look.output.get("secureOutput") is True
    assert DEFAULT not in json.dumps(Pipeline.objects.get(name="Secretive").definition)
    assert Pipeline.objects.get(name="Secretive").secret_defaults() == {"fallback": DEFAULT}


def test_the_queued_task_carries_only_the_run_id(seeded, settings, django_capture_on_commit_callbacks):
    settings.CTPORTAL_TASKS_INLINE = False
    with django_capture_on_commit_callbacks(execute=True):
        run = trigger_run(secretive_pipeline(), {"secret": SECRET})
    [queued] = OrmQ.objects.all()
    task = SignedPackage.loads(queued.payload)
    assert task["args"] == (str(run.run_id),) and not task["kwargs"].get("parameters")
    assert_clean(repr(task) + queued.payload, "the broker's table")


def test_a_trigger_keeps_its_secure_values_encrypted_and_hands_them_to_the_run(admin, seeded, settings):
    secretive_pipeline()
    recurrence = {"frequency": "Minute", "interval": 5, "startTime": "2026-01-01T00:00:00Z", "timeZone": "UTC"}
    reference = {"referenceName": "Secretive", "type": "PipelineReference"}
    definition = {
        "name": "Nightly",
        "properties": {
            "type": "ScheduleTrigger",
            "typeProperties": {"recurrence": recurrence},
            "pipelines": [{"pipelineReference": reference, "parameters": {"secret": SECRET, "label": "nightly"}}],
        },
    }
    trigger = save_definition("trigger", definition)[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM syncjobs_trigger")
        assert_clean(json.dumps(cursor.fetchall(), default=str), "syncjobs_trigger")
    shown = admin.get("/api/triggers/Nightly", headers={"Authorization": f"Bearer {admin.token}"}).json()
    assert shown["properties"]["pipelines"][0]["parameters"] == {"secret": MASK, "label": "nightly"}
    saved_again, warnings = save_definition("trigger", {"name": "Nightly", "properties": shown["properties"]})
    assert warnings == [] and saved_again.pipeline_parameters(0)["secret"] == SECRET  # the mask kept it

    settings.CTPORTAL_TASKS_INLINE = False  # queued: only its record is looked at
    Trigger.objects.filter(pk=trigger.pk).update(last_fired_at=datetime(2026, 1, 1, tzinfo=UTC))
    [run], _ = fire_trigger(Trigger.objects.get(pk=trigger.pk), datetime(2026, 1, 1, 0, 5, 30, tzinfo=UTC))
    assert run.parameters == {"secret": MASK, "label": "nightly"}
    assert decrypt_mapping(run.secret_parameters) == {"secret": SECRET, "fallback": DEFAULT}


def test_values_stored_in_clear_before_this_version_are_moved_by_the_migration(seeded):
    migration = importlib.import_module("syncjobs.migrations.0009_secure_parameter_values")
    pipeline = secretive_pipeline()
    clear = json.loads(json.dumps(pipeline.definition).replace(MASK, DEFAULT))
    Pipeline.objects.filter(pk=pipeline.pk).update(definition=clear, encrypted_secrets="")
    reference = {"referenceName": "Secretive", "type": "PipelineReference"}
    recurrence = {"frequency": "Day", "interval": 1, "startTime": "2026-01-01T00:00:00Z", "timeZone": "UTC"}
    props = {"type": "ScheduleTrigger", "typeProperties": {"recurrence": recurrence}, "pipelines": []}
    trigger = save_definition("trigger", {"name": "Old", "properties": props})[0]
    old = {**trigger.definition, "properties": {**trigger.properties, "pipelines": [{"pipelineReference": reference}]}}
    old["properties"]["pipelines"][0]["parameters"] = {"secret": SECRET}
    Trigger.objects.filter(pk=trigger.pk).update(definition=old)
    migration.encrypt_secure_values(django_apps, None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT definition FROM syncjobs_pipeline UNION ALL SELECT definition FROM syncjobs_trigger")
        assert_clean(json.dumps(cursor.fetchall()), "definitions")
    assert Pipeline.objects.get(pk=pipeline.pk).secret_defaults() == {"fallback": DEFAULT}
    assert Trigger.objects.get(pk=trigger.pk).pipeline_parameters(0) == {"secret": SECRET}
