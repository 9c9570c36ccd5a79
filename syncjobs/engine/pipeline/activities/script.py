"""Script and SqlServerStoredProcedure: statements run on a database linked service."""

from __future__ import annotations

from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.pipeline.activities.sources import json_value, opened_source
from syncjobs.engine.pipeline.step import Step
from syncjobs.engine.types import TableName


def _linked_service_name(step: Step) -> str:
    name = (step.activity.get("linkedServiceName") or {}).get("referenceName")
    if not name:
        raise TerminalError("bad_activity", f"activity {step.name} has no linkedServiceName")
    return str(name)


def run_script(step: Step) -> dict[str, Any]:
    """Each script in turn, in its own transaction; ADF's output shape (resultSetCount, resultSets)."""
    tp = step.type_properties()
    result_sets = []
    with opened_source(step, _linked_service_name(step)) as source:
        for script in tp.get("scripts") or []:
            step.check()
            params = [p.get("value") for p in script.get("parameters") or []]
            rows = source.execute(str(script.get("text", "")), params)
            if str(script.get("type", "Query")) == "Query" and rows:
                result_sets.append(
                    {"rowCount": len(rows), "rows": [{k: json_value(v) for k, v in r.items()} for r in rows]}
                )
    return {"resultSetCount": len(result_sets), "resultSets": result_sets}


def run_stored_procedure(step: Step) -> dict[str, Any]:
    """The call in the source's dialect (EXEC on SQL Server, CALL on PostgreSQL); SQLite has no procedures."""
    tp = step.type_properties()
    name = TableName.parse(str(tp.get("storedProcedureName", "")))
    params = {k: (v or {}).get("value") for k, v in (tp.get("storedProcedureParameters") or {}).items()}
    with opened_source(step, _linked_service_name(step)) as source:
        source.execute(source.dialect.procedure_call_sql(name, params), list(params.values()))
    return {}
