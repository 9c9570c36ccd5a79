"""Monitor pages through Django's test client, on the seeded tutorial: runs list and its live rows, a run, charts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from syncjobs import tutorial
from syncjobs.models import Pipeline, PipelineRun
from syncjobs.services.definitions import save_definition
from syncjobs.services.monitor import purge_old_runs
from syncjobs.services.runs import execute_run, rerun, trigger_run
from tests.app.pages import text
from tests.engine.run_helpers import flaky_script, pg_linked_service
from tests.factories import make_pipeline, make_run

pytestmark = pytest.mark.django_db


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


def _row(page: str, run: PipelineRun) -> str:
    """The ``<tr>`` of ``run`` in a page of the runs list (or in its live update), CSRF tokens left out
    (each response masks its token anew)."""
    start = page.index(f'<tr data-run-id="{run.run_id}"')
    row = page[start : page.index("</tr>", start) + len("</tr>")]
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken"', row)


def test_the_live_update_renders_the_rows_the_page_renders(operator, seeded):
    done = rerun(trigger_run(Pipeline.objects.get(name="IncrementalSync")))
    PipelineRun.objects.filter(pk=done.pk).update(duration_ms=185_250)  # 3m 05s, formatted once, in Python
    running = make_run(Pipeline.objects.get(name="FullCopyPipeline"))
    running.mark_in_progress()
    listed = operator.get("/monitor/?range=7d").content.decode()
    rows = operator.get(
        f"/monitor/rows?ids={done.run_id},{running.run_id}&next=/monitor/%3Frange%3D7d"
    ).content.decode()
    assert _row(rows, done) == _row(listed, done) and _row(rows, running) == _row(listed, running)
    finished = _row(rows, PipelineRun.objects.get(pk=done.pk))
    assert '<td class="duration">3m 05s</td>' in finished and 'data-active="0"' in finished
    assert '<button type="button" class="reruns" aria-expanded="false"' in finished and ">+1 rerun</button>" in finished
    busy = _row(rows, running)
    assert 'data-active="1"' in busy and '<span class="badge busy" data-status="InProgress"' in busy
    assert '<input type="hidden" name="next" value="/monitor/?range=7d">' in busy


def test_the_live_update_sends_cancel_back_to_the_list_only(operator, seeded):
    run = make_run(Pipeline.objects.get(name="FullCopyPipeline"))
    for elsewhere in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        rows = operator.get("/monitor/rows", {"ids": str(run.run_id), "next": elsewhere}).content.decode()
        assert '<input type="hidden" name="next" value="/monitor/">' in _row(rows, run)


def test_the_run_page(operator, seeded):
    trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    tutorial.apply_tutorial_changes(seeded / "source.sqlite3")
    run = trigger_run(Pipeline.objects.get(name="IncrementalSync"))
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


def _badge(page: str, run: PipelineRun) -> str:
    """The status badge in the monitor's row of ``run``."""
    row = _row(page, run)
    return row[row.index('<span class="badge') : row.index("</span>") + len("</span>")]


def test_an_activity_that_succeeded_on_retry_is_no_handled_error(operator, seeded, pg_database):
    save_definition("linkedService", pg_linked_service(pg_database, "Pg"))
    flaky = {"name": "Flaky", "properties": {"activities": [flaky_script("Flaky", "Pg")]}}
    run = make_run(pipeline_name="Flaky", definition={"pipeline": flaky, "datasets": {}, "linkedServices": {}})
    execute_run(str(run.run_id))
    attempts = run.activity_runs.order_by("retry_attempt").values_list("status", flat=True)
    assert list(attempts) == ["Failed", "Succeeded"]
    badge = _badge(text(operator.get("/monitor/")), run)
    assert badge == '<span class="badge ok" data-status="Succeeded" title="">Succeeded</span>'


def test_a_failure_a_failed_path_handled_is_labelled_handled(operator, seeded):
    bad = {
        "name": "Bad",
        "type": "Script",
        "typeProperties": {"scripts": [{"type": "Query", "text": "SELECT * FROM nope"}]},
    }
    bad["linkedServiceName"] = {"referenceName": tutorial.SOURCE_LS, "type": "LinkedServiceReference"}
    recover = {"name": "Recover", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 0}}
    recover["dependsOn"] = [{"activity": "Bad", "dependencyConditions": ["Failed"]}]
    run = trigger_run(make_pipeline("Handled", [bad, recover]))
    run.refresh_from_db()
    assert run.status == "Succeeded" and run.handled_errors
    badge = _badge(text(operator.get("/monitor/")), run)
    assert 'class="badge warn"' in badge and ">Succeeded with handled errors</span>" in badge


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


