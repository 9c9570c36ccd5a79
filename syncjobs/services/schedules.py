"""Schedules the portal keeps in django-q2: recovering runs whose worker died."""

from __future__ import annotations

from typing import Any

from django_q.models import Schedule

RECOVER_RUNS = "ctportal: recover runs of dead workers"
PURGE_RUNS = "ctportal: purge run history past its retention"
FIRE_TRIGGERS = "ctportal: fire due schedule triggers"


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
