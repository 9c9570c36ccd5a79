"""The API's route table: path, view, name and what each method does. ``urls.py`` mounts it and
``openapi.py`` describes it, so every path is described.

Each view declares the role its methods need (``api_view(GET=Role.VIEWER, ...)`` in ``api/auth.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import register_converter

from syncjobs.api import alerts, audit, definitions, runs, schema_drift, tables, verification

Route = tuple[str, Callable[..., Any], str, dict[str, str]]
"""(path, view, URL name, {method: summary})."""


class CollectionConverter:
    regex = "linkedservices|datasets|pipelines|triggers"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CollectionConverter, "collection")

ROUTES: list[Route] = [
    ("<collection:collection>", definitions.collection, "api_collection", {"get": "List the objects of a kind"}),
    (
        "<collection:collection>/<str:name>",
        definitions.item,
        "api_item",
        {"get": "Get an object", "put": "Create or update an object (ADF JSON)", "delete": "Delete an object"},
    ),
    ("pipelines/<str:name>/createRun", runs.create_run, "api_create_run", {"post": "Trigger now; returns runId"}),
    ("pipelineruns/<str:run_id>", runs.get_run, "api_run", {"get": "Get a pipeline run"}),
    ("queryPipelineRuns", runs.query_runs, "api_query_runs", {"post": "Query pipeline runs"}),
    (
        "pipelineruns/<str:run_id>/queryActivityruns",
        runs.query_activity_runs,
        "api_query_activity_runs",
        {"post": "Query a run's activity runs"},
    ),
    ("pipelineruns/<str:run_id>/cancel", runs.cancel, "api_cancel", {"post": "Cancel a pipeline run"}),
    (
        "tables",
        tables.table_list,
        "api_tables",
        {"get": "Synced tables with status and figures: ?status=&source=&schema=&name=&sort=&top=&continuationToken="},
    ),
    ("watermarks", runs.watermarks, "api_watermarks", {"get": "Change-tracking watermarks and their windows"}),
    (
        "verifySync",
        verification.verify_sync,
        "api_verify_sync",
        {"post": "Replay a table's change windows in a sink against the source (Editor or above)"},
    ),
    (
        "tables/schemaPolicy",
        schema_drift.schema_policy,
        "api_schema_policy",
        {"post": "Set the schema drift policy of tables in bulk (Editor or above)"},
    ),
    ("tables/<str:table_id>", tables.table_item, "api_table", {"get": "One synced table (by its watermark id)"}),
    (
        "auditlog",
        audit.audit_log,
        "api_audit_log",
        {"get": "The audit log (Admin): ?user=&action=&object=&after=&before=&continuationToken="},
    ),
    (
        "alerts",
        alerts.alerts,
        "api_alerts",
        {"get": "Incidents: ?state=&severity=&kind=&object=&continuationToken="},
    ),
    (
        "alerts/<int:incident_id>/acknowledge",
        alerts.acknowledge,
        "api_alert_acknowledge",
        {"post": "Acknowledge an incident (Operator)"},
    ),
    (
        "alerts/<int:incident_id>/mute",
        alerts.mute,
        "api_alert_mute",
        {"post": "Mute an incident for N minutes (Operator)"},
    ),
]
