"""Change-tracking watermarks, kept in the portal's database so the source needs read access only."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from syncjobs.engine.types import TableName
from syncjobs.models.definitions import LinkedService
from syncjobs.models.pipeline_runs import ACTIVE, ActivityRun, PipelineRun


class WatermarkConflictError(Exception):
    """Another run moved or holds the watermark; this run must not write its window."""


class WatermarkQuerySet(models.QuerySet):
    """Watermarks by target."""

    def for_target(self, linked_service: LinkedService, table: TableName, sink_key: str) -> Watermark:
        """The watermark of (source table, sink), created empty (version None: full copy next) if new."""
        lookup = {
            "linked_service": linked_service,
            "source_schema": table.schema or "",
            "source_table": table.name,
            "sink_key": sink_key,
        }
        try:
            with transaction.atomic():
                return self.get_or_create(**lookup)[0]
        except IntegrityError:  # created by a concurrent run between our get and our insert
            return self.get(**lookup)


class Watermark(models.Model):
    """What a sink has of a source table: every change up to ``version`` (None: nothing yet).

    Two rules keep concurrent runs apart. ``claim(run)`` lets one run at a time work on the
    watermark. ``advance()`` stores a new version only if the stored one is still the version the
    run started from: ``filter(pk=..., version=expected).update(...)`` must touch exactly one row,
    so of two runs that read the same version, only one can ever advance it.
    """

    linked_service = models.ForeignKey(LinkedService, on_delete=models.CASCADE, related_name="watermarks")
    source_schema = models.CharField(max_length=128, blank=True, default="")
    source_table = models.CharField(max_length=128)
    sink_key = models.CharField(max_length=1024)  # the sink dataset's name, or the sink path
    version = models.BigIntegerField(null=True, blank=True)
    database_identity = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)
    claimed_by = models.ForeignKey(
        PipelineRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="claimed_watermarks"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)

    objects = WatermarkQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["linked_service", "source_schema", "source_table", "sink_key"], name="syncjobs_watermark_target"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.table} -> {self.sink_key} @ {self.version}"

    @property
    def table(self) -> TableName:
        """The source table."""
        return TableName(self.source_table, self.source_schema or None)

    def claim(self, run: PipelineRun) -> bool:
        """Take the watermark for ``run``; False while another active run holds it.

        A compare-and-swap on ``claimed_by`` alone, so two claimers that both saw it free cannot
        both win (a join in the UPDATE's filter would not be rechecked under concurrency).
        """
        holder, holder_status = (
            Watermark.objects.filter(pk=self.pk).values_list("claimed_by", "claimed_by__status").get()
        )
        if holder is not None and holder != run.pk and holder_status in ACTIVE:
            return False
        now = timezone.now()
        touched = Watermark.objects.filter(pk=self.pk, claimed_by=holder).update(claimed_by=run, claimed_at=now)
        if touched == 1:
            self.claimed_by, self.claimed_at = run, now
        return touched == 1

    def release(self, run: PipelineRun) -> None:
        """Give the watermark up, if ``run`` still holds it."""
        Watermark.objects.filter(pk=self.pk, claimed_by=run).update(claimed_by=None, claimed_at=None)
        self.claimed_by = None

    def advance(
        self,
        expected_version: int | None,
        new_version: int,
        database_identity: str,
        *,
        mode: str,
        reason: str = "",
        rows: int = 0,
        files: list[str] | None = None,
        pipeline_run: PipelineRun | None = None,
        activity_run: ActivityRun | None = None,
    ) -> WatermarkWindow:
        """Store ``new_version`` if the stored version is still ``expected_version``, and record the window.

        Call it only after the sink committed. Raises :class:`WatermarkConflictError` (nothing written)
        when another run advanced the watermark first.
        """
        with transaction.atomic():
            current = Watermark.objects.filter(pk=self.pk)
            current = (
                current.filter(version__isnull=True)
                if expected_version is None
                else current.filter(version=expected_version)
            )
            if current.update(version=new_version, database_identity=database_identity, updated_at=timezone.now()) != 1:
                raise WatermarkConflictError(
                    f"the watermark of {self.table} moved from version {expected_version}; another run copied it"
                )
            self.version, self.database_identity = new_version, database_identity
            return WatermarkWindow.objects.create(
                watermark=self,
                pipeline_run=pipeline_run,
                activity_run=activity_run,
                mode=mode,
                reason=reason,
                previous_version=expected_version,
                new_version=new_version,
                rows=rows,
                files=list(files or []),
            )

    def reset(self) -> None:
        """Forget the version, so the next copy is a full one."""
        self.version = None
        self.save(update_fields=["version", "updated_at"])


class WatermarkWindow(models.Model):
    """One window copied: from ``previous_version`` (exclusive) to ``new_version``."""

    class Mode(models.TextChoices):
        FULL = "full"
        DELTA = "delta"
        REINITIALIZED = "reinitialized"

    watermark = models.ForeignKey(Watermark, on_delete=models.CASCADE, related_name="windows")
    pipeline_run = models.ForeignKey(
        PipelineRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="watermark_windows"
    )
    activity_run = models.ForeignKey(
        ActivityRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="watermark_windows"
    )
    mode = models.CharField(max_length=16, choices=Mode.choices)
    reason = models.TextField(blank=True, default="")
    previous_version = models.BigIntegerField(null=True, blank=True)
    new_version = models.BigIntegerField()
    rows = models.BigIntegerField(default=0)
    files = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.mode} {self.previous_version}..{self.new_version}"

    def as_dict(self) -> dict[str, Any]:
        """The window as JSON for the monitor."""
        return {
            "mode": self.mode,
            "reason": self.reason,
            "previousVersion": self.previous_version,
            "newVersion": self.new_version,
            "rows": self.rows,
            "files": list(self.files),
            "createdAt": self.created_at.isoformat(),
        }
