"""POST /api/verifySync: the same check as ``manage.py verify_sync``, for Editors and Admins."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from syncjobs.api.auth import api_view
from syncjobs.api.responses import ApiError, body, ok
from syncjobs.context import role_of
from syncjobs.engine.errors import EngineError
from syncjobs.services.verification import verify_sync as verify

ROLE = "Editor"  # the role this route needs (or above); examples in a report show key values
_ORDER = ("Viewer", "Operator", "Editor", "Admin")


def _at_least(user: object, role: str) -> bool:
    return _ORDER.index(role_of(user)) >= _ORDER.index(role)


@api_view("POST")
def verify_sync(request: HttpRequest) -> HttpResponse:
    """Body ``{"linkedService", "table", "dataset"}``; the report (counts, and a few example keys)."""
    if not _at_least(request.user, ROLE):
        raise ApiError(403, "Forbidden", f"verifySync needs the {ROLE} role or above")
    data = body(request)
    names = {key: data.get(key) for key in ("linkedService", "table", "dataset")}
    missing = [key for key, value in names.items() if not isinstance(value, str) or not value.strip()]
    if missing:
        raise ApiError(400, "BadRequest", f"give {', '.join(missing)} as text")
    try:
        report = verify(names["linkedService"], names["table"], names["dataset"])
    except EngineError as exc:
        status = 404 if exc.reason == "not_found" else (503 if exc.transient else 400)
        raise ApiError(status, exc.reason, exc.message) from None
    return ok(report.as_dict())
