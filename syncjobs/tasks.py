"""django-q2 tasks: one-line calls into the services."""

from __future__ import annotations

from syncjobs.services import change_tracking, monitor, runs, table_facts, table_outcomes, tables, triggers
from syncjobs.services.alerts import evaluate


def run_pipeline_task(run_id: str) -> None:
    """Run a queued pipeline run."""
    runs.execute_run(run_id)


def recover_runs_task() -> int:
    """Fail runs whose worker died."""
    return runs.recover_stalled_runs()


def purge_runs_task() -> int:
    """Delete run history older than the retention setting."""
    return monitor.purge_old_runs()


def schedule_change_tracking_cleanups_task() -> int:
    """Queue one change-tracking cleanup per PostgreSQL and SQLite linked service."""
    return change_tracking.schedule_cleanups()


def cleanup_change_tracking_task(linked_service_id: int) -> int:
    """Clean up one linked service's change tracking past each table's retention."""
    return change_tracking.cleanup(linked_service_id)


def fire_due_triggers_task() -> int:
    """Fire the schedule triggers that are due."""
    return len(triggers.fire_due_triggers())


def evaluate_alerts_task() -> int:
    """Open, update and resolve incidents, and send the events due; how many findings."""
    return evaluate.evaluate().findings


def refresh_table_facts_task(linked_service_id: int) -> int:
    """Read one source's facts for its synced tables (change tracking, retention, current version)."""
    return table_facts.refresh_source_facts(linked_service_id)


def schedule_table_facts_task() -> int:
    """Queue one source-facts refresh per source with synced tables."""
    return table_facts.schedule_refreshes()


def verify_table_task(synced_table_id: int) -> str:
    """verify_sync one synced table and keep the verdict on it."""
    return tables.verify_by_id(synced_table_id)


def record_table_outcomes_task() -> int:
    """Record the windows and ended runs since the last time on their synced tables (readers then find it done)."""
    return table_outcomes.catch_up()
