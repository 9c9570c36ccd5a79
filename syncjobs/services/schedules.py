"""Schedules the portal keeps in django-q2: recovering runs, purging history, firing triggers, the
change-tracking cleanup of PostgreSQL and SQLite sources, and the alerts evaluator."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_q.models import Schedule

RECOVER_RUNS = "ctportal: recover runs of dead workers"
PURGE_RUNS = "ctportal: purge run history past its retention"
FIRE_TRIGGERS = "ctportal: fire due schedule triggers"
TABLE_OUTCOMES = "ctportal: record the synced tables' run outcomes"
TABLE_FACTS = "ctportal: read the synced tables' source facts (change tracking, retention, version)"
CLEANUP_CHANGE_TRACKING = "ctportal: change-tracking cleanup (retention) of PostgreSQL and SQLite sources"
EVALUATE_ALERTS = "ctportal: evaluate alerts (open, update and resolve incidents; send their events)"


def ensure_schedules(**_: Any) -> None:
    """Create (or keep) the portal's schedules; connected to post_migrate."""
    Schedule.objects.update_or_create(
        name=RECOVER_RUNS,
        defaults={"func": "syncjobs.tasks.recover_runs_task", "schedule_type": Schedule.MINUTES, "minutes": 1},
    )
    Schedule.objects.update_or_create(
        name=PURGE_RUNS, defaults={"func": "syncjobs.tasks.purge_runs_task", "schedule_type": Schedule.DAILY}
    )
    Schedule.objects.update_or_create(
        name=FIRE_TRIGGERS,
        defaults={"func": "syncjobs.tasks.fire_due_triggers_task", "schedule_type": Schedule.MINUTES, "minutes": 1},
    )
    Schedule.objects.update_or_create(
        name=CLEANUP_CHANGE_TRACKING,
        defaults={
            "func": "syncjobs.tasks.schedule_change_tracking_cleanups_task",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.CTPORTAL_CHANGE_TRACKING_CLEANUP_MINUTES,
        },
    )
    Schedule.objects.update_or_create(
        name=EVALUATE_ALERTS,
        defaults={"func": "syncjobs.tasks.evaluate_alerts_task", "schedule_type": Schedule.MINUTES, "minutes": 1},
    )
    Schedule.objects.update_or_create(
        name=TABLE_FACTS,
        defaults={"func": "syncjobs.tasks.schedule_table_facts_task", "schedule_type": Schedule.MINUTES, "minutes": 15},
    )
    Schedule.objects.update_or_create(
        name=TABLE_OUTCOMES,
        defaults={"func": "syncjobs.tasks.record_table_outcomes_task", "schedule_type": Schedule.MINUTES, "minutes": 1},
    )
