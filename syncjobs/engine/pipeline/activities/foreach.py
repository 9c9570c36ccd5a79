"""ForEach: the body once per item, one after another or up to ``batchCount`` at a time.

Parallel iterations run in threads, but every call to the run's host (recording activity runs,
watermarks, cancel checks) is carried out on the runner's own thread: the portal's host uses the
database connection of the thread that runs the pipeline.
"""

from __future__ import annotations

import json
import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.expressions import evaluate
from syncjobs.engine.pipeline.step import Step, StoppedError

MAX_BATCH = 50  # ADF's limit
DEFAULT_BATCH = 20


def run_for_each(step: Step) -> dict[str, Any]:
    """Run the body per item; fails (after every iteration ran) when any iteration failed."""
    tp = step.activity.get("typeProperties") or {}
    items = evaluate(tp.get("items"), step.state.context())
    if not isinstance(items, list):
        raise TerminalError("expression_error", f"ForEach items must be an array, got {type(items).__name__}")
    body = tp.get("activities") or []
    batch = max(1, min(int(tp.get("batchCount") or DEFAULT_BATCH), MAX_BATCH))
    indices = _indices(step, len(items))
    chosen = [items[i] for i in indices]
    if tp.get("isSequential") is True or batch == 1 or len(chosen) <= 1:
        results = _one_by_one(step, body, chosen)
    else:
        results = _in_parallel(step, body, chosen, batch)
    if any(r.cancelled for r in results):
        step.stop_reason = "cancelled"
        raise StoppedError("cancelled", f"activity {step.name} was cancelled")
    failed = [indices[n] for n, r in enumerate(results) if not r.succeeded]
    if failed:
        raise TerminalError(
            "foreach_items_failed",
            f"{len(failed)} of {len(chosen)} iterations failed (items {failed})",
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


def _indices(step: Step, count: int) -> list[int]:
    """Every item, or on a rerun from the failed activity only the items that failed before."""
    retry = step.state.info.retry_items.get(step.name)
    return [i for i in retry if 0 <= i < count] if retry is not None else list(range(count))


def _one_by_one(step: Step, body: list[dict[str, Any]], items: list[Any]) -> list[Any]:
    results = []
    for item in items:
        step.check()
        results.append(step.run_activities(body, step.state.child(item)))
        if results[-1].cancelled:
            break
    return results


def _in_parallel(step: Step, body: list[dict[str, Any]], items: list[Any], batch: int) -> list[Any]:
    calls: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...], Future]] = queue.Queue()
    host = HostOnRunnerThread(step.state.host, calls)
    with ThreadPoolExecutor(max_workers=batch, thread_name_prefix=f"foreach-{step.name}") as pool:
        futures = [pool.submit(step.run_activities, body, step.state.child(item, host)) for item in items]
        while not all(f.done() for f in futures):
            try:
                function, args, answer = calls.get(timeout=0.05)
            except queue.Empty:
                continue
            try:
                answer.set_result(function(*args))
            except BaseException as exc:  # handed to the iteration that made the call
                answer.set_exception(exc)
        return [f.result() for f in futures]


class HostOnRunnerThread:
    """A RunHost for iteration threads: each call is queued and answered by the runner's thread."""

    def __init__(self, host: Any, calls: queue.Queue) -> None:
        self._host = host
        self._calls = calls

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._host, name)

        def call(*args: Any) -> Any:
            answer: Future = Future()
            self._calls.put((method, args, answer))
            return answer.result()

        return call
