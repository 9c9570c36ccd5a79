"""JSON responses and errors in ADF's shape, and request bodies."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

from syncjobs.engine import jsontext


class ApiError(Exception):
    """An error to answer with ``{"error": {"code", "message", "target", "details"}}``.

    ``target`` names the field at fault as a JSON path of the request (``filters[0].values[1]``), or a
    query or path parameter, as ADF's errors do.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        *,
        target: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.target = status, code, message, details or [], target

    def response(self) -> JsonResponse:
        error = {"code": self.code, "message": self.message, "target": self.target, "details": self.details}
        return JsonResponse({"error": error}, status=self.status)


def bad_request(target: str, message: str) -> ApiError:
    """A 400 pointing at ``target``, its message naming it too."""
    return ApiError(400, "BadRequest", f"{target}: {message}" if target else message, target=target or None)


def ok(data: Any, status: int = 200) -> JsonResponse:
    """A JSON answer."""
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object body ({} when empty); a 400 when it is not a JSON object this API accepts.

    NaN, Infinity, numbers out of range and nesting past ``limits.JSON_DEPTH`` are refused here, once
    for every route, so nothing behind it has to guard against them.
    """
    if not request.body:
        return {}
    try:
        data = jsontext.loads(request.body)
    except jsontext.JsonTextError as exc:
        raise bad_request("body", f"the body is not accepted: {exc.message}") from None
    if not isinstance(data, dict):
        raise bad_request("body", "the body must be a JSON object")
    return data
