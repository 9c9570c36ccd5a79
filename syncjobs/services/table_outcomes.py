"""Run outcomes onto synced tables: the last success, the last attempt and its error, the last window's rows.

``catch_up`` reads what happened since it last ran — windows written (a success, even while the run
goes on) and runs ended (a table's failure) — and writes each table's figures. Every write is
conditional on being newer than what the table holds, so reading the same window or run twice, or
out of order, changes nothing. The Tables page and the API call it before they read, so they show runs
that ended a moment ago without reading a run themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from syncjobs.models import (
    ActivityRun,
    ActivityStatus,
    PipelineRun,
    RunCursor,
    SyncedTable,
    TableBinding,
    WatermarkWindow,
)

CURSOR = "tables"
# A run's or window's time is set before its transaction commits: read a little behind the cursor.
OVERLAP = timedelta(seconds=60)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MAX_RUNS = 500  # per call: a long history is read over a few page loads


def catch_up(now: datetime | None = None) -> int:
    """Record the windows and ended runs since the last call; return how many of each were read."""
    now = now or timezone.now()
    with transaction.atomic():
        cursor, _ = RunCursor.objects.select_for_update().get_or_create(name=CURSOR, defaults={"at": EPOCH})
        since = cursor.at - OVERLAP
        # Only windows newer than what their table knows: a window read once is not read again.
        unread = Q(watermark__synced__last_attempt_at__isnull=True) | Q(
            watermark__synced__last_attempt_at__lt=F("created_at")
        )
        windows = list(
            WatermarkWindow.objects.filter(unread, created_at__gte=since, watermark__synced__isnull=False)
            .select_related("activity_run")
            .order_by("created_at")
        )
        tables = SyncedTable.objects.in_bulk({w.watermark_id for w in windows})
        for window in windows:
            record_window(window, tables.get(window.watermark_id))
        read = len(windows)
        runs = list(PipelineRun.objects.finished().filter(last_updated__gte=since).order_by("last_updated")[:MAX_RUNS])
        for run in runs:
            record_failures(run)
        read += len(runs)
        latest = runs[-1].last_updated if len(runs) == MAX_RUNS else now
        RunCursor.objects.filter(name=CURSOR).update(at=latest)
    return read


def late_after(schedule: int | None, target: timedelta | None) -> timedelta | None:
    """How long after its last success a table turns *Late* on the Tables page: its freshness target when
    one is set, else one schedule interval (None: no schedule, no target — never late)."""
    if target is not None:
        return target
    return timedelta(seconds=schedule) if schedule else None


def freshness_target(schedule: int | None, target: timedelta | None) -> timedelta | None:
    """How long without a success before the *table late* alert: the target set, else
    ``CTPORTAL_ALERT_LATE_FACTOR`` schedule intervals. With a target set, page and alert agree."""
    if target is not None:
        return target
    return timedelta(seconds=schedule * settings.CTPORTAL_ALERT_LATE_FACTOR) if schedule else None


def risk_lead(retention: int | None, schedule: int | None, horizon: timedelta | None = None) -> timedelta | None:
    """How long after its last success a table enters *Retention risk* (page status and alert alike): its
    changes leave the source's retention ``retention`` seconds after it, less a horizon — the one set on
    the table, else ``CTPORTAL_ALERT_RETENTION_HORIZON_HOURS`` capped at a quarter of the retention, and
    never less than the two schedule intervals the next runs need to catch up. None: no retention known."""
    if retention is None:
        return None
    return max(timedelta(seconds=retention) - risk_horizon(retention, schedule, horizon), timedelta(0))


def risk_horizon(retention: int, schedule: int | None, horizon: timedelta | None) -> timedelta:
    """The horizon ``risk_lead`` uses: the one set, else the default it describes."""
    if horizon is not None:
        return horizon
    default = min(settings.CTPORTAL_ALERT_RETENTION_HORIZON_HOURS * 3600, retention // 4)
    return timedelta(seconds=max(2 * (schedule or 0), default))


def risk_at(
    last_success: datetime | None, retention: int | None, schedule: int | None, horizon: timedelta | None = None
) -> datetime | None:
    """When a table that last succeeded at ``last_success`` enters *Retention risk* (``risk_lead``)."""
    lead = risk_lead(retention, schedule, horizon)
    return last_success + lead if last_success is not None and lead is not None else None


def refresh_risk() -> int:
    """Every table's ``risk_at`` again, in SQL from its stored last success, one update per (retention,
    schedule, horizon) there is: after the schedules changed. Returns how many groups."""
    tracked = SyncedTable.objects.filter(retention_seconds__isnull=False)
    groups = tracked.order_by().values_list("retention_seconds", "schedule_seconds", "retention_horizon").distinct()
    count = 0
    for retention, schedule, horizon in list(groups):
        lead = risk_lead(retention, schedule, horizon)
        same = {"retention_seconds": retention, **_same("schedule_seconds", schedule)}
        tracked.filter(**same, **_same("retention_horizon", horizon)).update(risk_at=F("last_success_at") + lead)
        count += 1
    return count


def _same(field: str, value: object) -> dict[str, object]:
    return {f"{field}__isnull": True} if value is None else {field: value}


def pace_times(table: SyncedTable) -> dict[str, datetime | None]:
    """``late_at`` and ``risk_at`` of ``table`` from its last success (or creation) and its pace."""
    base = table.last_success_at or table.created_at
    late = late_after(table.schedule_seconds, table.freshness_target)
    return {
        "late_at": base + late if late is not None and base is not None else None,
        "risk_at": risk_at(
            table.last_success_at, table.retention_seconds, table.schedule_seconds, table.retention_horizon
        ),
    }


def record_window(window: WatermarkWindow, table: SyncedTable | None) -> bool:
    """A window was written: its table (``table``, None when it is no synced table) succeeded then, unless it
    already knows of something newer; the source was at the window's version at least."""
    if table is None:
        return False
    ops = operations(window.activity_run, table.qualified_name)
    at = window.created_at
    changes: dict[str, Any] = {
        "last_success_at": at,
        "last_attempt_at": at,
        "last_attempt_failed": False,
        "last_error_reason": "",
        "last_error_message": "",
        "last_run_id": window.pipeline_run_id,
        "last_mode": window.mode,
        "last_rows": window.rows,
        "rows_inserted": ops.get("I", 0),
        "rows_updated": ops.get("U", 0),
        "rows_deleted": ops.get("D", 0),
        "late_at": at + late if (late := late_after(table.schedule_seconds, table.freshness_target)) else None,
        "risk_at": risk_at(at, table.retention_seconds, table.schedule_seconds, table.retention_horizon),
        "source_version": Greatest(Coalesce(F("source_version"), Value(window.new_version)), Value(window.new_version)),
    }
    older = Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=at)
    return SyncedTable.objects.filter(older, pk=table.pk).update(**changes) == 1


