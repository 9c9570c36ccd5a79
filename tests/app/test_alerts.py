"""Alerts end to end with real parts: runs carried out by the engine, the evaluator, and receivers on
loopback (a webhook endpoint, an SMTP server) that must get one message per incident and one *resolved*."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from syncjobs.access import SYSTEM
from syncjobs.models import AlertChannel, AlertRule, Delivery, Incident, PipelineRun, Trigger
from syncjobs.models.alerts import Severity
from syncjobs.services.alerts import channels as channel_kinds
from syncjobs.services.alerts.evaluate import evaluate
from syncjobs.services.alerts.routing import ChannelChange, save_channel, save_rule
from syncjobs.services.runs import trigger_run
from tests.factories import make_linked_service, make_pipeline, make_run

pytestmark = pytest.mark.django_db
SIGNING = "whsec-test-signing-secret"


@pytest.fixture
def flaky(tmp_path: Path, inline: None, settings) -> tuple[Path, object]:
    """A pipeline whose Script activity fails until the table ``flag`` exists in its SQLite database."""
    settings.CTPORTAL_ALERT_BACKOFF_MS = 10
    database = tmp_path / "flaky.sqlite3"
    sqlite3.connect(database).close()
    make_linked_service("Flaky", database=str(database))
    script = {
        "name": "Check",
        "type": "Script",
        "linkedServiceName": {"referenceName": "Flaky", "type": "LinkedServiceReference"},
        "typeProperties": {"scripts": [{"type": "Query", "text": "SELECT count(*) FROM flag"}]},
    }
    return database, make_pipeline("Nightly", [script])


def _webhook(url: str, **rule: object) -> AlertChannel:
    channel = save_channel(None, ChannelChange("Hook", "webhook", url=url, signing_secret=SIGNING), SYSTEM)
    save_rule(AlertRule(name="Everything", **rule), [channel], SYSTEM)
    return channel


def _fix(database: Path) -> None:
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE flag (id INTEGER PRIMARY KEY)")


def test_a_failing_pipeline_notifies_once_while_it_fails_and_once_when_it_recovers(flaky, webhook_receiver):
    database, pipeline = flaky
    _webhook(webhook_receiver.url)
    assert trigger_run(pipeline).__class__ is PipelineRun
    assert PipelineRun.objects.get().status == "Failed"
    evaluate()
    trigger_run(pipeline)  # fails again: the same incident, counted, not sent again
    evaluate()
    evaluate()
    incident = Incident.objects.get()
    assert (incident.kind, incident.object_name, incident.count, incident.is_open) == ("run_failed", "Nightly", 2, True)
    assert webhook_receiver.events() == ["run_failed"]
    _fix(database)
    trigger_run(pipeline)
    evaluate()
    evaluate()
    assert webhook_receiver.events() == ["run_failed", "resolved"]
    first = webhook_receiver.received[0]
    assert first.json["incident"]["objectName"] == "Nightly" and "no such table: flag" in first.json["reason"]
    stamp, signature = first.headers["X-Ctportal-Timestamp"], first.headers["X-Ctportal-Signature"]
    assert signature == "sha256=" + channel_kinds.sign(SIGNING, stamp, first.body)
    assert Incident.objects.get().resolved_at is not None


def test_mail_gets_one_message_when_the_incident_opens_and_one_when_it_resolves(flaky, mail_server):
    database, pipeline = flaky
    change = ChannelChange("Ops mail", "email", recipients=["ops@example.test"])
    save_rule(AlertRule(name="Mail", min_severity=Severity.ERROR), [save_channel(None, change, SYSTEM)], SYSTEM)
    trigger_run(pipeline)
    evaluate()
    trigger_run(pipeline)
    evaluate()
    _fix(database)
    trigger_run(pipeline)
    evaluate()
    subjects = [m["Subject"] for m in mail_server.messages]
    assert subjects == ["[error] run failed: pipeline Nightly", "[resolved] run failed: pipeline Nightly"]
    assert mail_server.messages[0]["To"] == "ops@example.test"
    assert "no such table: flag" in mail_server.messages[0].get_payload()


def test_a_failed_delivery_is_retried_with_backoff_and_each_attempt_logged_with_its_answer(flaky, webhook_receiver):
    _, pipeline = flaky
    webhook_receiver.answers = [500]
    _webhook(webhook_receiver.url)
    trigger_run(pipeline)
    evaluate()
    attempts = list(Delivery.objects.order_by("attempt").values_list("attempt", "status", "answer"))
    assert attempts == [(1, "failed", "HTTP 500: receiver failed"), (2, "sent", "HTTP 200: ok")]
    assert len(webhook_receiver.received) == 2 and webhook_receiver.events() == ["run_failed"]


def test_a_receiver_that_never_answers_well_gets_the_configured_attempts_then_no_more(
    flaky, webhook_receiver, settings
):
    _, pipeline = flaky
    settings.CTPORTAL_ALERT_ATTEMPTS = 3
    webhook_receiver.answers = [503] * 10
    _webhook(webhook_receiver.url)
    trigger_run(pipeline)
    evaluate()
    evaluate()
    assert list(Delivery.objects.order_by("attempt").values_list("status", flat=True)) == ["failed"] * 3
    assert len(webhook_receiver.received) == 3


def test_the_webhook_token_never_reaches_the_delivery_log(flaky, webhook_receiver):
    _, pipeline = flaky
    webhook_receiver.answers = [404]
    _webhook(webhook_receiver.url.replace("127.0.0.1", "localhost"), min_severity=Severity.INFO)
    trigger_run(pipeline)
    evaluate()
    answers = " ".join(Delivery.objects.values_list("answer", flat=True))
    assert "ctportal-token-abc123" not in answers and answers


def test_a_muted_incident_sends_nothing_and_an_acknowledged_one_still_sends_its_resolution(flaky, webhook_receiver):
    database, pipeline = flaky
    _webhook(webhook_receiver.url)
    trigger_run(pipeline)
    evaluate()
    from syncjobs.services.alerts.incidents import acknowledge, mute

    incident = Incident.objects.get()
    acknowledge(incident, SYSTEM)
    _fix(database)
    trigger_run(pipeline)
    evaluate()
    assert webhook_receiver.events() == ["run_failed", "resolved"]
    Path(database).unlink()
    sqlite3.connect(database).close()
    trigger_run(pipeline)
    evaluate()  # a new incident, then muted: its resolution is logged, not sent
    mute(Incident.objects.open().get(), 60, SYSTEM)
    _fix(database)
    trigger_run(pipeline)
    evaluate()
    assert webhook_receiver.events() == ["run_failed", "resolved", "run_failed"]
    assert Incident.objects.filter(resolved_at__isnull=False).count() == 2


def test_a_run_longer_than_the_limit_opens_an_incident_that_resolves_when_it_ends(webhook_receiver, settings):
    settings.CTPORTAL_ALERT_RUN_LONG_MINUTES = 30
    _webhook(webhook_receiver.url)
    run = make_run(status="InProgress", run_start=timezone.now() - timedelta(minutes=45))
    make_run(status="InProgress", run_start=timezone.now() - timedelta(minutes=5))
    evaluate()
    incident = Incident.objects.get()
    assert (incident.kind, incident.object_id) == ("run_long", str(run.run_id))
    assert "in progress for 45 minutes (more than 30)" in incident.reason
    run.succeed()
    evaluate()
    assert webhook_receiver.events() == ["run_long", "resolved"]


def test_a_trigger_that_cannot_fire_opens_an_incident_resolved_when_it_fires_again(webhook_receiver):
    _webhook(webhook_receiver.url)
    make_pipeline("Nightly")
    recurrence = {"frequency": "Hour", "interval": 1, "startTime": "2026-01-01T00:00:00Z", "timeZone": "UTC"}
    pipelines = [{"pipelineReference": {"referenceName": "Nightly", "type": "PipelineReference"}}]
    properties = {"type": "ScheduleTrigger", "typeProperties": {"recurrence": recurrence}, "pipelines": pipelines}
    Trigger(definition={"name": "Hourly", "properties": properties}).save()
    trigger = Trigger.objects.get()
    trigger.record_fire_error("the pipeline Nightly refused its parameters")
    evaluate()
    evaluate()
    trigger.clear_fire_error()
    evaluate()
    assert webhook_receiver.events() == ["trigger_failing", "resolved"]
    assert "refused its parameters" in webhook_receiver.received[0].json["reason"]


def test_rules_pick_events_by_kind_severity_and_pipeline(flaky, webhook_receiver):
    _, pipeline = flaky
    channel = _webhook(webhook_receiver.url, event_kinds=["trigger_failing"])
    save_rule(AlertRule(name="Critical only", min_severity=Severity.CRITICAL), [channel], SYSTEM)
    save_rule(AlertRule(name="Other pipeline", scope="pipeline", scope_name="Weekly"), [channel], SYSTEM)
    trigger_run(pipeline)
    evaluate()
    assert Incident.objects.count() == 1 and webhook_receiver.received == []
    save_rule(AlertRule(name="This pipeline", scope="pipeline", scope_name="nightly"), [channel], SYSTEM)
    trigger_run(pipeline)
    evaluate()
    assert webhook_receiver.received == []  # the event was raised when it opened; an update sends nothing
    Incident.objects.update(resolved_at=timezone.now())
    trigger_run(pipeline)
    evaluate()
    assert webhook_receiver.events() == ["run_failed"]


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://127.0.0.1:9/hook", "a loopback, private or reserved address"),
        ("http://10.1.2.3/hook", "a loopback, private or reserved address"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local, multicast, unspecified or metadata address"),
        ("file:///etc/passwd", "the URL must be http or https"),
    ],
)
def test_webhooks_to_internal_addresses_are_refused(url, refused, settings):
    channel = save_channel(None, ChannelChange("Inside", "webhook", url=url), SYSTEM)
    with pytest.raises(channel_kinds.DeliveryError) as caught:
        channel_kinds.send(channel, "t", "x", {"event": "test"})
    assert refused in caught.value.answer
    settings.CTPORTAL_ALERT_ALLOW_PRIVATE_TARGETS = True
    if "169.254" in url:
        with pytest.raises(channel_kinds.DeliveryError, match="link-local"):
            channel_kinds.send(channel, "t", "x", {"event": "test"})


def test_an_apprise_channel_sends_through_apprise_once_per_event(flaky, webhook_receiver):
    database, pipeline = flaky
    url = webhook_receiver.url.replace("http://", "json://")
    channel = save_channel(None, ChannelChange("Chat", "apprise", apprise_urls=url), SYSTEM)
    save_rule(AlertRule(name="Chat"), [channel], SYSTEM)
    trigger_run(pipeline)
    evaluate()
    _fix(database)
    trigger_run(pipeline)
    evaluate()
    titles = [r.json["title"] for r in webhook_receiver.received]  # apprise's JSON: title, message, type
    assert titles == ["[error] run failed: pipeline Nightly", "[resolved] run failed: pipeline Nightly"]
    assert "no such table: flag" in webhook_receiver.received[0].json["message"]
    assert list(Delivery.objects.values_list("answer", flat=True)) == ["sent to 1 service(s)"] * 2


def test_an_apprise_channel_refuses_a_private_address_unless_allowed(settings):
    settings.CTPORTAL_ALERT_ALLOW_PRIVATE_TARGETS = False
    channel = save_channel(None, ChannelChange("Chat", "apprise", apprise_urls="json://10.0.0.9/x"), SYSTEM)
    with pytest.raises(channel_kinds.DeliveryError, match="loopback, private or reserved"):
        channel_kinds.send(channel, "t", "x", {})


def test_the_same_finding_twice_is_one_incident_and_an_attempt_is_sent_once(webhook_receiver):
    from syncjobs.services.alerts.deliver import attempt
    from syncjobs.services.alerts.incidents import Finding, observe

    _webhook(webhook_receiver.url)
    finding = Finding(
        "trigger_failing", Severity.ERROR, "trigger", "hourly", "Hourly", "could not fire", occurrence="1"
    )
    assert observe(finding) == observe(finding)
    delivery = Delivery.objects.get()
    assert attempt(delivery) is True
    assert attempt(delivery) is False  # claimed already: a second pass at the same moment sends nothing
    assert webhook_receiver.events() == ["trigger_failing"] and Incident.objects.get().count == 1


def test_resolved_incidents_go_with_the_run_history(webhook_receiver, settings):
    from syncjobs.services.alerts.evaluate import purge_resolved

    settings.CTPORTAL_RUN_RETENTION_DAYS = 30
    make_run(status="Failed", run_start=timezone.now(), run_end=timezone.now())
    evaluate()
    Incident.objects.update(resolved_at=timezone.now() - timedelta(days=31))
    assert purge_resolved(timezone.now()) == 1 and not Incident.objects.exists()
    settings.CTPORTAL_RUN_RETENTION_DAYS = 0
    assert purge_resolved(timezone.now()) == 0


def test_an_attempt_whose_sender_died_is_failed_and_tried_again(webhook_receiver, settings):
    from syncjobs.services.alerts.deliver import deliver_due
    from syncjobs.services.alerts.incidents import Finding, observe

    _webhook(webhook_receiver.url)
    observe(Finding("trigger_failing", Severity.ERROR, "trigger", "hourly", "Hourly", "could not fire"))
    settings.CTPORTAL_ALERT_BACKOFF_MS = 10
    Delivery.objects.update(status="sending", at=timezone.now() - timedelta(minutes=5))  # its sender was killed
    deliver_due(1)
    attempts = list(Delivery.objects.order_by("attempt").values_list("attempt", "status"))
    assert attempts == [(1, "failed"), (2, "sent")] and webhook_receiver.events() == ["trigger_failing"]


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
        "http://2130706433/hook",  # 127.0.0.1 written as one number
        "http://localhost./hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://100.100.100.200/latest/meta-data/",  # a cloud's metadata service, in shared address space
        "http://100.64.0.1/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254
    ],
)
def test_webhooks_to_disguised_internal_addresses_are_refused(url, settings):
    settings.CTPORTAL_ALERT_TIMEOUT_SECONDS = 1
    channel = save_channel(None, ChannelChange("Inside", "webhook", url=url), SYSTEM)
    with pytest.raises(channel_kinds.DeliveryError) as caught:
        channel_kinds.send(channel, "t", "x", {"event": "test"})
    assert "refused" in caught.value.answer or "localhost. does not resolve" in caught.value.answer


@pytest.mark.parametrize("url", ["http://[::ffff:169.254.169.254]/latest/", "http://[fd00:ec2::254]/latest/"])
def test_metadata_addresses_stay_refused_when_private_targets_are_allowed(url, settings):
    settings.CTPORTAL_ALERT_ALLOW_PRIVATE_TARGETS = True
    settings.CTPORTAL_ALERT_TIMEOUT_SECONDS = 1
    channel = save_channel(None, ChannelChange("Inside", "webhook", url=url), SYSTEM)
    with pytest.raises(channel_kinds.DeliveryError) as caught:
        channel_kinds.send(channel, "t", "x", {"event": "test"})
    assert "refused" in caught.value.answer


@pytest.mark.parametrize("padding", [0, 480, 490, 497])
def test_a_receiver_echoing_its_url_cut_at_the_answer_limit_leaves_no_piece_of_the_token(padding, settings):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * padding + self.path.rsplit("/", 1)[-1].encode())

        def log_message(self, *args: object) -> None:
            return None

    settings.CTPORTAL_ALERT_ALLOW_PRIVATE_TARGETS = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks/Tok3nSecretValue42"
        channel = save_channel(None, ChannelChange("Echo", "webhook", url=url), SYSTEM)
        answer = channel_kinds.send(channel, "t", "x", {"event": "test"})
    finally:
        server.shutdown()
        server.server_close()
    assert answer.startswith("HTTP 200: ") and "Tok3n" not in answer and "Tok3nSecretValue42"[:5] not in answer


def test_the_address_actually_connected_to_is_checked_again(webhook_receiver, settings):
    """DNS rebinding: a name checked as public may resolve to a private address when urllib connects."""
    from urllib.parse import urlsplit

    port = urlsplit(webhook_receiver.url).port
    settings.CTPORTAL_ALERT_ALLOW_PRIVATE_TARGETS = False
    connection = channel_kinds._CheckedHTTP("127.0.0.1", port, timeout=2)
    with pytest.raises(channel_kinds.DeliveryError, match="connected to 127.0.0.1.*refused"):
        connection.connect()
    assert connection.sock is None and webhook_receiver.received == []
    settings.CTPORTAL_ALERT_ALLOW_PRIVATE_TARGETS = True
    connection.connect()
    connection.close()
