"""The real worker: `manage.py qcluster` processes on the ORM broker and on Redis, and a killed worker."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import redis

from tests.fixtures.portal import Portal


def test_trigger_wait_on_the_orm_broker(portal):
    portal.start_worker()
    done = portal.manage("trigger", "FullCopyPipeline", "--wait", "--timeout", "60")
    run_id, status = done.stdout.split()
    assert status == "Succeeded"
    written = portal.files / "tutorial" / "output" / "adftutorial" / "incchgtracking" / f"Incremental-{run_id}.csv"
    assert written.read_bytes().startswith(b'1,"aaaa",21\r\n')


def test_trigger_wait_on_redis(tmp_path):
    url = "redis://127.0.0.1:6379/15"
    redis.Redis.from_url(url).ping()  # fails, never skips, when Redis is not there
    installed = Portal(tmp_path, redis_url=url)
    installed.manage("migrate", "--noinput")
    installed.manage("seed_tutorial")
    installed.start_worker()
    try:
        done = installed.manage("trigger", "IncrementalSync", "--wait", "--timeout", "60")
        assert done.stdout.split()[1] == "Succeeded"
    finally:
        installed.kill_worker()


def test_a_failed_run_exits_non_zero(portal):
    portal.start_worker()
    done = portal.manage("trigger", "FullCopyPipeline", "--param", "nope=1", check=False)
    assert done.returncode == 1 and "unknown parameter(s): nope" in done.stderr


def test_a_killed_worker_never_leaves_a_run_in_progress(portal):
    portal.manage(
        "import_factory",
        str(write_wait_pipeline(portal.folder)),
    )
    portal.start_worker()
    run_id = portal.manage("trigger", "LongWait").stdout.strip()
    deadline = time.monotonic() + 30
    while portal.status(run_id) != "InProgress":
        assert time.monotonic() < deadline, "the worker never picked the run up"
        time.sleep(0.2)
    portal.kill_worker()
    assert portal.status(run_id) == "InProgress"
    assert portal.manage("recover_runs").stdout.strip() == "1 run(s) recovered"
    assert portal.status(run_id) == "Failed"
    message = portal.query("SELECT message FROM syncjobs_pipelinerun WHERE run_id = ?", run_id.replace("-", ""))[0][0]
    assert "worker stopped" in message


def write_wait_pipeline(folder: Path) -> Path:
    import json

    target = folder / "factory" / "pipeline"
    target.mkdir(parents=True)
    wait = {"name": "Pause", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 120}}
    (target / "LongWait.json").write_text(json.dumps({"name": "LongWait", "properties": {"activities": [wait]}}))
    return folder / "factory"


def test_a_queued_run_whose_task_a_dead_worker_popped_from_redis_still_runs(tmp_path):
    url = "redis://127.0.0.1:6379/13"
    broker = redis.Redis.from_url(url)
    broker.ping()
    installed = Portal(tmp_path, redis_url=url)
    installed.env["CTPORTAL_QUEUED_RUN_SECONDS"] = "0"
    installed.manage("migrate", "--noinput")
    installed.manage("seed_tutorial")
    before = set(broker.lrange("django_q:ctportal:q", 0, -1))
    run_id = installed.manage("trigger", "IncrementalSync").stdout.strip()  # no worker yet: the task waits
    ours = [p for p in broker.lrange("django_q:ctportal:q", 0, -1) if p not in before]
    assert len(ours) == 1
    broker.lrem("django_q:ctportal:q", 1, ours[0])  # a worker popped it, then died before starting it
    assert installed.manage("recover_runs").stdout.strip() == "1 run(s) recovered"
    installed.start_worker()
    try:
        wait_for_status(installed, run_id, "Succeeded")
        # handed over again at least once (with no grace period, perhaps twice: a second delivery is a no-op)
        assert installed.query("SELECT requeues FROM syncjobs_pipelinerun")[0][0] >= 1
        assert installed.query("SELECT count(*) FROM syncjobs_activityrun WHERE parent_id IS NULL")[0][0] == 1
    finally:
        installed.kill_worker()


def test_a_queued_run_whose_task_a_dead_worker_took_from_the_orm_broker_still_runs(portal):
    portal.env["CTPORTAL_QUEUED_RUN_SECONDS"] = "0"
    run_id = portal.manage("trigger", "IncrementalSync").stdout.strip()
    with sqlite3.connect(portal.folder / "portal.sqlite3") as conn:  # taken by a cluster, locked for hours
        assert conn.execute("UPDATE django_q_ormq SET lock = '2999-01-01 00:00:00'").rowcount == 1
    assert portal.manage("recover_runs").stdout.strip() == "1 run(s) recovered"
    portal.start_worker()
    wait_for_status(portal, run_id, "Succeeded")


def wait_for_status(portal: Portal, run_id: str, status: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while portal.status(run_id) != status:
        assert time.monotonic() < deadline, f"run {run_id} is {portal.status(run_id)}, not {status}"
        time.sleep(0.2)
