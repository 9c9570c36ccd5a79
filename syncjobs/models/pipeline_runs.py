"""Pipeline runs and activity runs, shaped for the monitor and ADF's monitoring API."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from syncjobs.adf.pipelines import iter_activities
from syncjobs.models.definitions import Pipeline
from syncjobs.secrets import EncryptedTokenField


def adf_time(value: datetime | None) -> str | None:
    """ADF's timestamp form: UTC with seven fractional digits, ``2024-10-03T10:15:42.1234567Z``."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond:06d}0Z"


def _latest_sorted_by(column: str) -> models.Index:
    """The monitor's order on ``column`` (newest first among equals), latest attempts only.

    PostgreSQL's DESC puts NULLs first, as the monitor sorts (SQLite cannot say NULLS FIRST in an index).
    """
    return models.Index(
        models.F(column).desc(),
        models.F("triggered_at").desc(),
        name=f"syncjobs_run_by_{column}"[:30],
        condition=Q(is_latest=True),
    )


def _duration_ms(start: datetime | None, end: datetime | None) -> int | None:
    return round((end - start).total_seconds() * 1000) if start and end else None


class RunStatus(models.TextChoices):
    """A pipeline run's status, in ADF's words."""

    QUEUED = "Queued"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELING = "Canceling"
    CANCELLED = "Cancelled"


ACTIVE = (RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.CANCELING)
FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
RUNNING = (RunStatus.IN_PROGRESS, RunStatus.CANCELING)


class PipelineRunQuerySet(models.QuerySet):
    """Runs by state."""

    def active(self) -> PipelineRunQuerySet:
        """Queued, in progress or cancelling."""
        return self.filter(status__in=ACTIVE)

    def finished(self) -> PipelineRunQuerySet:
        """Succeeded, failed or cancelled."""
        return self.filter(status__in=FINISHED)

    def queued(self) -> PipelineRunQuerySet:
        """Waiting for a worker."""
        return self.filter(status=RunStatus.QUEUED)

    def in_progress(self) -> PipelineRunQuerySet:
        """Running on a worker (cancelling ones included)."""
        return self.filter(status__in=RUNNING)

    def latest_attempts(self) -> PipelineRunQuerySet:
        """Only the newest run of each rerun group."""
        return self.filter(is_latest=True)

    def waiting_since(self, cutoff: datetime) -> PipelineRunQuerySet:
        """Queued runs last handed to the broker before ``cutoff`` (a worker should have started them)."""
        return self.queued().filter(Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True, triggered_at__lt=cutoff))

    def stalled(self, silent_for: timedelta) -> PipelineRunQuerySet:
        """Running runs whose worker has not sent a heartbeat for ``silent_for``: the worker died."""
        cutoff = timezone.now() - silent_for
        return self.in_progress().filter(
            Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, run_start__lt=cutoff)
        )

    def updated_between(self, after: datetime, before: datetime) -> PipelineRunQuerySet:
        """ADF's queryPipelineRuns window: lastUpdatedAfter <= last_updated <= lastUpdatedBefore."""
        return self.filter(last_updated__gte=after, last_updated__lte=before)


