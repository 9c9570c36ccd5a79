"""Validate, as the Author page's button does: definition, expressions, names used, and (live) queries."""

from __future__ import annotations

from typing import Any

from syncjobs.adf.findings import ERROR, WARNING, Finding
from syncjobs.adf.pipelines import iter_activities
from syncjobs.adf.validation import validate_definition
from syncjobs.engine import bindings
from syncjobs.engine.errors import EngineError
from syncjobs.engine.expressions import check, is_expression, references
from syncjobs.engine.sources import Query
from syncjobs.models import Dataset, LinkedService, known_objects

_QUERY_KEYS = ("sqlReaderQuery", "query")
_TSQL = ("SqlServer", "AzureSqlDatabase", "AzureSqlDB")


def validate_pipeline(definition: dict[str, Any], *, live: bool = False) -> list[Finding]:
    """Everything that can be known before a run; with ``live``, also that plain queries compile."""
    findings = list(validate_definition("pipeline", definition, known_objects()))
    props = definition.get("properties") or {}
    findings += _expression_findings(props)
    findings += _name_findings(props)
    if live:
        findings += _query_findings(props)
    return findings


def _expression_findings(props: dict[str, Any]) -> list[Finding]:
    findings = []
    for path, activity in iter_activities(props.get("activities")):
        for error in check(activity):
            findings.append(Finding(f"{path} ({activity.get('name')})", f"expression error: {error.message}", ERROR))
    return findings


def _upstream(activities: list[dict[str, Any]], name: str) -> set[str]:
    by_name = {a.get("name"): a for a in activities}
    seen: set[str] = set()
    stack = [name]
    while stack:
        for dep in (by_name.get(stack.pop()) or {}).get("dependsOn") or []:
            if dep.get("activity") not in seen:
                seen.add(dep.get("activity"))
                stack.append(dep.get("activity"))
    return seen


def _name_findings(props: dict[str, Any]) -> list[Finding]:
    findings = []
    activities = props.get("activities") or []
    all_names = {a.get("name") for _, a in iter_activities(activities)}
    variables = set(props.get("variables") or {})
    parameters = set(props.get("parameters") or {})
    for path, activity in iter_activities(activities):
        names = references(activity)
        upstream = _upstream(activities, activity.get("name"))
        for used in sorted(names.activities):
            if used not in all_names:
                findings.append(Finding(path, f"activity('{used}') names no activity of this pipeline", ERROR))
            elif path.count("[") == 1 and used not in upstream:
                findings.append(
                    Finding(
                        path, f"uses activity('{used}') without depending on it: its output may not exist yet", WARNING
                    )
                )
        findings += [
            Finding(path, f"variables('{v}') is not declared", ERROR) for v in sorted(names.variables - variables)
        ]
        findings += [
            Finding(path, f"pipeline().parameters.{p} is not declared", ERROR)
            for p in sorted(names.parameters - parameters)
        ]
    return findings


def _query_findings(props: dict[str, Any]) -> list[Finding]:
    findings = []
    for path, activity in iter_activities(props.get("activities")):
        tp = activity.get("typeProperties") or {}
        source = tp.get("source") or {}
        query = next((source[k] for k in _QUERY_KEYS if isinstance(source.get(k), str)), None)
        if not query or is_expression(query):
            continue
        reference = tp.get("dataset") or (activity.get("inputs") or [{}])[0]
        dataset = (
            Dataset.objects.filter(name__iexact=reference.get("referenceName", ""))
            .select_related("linked_service")
            .first()
        )
        if dataset is None:
            continue
        problem = compile_query(dataset.linked_service, query)
        if problem:
            findings.append(Finding(f"{path}.typeProperties.source", f"the query does not compile: {problem}", ERROR))
    return findings


def compile_query(linked: LinkedService, query: str) -> str:
    """Run the query wrapped so it returns no rows; return the database's complaint, or ''."""
    wrapped = (
        f"SELECT TOP 0 * FROM ({query}) AS q" if linked.type in _TSQL else f"SELECT * FROM ({query}) AS q WHERE 1=0"
    )
    try:
        source = bindings.source_for(linked.revealed_definition())
    except EngineError as exc:
        return exc.message
    try:
        with source.snapshot() as snapshot:
            for _ in snapshot.read(Query(wrapped)):
                pass
    except EngineError as exc:
        return exc.message
    finally:
        source.close()
    return ""
