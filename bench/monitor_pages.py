"""Server time of the monitor pages with a long history, on a scratch PostgreSQL portal database.

Run as ``python bench/monitor_pages.py RUNS ACTIVITIES_PER_RUN`` with CTPORTAL_DATABASE_URL set; prints JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctportal.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

RUNS_SQL = """
INSERT INTO syncjobs_pipelinerun (run_id, pipeline_name, run_group_id, is_latest, status, invoked_by_type,
  invoked_by_name, invoked_by_id, parameters, definition, triggered_at, run_start, run_end, duration_ms, message,
  last_updated, cancel_requested, worker, start_from_failure, secret_parameters, handled_errors, requeues,
  failed_tables)
SELECT md5(i::text)::uuid, 'Pipeline' || (i %% 20), md5(i::text)::uuid, true,
  CASE WHEN i %% 10 = 0 THEN 'Failed' ELSE 'Succeeded' END, 'Manual', 'Manual', '', '{}', '{}',
  now() - i * interval '10 seconds', now() - i * interval '10 seconds',
  now() - i * interval '10 seconds' + interval '4 seconds',
  4000, CASE WHEN i %% 10 = 0 THEN 'Operation on target Copy failed' ELSE '' END,
  now() - i * interval '10 seconds', false, '', false, '', false, 0, '[]'
FROM generate_series(1, %(runs)s) AS i
"""
ACTIVITIES_SQL = """
INSERT INTO syncjobs_activityrun (activity_run_id, pipeline_run_id, activity_name, activity_type, status, run_start,
  run_end, duration_ms, input, output, error, rows_read, rows_written, bytes_written, retry_attempt, "table")
SELECT md5('a' || j::text)::uuid, md5((1 + (j - 1) / %(per)s)::text)::uuid, 'Activity' || (j %% %(per)s),
  CASE WHEN j %% %(per)s = 0 THEN 'Copy' ELSE 'Lookup' END, 'Succeeded', now() - (j / %(per)s) * interval '10 seconds',
  now() - (j / %(per)s) * interval '10 seconds' + interval '1 second', 1000, '{}',
  '{"rowsRead": 1000, "rowsCopied": 1000, "dataWritten": 65000}', '{}', 1000, 1000, 65000, 0, ''
FROM generate_series(1, %(runs)s * %(per)s) AS j
"""


def timed(client: Client, url: str, repeat: int = 5) -> float:
    """Median server time of ``url`` in milliseconds, after one warm-up request."""
    assert client.get(url).status_code == 200
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(times)


def main(runs: int, per_run: int) -> None:
    call_command("migrate", "--noinput", verbosity=0)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(RUNS_SQL, {"runs": runs})
        cursor.execute(ACTIVITIES_SQL, {"runs": runs, "per": per_run})
        cursor.execute("ANALYZE")
    loaded = time.perf_counter() - started
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.create_superuser("bench", "", "x"))
    run_id = "c4ca4238-a0b9-2382-0dcc-509a6f75849b"  # md5('1'): the newest run
    result = {
        "loaded_seconds": loaded,
        "list_default_ms": timed(client, "/monitor/"),
        "list_all_ms": timed(client, "/monitor/?range=all&sort=-duration&page=100"),
        "list_filtered_ms": timed(client, "/monitor/?range=30d&status=Failed&pipeline=Pipeline0"),
        "run_page_ms": timed(client, f"/monitor/runs/{run_id}/"),
        "list_100_ms": timed(client, "/monitor/?range=all&size=100"),
        "new_runs_ms": timed(
            client, "/monitor/rows?since=" + quote((timezone.now() - timedelta(minutes=5)).isoformat())
        ),
        "group_rows_ms": timed(client, f"/monitor/rows?group={run_id}"),
        "home_ms": timed(client, "/"),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
