"""Time of one alerts evaluator pass over a run history, on a scratch SQLite portal database.

Run as ``python bench/alerts_evaluate.py [RUNS] [PIPELINES]`` (defaults 20000, 200); prints JSON: the first
pass (every pipeline that ran in the look-back, 10% of runs failed, one in five pipelines failing now),
a quiet pass (nothing new) as the baseline, and a pass after one more run per pipeline, each in ms and
as a ratio to the baseline. The Tables service has read the history first (it reads 500 runs a call).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("CTPORTAL_DATA_DIR", tempfile.mkdtemp(prefix="ctportal-bench-alerts-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctportal.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from syncjobs.models import Incident, PipelineRun  # noqa: E402
from syncjobs.services import table_outcomes  # noqa: E402
from syncjobs.services.alerts.evaluate import evaluate  # noqa: E402


def runs(count: int, pipelines: int, start: int = 0) -> list[PipelineRun]:
    """``count`` finished runs spread over ``pipelines``; a pipeline's last run fails for one in five."""
    now = timezone.now()
    made = []
    for i in range(start, start + count):
        pipeline = i % pipelines
        ended = now - timedelta(seconds=(start + count - i) * 2)
        latest = i >= start + count - pipelines
        failed = (pipeline % 5 == 0) if latest else i % 10 == 0
        made.append(
            PipelineRun(
                run_id=uuid.uuid4(),
                pipeline_name=f"Pipeline{pipeline}",
                status="Failed" if failed else "Succeeded",
                run_start=ended - timedelta(seconds=4),
                run_end=ended,
                last_updated=ended,
                message="Operation on target Copy failed" if failed else "",
            )
        )
    return made


def timed() -> float:
    started = time.perf_counter()
    evaluate(wait_seconds=0)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    pipelines = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    call_command("migrate", verbosity=0)
    PipelineRun.objects.bulk_create(runs(total, pipelines), batch_size=2000)
    while table_outcomes.catch_up() >= table_outcomes.MAX_RUNS:  # the Tables page reads a history 500 runs a call
        pass
    first = timed()
    quiet = timed()
    PipelineRun.objects.bulk_create(runs(pipelines, pipelines, start=total), batch_size=2000)
    after_more = timed()
    print(
        json.dumps(
            {
                "runs": total,
                "pipelines": pipelines,
                "openIncidents": Incident.objects.open().count(),
                "firstPassMs": round(first, 1),
                "quietPassMs (baseline)": round(quiet, 1),
                "passAfterOneRunPerPipelineMs": round(after_more, 1),
                "firstPassRatio": round(first / quiet, 1),
                "passAfterMoreRatio": round(after_more / quiet, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
