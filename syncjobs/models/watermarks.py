"""Change-tracking watermarks, kept in the portal's database so the source needs read access only."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import Exists, F
from django.utils import timezone

from syncjobs.engine.types import TableName
from syncjobs.models.definitions import LinkedService
from syncjobs.models.pipeline_runs import ACTIVE, RUNNING, ActivityRun, PipelineRun


class WatermarkConflictError(Exception):
    """Another run moved or holds the watermark; this run must not write its window."""


class ClaimLostError(WatermarkConflictError):
    """The claim was taken from this run (its worker was judged dead): it may no longer write."""


class WatermarkQuerySet(models.QuerySet):
    """Watermarks by target."""

    def for_target(self, linked_service: LinkedService, table: TableName, sink_key: str) -> Watermark:
        """The watermark of (source table, sink), created empty (version None: full copy next) if new."""
        lookup: dict[str, Any] = {
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

    Three rules keep concurrent runs apart. ``claim(run)`` lets one running run at a time work on the
    watermark, and hands it a fencing token (``fence``, raised at every claim). Every write of the
    claimant (``record_pending``, ``advance``) is conditional on ``claimed_by=run`` and that token, so
    a run whose claim was released or taken (its worker judged dead) can no longer write. And
    ``advance()`` stores a new version only if the stored one is still the version the run started
    from: of two runs that read the same version, only one can ever advance it.

    ``generation`` and ``chain_version`` place the change windows (``engine/windows.py``): the
    current generation, and the last manifest's ``to`` in it. ``pending`` is the window being
    written, recorded before its first file, so a rerun finishes that very window.
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
    fence = models.BigIntegerField(default=0)  # the fencing token of the latest claim
    generation = models.PositiveIntegerField(default=0)  # 0: no window written yet
    chain_version = models.BigIntegerField(null=True, blank=True)
    pending = models.JSONField(null=True, blank=True)  # engine.windows.PendingWindow.to_json()
    paused = models.BooleanField(default=False)  # a paused table is skipped by runs ("skipped: paused")

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

    def claim(self, run: PipelineRun) -> int | None:
        """Take the watermark for ``run`` while it runs; its fencing token, or None while another active run holds it.

        A compare-and-swap on ``claimed_by`` alone, so two claimers that both saw it free cannot
        both win (a join in the UPDATE's filter would not be rechecked under concurrency); the run's
        own state is checked in the same statement, so a run already failed by recovery never claims.
        """
        holder, holder_status = (
            Watermark.objects.filter(pk=self.pk).values_list("claimed_by", "claimed_by__status").get()
        )
        if holder is not None and holder != run.pk and holder_status in ACTIVE:
            return None
        running = PipelineRun.objects.filter(pk=run.pk, status__in=RUNNING)
        touched = (
            Watermark.objects.filter(pk=self.pk, claimed_by=holder)
            .filter(Exists(running))
            .update(claimed_by=run, claimed_at=timezone.now(), fence=F("fence") + 1)
        )
        if touched != 1:
            return None
        self.refresh_from_db()
        return self.fence if self.claimed_by_id == run.pk else None

    def _held(self, run: PipelineRun, token: int) -> models.QuerySet:
        return Watermark.objects.filter(pk=self.pk, claimed_by=run, fence=token)

    def holds(self, run: PipelineRun, token: int) -> bool:
        """Whether ``run`` still holds the claim that carried ``token``."""
        return self._held(run, token).exists()

    def record_pending(self, run: PipelineRun, token: int, pending: dict[str, Any]) -> None:
        """Store the window being written; raises ClaimLostError when the claim is gone."""
        if self._held(run, token).update(pending=pending) != 1:
            raise ClaimLostError(f"the claim on {self.table} was taken from this run; it may not write")
        self.pending = pending

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
        claim: tuple[PipelineRun, int] | None = None,
        generation: int | None = None,
        chain_version: int | None = None,
        window: dict[str, Any] | None = None,
        mode: str,
        reason: str = "",
        rows: int = 0,
        files: list[str] | None = None,
        pipeline_run: PipelineRun | None = None,
        activity_run: ActivityRun | None = None,
    ) -> WatermarkWindow:
        """Store ``new_version`` if the stored version is still ``expected_version``, and record the window.

        Call it only after the window's manifest exists. ``claim`` (run, token) fences the write.
        Raises :class:`WatermarkConflictError` (nothing written) when another run advanced the
        watermark first, :class:`ClaimLostError` when the claim is gone.
        """
        with transaction.atomic():
            current: models.QuerySet[Watermark] = Watermark.objects.filter(pk=self.pk)
            if claim is not None:
                current = self._held(*claim)
                if not current.exists():
                    raise ClaimLostError(f"the claim on {self.table} was taken from this run; it did not advance")
            current = (
                current.filter(version__isnull=True)
                if expected_version is None
                else current.filter(version=expected_version)
            )
            changes: dict[str, Any] = {"version": new_version, "database_identity": database_identity}
            if generation is not None:
                changes.update(generation=generation, chain_version=chain_version, pending=None)
            if current.update(**changes, updated_at=timezone.now()) != 1:
                raise WatermarkConflictError(
                    f"the watermark of {self.table} moved from version {expected_version}; another run copied it"
                )
            for name, value in changes.items():
                setattr(self, name, value)
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
                **(window or {}),
            )

    @property
    def pending_summary(self) -> str:
        """The window being written, in words ("" when none): a rerun finishes it."""
        if not self.pending:
            return ""
        window = self.pending
        done = sum(1 for r in window.get("ranges") or () if r.get("part"))
        parts = f", {done} part{'s' if done != 1 else ''} committed" if done else ""
        versions = f"{window['fromVersion']}-{window['toVersion']}"
        return f"{window['mode']} window {versions} in g{window['generation']:04d}{parts}"

    def reset(self) -> None:
        """Forget the version, so the next copy is a full one (in a new generation)."""
        self.version, self.chain_version, self.pending = None, None, None
        self.save(update_fields=["version", "chain_version", "pending", "updated_at"])


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
    generation = models.PositiveIntegerField(default=0)
    from_version = models.BigIntegerField(null=True, blank=True)  # the manifest's from
    manifest = models.CharField(max_length=1024, blank=True, default="")  # "" for a quiet window
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
            "generation": self.generation,
            "fromVersion": self.from_version,
            "manifest": self.manifest,
            "createdAt": self.created_at.isoformat(),
        }
