"""Runs over many tables in the portal: each table its own activity run, Succeeded with failed tables,
Retry failed tables (page and API), busy and paused tables skipped, runs of chosen tables only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from syncjobs.access import Role
from syncjobs.engine.sources.sqlite import SqliteConfig, SqliteSource
from syncjobs.engine.types import TableName
from syncjobs.models import ActivityRun, ApiToken, PipelineRun, Watermark
from syncjobs.services.runs import rerun, trigger_run
from tests.factories import make_pipeline, make_user

pytestmark = pytest.mark.django_db
TABLES = ["orders", "customers", "invoices"]


def make_tables(database: Path) -> None:
    source = SqliteSource(SqliteConfig(database=str(database)))
    for name in TABLES:
        source.execute(f"CREATE TABLE {name} (id int NOT NULL PRIMARY KEY, note varchar(20))")
        source.execute(f"INSERT INTO {name} VALUES (1, 'one'), (2, 'two'), (3, 'three')")
        source.enable_change_tracking(TableName(name))


def tables_pipeline(name: str = "Tables"):
    copy = {
        "name": "SyncTables",
        "type": "ChangeTrackingCopy",
        "typeProperties": {"tables": [{"table": t} for t in TABLES], "batchCount": 3},
        "inputs": [{"referenceName": "SourceDataset", "type": "DatasetReference"}],
        "outputs": [{"referenceName": "SinkDataset", "type": "DatasetReference"}],
    }
    return make_pipeline(name, [copy])


@pytest.fixture
def tables(seeded):
    make_tables(seeded / "source.sqlite3")
    return seeded


def children(run: PipelineRun) -> dict[str, ActivityRun]:
    return {a.table: a for a in ActivityRun.objects.filter(pipeline_run=run).exclude(parent=None)}


def rename(database: Path, old: str, new: str) -> None:
    with sqlite3.connect(database) as conn:
        conn.execute(f"ALTER TABLE {old} RENAME TO {new}")


def test_each_table_is_a_child_activity_run_and_the_run_page_shows_them(tables, viewer):
    run = trigger_run(tables_pipeline())
    run.refresh_from_db()
    assert run.status == "Succeeded" and run.failed_tables == [] and run.message == "", run.message
    parent = ActivityRun.objects.get(pipeline_run=run, parent=None)
    found = children(run)
    assert sorted(found) == sorted(TABLES)
    assert all(a.parent_id == parent.pk and a.status == "Succeeded" and a.rows_written == 3 for a in found.values())
    assert found["orders"].activity_name == "SyncTables: orders"
    assert Watermark.objects.get(source_table="orders").windows.get().activity_run == found["orders"]
    page = viewer.get(f"/monitor/runs/{run.run_id}/").content.decode()
    assert page.count('class="gantt-row child"') == 3 and "↳ invoices" in page
    assert page.index('data-activity="SyncTables"') < page.index('data-table="orders"')  # children follow it


def test_a_failed_table_leaves_the_run_succeeded_with_failed_tables_and_retry_copies_only_it(tables, operator):
    database = tables / "source.sqlite3"
    first = trigger_run(tables_pipeline())
    rename(database, "invoices", "invoices_gone")
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE orders SET note = 'changed' WHERE id = 1")
    second = trigger_run(first.pipeline)
    second.refresh_from_db()
    assert second.status == "Succeeded" and second.failed_tables == ["invoices"]
    assert second.message.startswith("Succeeded with failed tables (1 table): invoices: ")
    assert second.to_adf()["failedTables"] == ["invoices"] and "invoices" in second.to_adf()["message"]
    assert children(second)["orders"].rows_written == 1 and children(second)["invoices"].status == "Failed"
    page = operator.get(f"/monitor/runs/{second.run_id}/").content.decode()
    assert "Succeeded with failed tables" in page and "Retry failed tables (1)" in page
    assert "<code>invoices</code>:" in page

    rename(database, "invoices_gone", "invoices")
    response = operator.post(f"/monitor/runs/{second.run_id}/rerun", {"failed_tables_only": "1"})
    retry = PipelineRun.objects.get(parent_run=second)
    assert response.status_code == 302 and retry.status == "Succeeded", retry.message
    assert retry.table_filter == ["invoices"] and retry.invoked_by_name == "Retry failed tables"
    assert list(children(retry)) == ["invoices"]  # only the failed table was copied
    assert Watermark.objects.get(source_table="invoices").version is not None
    page = operator.get(f"/monitor/runs/{retry.run_id}/").content.decode()
    assert "Retry failed tables" not in page.split("Triggered by")[0]


def test_every_table_failing_fails_the_run_and_the_api_retries_them(tables, client):
    database = tables / "source.sqlite3"
    for name in TABLES:
        rename(database, name, f"{name}_gone")
    run = trigger_run(tables_pipeline())
    run.refresh_from_db()
    assert run.status == "Failed" and sorted(run.failed_tables) == sorted(TABLES)
    assert "3 of 3 tables failed" in run.message
    for name in TABLES:
        rename(database, f"{name}_gone", name)
    _, token = ApiToken.issue(make_user(Role.OPERATOR), "tests")
    url = f"/api/pipelines/Tables/createRun?referencePipelineRunId={run.run_id}&isRecovery=true&failedTablesOnly=true"
    answer = client.post(url, "{}", content_type="application/json", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.content
    retry = PipelineRun.objects.get(pk=answer.json()["runId"])
    assert retry.status == "Succeeded" and sorted(children(retry)) == sorted(TABLES)
    again = client.post(
        url.replace(str(run.run_id), str(retry.run_id)),
        "{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert again.status_code == 400 and "no failed tables" in again.json()["error"]["message"]


def test_a_run_of_chosen_tables_copies_only_those(tables):
    run = trigger_run(tables_pipeline(), tables=["customers"])
    run.refresh_from_db()
    assert run.status == "Succeeded" and run.table_filter == ["customers"]
    assert list(children(run)) == ["customers"]
    with pytest.raises(ValidationError, match="list of table names"):
        trigger_run(tables_pipeline("Other"), tables=["", 3])  # type: ignore[list-item]


def test_a_busy_table_and_a_paused_table_are_skipped_and_shown(tables, viewer):
    first = trigger_run(tables_pipeline())
    holder = PipelineRun.objects.create(
        pipeline_name="Elsewhere", definition={}, status="InProgress", heartbeat_at=timezone.now()
    )
    assert Watermark.objects.get(source_table="orders").claim(holder)
    Watermark.objects.filter(source_table="customers").update(paused=True)
    run = rerun(first)
    run.refresh_from_db()
    assert run.status == "Succeeded" and run.failed_tables == [], run.message
    found = children(run)
    assert found["orders"].status == "Skipped" and found["customers"].status == "Skipped"
    assert found["invoices"].status == "Succeeded"
    page = viewer.get(f"/monitor/runs/{run.run_id}/").content.decode()
    assert "skipped: previous window still running" in page and "skipped: paused" in page
    holder.fail("done")


def test_the_retry_button_is_refused_to_viewers_and_explains_when_nothing_failed(tables, viewer, operator):
    run = trigger_run(tables_pipeline())
    assert viewer.post(f"/monitor/runs/{run.run_id}/rerun", {"failed_tables_only": "1"}).status_code == 403
    response = operator.post(f"/monitor/runs/{run.run_id}/rerun", {"failed_tables_only": "1"}, follow=True)
    assert "has no failed tables to retry" in response.content.decode()
    assert not PipelineRun.objects.filter(parent_run=run).exists()


def test_rerun_from_failure_never_reuses_a_tables_output_as_the_activitys(tables):
    run = trigger_run(tables_pipeline())
    reused = PipelineRun.objects.get(pk=run.pk).reusable_outputs()
    assert list(reused) == ["SyncTables"] and len(reused["SyncTables"]["tables"]) == 3
