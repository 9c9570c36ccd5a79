"""ForEach: the body once per item, one after another or up to ``batchCount`` at a time.

Parallel iterations run in threads, but every call to the run's host (recording activity runs,
watermarks, cancel checks) is carried out on the runner's own thread (``threads.py``): the portal's
host uses the database connection of the thread that runs the pipeline.

Work is linear in the items: at most ``batchCount`` iterations exist at once (each started when one
ends), and the runner's thread wakes for one host call or one finished iteration at a time, never
scanning the others. Cancel and timeout are checked between iterations, so a 100,000-item loop stops
within a heartbeat of a cancel. ADF's limits hold: at most 100,000 items and a ``batchCount`` of 50.
"""

from __future__ import annotations

import json
from concurrent.futures import Future
from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.expressions import evaluate
from syncjobs.engine.limits import FOREACH_BATCH, FOREACH_ITEMS
from syncjobs.engine.pipeline.step import ActivitiesResult, Step, StoppedError
from syncjobs.engine.pipeline.threads import RunnerThreads

DEFAULT_BATCH = 20  # ADF's default parallelism
_SHOWN_FAILURES = 20


def run_for_each(step: Step) -> dict[str, Any]:
    """Run the body per item; fails (after every iteration ran) when any iteration failed."""
    tp = step.activity.get("typeProperties") or {}
    items = evaluate(tp.get("items"), step.state.context())
    if not isinstance(items, list):
        raise TerminalError("expression_error", f"ForEach items must be an array, got {type(items).__name__}")
    if len(items) > FOREACH_ITEMS:
        raise TerminalError(
            "foreach_too_many_items", f"ForEach {step.name} got {len(items):,} items; ADF's limit is {FOREACH_ITEMS:,}"
        )
    body = tp.get("activities") or []
    batch = batch_count(step.state.resolve(tp.get("batchCount")), step.name)
    indices = _indices(step, len(items))
    chosen = [items[i] for i in indices]
    if tp.get("isSequential") is True or batch == 1 or len(chosen) <= 1:
        results = _one_by_one(step, body, chosen)
    else:
        results = _in_parallel(step, body, chosen, batch)
    if step.stop_reason or any(r.cancelled for r in results):
        step.stop_reason = step.stop_reason or "cancelled"
        raise StoppedError(step.stop_reason, f"activity {step.name} stopped: {step.stop_reason}")
    failed = [indices[n] for n, r in enumerate(results) if not r.succeeded]
    if failed:
        shown = ", ".join(str(i) for i in failed[:_SHOWN_FAILURES]) + (", ..." if len(failed) > _SHOWN_FAILURES else "")
        raise TerminalError(
            "foreach_items_failed",
            f"{len(failed)} of {len(chosen)} iterations failed (items [{shown}])",
            detail=json.dumps({"failedItems": failed, "itemsCount": len(items)}),
        )
    output: dict[str, Any] = {
        "itemsCount": len(items),
        "failedItems": [],
        "batchCount": 1 if len(chosen) <= 1 else batch,
    }
    if len(indices) < len(items):
        output["retriedItems"] = indices
    return output


def batch_count(value: Any, name: str) -> int:
    """``batchCount`` as ADF allows it: absent (20), or an integer from 1 to 50; else a clear refusal."""
    if value in (None, ""):
        return DEFAULT_BATCH
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or not 1 <= int(text[:4]) <= FOREACH_BATCH:
        wanted = f"an integer from 1 to {FOREACH_BATCH}"
        raise TerminalError("bad_activity", f"ForEach {name}: batchCount must be {wanted} (got {text[:20]!r})")
    return int(text)


def _indices(step: Step, count: int) -> list[int]:
    """Every item, or on a rerun from the failed activity only the items that failed before."""
    retry = step.state.info.retry_items.get(step.name)
    return [i for i in retry if 0 <= i < count] if retry is not None else list(range(count))


def _one_by_one(step: Step, body: list[dict[str, Any]], items: list[Any]) -> list[Any]:
    results = []
    for item in items:
        if step.should_stop():
            break
        results.append(step.run_activities(body, step.state.child(item)))
        if results[-1].cancelled:
            break
    return results


def _in_parallel(step: Step, body: list[dict[str, Any]], items: list[Any], batch: int) -> list[Any]:
    """Up to ``batch`` iterations at a time; the runner's thread serves host calls and starts the next item."""
    finished: dict[int, Future[ActivitiesResult]] = {}
    started = 0
    with RunnerThreads[int](step.state.host, batch, f"foreach-{step.name}") as threads:

        def start(index: int) -> None:
            threads.start(index, step.run_activities, body, step.state.child(items[index], threads.host))

        while started < min(batch, len(items)):
            start(started)
            started += 1
        while threads.running:
            index, done = threads.next_finished()
            finished[index] = done
            ended_well = done.exception() is None and not done.result().cancelled
            if started < len(items) and ended_well and not step.should_stop():
                start(started)
                started += 1
    # Every iteration has ended: an error raised inside one surfaces now, not while others still wait.
    return [finished[i].result() for i in range(started)]
