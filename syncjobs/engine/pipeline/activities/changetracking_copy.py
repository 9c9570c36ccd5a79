"""ChangeTrackingCopy (ours): the engine's change-tracking copy as change windows, the watermark kept by the host.

``inputs``: the source table dataset; ``typeProperties.tables`` (``[{"schema", "table"}]``) copies
several tables of its linked service instead. ``outputs``: the sink file dataset: each table's windows
go under its container/folder (``engine/windows.py`` has the layout; the dataset's file name is not
used). Optional: ``sink.formatSettings.maxRowsPerFile`` (ADF's place; also accepted at the top level),
``parallelCopies`` (connections a full window's parts are read over), ``changeColumns``, ``batchRows``,
``batchCount`` (tables copied at once, as ForEach's; capped by the worker's limit).
The source needs read access only: nothing is written to it.
"""

from __future__ import annotations

import json
from typing import Any

from syncjobs.engine import bindings
from syncjobs.engine.changetracking import CopyOptions
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.pipeline.activities.sources import dataset_source_name
from syncjobs.engine.pipeline.activities.table_runs import (
    FAILED,
    SKIPPED,
    SUCCEEDED,
    Connections,
    TableCopy,
    copy_tables,
)
from syncjobs.engine.pipeline.step import Step, StoppedError
from syncjobs.engine.streaming import DEFAULT_BATCH_ROWS
from syncjobs.engine.types import SYS_CHANGE_OPERATION, SYS_CHANGE_VERSION, TableName
from syncjobs.engine.windows import DEFAULT_MAX_ROWS_PER_FILE

DEFAULT_BATCH = 20  # tables at once when batchCount is absent (as ForEach), capped by the worker's limit


def run_change_tracking_copy(step: Step) -> dict[str, Any]:
    """Copy each table's changes since its watermark as a change window; output per table and totals.

    Each table is its own activity run (``table_runs.py``), up to ``batchCount`` (capped by the worker's
    ``RunInfo.table_concurrency``) at once. The activity fails only when tables failed and none was
    copied; otherwise the failed ones are the run's ``failed_tables`` ("Succeeded with failed tables").
    """
    tp = step.type_properties(frozenset({"fileName"}))  # ChangeTrackingCopy names its own files
    source_dataset = step.dataset(_first(step.activity.get("inputs")), "input")
    sink_dataset = step.dataset(_first(step.activity.get("outputs")), "output")
    source_name = dataset_source_name(source_dataset)
    sink_settings = tp.get("sink") or {}
    root = bindings.folder_for(sink_dataset)
    tables = _tables(tp, source_dataset, step.state.info.table_filter)
    degree = min(_positive(tp.get("batchCount"), "batchCount") or DEFAULT_BATCH, step.state.info.table_concurrency)
    connections = Connections(step.state.linked_service(source_name), step.state.linked_service_of(sink_dataset)[1])
    job = TableCopy(
        step,
        source_name,
        f"{sink_dataset.get('name', '')}:{root}",
        bindings.format_for(sink_dataset, sink_settings.get("formatSettings")),
        root,
        _options(step, tp),
        connections,
    )
    try:
        outputs = copy_tables(job, tables, degree)
    finally:
        connections.close()
    return _summary(step, outputs, len(tables))


def _summary(step: Step, outputs: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """The activity's output; fails it when every table copied failed, stops it on cancel or timeout."""
    failed = {o["table"]: o["error"]["message"] for o in outputs if o["status"] == FAILED and not o.get("stopReason")}
    for output in outputs:
        if output["status"] == SUCCEEDED:
            step.state.failed_tables.pop(output["table"], None)
    step.state.failed_tables.update(failed)
    stopped = next((o["stopReason"] for o in outputs if o.get("stopReason")), "") or step.stop_reason
    if stopped or len(outputs) < count:
        step.stop_reason = stopped or "cancelled"
        raise StoppedError(step.stop_reason, f"activity {step.name} stopped: {step.stop_reason}")
    copied = [o for o in outputs if o["status"] == SUCCEEDED]
    if failed and not copied:
        named = "; ".join(f"{table}: {message}" for table, message in list(failed.items())[:20])
        raise TerminalError(
            "tables_failed",
            f"{len(failed)} of {count} tables failed: {named}",
            detail=json.dumps({"failedTables": list(failed)}),
        )
    return {
        "tables": outputs,
        "rowsRead": sum(o["rowsRead"] for o in copied),
        "rowsCopied": sum(o["rowsCopied"] for o in copied),
        "dataWritten": sum(o["dataWritten"] for o in copied),
        "filesWritten": sum(o["filesWritten"] for o in copied),
        "failedTables": list(failed),
        "skippedTables": [o["table"] for o in outputs if o["status"] == SKIPPED],
    }


def _options(step: Step, tp: dict[str, Any]) -> CopyOptions:
    settings = (tp.get("sink") or {}).get("formatSettings") or {}
    max_rows = _positive(settings.get("maxRowsPerFile", tp.get("maxRowsPerFile")), "maxRowsPerFile")
    return CopyOptions(
        batch_rows=_positive(tp.get("batchRows"), "batchRows") or DEFAULT_BATCH_ROWS,
        max_rows_per_file=max_rows or DEFAULT_MAX_ROWS_PER_FILE,
        parallel_copies=_positive(tp.get("parallelCopies"), "parallelCopies") or 1,
        change_columns=tuple(tp.get("changeColumns") or (SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION)),
        run_id=step.state.info.run_id,
    )


def _positive(value: Any, name: str) -> int | None:
    """A positive whole number from typeProperties, or None when absent."""
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or str(number) != str(value).strip():
        raise TerminalError("bad_activity", f"{name} must be a positive whole number, not {value!r}")
    return number


def _first(references: Any) -> dict[str, Any] | None:
    return references[0] if isinstance(references, list) and references else None


def _tables(tp: dict[str, Any], source_dataset: dict[str, Any], wanted: tuple[str, ...] | None) -> list[TableName]:
    """The tables this activity copies: ``tables`` (or the dataset's one), narrowed to the run's filter."""
    listed = tp.get("tables")
    if listed:
        tables = [TableName(str(t["table"]), str(t["schema"]) if t.get("schema") else None) for t in listed]
    else:
        tables = [bindings.table_name_for(source_dataset)]
    if wanted is None:
        return tables
    chosen = {name.lower() for name in wanted}
    return [t for t in tables if str(t).lower() in chosen]
