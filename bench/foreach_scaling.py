"""ForEach cost against its size: the per-item time at 2,000 / 8,000 / 32,000 items should stay flat.

    .venv/bin/python bench/foreach_scaling.py [--sizes 2000,8000,32000] [--batch 20]

Runs a ForEach of Wait(0) through the real runner with an in-memory host (a dict per activity run, so
the host adds no cost of its own) in parallel (``--batch``) and one by one, and prints the per-item time
and its ratio against the smallest size measured in the same run. Linear work keeps the ratio near 1;
the runner before issue 11 polled every iteration's future on each host call, a ratio that grew with
the size (quadratic).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syncjobs.engine.pipeline.host import RunInfo  # noqa: E402
from syncjobs.engine.pipeline.runner import run_pipeline  # noqa: E402


class CountingHost:
    """The least a RunHost can do: activity runs in a dict, never cancelled."""

    def __init__(self) -> None:
        self.runs: dict[str, str] = {}

    def activity_started(self, name: str, activity_type: str, input: dict[str, Any], attempt: int) -> str:
        run_id = uuid.uuid4().hex
        self.runs[run_id] = "InProgress"
        return run_id

    def activity_finished(self, activity_run_id: str, status: str, output: dict, error: dict) -> None:
        self.runs[activity_run_id] = status

    def cancel_requested(self) -> bool:
        return False

    def linked_service(self, name: str) -> dict[str, Any]:
        raise KeyError(name)


def seconds_for(items: int, batch: int | None) -> float:
    typeprops: dict[str, Any] = {
        "items": {"value": f"@range(0, {items})", "type": "Expression"},
        "activities": [{"name": "Pause", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 0}}],
    }
    typeprops.update({"batchCount": batch} if batch else {"isSequential": True})
    snapshot = {
        "pipeline": {
            "name": "P",
            "properties": {"activities": [{"name": "Each", "type": "ForEach", "typeProperties": typeprops}]},
        }
    }
    host = CountingHost()
    info = RunInfo(run_id=str(uuid.uuid4()), pipeline_name="P", trigger_time=datetime.now(UTC))
    started = time.perf_counter()
    outcome = run_pipeline(snapshot, info, host)  # type: ignore[arg-type]
    took = time.perf_counter() - started
    assert outcome.status == "Succeeded" and len(host.runs) == items + 1, outcome
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,8000,32000")
    parser.add_argument("--batch", type=int, default=20)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'mode':<14}{'items':>8}{'seconds':>10}{'us/item':>10}{'ratio':>8}")
    for label, batch in ((f"parallel {args.batch}", args.batch), ("one by one", None)):
        base = None
        for size in sizes:
            took = seconds_for(size, batch)
            per_item = took / size * 1e6
            base = base or per_item
            print(f"{label:<14}{size:>8}{took:>10.2f}{per_item:>10.1f}{per_item / base:>8.2f}")


if __name__ == "__main__":
    main()
