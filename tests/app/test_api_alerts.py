"""``/api/alerts``: incidents with filters for Viewers, acknowledge and mute for Operators; bad input is a 400."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from syncjobs.access import Role
from syncjobs.models import Incident
from syncjobs.models.alerts import Severity
from tests.factories import bearer, make_user

pytestmark = pytest.mark.django_db


def _incident(name: str, **fields: object) -> Incident:
    values = {"kind": "run_failed", "severity": Severity.ERROR, "object_type": "pipeline", "reason": "failed"}
    return Incident.objects.create(object_id=name.lower(), object_name=name, **{**values, **fields})


def _get(client, url: str, role: Role = Role.VIEWER):
    return client.get(url, headers=bearer(make_user(role)))


def test_incidents_are_listed_with_filters(client):
    _incident("Nightly")
    _incident("Weekly", severity=Severity.WARNING, resolved_at=timezone.now())
    _incident("Hourly", kind="trigger_failing", object_type="trigger")
    every = _get(client, "/api/alerts").json()
    assert [i["objectName"] for i in every["value"]] == ["Hourly", "Nightly", "Weekly"]
    assert every["continuationToken"] is None
    names = lambda url: [i["objectName"] for i in _get(client, url).json()["value"]]  # noqa: E731
    assert names("/api/alerts?state=open&kind=run_failed") == ["Nightly"]
    assert names("/api/alerts?severity=error") == ["Hourly", "Nightly"]
    assert names("/api/alerts?state=resolved") == ["Weekly"]
    assert names("/api/alerts?object=trigger") == ["Hourly"]
    first = _get(client, "/api/alerts?state=open").json()["value"][0]
    assert first["state"] == "open" and first["severity"] == "error" and first["acknowledgedBy"] is None


@pytest.mark.parametrize(
    ("query", "target"),
    [("state=gone", "state"), ("severity=5", "severity"), ("kind=x", "kind"), ("object=%00", "object")],
)
def test_bad_filters_are_a_400_naming_the_parameter(client, query, target):
    answer = _get(client, f"/api/alerts?{query}")
    assert answer.status_code == 400 and answer.json()["error"]["target"] == target


def test_operators_acknowledge_and_mute_through_the_api(client):
    incident = _incident("Nightly")
    headers = bearer(make_user(Role.OPERATOR, "ops"))
    acked = client.post(f"/api/alerts/{incident.pk}/acknowledge", headers=headers).json()
    assert acked["acknowledgedBy"] == "ops" and acked["acknowledgedAt"]
    muted = client.post(
        f"/api/alerts/{incident.pk}/mute", json.dumps({"minutes": 30}), content_type="application/json", headers=headers
    )
    assert muted.status_code == 200 and muted.json()["mutedUntil"]
    unmuted = client.post(
        f"/api/alerts/{incident.pk}/mute", json.dumps({"minutes": 0}), content_type="application/json", headers=headers
    )
    assert unmuted.json()["mutedUntil"] is None


@pytest.mark.parametrize("minutes", [-1, 1.5, "10", True, None, 10**9])
def test_a_bad_mute_is_a_400(client, minutes):
    incident = _incident("Nightly")
    answer = client.post(
        f"/api/alerts/{incident.pk}/mute",
        json.dumps({"minutes": minutes}),
        content_type="application/json",
        headers=bearer(make_user(Role.OPERATOR)),
    )
    assert answer.status_code == 400 and answer.json()["error"]["target"] == "minutes"


def test_an_unknown_incident_is_a_404(client):
    headers = bearer(make_user(Role.OPERATOR))
    assert client.post("/api/alerts/42/acknowledge", headers=headers).status_code == 404
    assert client.post(f"/api/alerts/{2**80}/acknowledge", headers=headers).status_code == 404


def test_the_openapi_document_describes_the_alert_routes(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    listed = paths["/api/alerts"]["get"]
    assert set(listed["responses"]) == {"200", "400", "401", "403", "405"}
    names = {p["name"] for p in paths["/api/alerts"]["parameters"]}
    assert names == {"state", "severity", "kind", "object", "continuationToken"}
    mute = paths["/api/alerts/{incident_id}/mute"]["post"]
    assert mute["requestBody"]["content"]["application/json"]["schema"]["required"] == ["minutes"]
