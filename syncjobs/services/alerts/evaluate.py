"""The evaluator: every minute (a django-q2 schedule) and on demand, read what changed since the last pass,
open, update and resolve incidents, then send the events due.

It reads state only (runs, triggers, windows, the Tables service): nothing in the run engine calls it,
so a run is never slowed or failed by an alert. A pass is safe to run twice or at once with another:
incidents are keyed by (condition, object) and deliveries are claimed attempt by attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from syncjobs.models import EvaluationPass, Incident
from syncjobs.services.alerts import conditions, deliver
from syncjobs.services.alerts.conditions import Seen
from syncjobs.services.alerts.incidents import observe, resolve

# Rows committed a little after the previous pass began (a run ending during it) are read again:
# evaluation is by state, so reading twice changes nothing.
OVERLAP = timedelta(minutes=5)


@dataclass(frozen=True)
class PassResult:
    """What one pass did."""

    findings: int
    resolved: int
    sent: int


def evaluate(*, wait_seconds: float = deliver.WAIT_SECONDS) -> PassResult:
    """One pass: every condition, then the deliveries due (and retries due within ``wait_seconds``)."""
    with transaction.atomic():
        bookmark = _bookmark()
        started = timezone.now()
        since = _since(bookmark.last_pass_at)
        findings = resolved = 0
        for seen in _conditions(since):
            findings += len(seen.findings)
            resolved += apply(seen)
        bookmark.last_pass_at = started
        bookmark.save(update_fields=["last_pass_at"])
        purge_resolved(started)
    sent = deliver.deliver_due(wait_seconds)
    return PassResult(findings, resolved, sent)


def _bookmark() -> EvaluationPass:
    """The one bookmark row, locked for this pass (PostgreSQL; SQLite serialises writers anyway)."""
    EvaluationPass.objects.get_or_create(pk=1)
    return EvaluationPass.objects.select_for_update().get(pk=1)


def _since(last_pass: datetime | None) -> datetime:
    if last_pass is None:
        return timezone.now() - timedelta(hours=settings.CTPORTAL_ALERT_LOOKBACK_HOURS)
    return last_pass - OVERLAP


def _conditions(since: datetime) -> list[Seen]:
    return [
        conditions.run_failures(since),
        conditions.long_runs(),
        conditions.trigger_failures(),
        conditions.reinitializations(since),
        *conditions.table_findings(),
        conditions.schema_findings(since),
    ]


def apply(seen: Seen) -> int:
    """Open or update an incident per finding, resolve those cleared; how many were resolved."""
    for finding in seen.findings:
        observe(finding)
    resolved = 0
    open_ones = Incident.objects.open().filter(kind=seen.kind)
    if seen.sweep_reason:
        still = {f.object_id for f in seen.findings}
        for incident in open_ones.exclude(object_id__in=still):
            resolved += resolve(incident, seen.sweep_reason)
    for incident in open_ones.filter(object_id__in=list(seen.cleared)):
        resolved += resolve(incident, seen.cleared[incident.object_id])
    return resolved


def purge_resolved(now: datetime) -> int:
    """Delete incidents resolved longer ago than the run history is kept (``CTPORTAL_RUN_RETENTION_DAYS``;
    0 keeps them), with their events and deliveries; how many incidents went."""
    days = settings.CTPORTAL_RUN_RETENTION_DAYS
    if days <= 0:
        return 0
    return Incident.objects.filter(resolved_at__lt=now - timedelta(days=days)).delete()[1].get("syncjobs.Incident", 0)
