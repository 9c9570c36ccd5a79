"""Synced tables: each (source table, sink) a ChangeTrackingCopy names, with its figures kept for the Tables page.

A synced table *is* its :class:`Watermark` (same id): other pages, alerts and the API refer to it by that
id. The figures are denormalised here, written when runs end, definitions are saved and source facts
are read (``services/tables.py``), so the Tables page filters, sorts and counts 10,000 tables in SQL
without reading a run, a window or a source.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, Value, When

from syncjobs.models.definitions import Pipeline
from syncjobs.models.pipeline_runs import PipelineRun
from syncjobs.models.schema_changes import SchemaChange
from syncjobs.models.watermarks import Watermark


class TableStatus(models.TextChoices):
    """What an operator needs to know about a table first, most urgent first."""

    PAUSED = "paused", "Paused"
    CHANGE_TRACKING_OFF = "ct_off", "Change tracking off"
    REINITIALIZING = "reinitializing", "Reinitializing"
    RETENTION_RISK = "retention_risk", "Retention risk"
    FAILING = "failing", "Failing"
    LATE = "late", "Late"
    NOT_SYNCED = "not_synced", "Not synced yet"
    ON_TIME = "on_time", "On time"


SEVERITY = {status.value: rank for rank, status in enumerate(TableStatus)}  # 0: most urgent


def _reinitializing() -> Q:
    """A full copy is due or under way in a new generation (a re-sync, or a window that left retention)."""
    pending_full = Q(watermark__pending__mode="full") | Q(watermark__pending__mode="reinitialized")
    return Q(watermark__generation__gt=0) & (Q(watermark__version__isnull=True) | pending_full)


def schema_change_waiting() -> Q:
    """The table is paused on a schema change until an Editor accepts it (its runs copy nothing of it)."""
    return Q(Exists(SchemaChange.objects.filter(watermark=OuterRef("watermark")).waiting()))


def status_rules(now: datetime) -> list[tuple[Q, TableStatus]]:
    """The status rules in order: the first that holds is the table's status (*Paused*: by an operator, or
    on a schema change waiting for an Editor)."""
    return [
        (Q(watermark__paused=True) | schema_change_waiting(), TableStatus.PAUSED),
        (Q(change_tracking=False), TableStatus.CHANGE_TRACKING_OFF),
        (_reinitializing(), TableStatus.REINITIALIZING),
        (Q(risk_at__lte=now), TableStatus.RETENTION_RISK),
        (Q(last_attempt_failed=True), TableStatus.FAILING),
        (Q(late_at__lte=now), TableStatus.LATE),
        (Q(watermark__version__isnull=True), TableStatus.NOT_SYNCED),
    ]


class SyncedTableQuerySet(models.QuerySet):
    """Synced tables with their status and lag computed by the database."""

    def current(self) -> SyncedTableQuerySet:
        """Tables some pipeline still names (others keep their history but leave the list)."""
        return self.filter(is_named=True)

    def with_status(self, now: datetime) -> SyncedTableQuerySet:
        """Annotate ``status`` (a :class:`TableStatus` value), ``severity`` (0 most urgent) and ``lag_versions``."""
        rules = status_rules(now)
        status = Case(*(When(q, then=Value(s.value)) for q, s in rules), default=Value(TableStatus.ON_TIME.value))
        severity = Case(
            *(When(q, then=Value(SEVERITY[s.value])) for q, s in rules),
            default=Value(SEVERITY[TableStatus.ON_TIME.value]),
            output_field=IntegerField(),
        )
        return self.annotate(
            status=status, severity=severity, lag_versions=F("source_version") - F("watermark__version")
        )


class SyncedTable(models.Model):
    """One source table synced to one sink: its watermark, the pipelines naming it and its latest figures."""

    watermark = models.OneToOneField(Watermark, primary_key=True, on_delete=models.CASCADE, related_name="synced")
    is_named = models.BooleanField(default=True)  # some pipeline's ChangeTrackingCopy names it now
    source_name = models.CharField(max_length=260, db_index=True)  # the source linked service's name
    schema_name = models.CharField(max_length=128, blank=True, default="", db_index=True)
    table_name = models.CharField(max_length=128, db_index=True)
    sink_dataset = models.CharField(max_length=260, blank=True, default="")  # for verify_sync
    # The shortest interval of the started schedule triggers of its pipelines, and their next fire.
    schedule_seconds = models.BigIntegerField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    # The latest run outcomes (services.tables.record_run).
    last_success_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_failed = models.BooleanField(default=False)
    last_error_reason = models.CharField(max_length=100, blank=True, default="")
    last_error_message = models.TextField(blank=True, default="")
    last_run = models.ForeignKey(PipelineRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_mode = models.CharField(max_length=16, blank=True, default="")
    last_rows = models.BigIntegerField(null=True, blank=True)
    rows_inserted = models.BigIntegerField(null=True, blank=True)  # of the last window, by operation
    rows_updated = models.BigIntegerField(null=True, blank=True)
    rows_deleted = models.BigIntegerField(null=True, blank=True)
    # When it turns Late (last success, or creation, + its schedule) and when it enters retention risk.
    late_at = models.DateTimeField(null=True, blank=True)
    risk_at = models.DateTimeField(null=True, blank=True)
    # Its pace (None: the defaults, see ``services.table_outcomes``): how long without a success before it is
    # late (default: one schedule interval on the Tables page, ``CTPORTAL_ALERT_LATE_FACTOR`` for the alert),
    # and how long before its changes leave the source's retention it is at risk.
    freshness_target = models.DurationField(null=True, blank=True)
    retention_horizon = models.DurationField(null=True, blank=True)
    # Facts read from the source now and then (services.tables.refresh_source_facts), not on page loads.
    change_tracking = models.BooleanField(null=True, blank=True)  # None: not read yet
    retention_seconds = models.BigIntegerField(null=True, blank=True)
    source_version = models.BigIntegerField(null=True, blank=True)
    source_checked_at = models.DateTimeField(null=True, blank=True)
    source_error = models.TextField(blank=True, default="")
    # The last verify_sync of it: counts only (a report's example keys are data, never kept).
    verified_at = models.DateTimeField(null=True, blank=True)
    verify_exact = models.BooleanField(null=True, blank=True)
    verify_summary = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SyncedTableQuerySet.as_manager()

    class Meta:
        ordering = ["source_name", "schema_name", "table_name"]
        indexes = [models.Index(fields=["source_name", "schema_name", "table_name"], name="syncjobs_synced_name")]

    def __str__(self) -> str:
        return f"{self.source_name}/{self.qualified_name} -> {self.watermark.sink_key}"

    @property
    def qualified_name(self) -> str:
        """``schema.table`` (or ``table``), as runs name it."""
        return f"{self.schema_name}.{self.table_name}" if self.schema_name else self.table_name

    @property
    def status_label(self) -> str:
        """The annotated status in words."""
        return str(TableStatus(getattr(self, "status", TableStatus.ON_TIME.value)).label)

    def retention_hours_left(self, now: datetime) -> float | None:
        """Hours until the changes after its watermark may leave the source's retention (None: unknown)."""
        if self.retention_seconds is None or self.last_success_at is None:
            return None
        return round((self.last_success_at.timestamp() + self.retention_seconds - now.timestamp()) / 3600, 1)

    def lag_seconds(self, now: datetime) -> float | None:
        """Seconds since the last successful sync (None: never synced)."""
        return None if self.last_success_at is None else max(0.0, (now - self.last_success_at).total_seconds())

    def verify_as_dict(self) -> dict[str, Any] | None:
        """The last verify_sync result, or None."""
        if self.verified_at is None:
            return None
        return {"at": self.verified_at.isoformat(), "exact": self.verify_exact, "summary": self.verify_summary}


class TableBinding(models.Model):
    """A pipeline activity that copies a synced table (a table may be named by several)."""

    synced_table = models.ForeignKey(SyncedTable, on_delete=models.CASCADE, related_name="bindings")
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="table_bindings")
    activity_name = models.CharField(max_length=260)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["synced_table", "pipeline", "activity_name"], name="syncjobs_table_binding_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.pipeline.name}/{self.activity_name}"


class RunCursor(models.Model):
    """How far the Tables page has read finished runs (``services.tables.catch_up``): one row per reader."""

    name = models.CharField(max_length=60, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.at:%Y-%m-%d %H:%M:%S}"
