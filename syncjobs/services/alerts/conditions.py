"""The conditions the evaluator checks, each a function returning what it sees now (``Finding``s) and
which open incidents of its kind have cleared.

Run- and trigger-level conditions read the run and trigger tables; table-level ones (failing, late,
retention risk) read the Tables service's synced tables (``services/tables.py``); schema changes read
the drift records (see ``schema_findings``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from syncjobs.models import (
    Incident,
    PipelineRun,
    RunStatus,
    SyncedTable,
    TableStatus,
    Trigger,
    Watermark,
    WatermarkWindow,
)
from syncjobs.models.alerts import Condition, ObjectType, Severity
from syncjobs.models.synced_tables import schema_change_waiting, status_rules
from syncjobs.services import table_outcomes, tables
from syncjobs.services.alerts.incidents import Finding


@dataclass
class Seen:
    """What one condition found: findings to open or update, and objects (ids) whose incident has cleared."""

    kind: str
    findings: list[Finding] = field(default_factory=list)
    cleared: dict[str, str] = field(default_factory=dict)  # object id -> why it cleared
    # Sweeping conditions (state read whole, not since the last pass): every open incident of the kind
    # not found again has cleared, with this reason.
    sweep_reason: str = ""


def run_failures(since: datetime) -> Seen:
    """Pipelines whose latest finished run failed (opened) or succeeded (cleared), among those that ran since."""
    seen = Seen(Condition.RUN_FAILED)
    names = set(
        PipelineRun.objects.finished().filter(run_end__gte=since).values_list("pipeline_name", flat=True).distinct()
    )
    for name in names:
        runs = PipelineRun.objects.filter(pipeline_name=name, status__in=(RunStatus.FAILED, RunStatus.SUCCEEDED))
        latest = runs.exclude(run_end=None).order_by("-run_end", "-pk").first()
        if latest is None:
            continue
        if latest.status == RunStatus.SUCCEEDED:
            seen.cleared[name.lower()] = f"run {latest.run_id} of {name} succeeded"
            continue
        last_ok = runs.filter(status=RunStatus.SUCCEEDED).order_by("-run_end").values_list("run_end", flat=True)
        failed = runs.filter(status=RunStatus.FAILED)
        if last_ok.first() is not None:
            failed = failed.filter(run_end__gt=last_ok.first())
        seen.findings.append(_run_failed(latest, failed.count()))
    return seen


def _run_failed(run: PipelineRun, count: int) -> Finding:
    message = (run.message or "no message").strip().splitlines()[0][:300]
    return Finding(
        kind=Condition.RUN_FAILED,
        severity=Severity.ERROR,
        object_type=ObjectType.PIPELINE,
        object_id=run.pipeline_name.lower(),
        object_name=run.pipeline_name,
        reason=f"run {run.run_id} failed: {message}",
        link=reverse("syncjobs:run_detail", args=[run.run_id]),
        pipeline_name=run.pipeline_name,
        occurrence=str(run.run_id),
        count=count,
    )


def long_runs() -> Seen:
    """Runs in progress for longer than ``CTPORTAL_ALERT_RUN_LONG_MINUTES``; the rest have cleared."""
    limit = settings.CTPORTAL_ALERT_RUN_LONG_MINUTES
    now = timezone.now()
    seen = Seen(Condition.RUN_LONG, sweep_reason="the run ended")
    for run in PipelineRun.objects.in_progress().filter(run_start__lt=now - timedelta(minutes=limit)):
        minutes = int((now - run.run_start).total_seconds() // 60) if run.run_start else limit
        seen.findings.append(
            Finding(
                kind=Condition.RUN_LONG,
                severity=Severity.WARNING,
                object_type=ObjectType.RUN,
                object_id=str(run.run_id),
                object_name=f"{run.pipeline_name} run {str(run.run_id)[:8]}",
                reason=f"in progress for {minutes} minutes (more than {limit})",
                link=reverse("syncjobs:run_detail", args=[run.run_id]),
                pipeline_name=run.pipeline_name,
            )
        )
    return seen


def trigger_failures() -> Seen:
    """Triggers whose last attempt to fire failed; the others (fired since, or deleted) have cleared."""
    seen = Seen(Condition.TRIGGER_FAILING, sweep_reason="the trigger fired again (or was deleted)")
    for trigger in Trigger.objects.exclude(fire_error=""):
        seen.findings.append(
            Finding(
                kind=Condition.TRIGGER_FAILING,
                severity=Severity.ERROR,
                object_type=ObjectType.TRIGGER,
                object_id=trigger.name.lower(),
                object_name=trigger.name,
                reason=f"could not fire: {trigger.fire_error[:300]}",
                link=reverse("syncjobs:manage_trigger", args=[trigger.name]),
                occurrence=trigger.fire_error_at.isoformat() if trigger.fire_error_at else "",
            )
        )
    return seen


def reinitializations(since: datetime) -> Seen:
    """Tables whose latest window was a reinitialization (a full copy: expired, restored, identity changed);
    a later delta window clears it."""
    seen = Seen(Condition.REINITIALIZED)
    touched = WatermarkWindow.objects.filter(created_at__gte=since).values_list("watermark_id", flat=True)
    for watermark in Watermark.objects.filter(pk__in=set(touched)).select_related("linked_service"):
        latest = watermark.windows.select_related("pipeline_run").order_by("-created_at", "-pk").first()
        if latest is None:
            continue
        if latest.mode == WatermarkWindow.Mode.REINITIALIZED:
            seen.findings.append(_reinitialized(watermark, latest))
        elif latest.mode == WatermarkWindow.Mode.DELTA:
            seen.cleared[str(watermark.pk)] = "a change window (delta) was copied after the full copy"
    return seen


def _reinitialized(watermark: Watermark, window: WatermarkWindow) -> Finding:
    run = window.pipeline_run
    return Finding(
        kind=Condition.REINITIALIZED,
        severity=Severity.WARNING,
        object_type=ObjectType.TABLE,
        object_id=str(watermark.pk),
        object_name=table_label(watermark),
        reason=f"full copy into generation {window.generation}: {window.reason or 'reinitialized'}",
        link=reverse("syncjobs:table_detail", args=[watermark.pk]),
        pipeline_name=run.pipeline_name if run else "",
        occurrence=str(window.pk),
    )


def table_label(watermark: Watermark) -> str:
    """As the Tables page names it (``Shop/dbo.customers -> Lake:out``): the source, the table, the sink."""
    synced = SyncedTable.objects.filter(pk=watermark.pk).select_related("watermark").first()
    if synced is not None:
        return str(synced)
    return f"{watermark.linked_service.name}/{watermark.table} -> {watermark.sink_key}"


def table_findings() -> Iterable[Seen]:
    """Table failing, table late and retention risk, read from the Tables service's synced tables.

    One rule each with the Tables page (``status_rules`` and ``table_outcomes``' pace): *Failing* and
    *Retention risk* are the page's statuses; the alert *table late* waits for the freshness target, which
    the page's *Late* reaches first by default (one interval against two) and together with it when the
    table has a target set. A paused table is neither failing nor late (someone paused it, or it waits on a
    schema change, which has its own incident), but its retention still runs out.
    """
    now = timezone.now()
    tables.prepare(now)
    rules = {status: q for q, status in status_rules(now)}
    current = SyncedTable.objects.current().select_related("watermark", "last_run")
    running = current.filter(watermark__paused=False).exclude(schema_change_waiting())
    return [
        _failing(running.filter(rules[TableStatus.FAILING])),
        _late(running.filter(rules[TableStatus.LATE]), now),
        _retention_risk(current.filter(rules[TableStatus.RETENTION_RISK]), now),
    ]


def _table_finding(table: SyncedTable, kind: str, severity: int, reason: str, **more: object) -> Finding:
    run = table.last_run
    pipeline = run.pipeline_name if run else ""
    if not pipeline:
        pipeline = table.bindings.values_list("pipeline__name", flat=True).first() or ""
    return Finding(
        kind=kind,
        severity=severity,
        object_type=ObjectType.TABLE,
        object_id=str(table.pk),
        object_name=str(table),
        reason=reason,
        link=reverse("syncjobs:table_detail", args=[table.pk]),
        pipeline_name=pipeline,
        **more,  # type: ignore[arg-type]
    )


def _failing(failing: Iterable[SyncedTable]) -> Seen:
    seen = Seen(Condition.TABLE_FAILING, sweep_reason="its last attempt succeeded (or it was paused or unlisted)")
    repeat = settings.CTPORTAL_ALERT_TABLE_FAILING_REPEAT
    for table in failing:
        why = (table.last_error_message or table.last_error_reason or "no message").strip().splitlines()[0][:300]
        found = _table_finding(
            table,
            Condition.TABLE_FAILING,
            Severity.ERROR,
            f"its last attempt failed: {why}",
            occurrence=str(table.last_run_id or table.last_attempt_at),
            repeat_every=repeat,
        )
        seen.findings.append(found)
    return seen


def _late(late: Iterable[SyncedTable], now: datetime) -> Seen:
    """Late past the freshness target (``table_outcomes.freshness_target``): the page's *Late* turned at
    ``late_at``, one ``late_after`` past the last success; the alert waits the rest of the target."""
    seen = Seen(Condition.TABLE_LATE, sweep_reason="it synced again (or was paused or unlisted)")
    for table in late:
        page_late = table_outcomes.late_after(table.schedule_seconds, table.freshness_target)
        target = table_outcomes.freshness_target(table.schedule_seconds, table.freshness_target)
        if table.late_at is None or page_late is None or target is None:
            continue
        if table.late_at - page_late + target > now:
            continue
        since = table.last_success_at.strftime("%Y-%m-%d %H:%M UTC") if table.last_success_at else "never"
        reason = (
            f"no successful sync within its freshness target of {_duration(int(target.total_seconds()))} "
            f"(last success: {since})"
        )
        seen.findings.append(_table_finding(table, Condition.TABLE_LATE, Severity.WARNING, reason))
    return seen


def _retention_risk(at_risk: Iterable[SyncedTable], now: datetime) -> Seen:
    """Tables at *Retention risk* (``table_outcomes.risk_at``: their changes leave the source's retention
    within their horizon), critical once the changes may already be gone."""
    seen = Seen(Condition.RETENTION_RISK, sweep_reason="it synced: its changes are within the source's retention")
    for table in at_risk:
        left = table.retention_hours_left(now)
        if left is None:
            continue
        if left <= 0:
            reason = "changes after its watermark may already be gone from the source: a full copy will follow"
            severity = Severity.CRITICAL
        else:
            reason = f"its changes leave the source's retention in {left} h unless it syncs before then"
            severity = Severity.WARNING
        retention = _duration(table.retention_seconds or 0)
        seen.findings.append(
            _table_finding(table, Condition.RETENTION_RISK, severity, f"{reason} (retention {retention})")
        )
    return seen


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def schema_findings(since: datetime) -> Seen:
    """Schema changed, from the tables' schema history (``SchemaChange``, recorded by each copy).

    Open while the table is paused on the change (until an Editor accepts it), or, when the copy went on
    (continue, re-sync), until a later window was copied; an error when the table stopped or its primary
    key changed. The model comes with schema drift; before it is installed there is nothing to read.
    """
    seen = Seen(Condition.SCHEMA_CHANGED)
    try:
        changes = apps.get_model("syncjobs", "SchemaChange").objects
    except LookupError:
        return seen
    recent = set(changes.filter(created_at__gte=since).values_list("watermark_id", flat=True))
    still = Incident.objects.open().filter(kind=Condition.SCHEMA_CHANGED).values_list("object_id", flat=True)
    for watermark_id in recent | {int(pk) for pk in still}:
        change = changes.filter(watermark_id=watermark_id).select_related("watermark__linked_service").first()
        if change is None:
            seen.cleared[str(watermark_id)] = "the table's schema history is gone"
            continue
        if change.accepted_at is not None:
            seen.cleared[str(watermark_id)] = "an Editor accepted the schema change"
            continue
        later = WatermarkWindow.objects.filter(watermark_id=watermark_id, created_at__gt=change.created_at)
        if not change.is_waiting and later.exclude(pk=change.window_id).exists():
            seen.cleared[str(watermark_id)] = "the table synced since, with its new schema"
            continue
        seen.findings.append(_schema_changed(change))
    return seen


def _schema_changed(change: Any) -> Finding:
    watermark = change.watermark
    stopped = change.is_waiting or change.kind == "primary_key"
    outcome = "paused until an Editor accepts it" if change.is_waiting else str(change.outcome)
    return Finding(
        kind=Condition.SCHEMA_CHANGED,
        severity=Severity.ERROR if stopped else Severity.WARNING,
        object_type=ObjectType.TABLE,
        object_id=str(watermark.pk),
        object_name=table_label(watermark),
        reason=f"{change.summary or change.kind}: {outcome} (policy {change.policy})",
        link=reverse("syncjobs:table_detail", args=[watermark.pk]),
        occurrence=str(change.pk),
    )