class PipelineRun(models.Model):
    """One run of a pipeline, with the definition it ran frozen at trigger time.

    Status changes are conditional updates (``filter(pk, status__in=...).update(...)``): a worker,
    a second delivery of the same task and a cancel can race, and only the change whose starting
    state still holds may win. Each method returns whether it won.
    """

    Status = RunStatus

    run_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    pipeline = models.ForeignKey(Pipeline, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    pipeline_name = models.CharField(max_length=260, db_index=True)  # kept when the pipeline is deleted
    run_group_id = models.UUIDField(null=True, blank=True)  # the original's run id, shared by its reruns
    parent_run = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns")
    is_latest = models.BooleanField(default=True)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    invoked_by_type = models.CharField(max_length=40, default="Manual")  # Manual, ScheduleTrigger, ...
    invoked_by_name = models.CharField(max_length=260, default="Manual")
    invoked_by_id = models.CharField(max_length=64, blank=True, default="")
    parameters = models.JSONField(default=dict, blank=True)
    definition = models.JSONField(default=dict, blank=True)  # Pipeline.snapshot() at trigger time
    triggered_at = models.DateTimeField(default=timezone.now)  # pipeline().TriggerTime
    run_start = models.DateTimeField(null=True, blank=True, db_index=True)
    run_end = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    message = models.TextField(blank=True, default="")
    # Succeeded, but an activity failed and a Failed/Completed dependency path handled it: the runner's
    # own verdict (PipelineOutcome.handled_errors), stored as it ends the run.
    handled_errors = models.BooleanField(default=False)
    # The tables a ChangeTrackingCopy copies in this run ("schema.table"; None: every table it lists),
    # and those that failed ("Succeeded with failed tables" when others succeeded).
    table_filter = models.JSONField(null=True, blank=True)
    failed_tables = models.JSONField(default=list, blank=True)
    last_updated = models.DateTimeField(default=timezone.now, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, default="")  # host:pid of the worker running it
    start_from_failure = models.BooleanField(default=False)  # a rerun that reuses what succeeded before
    enqueued_at = models.DateTimeField(null=True, blank=True)  # last handed to the broker
    requeues = models.PositiveIntegerField(default=0)  # handed again after its task was lost
    # SecureString parameters, encrypted; ``parameters`` shows them masked.
    secret_parameters = EncryptedTokenField(blank=True, default="", editable=False)

    objects = PipelineRunQuerySet.as_manager()

    # What the monitor attaches to the runs it shows (services/monitor.py), never stored.
    outcome: Any
    rerun_count: int

    class Meta:
        ordering = ["-triggered_at"]
        indexes = [
            models.Index(fields=["pipeline_name", "-run_start"], name="syncjobs_run_pipeline_start"),
            models.Index(fields=["status", "last_updated"], name="syncjobs_run_status_updated"),
            models.Index(fields=["run_group_id"], name="syncjobs_run_group"),  # rerun counts, a run's attempts
            # The monitor's "all runs" sorts: a page is read off the index instead of sorting every run.
            *(_latest_sorted_by(column) for column in ("run_start", "run_end", "duration_ms")),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline_name} {self.run_id} ({self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, keeping ``last_updated`` current (the monitor's lastUpdatedAfter filter reads it)."""
        self.last_updated = timezone.now()
        if self.run_group_id is None:
            self.run_group_id = self.parent_run.run_group_id if self.parent_run else self.run_id
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "last_updated"}
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        """Queued, in progress or cancelling."""
        return self.status in ACTIVE

    def _transition(self, allowed: tuple[str, ...], **changes: Any) -> bool:
        changes["last_updated"] = timezone.now()
        touched = PipelineRun.objects.filter(pk=self.pk, status__in=allowed).update(**changes)
        if touched == 1:
            for field, value in changes.items():
                setattr(self, field, value)
        else:
            self.refresh_from_db(fields=["status", "cancel_requested", "last_updated"])
        return touched == 1

    def _finish(self, allowed: tuple[str, ...], status: str, message: str, **changes: Any) -> bool:
        end = timezone.now()
        duration = _duration_ms(self.run_start, end)
        return self._transition(allowed, status=status, run_end=end, duration_ms=duration, message=message, **changes)

    def mark_in_progress(self, worker: str = "") -> bool:
        """Claim a queued run for a worker; False if it was not queued (already taken or cancelled)."""
        now = timezone.now()
        return self._transition(
            (RunStatus.QUEUED,), status=RunStatus.IN_PROGRESS, run_start=now, heartbeat_at=now, worker=worker
        )

    def succeed(
        self, *, handled_errors: bool = False, failed_tables: list[str] | None = None, message: str = ""
    ) -> bool:
        """A running run ended well (a cancel that came too late does not undo that).

        ``handled_errors``: an activity failed and a Failed/Completed path handled it, as the runner says;
        ``failed_tables``: tables that failed while others were copied ("Succeeded with failed tables").
        """
        changes = {"handled_errors": handled_errors, "failed_tables": list(failed_tables or [])}
        return self._finish(RUNNING, RunStatus.SUCCEEDED, message, **changes)

    def fail(self, message: str, *, failed_tables: list[str] | None = None) -> bool:
        """The run failed with ``message`` (no secrets in it); ``failed_tables`` are the tables that failed."""
        return self._finish(ACTIVE, RunStatus.FAILED, message, failed_tables=list(failed_tables or []))

    def request_cancel(self) -> bool:
        """Cancel: a queued run is cancelled at once; a running one is asked to stop between batches."""
        if self._finish((RunStatus.QUEUED,), RunStatus.CANCELLED, "Cancelled before it started"):
            self.cancel_requested = True
            PipelineRun.objects.filter(pk=self.pk).update(cancel_requested=True)
            return True
        return self._transition((RunStatus.IN_PROGRESS,), status=RunStatus.CANCELING, cancel_requested=True)

    def mark_cancelled(self, message: str = "Cancelled by request") -> bool:
        """The runner stopped after a cancel request."""
        return self._finish(ACTIVE, RunStatus.CANCELLED, message)

    def heartbeat(self) -> tuple[bool, bool]:
        """Record that the worker is alive; return (still running, cancel requested).

        Not running any more means recovery failed the run (its worker was judged dead): the worker
        must stop, and every write it tries is refused anyway.
        """
        now = timezone.now()
        running = PipelineRun.objects.filter(pk=self.pk, status__in=RUNNING).update(heartbeat_at=now) == 1
        self.heartbeat_at = now
        self.cancel_requested = PipelineRun.objects.filter(pk=self.pk).values_list("cancel_requested", flat=True).get()
        return running, self.cancel_requested

    def mark_enqueued(self, requeue: bool = False) -> None:
        """Handed to the broker now (again, after its task was lost, when ``requeue``)."""
        changes: dict[str, Any] = {"enqueued_at": timezone.now()}
        if requeue:
            changes["requeues"] = models.F("requeues") + 1
        PipelineRun.objects.filter(pk=self.pk).update(**changes)
        self.enqueued_at = changes["enqueued_at"]

    def failed_items(self) -> dict[str, list[int]]:
        """The items each ForEach of this run failed on: what "Retry failed items" runs again."""
        found = {a.activity_name: a.failed_items() for a in self.activity_runs.failed().filter(activity_type="ForEach")}
        return {name: items for name, items in found.items() if items}

    def reusable_outputs(self) -> dict[str, dict[str, Any]]:
        """What a rerun from the failed activity takes from this run instead of running it again.

        Outputs of top-level activities reusable on rerun (``ActivityRunQuerySet.reusable_on_rerun``)
        that succeeded here or in the runs this one reran from (nearest first); activities inside a
        ForEach or IfCondition run again with their container.
        """
        outputs: dict[str, dict[str, Any]] = {}
        run: PipelineRun | None = self
        while run is not None:
            reusable = run.activity_runs.reusable_on_rerun().filter(activity_name__in=run.top_level_activities())
            for activity in reusable.order_by("-run_start"):
                outputs.setdefault(activity.activity_name, activity.output)
            run = run.parent_run if run.start_from_failure else None
        return outputs

    def top_level_activities(self) -> list[str]:
        """Names of the frozen pipeline's own activities (not those inside a ForEach or IfCondition)."""
        return [str(a.get("name")) for a in self._activities() if isinstance(a, dict)]

    def linked_service_of(self, activity_name: str) -> str:
        """The linked service an activity names itself (Script, stored procedure), as ADF's activity runs
        report it; "" for one that reaches data through datasets (Copy, Lookup) or names none."""
        for _, activity in iter_activities(self._activities()):
            if activity.get("name") == activity_name:
                reference = activity.get("linkedServiceName")
                name = reference.get("referenceName") if isinstance(reference, dict) else ""
                return name if isinstance(name, str) else ""
        return ""

    def _activities(self) -> list[Any]:
        activities = (((self.definition or {}).get("pipeline") or {}).get("properties") or {}).get("activities")
        return activities if isinstance(activities, list) else []

    def to_adf(self) -> dict[str, Any]:
        """The run as ADF's ``PipelineRun`` object."""
        shaped = {
            "runId": str(self.run_id),
            "runGroupId": str(self.run_group_id),
            "isLatest": self.is_latest,
            "pipelineName": self.pipeline_name,
            "parameters": dict(self.parameters),
            "runDimensions": {},
            "invokedBy": {
                "name": self.invoked_by_name,
                "id": self.invoked_by_id,
                "invokedByType": self.invoked_by_type,
            },
            "lastUpdated": adf_time(self.last_updated),
            "runStart": adf_time(self.run_start),
            "runEnd": adf_time(self.run_end),
            "durationInMs": self.duration_ms,
            "status": self.status,
            "message": self.message,
        }
        if self.failed_tables:  # ours, beside ADF's keys: the message names them too
            shaped["failedTables"] = list(self.failed_tables)
        return shaped


class ActivityStatus(models.TextChoices):
    """An activity run's status."""

    QUEUED = "Queued"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    SKIPPED = "Skipped"


# Activities a rerun from the failed activity may take from the earlier run instead of running again:
# those whose output is all a later activity reads. Lookups read the source's state (a change-tracking
# version) and run again; so do containers (ForEach, IfCondition), whose bodies may have failed.
REUSABLE_ON_RERUN = ("Copy", "ChangeTrackingCopy", "Script", "SqlServerStoredProcedure", "SetVariable", "Wait")


class ActivityRunQuerySet(models.QuerySet):
    """Activity runs by state."""

    def failed(self) -> ActivityRunQuerySet:
        """Failed."""
        return self.filter(status=ActivityStatus.FAILED)

    def reusable_on_rerun(self) -> ActivityRunQuerySet:
        """Succeeded activities of a type in ``REUSABLE_ON_RERUN`` whose output was recorded (a hidden
        output, ``secureOutput``, cannot stand in for the real one, so that activity runs again)."""
        succeeded = self.filter(status=ActivityStatus.SUCCEEDED, activity_type__in=REUSABLE_ON_RERUN, parent=None)
        return succeeded.exclude(output__has_key="secureOutput")


class ActivityRun(models.Model):
    """One execution of one activity (each retry and each ForEach iteration is its own row)."""

    Status = ActivityStatus

    activity_run_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    pipeline_run = models.ForeignKey(PipelineRun, on_delete=models.CASCADE, related_name="activity_runs")
    activity_name = models.CharField(max_length=260)
    activity_type = models.CharField(max_length=60)
    status = models.CharField(
        max_length=12, choices=ActivityStatus.choices, default=ActivityStatus.IN_PROGRESS, db_index=True
    )
    run_start = models.DateTimeField(default=timezone.now)
    run_end = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(default=dict, blank=True)
    error = models.JSONField(default=dict, blank=True)
    rows_read = models.BigIntegerField(null=True, blank=True)
    rows_written = models.BigIntegerField(null=True, blank=True)
    bytes_written = models.BigIntegerField(null=True, blank=True)
    retry_attempt = models.PositiveIntegerField(default=0)
    # A table of a ChangeTrackingCopy: its own record under the activity's run ("schema.table").
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    table = models.CharField(max_length=260, blank=True, default="")

    objects = ActivityRunQuerySet.as_manager()

    class Meta:
        ordering = ["run_start"]

    def __str__(self) -> str:
        return f"{self.activity_name} ({self.status})"

    def _finish(self, status: str, **fields: Any) -> bool:
        """End the activity run unless it already ended; False when it had (recovery failed it first).

        A conditional update: a worker judged dead that wakes up again cannot overwrite the record.
        """
        end = timezone.now()
        changes = {"status": status, "run_end": end, "duration_ms": _duration_ms(self.run_start, end), **fields}
        open_statuses = (ActivityStatus.QUEUED, ActivityStatus.IN_PROGRESS)
        if ActivityRun.objects.filter(pk=self.pk, status__in=open_statuses).update(**changes) != 1:
            return False
        for name, value in changes.items():
            setattr(self, name, value)
        return True

    def fail(self, message: str, *, error_code: str = "", failure_type: str = "UserError", details: str = "") -> bool:
        """The activity failed; ``error`` takes ADF's error shape."""
        error = {
            "errorCode": error_code,
            "message": message,
            "failureType": failure_type,
            "target": self.activity_name,
            "details": details,
        }
        return self._finish(ActivityStatus.FAILED, error=error)

    def finish(
        self,
        status: str,
        output: dict[str, Any],
        error: dict[str, Any],
        *,
        rows_read: int | None = None,
        rows_written: int | None = None,
        bytes_written: int | None = None,
    ) -> bool:
        """End the activity run as the runner reports it, with any final status (False: it had ended)."""
        return self._finish(
            status,
            output=output,
            error=error,
            rows_read=rows_read,
            rows_written=rows_written,
            bytes_written=bytes_written,
        )

    def failed_items(self) -> list[int]:
        """The items a failed ForEach failed on (its error's ``details`` hold ``{"failedItems": [...]}``)."""
        if self.activity_type != "ForEach" or self.status != ActivityStatus.FAILED:
            return []
        try:
            items = json.loads((self.error or {}).get("details") or "{}").get("failedItems")
            return [int(i) for i in items] if isinstance(items, list) else []
        except (ValueError, TypeError, AttributeError):
            return []

    def to_adf(self) -> dict[str, Any]:
        """The activity run as ADF's ``ActivityRun`` object (as queryActivityruns returns it)."""
        error = {"errorCode": "", "message": "", "failureType": "", "target": self.activity_name, "details": ""}
        error.update(self.error or {})
        return {
            "activityName": self.activity_name,
            "activityType": self.activity_type,
            "activityRunId": str(self.activity_run_id),
            "pipelineName": self.pipeline_run.pipeline_name,
            "pipelineRunId": str(self.pipeline_run_id),
            "linkedServiceName": self.pipeline_run.linked_service_of(self.activity_name),
            "status": self.status,
            "activityRunStart": adf_time(self.run_start),
            "activityRunEnd": adf_time(self.run_end),
            "durationInMs": self.duration_ms,
            "input": self.input,
            "output": self.output,
            "error": error,
        }
