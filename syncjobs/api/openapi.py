"""The OpenAPI 3 document of the API, built from the route table so no path goes undescribed.

Precise enough to fuzz: path parameters with their enums and formats, request bodies with the
RunQuery's operand, operator and order enums, and every status code a route answers.
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from syncjobs.access import public
from syncjobs.api.alerts import MAX_MUTE_MINUTES, SEVERITIES, STATES
from syncjobs.api.query import MAX_FILTERS, MAX_ORDERS, MAX_VALUES, OPERATORS, ORDERS
from syncjobs.api.routes import ROUTES, Route
from syncjobs.api.runs import ACTIVITY_OPERANDS, ACTIVITY_ORDERS, RUN_OPERANDS, RUN_ORDERS
from syncjobs.models import AuditEntry, TableStatus
from syncjobs.models.alerts import Condition
from syncjobs.services.tables import SORTS as TABLE_SORTS

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_ERROR = {"$ref": "#/components/schemas/Error"}
_NAME = {"type": "string", "minLength": 1, "maxLength": 260, "description": "the object's name (ADF names ignore case)"}
_PATH_SCHEMAS = {
    "collection": {"type": "string", "enum": ["linkedservices", "datasets", "pipelines", "triggers"]},
    "name": _NAME,
    "run_id": {"type": "string", "format": "uuid", "description": "a pipeline run's id"},
    "incident_id": {"type": "integer", "minimum": 1, "description": "an incident's id"},
    "table_id": {"type": "string", "pattern": "^[0-9]+$", "description": "a synced table's id (its watermark's)"},
}
_RUN_QUERY = "#/components/schemas/RunQuery"
_BODIES = {
    "api_item": {"$ref": "#/components/schemas/Definition"},
    "api_create_run": {
        "type": "object",
        "description": "the run's parameters by name (String, Int, Float, Bool, Array, Object, SecureString)",
        "additionalProperties": True,
    },
    "api_query_runs": {"$ref": _RUN_QUERY},
    "api_query_activity_runs": {"$ref": "#/components/schemas/ActivityRunQuery"},
    "api_alert_mute": {
        "type": "object",
        "required": ["minutes"],
        "properties": {"minutes": {"type": "integer", "minimum": 0, "maximum": MAX_MUTE_MINUTES}},
    },
}
_QUERY = {
    "api_create_run": [
        {"name": "referencePipelineRunId", "in": "query", "schema": {"type": "string", "format": "uuid"}},
        {"name": "isRecovery", "in": "query", "schema": {"type": "boolean"}},
        {"name": "startFromFailure", "in": "query", "schema": {"type": "boolean"}},
    ]
}
_STATUS = {
    "200": "OK",
    "204": "Nothing to delete",
    "400": "Bad request: `error.target` names the field at fault",
    "401": "No or bad token",
    "403": "Not allowed",
    "404": "No such object or run",
    "405": "Method not allowed",
    "409": "Conflict: in use, or the run already ended",
}
_CODES = {
    ("api_item", "delete"): ("200", "204", "409"),
    ("api_item", "get"): ("200", "404"),
    ("api_item", "put"): ("200", "400"),
    ("api_create_run", "post"): ("200", "400", "404"),
    ("api_run", "get"): ("200", "404"),
    ("api_query_runs", "post"): ("200", "400"),
    ("api_query_activity_runs", "post"): ("200", "400", "404"),
    ("api_cancel", "post"): ("200", "404", "409"),
    ("api_alerts", "get"): ("200", "400"),
    ("api_alert_acknowledge", "post"): ("200", "404"),
    ("api_alert_mute", "post"): ("200", "400", "404"),
    ("api_tables", "get"): ("200", "400"),
    ("api_table", "get"): ("200", "400", "404"),
}
_PATH_QUERY = {
    "api_tables": [
        ("status", "table_status", "one status: " + ", ".join(TableStatus.values)),
        ("source", "string", "the source linked service's name"),
        ("schema", "string", "the source schema"),
        ("name", "string", "part of the table's name"),
        ("sort", "table_sort", "the order (a leading - reverses it)"),
        ("top", "string", "tables per answer, 1 to 1000 (100 by default)"),
        ("continuationToken", "string", "the next page, from the previous answer"),
    ],
    "api_audit_log": [
        ("user", "string", "who: a user name, cli:<os user> or system"),
        ("action", "action", "what was done"),
        ("object", "string", "the object's kind, or part of its name"),
        ("after", "date-time", "entries at or after this time"),
        ("before", "date-time", "entries at or before this time"),
        ("continuationToken", "string", "the next page, from the previous answer"),
    ],
    "api_alerts": [
        ("state", "incident_state", "open, resolved, acknowledged (open) or muted (open)"),
        ("severity", "severity", "at least this severity"),
        ("kind", "incident_kind", "the condition"),
        ("object", "string", "the object's type, or part of its name"),
        ("continuationToken", "string", "the next page, from the previous answer"),
    ],
}


def openapi_path(route: str) -> str:
    """``pipelines/<str:name>/createRun`` as ``/api/pipelines/{name}/createRun``."""
    return "/api/" + _PARAM.sub(lambda m: "{" + m.group(2) + "}", route)


def _responses(name: str, method: str) -> dict[str, Any]:
    codes = ("401", "403", "405", *_CODES.get((name, method), ("200",)))
    answers: dict[str, Any] = {}
    for code in sorted(set(codes)):
        content = None
        if code == "200":
            content = {"application/json": {"schema": {"type": "object"}}}
        elif code != "204":
            content = {"application/json": {"schema": _ERROR}}
        answers[code] = {"description": _STATUS[code], **({"content": content} if content else {})}
    return answers


def _operation(name: str, method: str, summary: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": f"{name}_{method}",
        "responses": _responses(name, method),
    }
    if method in ("put", "post") and name in _BODIES:
        operation["requestBody"] = {"content": {"application/json": {"schema": _BODIES[name]}}}
    if name in _QUERY and method == "post":
        operation["parameters"] = _QUERY[name]
    return operation


def build() -> dict[str, Any]:
    """The whole document."""
    paths: dict[str, Any] = {}
    for route, _, name, operations in (*ROUTES, ROUTE):
        parameters = [
            {"name": p, "in": "path", "required": True, "schema": _PATH_SCHEMAS.get(p, {"type": "string"})}
            for _, p in _PARAM.findall(route)
        ]
        parameters += [_query_parameter(*spec) for spec in _PATH_QUERY.get(name, [])]
        item = paths.setdefault(openapi_path(route), {"parameters": parameters})
        for method, summary in operations.items():
            item[method] = _operation(name, method, summary)
    return {
        "openapi": "3.0.3",
        "info": {"title": "ctportal API (ADF data-plane compatible)", "version": "1"},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": _schemas()},
    }


def _filter(operands: Any) -> dict[str, Any]:
    value = {"type": "string", "maxLength": 260}
    return {
        "type": "object",
        "required": ["operand", "operator", "values"],
        "properties": {
            "operand": {"type": "string", "enum": list(operands)},
            "operator": {"type": "string", "enum": list(OPERATORS)},
            "values": {"type": "array", "maxItems": MAX_VALUES, "items": value},
        },
    }


def _order(fields: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["orderBy"],
        "properties": {
            "orderBy": {"type": "string", "enum": list(fields)},
            "order": {"type": "string", "enum": list(ORDERS)},
        },
    }


def _query(operands: Any, orders: Any, required: list[str]) -> dict[str, Any]:
    when = {"type": "string", "format": "date-time"}
    return {
        "type": "object",
        "required": required,
        "properties": {
            "lastUpdatedAfter": when,
            "lastUpdatedBefore": when,
            "filters": {"type": "array", "maxItems": MAX_FILTERS, "items": _filter(operands)},
            "orderBy": {"type": "array", "maxItems": MAX_ORDERS, "items": _order(orders)},
            "continuationToken": {
                "type": "string",
                "nullable": True,
                "description": "as given in the previous page's answer",
            },
        },
    }


def _schemas() -> dict[str, Any]:
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "target": {"type": "string", "nullable": True, "description": "the field at fault"},
                        "details": {"type": "array", "items": {"type": "object"}},
                    },
                }
            },
        },
        "Definition": {
            "type": "object",
            "required": ["properties"],
            "properties": {
                "properties": {
                    "type": "object",
                    "description": "ADF JSON: a linked service's, dataset's, pipeline's or trigger's properties",
                }
            },
        },
        "RunQuery": _query(RUN_OPERANDS, RUN_ORDERS, ["lastUpdatedAfter", "lastUpdatedBefore"]),
        "ActivityRunQuery": _query(ACTIVITY_OPERANDS, ACTIVITY_ORDERS, []),
    }


def _query_parameter(name: str, kind: str, description: str) -> dict[str, Any]:
    schemas: dict[str, dict[str, Any]] = {
        "string": {"type": "string"},
        "date-time": {"type": "string", "format": "date-time"},
        "action": {"type": "string", "enum": list(AuditEntry.Action.values)},
        "incident_state": {"type": "string", "enum": list(STATES)},
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "incident_kind": {"type": "string", "enum": list(Condition.values)},
        "table_status": {"type": "string", "enum": list(TableStatus.values)},
        "table_sort": {"type": "string", "enum": [*TABLE_SORTS, *(f"-{s}" for s in TABLE_SORTS)]},
    }
    schema = schemas[kind]
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


@public
def document(request: HttpRequest) -> HttpResponse:
    """GET /api/openapi.json (public: it holds no data)."""
    return JsonResponse(build())


ROUTE: Route = ("openapi.json", document, "api_openapi", {"get": "This document"})
"""The document's own route, mounted beside ``ROUTES`` and described with them."""
