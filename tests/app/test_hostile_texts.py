"""Run messages, activity errors and outputs hold text from sources and receivers: every page that shows
them (Home, Monitor list and its live rows, a run's page and its live part, Alerts) escapes it."""

from __future__ import annotations

import pytest

from syncjobs.models import ActivityRun
from syncjobs.services.alerts.evaluate import evaluate
from tests.factories import make_run

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'


def test_a_failed_runs_message_error_and_output_are_escaped_everywhere(viewer, admin):
    run = make_run(status="Failed", message=SCRIPT + IMG)
    ActivityRun.objects.create(
        pipeline_run=run,
        activity_name="Copy" + SCRIPT,
        activity_type="Copy",
        status="Failed",
        output={"files": [SCRIPT + ".csv"], "tables": [{"table": SCRIPT, "files": [IMG + ".csv"]}]},
        error={
            "errorCode": SCRIPT,
            "message": SCRIPT + IMG,
            "failureType": "UserError",
            "target": "Copy",
            "details": IMG,
        },
    )
    evaluate()
    pages = {
        "home": "/",
        "monitor": "/monitor/",
        "rows": f"/monitor/rows?ids={run.run_id}",
        "run": f"/monitor/runs/{run.run_id}/",
        "pipeline": f"/monitor/pipelines/{run.pipeline_name}/",
        "alerts": "/alerts/",
    }
    shown = set()
    for name, url in pages.items():
        for client in (viewer, admin):
            response = client.get(url)
            assert response.status_code == 200, (name, response.status_code)
            page = response.content.decode()
            assert "<script>alert" not in page and "<img src=x" not in page, name
            if "&lt;script&gt;alert(1)" in page:
                shown.add(name)
    assert {"run", "monitor", "rows"} <= shown, shown  # the texts are there, escaped
