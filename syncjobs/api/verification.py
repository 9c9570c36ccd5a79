"""POST /api/verifySync: the same check as ``manage.py verify_sync``, for Editors and above.

Editor, as for data previews: a report's examples show key values of the source's rows.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from syncjobs.access import Role
from syncjobs.api.auth import api_view
from syncjobs.api.responses import ApiError, body, ok
from syncjobs.engine.errors import EngineError
from syncjobs.services.verification import verify_sync as verify


@api_view(POST=Role.EDITOR)
def verify_sync(request: HttpRequest) -> HttpResponse:
    """Body ``{"linkedService", "table", "dataset"}``; the report (counts, and a few example keys)."""
    data = body(request)
    names = {key: data.get(key) for key in ("linkedService", "table", "dataset")}
    missing = [key for key, value in names.items() if not isinstance(value, str) or not value.strip()]
    if missing:
        raise ApiError(400, "BadRequest", f"give {', '.join(missing)} as text")
    try:
        report = verify(str(names["linkedService"]), str(names["table"]), str(names["dataset"]))
    except EngineError as exc:
        status = 404 if exc.reason == "not_found" else (503 if exc.transient else 400)
        raise ApiError(status, exc.reason, exc.message) from None
    return ok(report.as_dict())
