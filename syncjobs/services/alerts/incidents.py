"""Opening, updating and resolving incidents, and the events that channels are sent.

One open incident per (condition, object): the partial unique constraint ``syncjobs_incident_one_open``
holds that even when two evaluator passes race. An event is raised when an incident opens, when it
repeats enough to say so again (``repeat_every``), and when it resolves; nothing else notifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from syncjobs.access import Actor
from syncjobs.models import AlertChannel, AlertRule, AuditEntry, Delivery, Event, Incident
from syncjobs.models.alerts import RESOLVED, ObjectType, Severity
from syncjobs.services import audit


@dataclass(frozen=True)
class Finding:
    """A condition seen on an object by the evaluator: what ``observe`` opens or updates an incident from."""

    kind: str
    severity: int
    object_type: str
    object_id: str
    object_name: str
    reason: str
    link: str = ""
    pipeline_name: str = ""
    occurrence: str = ""  # the id of what was seen (a run, a window): counted once however often it is seen
    repeat_every: int = 0  # raise the event again every N more occurrences (0: never)
    count: int = 0  # how many occurrences so far, when the evaluator knows (0: count distinct occurrences)


def observe(finding: Finding) -> Incident:
    """Open an incident for ``finding``, or update the open one; raise an event when it opens or repeats."""
    incident = Incident.objects.open().filter(**_key(finding)).first()
    if incident is None:
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    **_key(finding),
                    **_shown(finding),
                    last_seen=finding.occurrence,
                    count=max(finding.count, 1),
                    notified_count=max(finding.count, 1),
                )
        except IntegrityError:  # another pass opened it a moment ago
            incident = Incident.objects.open().get(**_key(finding))
        else:
            raise_event(incident, finding.kind, finding.reason)
            return incident
    _update(incident, finding)
    return incident


def _key(finding: Finding) -> dict[str, str]:
    return {"kind": finding.kind, "object_type": finding.object_type, "object_id": finding.object_id}


def _shown(finding: Finding) -> dict[str, object]:
    return {
        "severity": finding.severity,
        "object_name": finding.object_name,
        "reason": finding.reason,
        "link": finding.link,
        "pipeline_name": finding.pipeline_name,
    }


def _update(incident: Incident, finding: Finding) -> None:
    """The condition still holds: new reason and, for a new occurrence, one more in the count."""
    changes = _shown(finding)
    if finding.occurrence and finding.occurrence != incident.last_seen:
        changes.update(count=finding.count or incident.count + 1, last_seen=finding.occurrence)
    if all(getattr(incident, name) == value for name, value in changes.items()):
        return
    for name, value in changes.items():
        setattr(incident, name, value)
    incident.updated_at = timezone.now()
    incident.save(update_fields=[*changes, "updated_at"])
    due = finding.repeat_every and incident.count - incident.notified_count >= finding.repeat_every
    if due and incident.acknowledged_at is None:
        Incident.objects.filter(pk=incident.pk).update(notified_count=incident.count)
        incident.notified_count = incident.count
        raise_event(incident, incident.kind, f"{finding.reason} ({incident.count} times since it opened)")


def resolve(incident: Incident, reason: str) -> bool:
    """The condition cleared: close the incident and raise the *resolved* event (once: False if already)."""
    now = timezone.now()
    if Incident.objects.filter(pk=incident.pk, resolved_at__isnull=True).update(resolved_at=now, updated_at=now) != 1:
        return False
    incident.resolved_at = incident.updated_at = now
    raise_event(incident, RESOLVED, reason)
    return True


def resolve_all_except(kind: str, still: set[str], reason: str) -> int:
    """Resolve the open incidents of ``kind`` whose object id is not in ``still``; how many."""
    resolved = 0
    for incident in Incident.objects.open().filter(kind=kind).exclude(object_id__in=still):
        resolved += resolve(incident, reason)
    return resolved


def raise_event(incident: Incident, kind: str, reason: str) -> Event:
    """Log an event and queue one delivery per channel its rules name (none while the incident is muted)."""
    severity = Severity.INFO if kind == RESOLVED else incident.severity
    event = Event.objects.create(incident=incident, kind=kind, severity=severity, reason=reason)
    if incident.is_muted:
        return event
    for channel in channels_for(incident):
        Delivery.objects.create(channel=channel, incident=incident, event=event, attempt=1)
    return event


def channels_for(incident: Incident) -> list[AlertChannel]:
    """The enabled channels of every enabled rule that matches ``incident``, each once."""
    found: dict[int, AlertChannel] = {}
    for rule in AlertRule.objects.filter(enabled=True).prefetch_related("channels"):
        if rule.matches(incident):
            found.update({c.pk: c for c in rule.channels.all() if c.enabled})
    return list(found.values())


def acknowledge(incident: Incident, actor: Actor) -> None:
    """Someone is on it: no repeat events (the resolution is still sent)."""
    incident.acknowledged_at = timezone.now()
    incident.acknowledged_by_id = actor.user_id
    incident.save(update_fields=["acknowledged_at", "acknowledged_by"])
    audit.record(actor, AuditEntry.Action.ACKNOWLEDGE, "incident", _label(incident))


def mute(incident: Incident, minutes: int, actor: Actor) -> datetime | None:
    """Send nothing about ``incident`` for ``minutes`` (0 unmutes); the events are still logged."""
    incident.muted_until = timezone.now() + timedelta(minutes=minutes) if minutes > 0 else None
    incident.save(update_fields=["muted_until"])
    audit.record(actor, AuditEntry.Action.MUTE, "incident", _label(incident), minutes=minutes)
    return incident.muted_until


def _label(incident: Incident) -> str:
    return f"#{incident.pk} {incident.kind} {incident.object_type} {incident.object_name}"


def newest_open(limit: int = 10) -> list[Incident]:
    """The open incidents, the newest opened first (the Home page's open alerts)."""
    return list(Incident.objects.open().order_by("-opened_at", "-pk")[:limit])


def open_for_tables(table_ids: list[int]) -> dict[int, list[Incident]]:
    """The open incidents of each synced table (by its id, the watermark's), most severe first: for the
    Tables page's rows and ``/api/tables``."""
    found: dict[int, list[Incident]] = {}
    ids = [str(pk) for pk in table_ids]
    rows = Incident.objects.open().filter(object_type=ObjectType.TABLE, object_id__in=ids)
    for incident in rows.order_by("-severity", "-updated_at"):
        found.setdefault(int(incident.object_id), []).append(incident)
    return found
