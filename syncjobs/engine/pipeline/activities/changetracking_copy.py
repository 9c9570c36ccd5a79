"""ChangeTrackingCopy (ours): the engine's change-tracking copy as change windows, the watermark kept by the host.

``inputs``: the source table dataset; ``typeProperties.tables`` (``[{"schema", "table"}]``) copies
several tables of its linked service instead. ``outputs``: the sink file dataset: each table's windows
go under its container/folder (``engine/windows.py`` has the layout; the dataset's file name is not
used). Optional: ``sink.formatSettings.maxRowsPerFile`` (ADF's place; also accepted at the top level),
``parallelCopies`` (connections a full window's parts are read over), ``changeColumns``, ``batchRows``.
The source needs read access only: nothing is written to it.
"""

from __future__ import annotations

from typing import Any

from syncjobs.engine import bindings
from syncjobs.engine.changetracking import CopyOptions, copy_table
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.formats import Format
from syncjobs.engine.pipeline.activities.copy import copy_output
from syncjobs.engine.pipeline.activities.sources import dataset_source_name, opened_source
from syncjobs.engine.pipeline.host import RunHost, WatermarkKey
from syncjobs.engine.pipeline.step import Step
from syncjobs.engine.streaming import DEFAULT_BATCH_ROWS
from syncjobs.engine.types import SYS_CHANGE_OPERATION, SYS_CHANGE_VERSION, TableName
from syncjobs.engine.windows import DEFAULT_MAX_ROWS_PER_FILE, PendingWindow


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


def run_change_tracking_copy(step: Step) -> dict[str, Any]:
    """Copy each table's changes since its watermark as a change window; output per table and totals."""
    tp = step.type_properties(frozenset({"fileName"}))  # ChangeTrackingCopy names its own files
    source_dataset = step.dataset(_first(step.activity.get("inputs")), "input")
    sink_dataset = step.dataset(_first(step.activity.get("outputs")), "output")
    source_name = dataset_source_name(source_dataset)
    sink_settings = tp.get("sink") or {}
    fmt = bindings.format_for(sink_dataset, sink_settings.get("formatSettings"))
    sink = bindings.sink_for(step.state.linked_service_of(sink_dataset)[1])
    root = bindings.folder_for(sink_dataset)
    outputs = []
    try:
        with opened_source(step, source_name) as source:
            for table in _tables(tp, source_dataset, step.state.info.table_filter):
                step.check()
                key = WatermarkKey(source_name, table, f"{sink_dataset.get('name', '')}:{root}")
                outputs.append(_copy_one(step, _options(step, tp), source, sink, fmt, root, key))
    finally:
        sink.close()
    return {
        "tables": outputs,
        "rowsRead": sum(o["rowsRead"] for o in outputs),
        "rowsCopied": sum(o["rowsCopied"] for o in outputs),
        "dataWritten": sum(o["dataWritten"] for o in outputs),
        "filesWritten": sum(o["filesWritten"] for o in outputs),
    }


def _copy_one(
    step: Step, options: CopyOptions, source: Any, sink: Any, fmt: Format, root: str, key: WatermarkKey
) -> dict[str, Any]:
    host = step.state.host
    state = host.claim_watermark(key)
    try:
        result = copy_table(
            source,
            key.table,
            sink,
            fmt,
            root,
            state,
            journal=HostJournal(host, key),
            options=options,
            should_stop=step.should_stop,
        )
        host.advance_watermark(key, state, result, step.activity_run_id)
    finally:
        host.release_watermark(key)
    return {"table": str(key.table), **copy_output(result.as_output(), result.seconds)}


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
