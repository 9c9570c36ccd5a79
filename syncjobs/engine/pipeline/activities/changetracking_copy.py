"""ChangeTrackingCopy (ours): the engine's change-tracking copy, the watermark kept by the host.

``inputs``: the source table dataset; ``typeProperties.tables`` (``[{"schema", "table"}]``) copies
several tables of its linked service instead. ``outputs``: the sink file dataset. Optional
``fileName`` (an expression; ``item()`` is ``{"schema", "table"}``), ``changeColumns``, ``batchRows``.
The source needs read access only: nothing is written to it.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from syncjobs.engine import bindings
from syncjobs.engine.changetracking import DEFAULT_BATCH_ROWS, copy_table
from syncjobs.engine.expressions import evaluate
from syncjobs.engine.formats import Format
from syncjobs.engine.pipeline.activities.copy import copy_output
from syncjobs.engine.pipeline.activities.sources import dataset_source_name, opened_source
from syncjobs.engine.pipeline.host import WatermarkKey
from syncjobs.engine.pipeline.step import Step
from syncjobs.engine.types import SYS_CHANGE_OPERATION, SYS_CHANGE_VERSION, TableName


def run_change_tracking_copy(step: Step) -> dict[str, Any]:
    """Copy each table's changes since its watermark; output per table and totals."""
    tp = step.type_properties(frozenset({"fileName"}))
    source_dataset = step.dataset(_first(step.activity.get("inputs")), "input")
    sink_dataset = step.dataset(_first(step.activity.get("outputs")), "output")
    source_name = dataset_source_name(source_dataset)
    fmt = bindings.format_for(sink_dataset, (tp.get("sink") or {}).get("formatSettings"))
    sink = bindings.sink_for(step.state.linked_service_of(sink_dataset)[1])
    tables = _tables(tp, source_dataset)
    outputs = []
    try:
        with opened_source(step, source_name) as source:
            for table in tables:
                step.check()
                key = WatermarkKey(
                    source_name, table, f"{sink_dataset.get('name', '')}:{bindings.folder_for(sink_dataset)}"
                )
                outputs.append(_copy_one(step, tp, source, sink, fmt, sink_dataset, key))
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
    step: Step, tp: dict[str, Any], source: Any, sink: Any, fmt: Format, sink_dataset: dict[str, Any], key: WatermarkKey
) -> dict[str, Any]:
    host = step.state.host
    previous = host.claim_watermark(key)
    try:
        result = copy_table(
            source,
            key.table,
            sink,
            fmt,
            _path(step, tp, sink_dataset, key.table, fmt.extension),
            previous,
            batch_rows=int(tp.get("batchRows") or DEFAULT_BATCH_ROWS),
            should_stop=step.should_stop,
            change_columns=tuple(tp.get("changeColumns") or (SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION)),
        )
        host.advance_watermark(key, previous, result, step.activity_run_id)
    finally:
        host.release_watermark(key)
    return {"table": str(key.table), **copy_output(result.as_output(), result.seconds)}


def _first(references: Any) -> dict[str, Any] | None:
    return references[0] if isinstance(references, list) and references else None


def _tables(tp: dict[str, Any], source_dataset: dict[str, Any]) -> list[TableName]:
    listed = tp.get("tables")
    if listed:
        return [TableName(str(t["table"]), str(t["schema"]) if t.get("schema") else None) for t in listed]
    return [bindings.table_name_for(source_dataset)]


def _path(step: Step, tp: dict[str, Any], dataset: dict[str, Any], table: TableName, extension: str) -> str:
    """``fileName`` evaluated with item() = the table, else ``<table>/<yyyyMMddHHmmss>-<run id><ext>``."""
    expression = tp.get("fileName")
    if expression:
        item = {"schema": table.schema or "", "table": table.name}
        name = str(evaluate(expression, step.state.child(item).context()))
    else:
        stamp = step.state.info.trigger_time.astimezone(UTC).strftime("%Y%m%d%H%M%S")
        name = f"{table}/{stamp}-{step.state.info.run_id}{extension}"
    return bindings.file_path_for(dataset, name)
