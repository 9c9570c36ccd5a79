"""Validate, as the Author page's button does: what a save checks (definition, expressions, names used),
and, live, whether plain queries compile."""

from __future__ import annotations

from typing import Any

from syncjobs.adf.findings import ERROR, Finding
from syncjobs.adf.pipelines import iter_activities
from syncjobs.adf.validation import validate_definition
from syncjobs.engine import bindings
from syncjobs.engine.errors import EngineError
from syncjobs.engine.expressions import is_expression
from syncjobs.engine.sources import Query
from syncjobs.models import Dataset, LinkedService, known_objects

_QUERY_KEYS = ("sqlReaderQuery", "query")


def check_pipeline(definition: dict[str, Any], *, live: bool = False) -> list[Finding]:
    """Everything that can be known before a run; with ``live``, also that plain queries compile."""
    findings = list(validate_definition("pipeline", definition, known_objects()))
    props = definition.get("properties") or {}
    if live:
        findings += _query_findings(props)
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
    """Run the query wrapped so it returns no rows (in the source's dialect); return the database's complaint, or ''."""
    try:
        source = bindings.source_for(linked.revealed_definition())
    except EngineError as exc:
        return exc.message
    try:
        with source.snapshot() as snapshot:
            for _ in snapshot.read(Query(source.dialect.no_rows_sql(query))):
                pass
    except EngineError as exc:
        return exc.message
    finally:
        source.close()
    return ""
