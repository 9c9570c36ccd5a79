"""A table's schema history: each schema change a copy met, the policy that applied, and who accepted a pause."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef
from django.utils import timezone

from syncjobs.engine.schema_drift import CONTINUED, KINDS, PAUSED, RESYNCED
from syncjobs.models.pipeline_runs import PipelineRun
from syncjobs.models.watermarks import Watermark, WatermarkWindow


class SchemaChangeQuerySet(models.QuerySet):
    """Schema changes by state."""

    def waiting(self) -> SchemaChangeQuerySet:
        """Changes their table is paused on: paused, not accepted, and the table's newest (a later change
        met while paused supersedes an earlier one: accepting takes the schema as it is now)."""
        newer = SchemaChange.objects.filter(watermark=OuterRef("watermark"), pk__gt=OuterRef("pk"))
        return self.filter(outcome=SchemaChange.Outcome.PAUSED, accepted_at__isnull=True).exclude(Exists(newer))


class SchemaChange(models.Model):
    """One schema change of a table (its watermark): the diff, the policy, what happened.

    ``kind`` is the most serious change (``primary_key``, ``dropped``, ``retyped``, ``added``); the
    diff has them all. A paused change waits for an Editor (``accepted_by``/``accepted_at``); ``window``
    is the window that carried the change (None while paused).
    """

    class Outcome(models.TextChoices):
        CONTINUED = CONTINUED
        PAUSED = PAUSED
        RESYNCED = RESYNCED

    watermark = models.ForeignKey(Watermark, on_delete=models.CASCADE, related_name="schema_changes")
    window = models.ForeignKey(
        WatermarkWindow, null=True, blank=True, on_delete=models.SET_NULL, related_name="schema_changes"
    )
    pipeline_run = models.ForeignKey(
        PipelineRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="schema_changes"
    )
    kind = models.CharField(max_length=16, choices=[(k, k) for k in KINDS])
    diff = models.JSONField()  # SchemaDrift.to_json(): kinds, added, dropped, retyped, primaryKey, summary
    policy = models.CharField(max_length=16)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)

    objects = SchemaChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.watermark.table}: {self.summary} ({self.outcome})"

    @property
    def summary(self) -> str:
        """The change in words."""
        return str(self.diff.get("summary", ""))

    @property
    def is_waiting(self) -> bool:
        """The table is paused on this change until an Editor accepts it."""
        return self.outcome == self.Outcome.PAUSED and self.accepted_at is None

    def same_change(self, diff: dict[str, Any]) -> bool:
        """Whether ``diff`` is this very change (the same columns and key before and after)."""
        fields = ("added", "dropped", "retyped", "primaryKey")
        return all(self.diff.get(f) == diff.get(f) for f in fields)
