"""The Alerts pages: incidents with filters (Viewer), acknowledge and mute (Operator), channels and rules
(Admin) with write-only secrets and a Send test button that reaches a real receiver on loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from syncjobs.access import SYSTEM
from syncjobs.models import AlertChannel, AlertRule, AuditEntry, Delivery, Incident
from syncjobs.models.alerts import Severity
from syncjobs.services.alerts.routing import ChannelChange, save_channel

pytestmark = pytest.mark.django_db
TOKEN = "ctportal-token-abc123"


def _incident(**fields: object) -> Incident:
    values = {
        "kind": "run_failed",
        "severity": Severity.ERROR,
        "object_type": "pipeline",
        "object_id": "nightly",
        "object_name": "Nightly",
        "reason": "run 1 failed: no such table: flag",
        **fields,
    }
    return Incident.objects.create(**values)


def test_viewers_see_open_incidents_and_filter_them(viewer):
    _incident()
    _incident(kind="trigger_failing", object_type="trigger", object_id="hourly", object_name="Hourly", reason="x")
    _incident(object_id="weekly", object_name="Weekly", resolved_at=timezone.now(), severity=Severity.WARNING)
    page = viewer.get("/alerts/").content.decode()
    assert "Nightly" in page and "Hourly" in page and "Weekly" in page and "Acknowledge" not in page
    filtered = viewer.get("/alerts/?state=open&kind=run_failed").content.decode()
    assert "Nightly" in filtered and "Hourly" not in filtered and "Weekly" not in filtered
    assert "Weekly" not in viewer.get("/alerts/?severity=30").content.decode()
    assert "Hourly" in viewer.get("/alerts/?object=hour").content.decode()
    assert viewer.get("/alerts/?severity=abc&state=nonsense").status_code == 200  # bad filters: a form error


def test_operators_acknowledge_and_mute_from_the_list(operator):
    incident = _incident()
    page = operator.get("/alerts/").content.decode()
    assert f"Acknowledge #{incident.pk}" in page
    operator.post(f"/alerts/incidents/{incident.pk}/", {"action": "acknowledge", "next": "list"})
    response = operator.post(f"/alerts/incidents/{incident.pk}/", {"action": "mute", "minutes": "240"}, follow=True)
    incident.refresh_from_db()
    assert incident.acknowledged_by == operator.user and incident.is_muted
    assert timedelta(minutes=239) < incident.muted_until - timezone.now() <= timedelta(minutes=240)
    assert "muted until" in response.content.decode()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"acknowledge", "mute"} <= actions
    assert operator.post(f"/alerts/incidents/{incident.pk}/", {"action": "mute", "minutes": "7"}).status_code == 302
    incident.refresh_from_db()
    assert incident.is_muted  # an unknown duration changed nothing


def test_an_incident_page_lists_its_events_and_each_delivery_answer(viewer, webhook_receiver):
    from syncjobs.services.alerts.deliver import deliver_due
    from syncjobs.services.alerts.incidents import raise_event

    channel = save_channel(None, ChannelChange("Hook", "webhook", url=webhook_receiver.url), SYSTEM)
    rule = AlertRule.objects.create(name="All", min_severity=Severity.INFO)
    rule.channels.set([channel])
    incident = _incident()
    raise_event(incident, "run_failed", "it failed")
    deliver_due(0)
    page = viewer.get(f"/alerts/incidents/{incident.pk}/").content.decode()
    assert "it failed" in page and "Hook #1: <strong>sent</strong> HTTP 200: ok" in page


def test_admins_create_a_channel_whose_url_is_never_shown_again(admin, viewer, webhook_receiver):
    form = {"name": "Hook", "kind": "webhook", "enabled": "on", "url": webhook_receiver.url, "signing_secret": "s3cr3t"}
    assert admin.post("/alerts/channels/", form).status_code == 302
    channel = AlertChannel.objects.get()
    assert channel.secrets() == {"url": webhook_receiver.url, "signing_secret": "s3cr3t"}
    for client in (admin, viewer):
        listed = client.get("/alerts/channels/").content.decode()
        assert "Hook" in listed and TOKEN not in listed and "s3cr3t" not in listed
    edit = admin.get(f"/alerts/channels/{channel.pk}/").content.decode()
    assert TOKEN not in edit and "s3cr3t" not in edit and "127.0.0.1" in edit
    admin.post(f"/alerts/channels/{channel.pk}/", {"name": "Hook", "kind": "webhook", "enabled": "on"})
    assert AlertChannel.objects.get().secrets()["url"] == webhook_receiver.url  # blank kept it
    admin.post(f"/alerts/channels/{channel.pk}/", {"name": "Hook", "kind": "email", "recipients": "a@example.test"})
    assert AlertChannel.objects.get().secrets() == {}  # now an e-mail channel: the webhook's secrets are gone
    detail = AuditEntry.objects.filter(object_kind="alertChannel").values_list("detail", flat=True)
    assert TOKEN not in str(list(detail)) and "s3cr3t" not in str(list(detail))


def test_a_bad_channel_form_is_an_error_that_does_not_echo_the_secret(admin):
    bad = {"name": "Chat", "kind": "apprise", "apprise_urls": f"nonsense://{TOKEN}"}
    response = admin.post("/alerts/channels/", bad)
    page = response.content.decode()
    assert response.status_code == 200 and "apprise does not understand this URL" in page and TOKEN not in page
    webhook = admin.post("/alerts/channels/", {"name": "W", "kind": "webhook", "url": f"ftp://x/{TOKEN}"})
    assert "enter an http:// or https:// URL" in webhook.content.decode() and TOKEN not in webhook.content.decode()
    mail = admin.post("/alerts/channels/", {"name": "M", "kind": "email", "recipients": "not-an-address"})
    assert "is not an e-mail address" in mail.content.decode()
    assert not AlertChannel.objects.exists()


def test_send_test_reaches_the_receiver_and_shows_its_answer(admin, webhook_receiver):
    channel = save_channel(None, ChannelChange("Hook", "webhook", url=webhook_receiver.url), SYSTEM)
    response = admin.post(f"/alerts/channels/{channel.pk}/test", follow=True)
    assert "Test to Hook: sent: HTTP 200: ok" in response.content.decode()
    assert webhook_receiver.received[0].json["event"] == "test"
    assert Delivery.objects.get().status == "sent"
    webhook_receiver.answers = [500]
    failed = admin.post(f"/alerts/channels/{channel.pk}/test", follow=True).content.decode()
    assert "Test to Hook: failed: HTTP 500: receiver failed" in failed


def test_admins_create_change_and_delete_rules(admin):
    channel = save_channel(None, ChannelChange("Mail", "email", recipients=["a@example.test"]), SYSTEM)
    form = {"name": "Nightly", "event_kinds": ["run_failed"], "min_severity": "20", "scope": "pipeline"}
    missing = admin.post("/alerts/rules/", {**form, "channels": [channel.pk]}).content.decode()
    assert "name the pipeline or table this rule is for" in missing
    admin.post("/alerts/rules/", {**form, "scope_name": "Nightly", "channels": [channel.pk], "enabled": "on"})
    rule = AlertRule.objects.get()
    assert (rule.event_kinds, rule.scope_name, list(rule.channels.all())) == (["run_failed"], "Nightly", [channel])
    assert "Nightly" in admin.get("/alerts/rules/").content.decode()
    admin.post(f"/alerts/rules/{rule.pk}/", {**form, "scope": "all", "channels": [channel.pk]})
    assert AlertRule.objects.get().scope == "all"
    admin.post(f"/alerts/rules/{rule.pk}/", {"action": "delete"})
    assert not AlertRule.objects.exists()


def test_check_now_evaluates_on_demand(operator):
    from tests.factories import make_run

    make_run(status="Failed", run_start=timezone.now(), run_end=timezone.now(), message="boom")
    response = operator.post("/alerts/evaluate", follow=True)
    assert "Checked: 1 condition(s) hold" in response.content.decode()
    assert Incident.objects.get().reason.endswith("failed: boom")


def test_an_unknown_or_huge_id_is_a_404(admin):
    assert admin.get("/alerts/incidents/99/").status_code == 404
    assert admin.get(f"/alerts/channels/{2**70}/").status_code == 404


def test_each_tables_open_incidents_are_there_for_the_tables_page_and_api():
    from syncjobs.services.alerts.incidents import open_for_tables

    late = _incident(kind="table_late", object_type="table", object_id="7", severity=Severity.WARNING)
    failing = _incident(kind="table_failing", object_type="table", object_id="7")
    _incident(kind="table_failing", object_type="table", object_id="8", resolved_at=timezone.now())
    assert open_for_tables([7, 8, 9]) == {7: [failing, late]}
