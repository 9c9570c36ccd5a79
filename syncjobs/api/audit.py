"""``GET /api/auditlog?user=&action=&object=&after=&before=&continuationToken=``: the audit log, for Admins."""

from __future__ import annotations

from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from syncjobs.access import Role
from syncjobs.api.auth import api_view
from syncjobs.api.query import page
from syncjobs.api.responses import ApiError, ok
from syncjobs.models import AuditEntry


@api_view(GET=Role.ADMIN)
def audit_log(request: HttpRequest) -> HttpResponse:
    """Entries newest first, 100 a page: ``{"value": [...], "continuationToken"}``."""
    query = request.GET
    action = query.get("action", "")
    if action and action not in AuditEntry.Action.values:
        raise ApiError(400, "BadRequest", f"unknown action {action!r} (one of {', '.join(AuditEntry.Action.values)})")
    rows = AuditEntry.objects.matching(
        user=query.get("user", ""),
        action=action,
        obj=query.get("object", ""),
        after=_moment(query.get("after", ""), "after"),
        before=_moment(query.get("before", ""), "before"),
    )
    items, token = page(rows, query.get("continuationToken"))
    return ok({"value": [entry.as_dict() for entry in items], "continuationToken": token})


def _moment(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        raise ApiError(400, "BadRequest", f"'{name}' must be an ISO 8601 timestamp")
    return timezone.make_aware(value, UTC) if timezone.is_naive(value) else value
