"""The real worker: `manage.py qcluster` processes on the ORM broker and on Redis, and a killed worker."""

from __future__ import annotations

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