def test_pipeline_history_and_watermarks_pages(operator, seeded):
    trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    assert "<polyline" in text(operator.get("/monitor/pipelines/IncrementalSync/"))
    watermarks = text(operator.get("/monitor/watermarks/"))
    assert "data_source_table" in watermarks and "Check the lag" in watermarks
    assert "generation g0001" in watermarks and "/_manifest.json" in watermarks
    from syncjobs.models import Watermark

    lag = text(operator.get(f"/monitor/watermarks/?lag={Watermark.objects.get().pk}"))
    assert "0</strong> versions behind" in lag


def test_retention_purges_old_finished_runs(settings):
    settings.CTPORTAL_RUN_RETENTION_DAYS = 30
    old = make_run(status="Succeeded", triggered_at=timezone.now() - timedelta(days=31))
    recent = make_run(status="Succeeded")
    assert purge_old_runs() == 1
    assert not PipelineRun.objects.filter(pk=old.pk).exists() and PipelineRun.objects.filter(pk=recent.pk).exists()


def test_the_list_pages_with_first_last_and_a_page_size(viewer, seeded):
    pipeline = Pipeline.objects.get(name="IncrementalSync")
    for _ in range(60):
        make_run(pipeline)
    first = viewer.get("/monitor/?size=25").content.decode()
    assert first.count("<tr data-run-id=") == 25 and "Page 1 of 3 · 60 runs" in first
    assert 'href="?size=25&amp;page=3">Last</a>' in first and "First</a>" not in first
    last = viewer.get("/monitor/?size=25&page=3").content.decode()
    assert last.count("<tr data-run-id=") == 10 and 'href="?size=25&amp;page=1">First</a>' in last
    assert viewer.get("/monitor/?size=7").content.decode().count("<tr data-run-id=") == 50  # not a choice: 50


def test_a_row_is_one_compact_line_with_short_id_copy_and_a_menu(operator, seeded):
    run = make_run(Pipeline.objects.get(name="IncrementalSync"))
    row = _row(operator.get("/monitor/").content.decode(), run)
    short = str(run.run_id)[:8]
    assert f"<code>{short}</code></a>" in row and f'data-copy="{run.run_id}"' in row
    assert '<a href="/monitor/?pipeline=IncrementalSync&amp;range=all"' in row  # the pipeline's runs, not charts
    assert '<details class="menu"><summary aria-label="Actions for run ' in row and ">Cancel</button>" in row
    page = text(operator.get("/monitor/"))
    assert 'Run start</a> <span class="tz" data-tz-label>UTC</span>' in page and 'data-tz="local"' in page
    assert '<a class="button secondary" id="refresh" href="/monitor/">Refresh</a>' in page


def test_the_live_update_adds_new_runs_matching_the_filters(viewer, seeded):
    before = make_run(Pipeline.objects.get(name="IncrementalSync"))
    since = before.triggered_at.isoformat()
    newer = make_run(Pipeline.objects.get(name="IncrementalSync"))
    other = make_run(Pipeline.objects.get(name="FullCopyPipeline"))
    rows = viewer.get("/monitor/rows", {"since": since, "pipeline": "IncrementalSync"}).content.decode()
    assert f'data-run-id="{newer.run_id}"' in rows and str(other.run_id) not in rows and str(before.run_id) not in rows
    both = viewer.get("/monitor/rows", {"since": since}).content.decode()
    assert both.index(str(other.run_id)) < both.index(str(newer.run_id))  # newest first
    bad = viewer.get("/monitor/rows", {"since": "yesterday"})
    assert bad.status_code == 400 and bad.content.decode().startswith("since must be an ISO 8601")


def test_a_rerun_group_expands_to_its_earlier_attempts(viewer, seeded):
    first = trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    second = rerun(first)
    third = rerun(second)
    rows = viewer.get("/monitor/rows", {"group": str(first.run_group_id)}).content.decode()
    assert rows.index(str(second.run_id)) < rows.index(str(first.run_id)) and str(third.run_id) not in rows
    assert rows.count('class="in-group"') == 2 and 'class="reruns"' not in rows
    assert viewer.get("/monitor/rows", {"group": "nope"}).status_code == 400


def test_a_long_error_wraps_inside_its_box_on_the_run_page(viewer, seeded):
    run = make_run(Pipeline.objects.get(name="FullCopyPipeline"), status="Failed", message="x" * 10_000)
    page = text(viewer.get(f"/monitor/runs/{run.run_id}/"))
    assert '<pre class="error message" role="alert">' + "x" * 10_000 + "</pre>" in page
