"""The embedded SQLite database under load: API writes while a real worker runs a busy pipeline."""

from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.fixtures.portal import Portal

WRITES, THREADS = 300, 4
# Thousands of short parallel activities: the worker writes activity runs as fast as it can.
BUSY = {
    "name": "Busy",
    "properties": {
        "activities": [
            {
                "name": "Each",
                "type": "ForEach",
                "typeProperties": {
                    "items": {"value": "@range(0, 20000)", "type": "Expression"},
                    "isSequential": False,
                    "batchCount": 4,
                    "activities": [{"name": "Tick", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 0}}],
                },
            }
        ]
    },
}


def _factory(folder: Path) -> Path:
    target = folder / "factory" / "pipeline"
    target.mkdir(parents=True)
    (target / "Busy.json").write_text(json.dumps(BUSY))
    return folder / "factory"


def _put(portal: Portal, token: str, number: int) -> tuple[int, str]:
    port = int(portal.url.rsplit(":", 1)[1])
    wait = {"name": "Pause", "type": "Wait", "typeProperties": {"waitTimeInSeconds": number % 7 + 1}}
    body = json.dumps({"name": f"Edited{number % 25}", "properties": {"activities": [wait]}})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request("PUT", f"/api/pipelines/Edited{number % 25}", body=body, headers=headers)
    response = connection.getresponse()
    answer = (response.status, response.read().decode(errors="replace")[:300])
    connection.close()
    return answer


def _activity_runs(portal: Portal) -> int:
    return portal.query("SELECT COUNT(*) FROM syncjobs_activityrun")[0][0]


def _wait_for(portal: Portal, run_id: str, status: str) -> None:
    deadline = time.monotonic() + 60
    while portal.status(run_id) != status:
        assert time.monotonic() < deadline, f"the run never became {status}"
        time.sleep(0.1)


def test_api_writes_never_meet_a_locked_database_while_a_run_is_active(tmp_path):
    portal = Portal(tmp_path)
    portal.env["DJANGO_SUPERUSER_PASSWORD"] = "load-test-pw-1"
    portal.manage("migrate", "--noinput")
    portal.manage("createsuperuser", "--noinput", "--username", "ann", "--email", "ann@example.com")
    portal.manage("import_factory", str(_factory(tmp_path)))
    token = portal.manage("create_api_token", "ann").stdout.strip()
    portal.start_web()
    portal.start_worker()
    try:
        run_id = portal.manage("trigger", "Busy").stdout.strip()
        _wait_for(portal, run_id, "InProgress")
        before = _activity_runs(portal)
        with ThreadPoolExecutor(THREADS) as pool:
            answers = list(pool.map(lambda n: _put(portal, token, n), range(WRITES)))
        assert portal.status(run_id) == "InProgress"
        written_meanwhile = _activity_runs(portal) - before
    finally:
        portal.stop()
    failures = [answer for answer in answers if answer[0] != 200]
    assert failures == [], f"{len(failures)} of {WRITES} writes failed, e.g. {failures[:3]}"
    assert written_meanwhile >= 10, written_meanwhile  # the worker was writing all along
    for log in ("runserver.log", "qcluster.log"):
        assert "database is locked" not in (tmp_path / log).read_text(), log  # the worker's writes too
