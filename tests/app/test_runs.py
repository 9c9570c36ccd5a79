"""Run services: trigger, cancel, rerun (from the failed activity), recovery of runs whose worker died."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from syncjobs import tutorial
from syncjobs.engine.types import TableName
from syncjobs.models import ActivityRun, LinkedService, Pipeline, PipelineRun, RunStatus, Watermark
from syncjobs.services.definitions import save_definition
from syncjobs.services.runs import cancel_run, execute_run, recover_stalled_runs, rerun, trigger_run
from syncjobs.services.schedules import RECOVER_RUNS
from tests.factories import make_pipeline, make_run
from tests.fixtures.portal import Portal

pytestmark = pytest.mark.django_db


@pytest.fixture
def inline(settings):
    settings.CTPORTAL_TASKS_INLINE = True


@pytest.fixture
def seeded(tmp_path):
    call_command("seed_tutorial", "--dir", str(tmp_path))
    return tmp_path


def test_parameters_are_checked_when_triggering():
    pipeline = make_pipeline(parameters={"days": {"type": "Int"}})
    with pytest.raises(ValidationError, match="parameter days is required"):
        trigger_run(pipeline, {})
    with pytest.raises(ValidationError, match="unknown parameter"):
        trigger_run(pipeline, {"days": 1, "other": 2})
    assert PipelineRun.objects.count() == 0


def test_a_queued_run_cancelled_before_it_starts_never_runs():
    run = trigger_run(make_pipeline())  # not inline: stays queued
    assert cancel_run(run)
    execute_run(str(run.run_id))
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and not run.activity_runs.exists()


def test_a_run_keeps_the_definition_it_was_triggered_with(inline):
    pipeline = make_pipeline(variables={"v": {"type": "String"}})
    pipeline.set_definition(
        {
            "name": pipeline.name,
            "properties": {
                "activities": [{"name": "Changed", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 0}}]
            },
        }
    )
    run = trigger_run(Pipeline.objects.get(pk=pipeline.pk))
    pipeline.save()
    again = rerun(run)
    again.refresh_from_db()
    assert [a.activity_name for a in again.activity_runs.all()] == ["Pause"]
    assert again.run_group_id == run.run_group_id and again.parent_run == run
    run.refresh_from_db()
    assert not run.is_latest and again.is_latest


def test_rerun_from_the_failed_activity_rereads_lookups_and_skips_what_succeeded(inline, seeded):
    source = seeded / "source.sqlite3"
    activities = [
        {
            "name": "Prepare",
            "type": "Script",
            "linkedServiceName": {"referenceName": tutorial.SOURCE_LS, "type": "LinkedServiceReference"},
            "typeProperties": {"scripts": [{"type": "NonQuery", "text": "INSERT INTO marks VALUES ('prepared')"}]},
        },
        {
            "name": "Count",
            "type": "Lookup",
            "dependsOn": [{"activity": "Prepare", "dependencyConditions": ["Succeeded"]}],
            "typeProperties": {
                "source": {"type": "SqliteSource", "query": "SELECT count(*) AS n FROM data_source_table"},
                "dataset": {"referenceName": "SourceDataset", "type": "DatasetReference"},
            },
        },
        {
            "name": "Needs",
            "type": "Script",
            "dependsOn": [{"activity": "Count", "dependencyConditions": ["Succeeded"]}],
            "linkedServiceName": {"referenceName": tutorial.SOURCE_LS, "type": "LinkedServiceReference"},
            "typeProperties": {"scripts": [{"type": "Query", "text": "SELECT count(*) AS n FROM late_table"}]},
        },
    ]
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE marks (what TEXT)")
    pipeline = save_definition("pipeline", {"name": "Fragile", "properties": {"activities": activities}})[0]
    first = trigger_run(pipeline)
    first.refresh_from_db()
    assert first.status == RunStatus.FAILED and "late_table" in first.message
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE late_table (x INT)")
        conn.execute("INSERT INTO data_source_table VALUES (7, 'g', 1)")
    second = rerun(first, from_failed=True)
    second.refresh_from_db()
    assert second.status == RunStatus.SUCCEEDED, second.message
    assert [a.activity_name for a in second.activity_runs.order_by("run_start")] == ["Count", "Needs"]
    assert ActivityRun.objects.get(pipeline_run=second, activity_name="Count").output == {"firstRow": {"n": 6}}
    with sqlite3.connect(source) as conn:
        assert conn.execute("SELECT count(*) FROM marks").fetchone()[0] == 1  # Prepare ran once


def test_recovery_fails_a_run_whose_worker_process_is_gone_and_frees_its_watermark(seeded):
    run = trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    assert run.mark_in_progress(worker="ghost:999999999")
    run.worker = f"{__import__('socket').gethostname()}:999999999"
    run.save(update_fields=["worker"])
    watermark = Watermark.objects.for_target(
        LinkedService.objects.get(name=tutorial.SOURCE_LS), TableName(tutorial.TABLE), "SinkDataset:x"
    )
    assert watermark.claim(run)
    ActivityRun.objects.create(
        pipeline_run=run, activity_name="SyncDataSourceTable", activity_type="ChangeTrackingCopy"
    )
    assert recover_stalled_runs() == 1
    run.refresh_from_db()
    watermark.refresh_from_db()
    assert run.status == RunStatus.FAILED and "worker stopped" in run.message
    assert watermark.claimed_by is None
    assert ActivityRun.objects.get(pipeline_run=run).status == "Failed"


def test_recovery_leaves_live_runs_alone(seeded):
    run = trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    assert run.mark_in_progress(worker=f"{__import__('socket').gethostname()}:{__import__('os').getpid()}")
    assert recover_stalled_runs() == 0


def test_recovery_judges_a_worker_elsewhere_by_its_heartbeat_and_one_here_by_its_process(seeded, settings):
    settings.CTPORTAL_STALLED_RUN_SECONDS = 60
    long_ago = timezone.now() - timedelta(seconds=61)
    here_alive, elsewhere_silent, elsewhere_recent = (
        trigger_run(Pipeline.objects.get(name="IncrementalSync")) for _ in range(3)
    )
    assert here_alive.mark_in_progress(worker=f"{socket.gethostname()}:{os.getpid()}")  # a long query: quiet
    assert elsewhere_silent.mark_in_progress(worker="other-machine:42")
    assert elsewhere_recent.mark_in_progress(worker="other-machine:43")
    PipelineRun.objects.filter(pk__in=[here_alive.pk, elsewhere_silent.pk]).update(heartbeat_at=long_ago)
    assert recover_stalled_runs() == 1
    statuses = {r.pk: r.status for r in PipelineRun.objects.all()}
    assert statuses[elsewhere_silent.pk] == RunStatus.FAILED
    assert statuses[here_alive.pk] == statuses[elsewhere_recent.pk] == RunStatus.IN_PROGRESS


def test_change_tracking_command_reports_and_toggles(seeded, capsys):
    call_command("change_tracking", "status", tutorial.SOURCE_LS, tutorial.TABLE)
    assert "data_source_table: change tracking on, columns tracked; current version" in capsys.readouterr().out
    call_command("change_tracking", "disable", tutorial.SOURCE_LS, tutorial.TABLE)
    assert capsys.readouterr().out.strip().endswith("data_source_table: change tracking off")
    call_command("change_tracking", "enable", tutorial.SOURCE_LS, tutorial.TABLE, "--no-track-columns")
    assert "change tracking on; current version" in capsys.readouterr().out


def test_trigger_command_waits_and_fails_with_the_status(seeded, inline, capsys):
    call_command("trigger", "FullCopyPipeline", "--wait")
    run_id, status = capsys.readouterr().out.split()
    assert PipelineRun.objects.get(pk=run_id).status == "Succeeded" and status == "Succeeded"
    bad = {
        "name": "Bad",
        "type": "Script",
        "linkedServiceName": {"referenceName": tutorial.SOURCE_LS, "type": "LinkedServiceReference"},
        "typeProperties": {"scripts": [{"type": "Query", "text": "SELECT * FROM no_such_table"}]},
    }
    make_pipeline("Broken", [bad])
    with pytest.raises(CommandError, match="ended Failed"):
        call_command("trigger", "Broken", "--wait")


def test_create_api_token_prints_a_working_token(django_user_model, capsys):
    from syncjobs.models import ApiToken

    user = django_user_model.objects.create_user("ops")
    call_command("create_api_token", "ops")
    token = capsys.readouterr().out.strip()
    assert ApiToken.objects.authenticate(token).user == user


def test_secure_string_parameters_are_masked_in_the_run_record_and_reach_the_run(inline):
    check = {
        "name": "Check",
        "type": "IfCondition",
        "typeProperties": {
            "expression": {"value": "@equals(pipeline().parameters.token, 's3cr3t-value')", "type": "Expression"},
            "ifTrueActivities": [
                {"name": "Matched", "type": "SetVariable", "typeProperties": {"variableName": "v", "value": "matched"}}
            ],
        },
    }
    keep = {
        "name": "Keep",
        "type": "SetVariable",
        "policy": {"secureInput": True, "secureOutput": True},
        "typeProperties": {"variableName": "v", "value": "@pipeline().parameters.token"},
    }
    pipeline = make_pipeline(
        "Secretive", [check, keep], parameters={"token": {"type": "SecureString"}}, variables={"v": {"type": "String"}}
    )
    run = trigger_run(pipeline, {"token": "s3cr3t-value"})
    run.refresh_from_db()
    assert run.status == "Succeeded", run.message
    assert run.parameters == {"token": "**********"} and "s3cr3t-value" not in run.secret_parameters
    assert ActivityRun.objects.filter(pipeline_run=run, activity_name="Matched").exists()
    records = json.dumps(list(ActivityRun.objects.filter(pipeline_run=run).values("input", "output", "error")))
    assert "s3cr3t-value" not in records
    again = rerun(run)
    again.refresh_from_db()
    assert (
        again.status == "Succeeded" and ActivityRun.objects.filter(pipeline_run=again, activity_name="Matched").exists()
    )


def test_a_parallel_foreach_records_every_iteration_in_the_portal(inline):
    each = {
        "name": "Each",
        "type": "ForEach",
        "typeProperties": {
            "items": {"value": "@range(0, 5)", "type": "Expression"},
            "batchCount": 3,
            "activities": [{"name": "Pause", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}],
        },
    }
    run = trigger_run(make_pipeline("Fan", [each]))
    run.refresh_from_db()
    assert run.status == "Succeeded", run.message
    assert ActivityRun.objects.filter(pipeline_run=run, activity_name="Pause", status="Succeeded").count() == 5


def test_cancelling_a_run_on_a_real_worker_stops_it_between_waits(tmp_path):
    portal = Portal(tmp_path)
    try:
        wait = {"name": "Pause", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 600}}
        run_id = trigger_on_a_worker(portal, "LongWait", [wait])
        wait_for(lambda: portal.status(run_id) == "InProgress", "the worker never picked the run up")
        cancel = (
            f"from syncjobs.services.runs import cancel_run; print(cancel_run(PipelineRun.objects.get(pk='{run_id}')))"
        )
        done = portal.manage("shell", "-c", "from syncjobs.models import PipelineRun; " + cancel)
        assert done.stdout.splitlines()[-1] == "True"
        wait_for(lambda: portal.status(run_id) == "Cancelled", "the run was never cancelled")
        rows = portal.query(
            "SELECT status FROM syncjobs_activityrun WHERE pipeline_run_id = ?", run_id.replace("-", "")
        )
        assert rows == [("Cancelled",)]
    finally:
        portal.stop()


def test_a_100000_item_foreach_on_a_real_worker_is_cancelled_within_seconds(tmp_path):
    portal = Portal(tmp_path)
    try:
        pause = {"name": "Pause", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 0}}
        items = {"value": "@range(0, 100000)", "type": "Expression"}
        each = {
            "name": "Each",
            "type": "ForEach",
            "typeProperties": {"items": items, "batchCount": 50, "activities": [pause]},
        }
        run_id = trigger_on_a_worker(portal, "Huge", [each])
        key = run_id.replace("-", "")
        count = "SELECT count(*) FROM syncjobs_activityrun WHERE pipeline_run_id = ? AND activity_name = 'Pause'"
        wait_for(lambda: portal.query(count, key)[0][0] > 200, "the ForEach never got going")
        cancel = f"from syncjobs.services.runs import cancel_run; cancel_run(PipelineRun.objects.get(pk='{run_id}'))"
        portal.manage("shell", "-c", "from syncjobs.models import PipelineRun; " + cancel)
        asked = time.monotonic()
        wait_for(lambda: portal.status(run_id) == "Cancelled", "the run was not cancelled within 10 s", seconds=10)
        took = time.monotonic() - asked
        [(status, message)] = portal.query("SELECT status, message FROM syncjobs_pipelinerun WHERE run_id = ?", key)
        assert (status, message) == ("Cancelled", "Cancelled by request"), took
        assert portal.query(count, key)[0][0] < 100_000
        each_status = "SELECT status FROM syncjobs_activityrun WHERE pipeline_run_id = ? AND activity_name = 'Each'"
        assert portal.query(each_status, key) == [("Cancelled",)]
    finally:
        portal.stop()


def trigger_on_a_worker(portal: Portal, name: str, activities: list[dict]) -> str:
    """Install ``portal`` with one pipeline (imported as ADF JSON), start its worker, trigger; the run id."""
    portal.manage("migrate", "--noinput")
    factory = portal.folder / "factory"
    (factory / "pipeline").mkdir(parents=True)
    (factory / "pipeline" / f"{name}.json").write_text(
        json.dumps({"name": name, "properties": {"activities": activities}})
    )
    portal.manage("import_factory", str(factory))
    portal.start_worker()
    return portal.manage("trigger", name).stdout.strip()


def wait_for(condition, failure: str, seconds: float = 60) -> None:
    """Poll ``condition`` until it holds; fail with ``failure`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.2)


def test_recovery_is_scheduled_every_minute_on_the_worker():
    schedule = Schedule.objects.get(name=RECOVER_RUNS)
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == ("syncjobs.tasks.recover_runs_task", "I", 1)
    run = trigger_run(make_pipeline())
    assert run.mark_in_progress(worker=f"{socket.gethostname()}:999999999")
    async_task(schedule.func, sync=True)  # what the cluster does when the schedule is due
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED


def test_a_run_the_runner_cannot_even_start_ends_failed_not_in_progress():
    run = make_run(secret_parameters="not-a-token-this-key-made")  # e.g. the secret key changed since triggering
    execute_run(str(run.run_id))
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "a stored secret cannot be decrypted" in run.message
    assert run.run_end is not None


def test_retry_failed_items_runs_only_the_items_that_failed(inline, seeded, operator):
    source = seeded / "source.sqlite3"
    body = [
        {
            "name": "Count",
            "type": "Script",
            "linkedServiceName": {"referenceName": tutorial.SOURCE_LS, "type": "LinkedServiceReference"},
            "typeProperties": {"scripts": [{"type": "Query", "text": "SELECT count(*) AS n FROM @{item()}"}]},
        }
    ]
    each = {
        "name": "EachTable",
        "type": "ForEach",
        "typeProperties": {
            "items": {
                "value": "@createArray('data_source_table', 'later_a', 'data_source_table', 'later_b')",
                "type": "Expression",
            },
            "batchCount": 2,
            "activities": body,
        },
    }
    first = trigger_run(make_pipeline("Tables", [each]))
    first.refresh_from_db()
    assert first.status == "Failed" and "2 of 4 iterations failed (items [1, 3])" in first.message
    page = operator.get(f"/monitor/runs/{first.run_id}/").content.decode()
    assert "Retry failed items (2: 1, 3)" in page
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE later_a (x INT)")
        conn.execute("CREATE TABLE later_b (x INT)")
    operator.post(f"/monitor/runs/{first.run_id}/rerun", {"from_failed": "1"})
    retry = PipelineRun.objects.get(parent_run=first)
    assert retry.status == "Succeeded", retry.message
    inputs = [a.input["scripts"][0]["text"] for a in retry.activity_runs.filter(activity_name="Count")]
    assert sorted(inputs) == ["SELECT count(*) AS n FROM later_a", "SELECT count(*) AS n FROM later_b"]
    assert ActivityRun.objects.get(pipeline_run=retry, activity_name="EachTable").output["retriedItems"] == [1, 3]


@pytest.mark.django_db(transaction=True)
def test_the_migration_stores_handled_errors_for_runs_that_ended_before():
    before = [("syncjobs", "0009_secure_parameter_values")]
    try:
        MigrationExecutor(connection).migrate(before)
        old = MigrationExecutor(connection).loader.project_state(before).apps
        runs, activities = old.get_model("syncjobs", "PipelineRun"), old.get_model("syncjobs", "ActivityRun")
        attempts = {
            "retried": [("Copy", "Failed", 0), ("Copy", "Succeeded", 1)],
            "handled": [("Bad", "Failed", 0), ("Bad", "Failed", 1), ("Recover", "Succeeded", 0)],
            "clean": [("Copy", "Succeeded", 0)],
        }
        for name, rows in attempts.items():
            run = runs.objects.create(pipeline_name=name, status="Succeeded", run_group_id=uuid.uuid4())
            for activity, status, attempt in rows:
                activities.objects.create(
                    pipeline_run=run, activity_name=activity, activity_type="Copy", status=status, retry_attempt=attempt
                )
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("syncjobs"))
        stored = dict(PipelineRun.objects.values_list("pipeline_name", "handled_errors"))
        assert stored == {"retried": False, "handled": True, "clean": False}
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
