"""The tables of a ChangeTrackingCopy: each its own activity run, copied in parallel, failing alone.

Each table is one window at a time: its watermark's claim is held by one run at once, and a table
whose watermark another run holds (``watermark_busy``) or which is paused (``table_paused``) is
skipped for this run, shown as such, not failed. A table that fails records its error on its own
activity run; the others go on. Up to ``degree`` tables copy at once, in worker threads whose host
calls the activity's thread carries out (``threads.py``); each worker thread opens its own source
and sink.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

from syncjobs.engine import bindings
from syncjobs.engine.changetracking import CopyOptions, copy_table
from syncjobs.engine.errors import EngineError, TerminalError
from syncjobs.engine.formats import Format
from syncjobs.engine.pipeline.activities.copy import copy_output
from syncjobs.engine.pipeline.host import RunHost, WatermarkKey
from syncjobs.engine.pipeline.step import Step
from syncjobs.engine.pipeline.threads import RunnerThreads
from syncjobs.engine.sinks import Sink
from syncjobs.engine.sources import Source
from syncjobs.engine.types import TableName
from syncjobs.engine.windows import PendingWindow

SUCCEEDED, FAILED, SKIPPED, CANCELLED = "Succeeded", "Failed", "Skipped", "Cancelled"
SKIP_REASONS = {
    "watermark_busy": "skipped: previous window still running",
    "table_paused": "skipped: paused",
}


class HostJournal:
    """The engine's ``WindowJournal`` over the run host, for one watermark."""

    def __init__(self, host: RunHost, key: WatermarkKey) -> None:
        self._host, self._key = host, key

    def record(self, window: PendingWindow) -> None:
        """Store the window in the portal (fenced by the claim)."""
        self._host.record_window(self._key, window)

    def check_claim(self) -> None:
        """The fence, checked right before the manifest is created."""
        self._host.check_claim(self._key)


@dataclass
class Connections:
    """One source and one sink per worker thread, made on first use and closed together at the end."""

    source_service: dict[str, Any]
    sink_service: dict[str, Any]
    _local: threading.local = field(default_factory=threading.local)
    _made: list[Source | Sink] = field(default_factory=list)

    def source(self) -> Source:
        """This thread's source."""
        if getattr(self._local, "source", None) is None:
            made = bindings.source_for(self.source_service)
            if hasattr(made, "keep_connection"):  # one connection per worker thread, table after table
                made.keep_connection = True
            self._local.source = made
            self._made.append(made)
        found: Source = self._local.source
        return found

    def sink(self) -> Sink:
        """This thread's sink."""
        if getattr(self._local, "sink", None) is None:
            self._local.sink = bindings.sink_for(self.sink_service)
            self._made.append(self._local.sink)
        found: Sink = self._local.sink
        return found

    def close(self) -> None:
        """Close every source and sink made."""
        for made in self._made:
            made.close()


@dataclass
class TableCopy:
    """What every table of one ChangeTrackingCopy activity run shares."""

    step: Step
    source_name: str
    sink_key: str
    fmt: Format
    root: str
    options: CopyOptions
    connections: Connections


def copy_tables(job: TableCopy, tables: list[TableName], degree: int) -> list[dict[str, Any]]:
    """Copy each table (up to ``degree`` at once); each table's output with its ``status``, in table order."""
    step = job.step
    if degree <= 1 or len(tables) <= 1:
        outputs = []
        for table in tables:
            if step.should_stop():
                break
            outputs.append(copy_one(job, step.state.host, table))
        return outputs
    done_outputs: dict[int, dict[str, Any]] = {}
    started = 0
    with RunnerThreads[int](step.state.host, degree, f"tables-{step.name}") as threads:
        while started < len(tables) or threads.running:
            while started < len(tables) and not threads.full and not step.should_stop():
                threads.start(started, copy_one, job, threads.host, tables[started])
                started += 1
            if not threads.running:
                break
            index, done = threads.next_finished()
            done_outputs[index] = done.result()  # a host error (the run was taken) ends the activity
    return [done_outputs[i] for i in sorted(done_outputs)]


def copy_one(job: TableCopy, host: RunHost, table: TableName) -> dict[str, Any]:
    """One table as its own activity run: skipped (busy, paused), copied one window, or failed alone."""
    step, name = job.step, str(table)
    run_id = host.table_started(step.activity_run_id, step.name, name, {"table": name})
    own = Step(step.activity, replace(step.state, host=host), run_id, step.deadline, step.run_activities)
    key = WatermarkKey(job.source_name, table, job.sink_key)
    try:
        state = host.claim_watermark(key)
    except TerminalError as exc:
        if exc.reason in SKIP_REASONS:
            output = {"table": name, "status": SKIPPED, "message": SKIP_REASONS[exc.reason], "reason": exc.message}
            host.activity_finished(run_id, SKIPPED, output, {})
            return output
        return _failed(own, host, name, exc)
    try:
        result = copy_table(
            job.connections.source(),
            table,
            job.connections.sink(),
            job.fmt,
            job.root,
            state,
            journal=HostJournal(host, key),
            options=job.options,
            should_stop=own.should_stop,
        )
        host.advance_watermark(key, state, result, run_id)
    except Exception as exc:  # this table's failure; the others go on
        return _failed(own, host, name, exc)
    finally:
        host.release_watermark(key)
    output = {"table": name, "status": SUCCEEDED, **copy_output(result.as_output(), result.seconds)}
    host.activity_finished(run_id, SUCCEEDED, output, {})
    return output


def _failed(own: Step, host: RunHost, name: str, exc: Exception) -> dict[str, Any]:
    """Record the table's failure (or its stop on cancel or timeout) on its own activity run."""
    if own.stop_reason:
        status = CANCELLED if own.stop_reason == "cancelled" else FAILED
        code, message, failure, details = own.stop_reason, f"{name} stopped: {own.stop_reason}", "UserError", ""
    elif isinstance(exc, EngineError):
        status, code, message, failure, details = FAILED, exc.reason, exc.message, "UserError", exc.detail or ""
    else:
        status, code, message, failure = FAILED, "InternalError", f"{type(exc).__name__}: {exc}", "SystemError"
        details = ""
    error = {"errorCode": code, "message": message, "failureType": failure, "target": name, "details": details}
    host.activity_finished(own.activity_run_id, status, {"table": name}, error)
    return {"table": name, "status": status, "stopReason": own.stop_reason, "error": error}
