"""Lookup: the first row of a query or table, or all of them (at most 5,000, as in ADF)."""

from __future__ import annotations

from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.pipeline.activities.sources import dataset_source_name, json_value, opened_source, rowset
from syncjobs.engine.pipeline.step import Step

MAX_ROWS = 5000


def run_lookup(step: Step) -> dict[str, Any]:
    """``{"firstRow": {...}}`` (firstRowOnly, the default) or ``{"count": n, "value": [...]}``."""
    tp = step.type_properties()
    dataset = step.dataset(tp.get("dataset"), "lookup")
    first_only = tp.get("firstRowOnly", True) is not False
    rows: list[dict[str, Any]] = []
    with opened_source(step, dataset_source_name(dataset)) as source:
        rows_wanted = rowset(source, dataset, tp.get("source") or {})
        with source.snapshot() as snapshot:
            for batch in snapshot.read(rows_wanted, batch_rows=1 if first_only else 1000):
                step.check()
                names = [c.name for c in batch.columns]
                rows.extend({n: json_value(v) for n, v in zip(names, row, strict=True)} for row in batch.rows)
                if first_only and rows:
                    break
                if len(rows) > MAX_ROWS:
                    raise TerminalError("lookup_too_large", f"the lookup returned more than {MAX_ROWS} rows")
    if first_only:
        return {"firstRow": rows[0]} if rows else {}
    return {"count": len(rows), "value": rows}
