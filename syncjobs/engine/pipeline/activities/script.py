"""Script and SqlServerStoredProcedure: statements run on a database linked service."""

from __future__ import annotations

from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.pipeline.activities.sources import json_value, opened_source
from syncjobs.engine.pipeline.step import Step
from syncjobs.engine.sqlnames import quote_ansi, quote_tsql
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
    """EXEC on SQL Server, CALL on PostgreSQL; SQLite has no procedures (use a Script activity)."""
    tp = step.type_properties()
    ls_name = _linked_service_name(step)
    kind = str((step.state.linked_service(ls_name).get("properties") or {}).get("type", ""))
    name = TableName.parse(str(tp.get("storedProcedureName", "")))
    params = {k: (v or {}).get("value") for k, v in (tp.get("storedProcedureParameters") or {}).items()}
    if kind == "Sqlite":
        raise TerminalError("unsupported_activity", "SQLite has no stored procedures: use a Script activity instead")
    if kind in ("PostgreSqlV2", "PostgreSql"):
        qualified = ".".join(quote_ansi(p) for p in (name.schema, name.name) if p)
        args = ", ".join(f"{quote_ansi(k)} => %s" for k in params)
        sql = f"CALL {qualified}({args})"
    else:
        qualified = ".".join(quote_tsql(p) for p in (name.schema, name.name) if p)
        args = ", ".join(f"@{k} = ?" for k in params)
        sql = f"EXEC {qualified} {args}".rstrip()
    with opened_source(step, ls_name) as source:
        source.execute(sql, list(params.values()))
    return {}