def operations(activity_run: ActivityRun | None, table: str) -> dict[str, int]:
    """Rows per operation (I/U/D) of ``table``'s window, from the activity run that wrote it."""
    output = activity_run.output if activity_run is not None else {}
    entries = output.get("tables") if isinstance(output, dict) else None
    if isinstance(entries, list):
        output = next((e for e in entries if str(e.get("table", "")).lower() == table.lower()), {})
    tracking = (output or {}).get("changeTracking") or {}
    ops = tracking.get("operations") or {}
    return {k: int(v) for k, v in ops.items() if isinstance(v, int)}


def record_failures(run: PipelineRun) -> int:
    """The tables ``run`` tried and did not copy: a per-table record that failed, or (without one) the
    ChangeTrackingCopy activity that failed before the table had its window. Returns how many."""
    wanted = {t.lower() for t in run.table_filter} if run.table_filter is not None else None
    copied = set(run.watermark_windows.values_list("watermark_id", flat=True))
    activities = {
        a.activity_name: a
        for a in run.activity_runs.filter(activity_type="ChangeTrackingCopy", parent__isnull=True).order_by("run_start")
    }
    children = {
        (c.parent.activity_name, c.table.lower()): c
        for c in run.activity_runs.exclude(table="").select_related("parent").order_by("run_start")  # last attempt wins
        if c.parent is not None
    }
    bound = TableBinding.objects.filter(pipeline__name__iexact=run.pipeline_name, activity_name__in=list(activities))
    failed = 0
    for binding in bound.select_related("synced_table"):
        table = binding.synced_table
        name = table.qualified_name.lower()
        if table.pk in copied or (wanted is not None and name not in wanted):
            continue
        record = children.get((binding.activity_name, name), activities[binding.activity_name])
        if record.status == ActivityStatus.FAILED:
            failed += record_failure(table, run, record)
    return failed


def record_failure(table: SyncedTable, run: PipelineRun, record: ActivityRun) -> int:
    """``table`` failed in ``run`` as ``record`` says (unless it already knows of something newer)."""
    error = record.error or {}
    at = record.run_end or run.run_end or timezone.now()
    changes = {
        "last_attempt_at": at,
        "last_attempt_failed": True,
        "last_error_reason": str(error.get("errorCode") or "error")[:100],
        "last_error_message": str(error.get("message") or run.message)[:4000],
        "last_run_id": run.pk,
    }
    older = Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=at)
    return SyncedTable.objects.filter(older, pk=table.pk).update(**changes)
