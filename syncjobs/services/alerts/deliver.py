"""Sending events: each pending delivery attempt is claimed, sent, and its answer logged; a failed one is
followed by another after a backoff that doubles, up to ``CTPORTAL_ALERT_ATTEMPTS``.

A claim is a conditional update pending -> sending that touches exactly one row, so two passes at once
never send the same attempt twice, and an attempt exists only once the previous one failed: a receiver
that answers is sent each event once.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from syncjobs.access import Actor
from syncjobs.models import AlertChannel, AuditEntry, Delivery, Event
from syncjobs.services import audit
from syncjobs.services.alerts.channels import DeliveryError, send

# A pass waits for retries due this soon (so a receiver's brief hiccup is retried in the same pass);
# later ones wait for the next pass.
WAIT_SECONDS = 30


def deliver_due(wait_seconds: float = WAIT_SECONDS) -> int:
    """Send every attempt that is due, and those falling due within ``wait_seconds``; how many were sent."""
    deadline = time.monotonic() + wait_seconds
    sent = 0
    recover_stalled()
    while True:
        for delivery in Delivery.objects.filter(status=Delivery.Status.PENDING, due_at__lte=timezone.now()):
            sent += attempt(delivery)
        following = Delivery.objects.filter(status=Delivery.Status.PENDING).order_by("due_at").first()
        if following is None:
            return sent
        pause = (following.due_at - timezone.now()).total_seconds()
        if time.monotonic() + pause > deadline:
            return sent
        time.sleep(max(pause, 0))


def recover_stalled() -> int:
    """Attempts left *sending* by a sender that died: failed (no answer is known), and tried again.

    The receiver may have got the message, so this is at-least-once: a duplicate beats a lost alert.
    """
    stale = timezone.now() - timedelta(seconds=3 * settings.CTPORTAL_ALERT_TIMEOUT_SECONDS + 60)
    recovered = 0
    for delivery in Delivery.objects.filter(status=Delivery.Status.SENDING, at__lt=stale):
        answer = "no answer recorded: the sender stopped (its worker died?)"
        stopped = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING)
        if stopped.update(status=Delivery.Status.FAILED, answer=answer) == 1:
            _retry(delivery)
            recovered += 1
    return recovered


def attempt(delivery: Delivery) -> bool:
    """Claim and send one attempt; whether it was sent. A failure queues the next attempt, if any is left."""
    claimed = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.SENDING, at=timezone.now()
    )
    if claimed != 1:
        return False
    delivery.refresh_from_db()
    events = Event.objects.select_related("incident", "incident__acknowledged_by")
    event = events.filter(pk=delivery.event_id).first() if delivery.event_id is not None else None
    if event is None:  # a test message's row, or its event was deleted: nothing to send
        _record(delivery, Delivery.Status.FAILED, "no event to send")
        return False
    try:
        answer = send(delivery.channel, event.title, message_text(event), event.as_message())
    except DeliveryError as exc:
        _record(delivery, Delivery.Status.FAILED, exc.answer)
        _retry(delivery)
        return False
    _record(delivery, Delivery.Status.SENT, answer)
    return True


def _record(delivery: Delivery, status: str, answer: str) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(status=status, answer=answer[:2000], at=timezone.now())


def _retry(delivery: Delivery) -> None:
    if delivery.attempt >= settings.CTPORTAL_ALERT_ATTEMPTS:
        return
    backoff = settings.CTPORTAL_ALERT_BACKOFF_MS * 2 ** (delivery.attempt - 1) / 1000
    Delivery.objects.get_or_create(
        event_id=delivery.event_id,
        channel_id=delivery.channel_id,
        attempt=delivery.attempt + 1,
        defaults={"incident_id": delivery.incident_id, "due_at": timezone.now() + timedelta(seconds=backoff)},
    )


def message_text(event: Event) -> str:
    """The plain-text message e-mail and chat channels carry."""
    incident = event.incident
    lines = [
        event.title,
        "",
        event.reason,
        "",
        f"Opened {incident.opened_at:%Y-%m-%d %H:%M} UTC, seen {incident.count} time(s).",
    ]
    if incident.link:
        lines.append(f"Details: {_absolute(incident.link)}")
    return "\n".join(lines)


def _absolute(link: str) -> str:
    base = getattr(settings, "CTPORTAL_BASE_URL", "")
    return f"{base.rstrip('/')}{link}" if base else link


def send_test(channel: AlertChannel, actor: Actor) -> tuple[bool, str]:
    """Send a test message now (logged as a delivery without an event, and audited); (sent, answer)."""
    title = f"[test] ctportal alerts: channel {channel.name}"
    text = f"A test message from ctportal, sent by {actor.name}. Alerts routed to this channel will arrive like this."
    payload = {"event": "test", "channel": channel.name, "sentBy": actor.name, "at": timezone.now().isoformat()}
    try:
        answer, ok = send(channel, title, text, payload), True
    except DeliveryError as exc:
        answer, ok = exc.answer, False
    status = Delivery.Status.SENT if ok else Delivery.Status.FAILED
    Delivery.objects.create(channel=channel, status=status, answer=answer[:2000])
    audit.record(actor, AuditEntry.Action.SEND_TEST, "alertChannel", channel.name, sent=ok)
    return ok, answer
