"""What the Home page shows: runs in progress, recent failures, next scheduled runs, tables and alerts.

Each part is one small function the page calls. ``tables_by_status`` and ``open_alerts`` return nothing
until the Tables and Alerts features land: at merge, replace their bodies with calls into
``services.tables`` and ``services.alerts`` (the shapes they must return are in their docstrings); the
template already renders them when they are not empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from syncjobs import tutorial
from syncjobs.models import Pipeline, PipelineRun, RunStatus, Trigger
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


def tables_by_status() -> list[tuple[str, int]]:
    """``[(status, count)]`` of synced tables (*On time*, *Late*, *Failing*...), for the Home page.

    Empty until the Tables feature lands; at merge, return the counts ``services.tables`` computes.
    """
    return []


def open_alerts(limit: int = 10) -> list[dict[str, Any]]:
    """Open alerts, newest first, each ``{"title", "since", "url"}``, for the Home page.

    Empty until the Alerts feature lands; at merge, return ``services.alerts``' open alerts.
    """
    return []


def is_fresh_portal() -> bool:
    """True while the portal holds no pipeline but the seeded tutorial's (the Home page then shows a guide)."""
    tutorial_names = {p["name"].lower() for p in tutorial.pipelines()}
    return all(name.lower() in tutorial_names for name in Pipeline.objects.values_list("name", flat=True))
