"""``/api/alerts``: incidents with filters (Viewer), and acknowledging and muting one (Operator)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from syncjobs.access import Actor, Role
from syncjobs.api.auth import api_view
from syncjobs.api.query import page, text_value
from syncjobs.api.responses import ApiError, bad_request, body, ok
from syncjobs.models import Incident
from syncjobs.models.alerts import Condition, Severity
from syncjobs.services.alerts import incidents

STATES = ("open", "resolved", "acknowledged", "muted")
SEVERITIES = {label: value for value, label in Severity.choices}
MAX_MUTE_MINUTES = 525_600  # a year
MAX_ID = 2**63 - 1


@api_view(GET=Role.VIEWER)
def alerts(request: HttpRequest) -> HttpResponse:
    """Incidents, open first then newest, 100 a page: ``{"value": [...], "continuationToken"}``."""
    query = request.GET
    state = _choice(query.get("state", ""), "state", STATES)
    kind = _choice(query.get("kind", ""), "kind", tuple(Condition.values))
    severity = _choice(query.get("severity", ""), "severity", tuple(SEVERITIES))
    try:
        obj = text_value(query.get("object", ""))
    except ValueError as exc:
        raise bad_request("object", str(exc)) from None
    rows = Incident.objects.matching(state=state, severity=SEVERITIES.get(severity), kind=kind, obj=obj)
    items, token = page(rows.select_related("acknowledged_by"), query.get("continuationToken"))
    return ok({"value": [incident.as_dict() for incident in items], "continuationToken": token})


def _choice(value: str, name: str, allowed: tuple[str, ...]) -> str:
    if value and value not in allowed:
        raise bad_request(name, f"must be one of {', '.join(allowed)}")
    return value


def _incident(incident_id: int) -> Incident:
    found = Incident.objects.filter(pk=incident_id).first() if 0 < incident_id <= MAX_ID else None
    if found is None:
        raise ApiError(404, "NotFound", f"no incident {incident_id}", target="incident_id")
    return found


@api_view(POST=Role.OPERATOR)
def acknowledge(request: HttpRequest, incident_id: int) -> HttpResponse:
    """Acknowledge an incident: no repeat events; its resolution is still sent."""
    found = _incident(incident_id)
    if found.is_open and found.acknowledged_at is None:
        incidents.acknowledge(found, Actor.of(request.user))
    return ok(found.as_dict())


@api_view(POST=Role.OPERATOR)
def mute(request: HttpRequest, incident_id: int) -> HttpResponse:
    """Mute an incident for ``{"minutes": N}`` (0 unmutes); its events are logged, not sent."""
    data = body(request)
    minutes = data.get("minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 <= minutes <= MAX_MUTE_MINUTES:
        raise bad_request("minutes", f"must be a whole number of minutes from 0 to {MAX_MUTE_MINUTES}")
    found = _incident(incident_id)
    incidents.mute(found, minutes, Actor.of(request.user))
    return ok(found.as_dict())
