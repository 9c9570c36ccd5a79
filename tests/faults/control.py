"""The fault suite's hand on a portal: one Django process that answers JSON commands on stdin, one per line.

Starting ``manage.py`` for each step would cost a second of Django start-up every time; this process
starts once and calls the same services the commands do (trigger, recover_runs, verify_sync...).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctportal.settings")

import django  # noqa: E402

django.setup()

from django.db import connections  # noqa: E402

from syncjobs.models import ActivityRun, LinkedService, Pipeline, PipelineRun, Watermark  # noqa: E402
from syncjobs.models.pipeline_runs import FINISHED  # noqa: E402
from syncjobs.services import change_tracking, runs, verification  # noqa: E402


def trigger(pipeline: str) -> dict[str, Any]:
    run = runs.trigger_run(Pipeline.objects.get(name=pipeline), invoked_by_name="fault suite")
    return {"run_id": str(run.run_id)}


def status(run_id: str) -> dict[str, Any]:
    run = PipelineRun.objects.get(pk=run_id)
    return {"status": run.status, "message": run.message}


def statuses() -> dict[str, Any]:
    return {"runs": {str(r.pk): r.status for r in PipelineRun.objects.all()}}


def outputs(run_id: str) -> dict[str, Any]:
    found = ActivityRun.objects.filter(pipeline_run_id=run_id, activity_type="ChangeTrackingCopy", parent=None)
    return {"outputs": [{"status": a.status, "output": a.output, "error": a.error} for a in found]}


def recover() -> dict[str, Any]:
    return {"recovered": runs.recover_stalled_runs()}


def verify(linked_service: str, table: str, dataset: str) -> dict[str, Any]:
    return verification.verify_sync(linked_service, table, dataset).as_dict()


def unfinished() -> dict[str, Any]:
    return {"unfinished": PipelineRun.objects.exclude(status__in=FINISHED).count()}


def watermark() -> dict[str, Any]:
    mark = Watermark.objects.first()
    if mark is None:
        return {"version": None, "pending": None, "generation": 0, "claimed": False}
    return {
        "version": mark.version,
        "pending": mark.pending,
        "generation": mark.generation,
        "claimed": mark.claimed_by_id is not None,
    }


def cleanup(linked_service: str) -> dict[str, Any]:
    return {"purged": change_tracking.cleanup(LinkedService.objects.get(name=linked_service).pk)}


COMMANDS = {
    "trigger": trigger,
    "status": status,
    "statuses": statuses,
    "outputs": outputs,
    "recover": recover,
    "verify": verify,
    "unfinished": unfinished,
    "watermark": watermark,
    "cleanup": cleanup,
}


def main() -> None:
    print(json.dumps({"ready": True}), flush=True)  # noqa: T201
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = COMMANDS[request.pop("op")](**request)
        except Exception as exc:  # the suite reads the error and fails the test with it
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            connections.close_all()  # hold no lock on the portal's database between commands
        print(json.dumps(answer, default=str), flush=True)  # noqa: T201


if __name__ == "__main__":
    main()
