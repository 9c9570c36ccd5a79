"""JSON responses and errors in ADF's shape, and request bodies."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse


class ApiError(Exception):
    """An error to answer with ``{"error": {"code", "message", "target", "details"}}``."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []

    def response(self) -> JsonResponse:
        body = {"error": {"code": self.code, "message": self.message, "target": None, "details": self.details}}
        return JsonResponse(body, status=self.status)


def ok(data: Any, status: int = 200) -> JsonResponse:
    """A JSON answer."""
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object body ({} when empty); a 400 when it is not a JSON object."""
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "BadRequest", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "BadRequest", "the body must be a JSON object")
    return data
