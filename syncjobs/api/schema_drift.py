"""POST /api/tables/schemaPolicy: set the schema drift policy of tables (watermarks) in bulk, for Editors."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from syncjobs.access import Actor, Role
from syncjobs.api.auth import api_view
from syncjobs.api.responses import ApiError, body, ok
from syncjobs.services import schema_drift


@api_view(POST=Role.EDITOR)
def schema_policy(request: HttpRequest) -> HttpResponse:
    """Body ``{"watermarks": [id, ...], "policy": "continue" | "pause" | "resync" | ""}``; how many changed."""
    data = body(request)
    ids, policy = data.get("watermarks"), data.get("policy")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ApiError(400, "BadRequest", "give watermarks as a list of watermark ids", target="watermarks")
    if not isinstance(policy, str):
        raise ApiError(400, "BadRequest", 'give policy as text ("" for the activity\'s default)', target="policy")
    try:
        changed = schema_drift.set_policy(ids, policy, Actor.of(request.user))
    except schema_drift.SchemaDriftError as exc:
        raise ApiError(400, "BadRequest", str(exc)) from None
    return ok({"updated": changed, "policy": policy.strip().lower()})
