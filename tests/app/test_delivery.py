"""Exactly-once delivery in the portal: windows kept with the watermark, fenced runs, the heartbeat thread,
queued runs never lost, and change-tracking retention on a schedule."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time

import pytest
from django.db import connection
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ, Schedule
from django_q.tasks import async_task

from syncjobs import tutorial
from syncjobs.engine import bindings
from syncjobs.engine.changetracking import copy_table
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.pipeline.activities.table_runs import HostJournal
from syncjobs.engine.pipeline.host import WatermarkKey
from syncjobs.engine.types import TableName
from syncjobs.engine.windows import PendingWindow
from syncjobs.models import ActivityRun, LinkedService, Pipeline, PipelineRun, RunStatus, Watermark
from syncjobs.services.run_host import DjangoRunHost, Heartbeat
from syncjobs.services.runs import recover_stalled_runs, task_name, trigger_run
from syncjobs.services.schedules import CLEANUP_CHANGE_TRACKING
from tests.factories import make_pipeline, make_run

pytestmark = pytest.mark.django_db
SINK_KEY = "SinkDataset:adftutorial/incchgtracking"


def sync_output(run: PipelineRun) -> dict:
    return ActivityRun.objects.get(pipeline_run=run, activity_name="SyncDataSourceTable").output["tables"][0]


def the_watermark() -> Watermark:
    return Watermark.objects.get(source_table=tutorial.TABLE, sink_key=SINK_KEY)


def test_the_portal_keeps_each_window_its_generation_and_its_manifest(inline, seeded):
    full = trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    tutorial.apply_tutorial_changes(seeded / "source.sqlite3")
    delta = trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    mark = the_watermark()
    assert (mark.generation, mark.pending, mark.claimed_by) == (1, None, None)
    windows = list(mark.windows.order_by("id"))
    assert [(w.mode, w.generation, w.from_version) for w in windows] == [
        ("full", 1, 0),
        ("delta", 1, windows[0].new_version),
    ]
    assert mark.chain_version == mark.version == windows[1].new_version
    manifest = json.loads((seeded / "output" / windows[1].manifest).read_bytes())
    assert manifest["runId"] == str(delta.run_id) and manifest["operations"] == {"I": 1, "U": 1, "D": 0}
    assert sync_output(full)["changeTracking"]["window"]["prefix"].startswith(
        "adftutorial/incchgtracking/data_source_table/g0001/"
    )


def start_copy(run: PipelineRun) -> tuple[DjangoRunHost, WatermarkKey]:
    """A run on a worker: in progress, with a host that claimed the tutorial's watermark."""
    assert run.mark_in_progress(worker=f"{socket.gethostname()}:{os.getpid()}")
    host = DjangoRunHost(run)
    return host, WatermarkKey(tutorial.SOURCE_LS, TableName(tutorial.TABLE), SINK_KEY)


def copy_without_advancing(host: DjangoRunHost, key: WatermarkKey, seeded) -> object:
    """What a worker killed between manifest and advance leaves: the window written, the watermark not moved."""
    state = host.claim_watermark(key)
    source = bindings.source_for(LinkedService.objects.get(name=tutorial.SOURCE_LS).revealed_definition())
    sink = bindings.sink_for(LinkedService.objects.get(name=tutorial.SINK_LS).revealed_definition())
    fmt = bindings.format_for({"properties": {"type": "DelimitedText", "typeProperties": {}}})
    root = "adftutorial/incchgtracking"
    return copy_table(source, key.table, sink, fmt, root, state, journal=HostJournal(host, key))


