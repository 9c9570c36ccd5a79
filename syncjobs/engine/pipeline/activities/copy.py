"""Copy: a query or table from a database dataset to a file dataset, in one snapshot, committed whole."""

from __future__ import annotations

from typing import Any

from syncjobs.engine import bindings
from syncjobs.engine.pipeline.activities.sources import dataset_source_name, opened_source, rowset
from syncjobs.engine.pipeline.step import Step
from syncjobs.engine.streaming import copy_rows


def run_copy(step: Step) -> dict[str, Any]:
    """ADF's copy output (rowsRead, rowsCopied, dataWritten, copyDuration, throughput) plus the files."""
    tp = step.type_properties()
    source_dataset = step.dataset(_first(step.activity.get("inputs")), "input")
    sink_dataset = step.dataset(_first(step.activity.get("outputs")), "output")
    sink_settings = tp.get("sink") or {}
    fmt = bindings.format_for(sink_dataset, sink_settings.get("formatSettings"))
    path = file_path(step, sink_dataset, fmt.extension)
    sink = bindings.sink_for(step.state.linked_service_of(sink_dataset)[1])
    try:
        with opened_source(step, dataset_source_name(source_dataset)) as source:
            rows = rowset(source, source_dataset, tp.get("source") or {})
            result = copy_rows(source, rows, sink, fmt, path, should_stop=step.should_stop)
    finally:
        sink.close()
    output = result.as_output()
    output.pop("changeTracking")  # a plain Copy keeps no watermark: no mode, no versions (a delta query said "full")
    return copy_output(output, result.seconds)


def _first(references: Any) -> dict[str, Any] | None:
    return references[0] if isinstance(references, list) and references else None


def file_path(step: Step, dataset: dict[str, Any], extension: str) -> str:
    """The dataset's file, or ``data_<run id><extension>`` in its folder when it names none (as ADF does)."""
    location = ((dataset.get("properties") or {}).get("typeProperties") or {}).get("location") or {}
    name = location.get("fileName") or f"data_{step.state.info.run_id}{extension}"
    return bindings.file_path_for(dataset, str(name))


def copy_output(output: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Add ADF's throughput (KB/s) and where the copy ran."""
    output["throughput"] = round(output["dataWritten"] / 1024 / seconds, 3) if seconds > 0 else 0
    output["effectiveIntegrationRuntime"] = "ctportal worker"
    return output
