"""What the Home page shows: runs in progress, recent failures, next scheduled runs, tables and alerts.

Each part is one small function the page calls; ``tables_by_status`` and ``open_alerts`` read through
``services.tables`` and ``services.alerts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from syncjobs import tutorial
from syncjobs.models import Pipeline, PipelineRun, RunStatus, TableStatus, Trigger
from syncjobs.services import tables
from syncjobs.services.alerts import incidents
from syncjobs.services.triggers import TriggerError, next_fire_times

RECENT = timedelta(hours=24)


@dataclass(frozen=True)
class ScheduledRun:
    """A trigger's next fire time and the pipelines it starts."""

    trigger: str
    at: datetime
    pipelines: list[str]


def runs_in_progress(limit: int = 10) -> list[PipelineRun]:
    """Queued, running and cancelling runs, the newest first."""
    return list(PipelineRun.objects.active().order_by("-triggered_at")[:limit])


def recent_failures(limit: int = 10, now: datetime | None = None) -> tuple[int, list[PipelineRun]]:
    """How many runs failed in the last 24 hours (latest attempts only: a rerun that succeeded clears
    its group), and the newest ``limit`` of them."""
    since = (now or timezone.now()) - RECENT
    failed = PipelineRun.objects.latest_attempts().filter(status=RunStatus.FAILED, triggered_at__gte=since)
    return failed.count(), list(failed.order_by("-triggered_at")[:limit])


def next_scheduled_runs(limit: int = 5, now: datetime | None = None) -> list[ScheduledRun]:
    """The next fire times of started schedule triggers, soonest first."""
    now = now or timezone.now()
    upcoming: list[ScheduledRun] = []
    for trigger in Trigger.objects.filter(type="ScheduleTrigger", runtime_state=Trigger.RuntimeState.STARTED):
        try:
            times = next_fire_times(trigger.definition, now, count=limit)
        except (TriggerError, KeyError, ValueError):
            continue  # not a schedule this portal fires; its own page explains
        names = [
            str(((p or {}).get("pipelineReference") or {}).get("referenceName", ""))
            for p in trigger.properties.get("pipelines") or []
        ]
        upcoming += [ScheduledRun(trigger.name, at, names) for at in times]
    return sorted(upcoming, key=lambda s: s.at)[:limit]


def tables_by_status(now: datetime | None = None) -> list[tuple[str, int]]:
    """``[(status, count)]`` of synced tables (*On time*, *Late*, *Failing*...), most urgent first, statuses
    without tables left out (empty: no table yet), for the Home page.

    Each status is a :class:`TableStatus` (a ``str``: its value, for ``/tables/?status=``; ``.label``
    in words). The counts are the Tables page's, in one query, after its ``prepare``.
    """
    now = now or timezone.now()
    tables.prepare(now)
    counts = tables.status_counts(tables.TableFilters(), now)
    return [(TableStatus(status), count) for status, count in counts.items() if count]


def open_alerts(limit: int = 10) -> list[dict[str, Any]]:
    """Open alerts, newest first, each ``{"title", "since", "url"}``, for the Home page."""
    return [
        {
            "title": str(incident),
            "since": incident.opened_at,
            "url": reverse("syncjobs:alert_incident", args=[incident.pk]),
        }
        for incident in incidents.newest_open(limit)
    ]


def is_fresh_portal() -> bool:
    """True while the portal holds no pipeline but the seeded tutorial's (the Home page then shows a guide)."""
    tutorial_names = {p["name"].lower() for p in tutorial.pipelines()}
    return all(name.lower() in tutorial_names for name in Pipeline.objects.values_list("name", flat=True))