def test_a_worker_judged_dead_can_write_nothing_more(seeded, settings):
    settings.CTPORTAL_TASKS_INLINE = False  # runs stay queued: this test plays the worker
    settings.CTPORTAL_STALLED_RUN_SECONDS = 60
    zombie_run = trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    zombie, key = start_copy(zombie_run)
    activity = zombie.activity_started("SyncDataSourceTable", "ChangeTrackingCopy", {}, 0)
    state = zombie.claim_watermark(key)
    PipelineRun.objects.filter(pk=zombie_run.pk).update(heartbeat_at=zombie_run.heartbeat_at.replace(year=2000))
    assert recover_stalled_runs() == 1  # frozen past the stall limit: failed, its claim released
    rival, _ = start_copy(trigger_run(Pipeline.objects.get(name="IncrementalSync")))
    assert rival.claim_watermark(key).claim == state.claim + 1
    for attempt in (
        lambda: zombie.check_claim(key),
        lambda: zombie.record_window(key, PendingWindow(1, "full", "", "", 0, 1, "zombie/prefix", "", None)),
        lambda: zombie.activity_started("Next", "Wait", {}, 0),
        lambda: zombie.activity_finished(activity, "Succeeded", {}, {}),
        lambda: zombie.claim_watermark(key),
    ):
        with pytest.raises(TerminalError) as caught:
            attempt()
        assert caught.value.reason == "claim_lost"
    assert ActivityRun.objects.get(pk=activity).status == "Failed"  # recovery's verdict stands
    assert the_watermark().pending is None and zombie_run.heartbeat() == (False, False)


def test_a_window_finished_by_a_worker_that_died_before_advancing_is_advanced_by_the_next_run(inline, seeded):
    dead_run = trigger_run(make_pipeline("Placeholder"))  # any run: the one whose worker dies
    PipelineRun.objects.filter(pk=dead_run.pk).update(status=RunStatus.QUEUED)
    dead, key = start_copy(PipelineRun.objects.get(pk=dead_run.pk))
    written = copy_without_advancing(dead, key, seeded)
    PipelineRun.objects.filter(pk=dead_run.pk).update(worker=f"{socket.gethostname()}:999999999")
    assert recover_stalled_runs() == 1
    message = PipelineRun.objects.get(pk=dead_run.pk).message
    assert "left pending, finished by the next run: data_source_table full window 0-" in message
    files = sorted(p for p in (seeded / "output").rglob("*") if p.is_file())
    assert the_watermark().pending_summary.startswith("full window 0-")
    run = trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    run.refresh_from_db()
    window = sync_output(run)["changeTracking"]["window"]
    assert run.status == RunStatus.SUCCEEDED and window["fromManifest"] is True
    assert window["manifest"] == written.window.manifest and sync_output(run)["rowsCopied"] == 0
    assert sorted(p for p in (seeded / "output").rglob("*") if p.is_file()) == files  # nothing copied again
    assert the_watermark().version == written.watermark.version


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_comes_from_its_own_thread_while_the_runner_waits():
    run = make_run()
    run.mark_in_progress(worker="elsewhere:1")
    PipelineRun.objects.filter(pk=run.pk).update(heartbeat_at=run.heartbeat_at.replace(year=2000))
    with Heartbeat(run, interval=0.2) as beat:
        time.sleep(1.0)  # one long statement: the runner's thread says nothing
        assert beat.beats >= 3 and not beat.should_stop()
    assert PipelineRun.objects.get(pk=run.pk).heartbeat_at.year > 2000
    PipelineRun.objects.get(pk=run.pk).fail("judged dead")
    with Heartbeat(run, interval=0.1) as beat:
        time.sleep(0.5)
        assert beat.lost and beat.should_stop()  # the worker learns it must stop
    connection.close()


def waiting_tasks(name: str) -> list[OrmQ]:
    return [t for t in OrmQ.objects.all() if t.name() == name and t.lock <= timezone.now()]


