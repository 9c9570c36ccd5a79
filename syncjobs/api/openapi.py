"""The OpenAPI 3 document of the API, built from the route table so no path goes undescribed."""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from syncjobs.access import public

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_ERROR = {"$ref": "#/components/schemas/Error"}
_BODIES = {
    "api_item": {"type": "object", "required": ["properties"], "properties": {"properties": {"type": "object"}}},
    "api_create_run": {"type": "object", "description": "the run's parameters", "additionalProperties": True},
    "api_query_runs": {"$ref": "#/components/schemas/RunQuery"},
    "api_query_activity_runs": {"$ref": "#/components/schemas/RunQuery"},
}
_QUERY = {
    "api_audit_log": [
        ("user", "string", "who: a user name, cli:<os user> or system"),
        ("action", "action", "what was done"),
        ("object", "string", "the object's kind, or part of its name"),
        ("after", "date-time", "entries at or after this time"),
        ("before", "date-time", "entries at or before this time"),
        ("continuationToken", "string", "the next page, from the previous answer"),
    ]
}


def openapi_path(route: str) -> str:
    """``pipelines/<str:name>/createRun`` as ``/api/pipelines/{name}/createRun``."""
    return "/api/" + _PARAM.sub(lambda m: "{" + m.group(2) + "}", route)


def build() -> dict[str, Any]:
    """The whole document."""
    from syncjobs.api.urls import ROUTES

    paths: dict[str, Any] = {}
    for route, _, name, operations in ROUTES:
        parameters = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for _, p in _PARAM.findall(route)
        ]
        parameters += [_query_parameter(*spec) for spec in _QUERY.get(name, [])]
        item = paths.setdefault(openapi_path(route), {"parameters": parameters})
        for method, summary in operations.items():
            operation: dict[str, Any] = {
                "summary": summary,
                "operationId": f"{name}_{method}",
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "400": {"description": "Bad request", "content": {"application/json": {"schema": _ERROR}}},
                    "401": {"description": "No or bad token", "content": {"application/json": {"schema": _ERROR}}},
                    "403": {"description": "The role is too low", "content": {"application/json": {"schema": _ERROR}}},
                },
            }
            if method in ("put", "post") and name in _BODIES:
                operation["requestBody"] = {"content": {"application/json": {"schema": _BODIES[name]}}}
            item[method] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "ctportal API (ADF data-plane compatible)", "version": "1"},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "details": {"type": "array", "items": {"type": "object"}},
                            },
                        }
                    },
                },
                "RunQuery": {
                    "type": "object",
                    "properties": {
                        "lastUpdatedAfter": {"type": "string", "format": "date-time"},
                        "lastUpdatedBefore": {"type": "string", "format": "date-time"},
                        "filters": {"type": "array", "items": {"type": "object"}},
                        "orderBy": {"type": "array", "items": {"type": "object"}},
                        "continuationToken": {"type": "string"},
                    },
                },
            },
        },
    }


def _query_parameter(name: str, kind: str, description: str) -> dict[str, Any]:
    from syncjobs.models import AuditEntry

    schemas: dict[str, dict[str, Any]] = {
        "string": {"type": "string"},
        "date-time": {"type": "string", "format": "date-time"},
        "action": {"type": "string", "enum": list(AuditEntry.Action.values)},
    }
    schema = schemas[kind]
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


@public
def document(request: HttpRequest) -> HttpResponse:
    """GET /api/openapi.json (public: it holds no data)."""
    return JsonResponse(build())
