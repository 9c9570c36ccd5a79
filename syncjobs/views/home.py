"""Home: what needs attention now, and on a fresh portal where to start."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from syncjobs.access import Role, requires
from syncjobs.services import monitor, overview


@requires(GET=Role.VIEWER)
def home(request: HttpRequest) -> HttpResponse:
    """Runs in progress, failures in the last 24 hours, next scheduled runs, tables and open alerts."""
    failed_count, failures = overview.recent_failures()
    running = overview.runs_in_progress()
    monitor.attach_outcomes(running + failures)
    context = {
        "running": running,
        "failed_count": failed_count,
        "failures": failures,
        "scheduled": overview.next_scheduled_runs(),
        "tables": overview.tables_by_status(),
        "alerts": overview.open_alerts(),
        "fresh": overview.is_fresh_portal(),
    }
    return render(request, "home/index.html", context)