def test_a_queued_run_whose_task_a_dead_worker_took_is_handed_over_again(settings, django_capture_on_commit_callbacks):
    settings.CTPORTAL_QUEUED_RUN_SECONDS = 0
    with django_capture_on_commit_callbacks(execute=True):
        run = trigger_run(make_pipeline())
    assert len(waiting_tasks(task_name(run))) == 1
    assert recover_stalled_runs() == 0  # still waiting its turn in the broker
    get_broker().dequeue()  # a cluster took the task, then died before starting it
    assert waiting_tasks(task_name(run)) == []
    with django_capture_on_commit_callbacks(execute=True):
        assert recover_stalled_runs() == 1
    assert len(waiting_tasks(task_name(run))) == 1
    assert PipelineRun.objects.get(pk=run.pk).requeues == 1


def test_a_queued_run_no_worker_starts_fails_with_a_reason_after_the_timeout(settings):
    settings.CTPORTAL_QUEUED_RUN_SECONDS = 0
    settings.CTPORTAL_QUEUED_RUN_TIMEOUT_SECONDS = 0
    run = trigger_run(make_pipeline())  # never handed over (its commit never came): lost
    assert recover_stalled_runs() == 1
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "no worker started this run within 0 s" in run.message


def shorten_retention(database) -> None:
    """Set the tutorial table's retention to one second (days are the least a command can set)."""
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE _ctportal_tables SET retention_seconds = 1")


def test_retention_runs_on_a_schedule_and_a_lagging_watermark_then_reinitializes(inline, seeded):
    schedule = Schedule.objects.get(name=CLEANUP_CHANGE_TRACKING)
    assert (schedule.func, schedule.minutes) == ("syncjobs.tasks.schedule_change_tracking_cleanups_task", 30)
    first = trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    first.refresh_from_db()
    assert first.status == RunStatus.SUCCEEDED
    source = bindings.source_for(LinkedService.objects.get(name=tutorial.SOURCE_LS).revealed_definition())

    def min_valid() -> int:
        with source.snapshot() as snapshot:
            return snapshot.min_valid_version(snapshot.describe(TableName(tutorial.TABLE)))

    before = min_valid()
    tutorial.apply_tutorial_changes(seeded / "source.sqlite3")
    shorten_retention(seeded / "source.sqlite3")
    time.sleep(1.2)
    async_task(schedule.func, sync=True)  # what the cluster does when the schedule is due
    assert min_valid() > before >= 0 and min_valid() > the_watermark().version
    lagging = trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    change = sync_output(lagging)["changeTracking"]
    assert change["mode"] == "reinitialized" and change["reasonCode"] == "min_version_expired"
    assert change["window"]["generation"] == 2


def test_retention_on_postgresql_honours_each_tables_own_retention(inline, pg_database):
    from tests.factories import make_linked_service
    from tests.fixtures.postgres import pg_connect

    with pg_connect(pg_database) as conn:
        for name in ("brief", "kept"):
            conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v text)")
    make_linked_service(
        "Pg", type="PostgreSqlV2", server=pg_database.host, port=pg_database.port, database=pg_database.database,
        username=pg_database.username, password={"type": "SecureString", "value": pg_database.password.reveal()},
    )  # fmt: skip
    source = bindings.source_for(LinkedService.objects.get(name="Pg").revealed_definition())
    for name in ("brief", "kept"):
        source.enable_change_tracking(TableName(name, "public"))
    with pg_connect(pg_database) as conn:
        conn.execute("INSERT INTO brief VALUES (1, 'a')")
        conn.execute("INSERT INTO kept VALUES (1, 'a')")
        conn.execute("UPDATE ctportal_ct.tables SET retention = interval '1 second' WHERE relid = 'brief'::regclass")

    def min_valid(name: str) -> int:
        with source.snapshot() as snapshot:
            return snapshot.min_valid_version(snapshot.describe(TableName(name, "public")))

    before = {name: min_valid(name) for name in ("brief", "kept")}
    time.sleep(1.2)
    async_task(Schedule.objects.get(name=CLEANUP_CHANGE_TRACKING).func, sync=True)
    assert min_valid("brief") > before["brief"]
    assert min_valid("kept") == before["kept"]
