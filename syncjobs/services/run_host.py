"""The runner's host over the portal's models: activity runs, watermarks, cancel and heartbeat."""

from __future__ import annotations

import time
from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.pipeline.host import WatermarkKey
from syncjobs.engine.types import CopyResult
from syncjobs.engine.types import Watermark as EngineWatermark
from syncjobs.models import ActivityRun, LinkedService, PipelineRun, Watermark, WatermarkConflictError
from syncjobs.models.pipeline_runs import ActivityStatus

HEARTBEAT_SECONDS = 2.0


class DjangoRunHost:
    """Implements ``engine.pipeline.host.RunHost`` for one pipeline run."""

    def __init__(self, run: PipelineRun) -> None:
        self.run = run
        self._last_check = 0.0
        self._cancelled = False
        self._watermarks: dict[WatermarkKey, Watermark] = {}

    def linked_service(self, name: str) -> dict[str, Any]:
        """The stored linked service with its secrets revealed (KeyError when there is none)."""
        found = LinkedService.objects.filter(name__iexact=name).first()
        if found is None:
            raise KeyError(name)
        return found.revealed_definition()

    def activity_started(self, name: str, activity_type: str, input: dict[str, Any], attempt: int) -> str:
        """A new InProgress activity run."""
        activity_run = ActivityRun.objects.create(
            pipeline_run=self.run,
            activity_name=name,
            activity_type=activity_type,
            status=ActivityStatus.IN_PROGRESS,
            input=input,
            retry_attempt=attempt,
        )
        return str(activity_run.pk)

    def activity_finished(
        self, activity_run_id: str, status: str, output: dict[str, Any], error: dict[str, Any]
    ) -> None:
        """Store the activity run's end, with copy counts lifted out of the output."""
        activity_run = ActivityRun.objects.get(pk=activity_run_id)
        activity_run.finish(
            status,
            output,
            error,
            rows_read=output.get("rowsRead"),
            rows_written=output.get("rowsCopied"),
            bytes_written=output.get("dataWritten"),
        )

    def cancel_requested(self) -> bool:
        """Heartbeat and read the cancel flag, at most every couple of seconds."""
        now = time.monotonic()
        if not self._cancelled and now - self._last_check >= HEARTBEAT_SECONDS:
            self._last_check = now
            self._cancelled = self.run.heartbeat()
        return self._cancelled

    def _watermark(self, key: WatermarkKey) -> Watermark:
        if key not in self._watermarks:
            linked = LinkedService.objects.get(name__iexact=key.linked_service)
            self._watermarks[key] = Watermark.objects.for_target(linked, key.table, key.sink_key)
        return self._watermarks[key]

    def claim_watermark(self, key: WatermarkKey) -> EngineWatermark | None:
        """Take the watermark; refuse while another active run holds it."""
        watermark = self._watermark(key)
        if not watermark.claim(self.run):
            holder = Watermark.objects.filter(pk=watermark.pk).values_list("claimed_by", flat=True).get()
            raise TerminalError(
                "watermark_busy",
                f"another run ({holder}) is copying {key.table} to {key.sink_key}; this run did not copy it",
            )
        watermark.refresh_from_db(fields=["version", "database_identity"])
        if watermark.version is None:
            return None
        return EngineWatermark(watermark.version, watermark.database_identity)

    def advance_watermark(
        self, key: WatermarkKey, previous: EngineWatermark | None, result: CopyResult, activity_run_id: str
    ) -> None:
        """Store the new version, conditional on the old one, and record the window."""
        assert result.watermark is not None
        try:
            self._watermark(key).advance(
                previous.version if previous else None,
                result.watermark.version,
                result.watermark.database_identity,
                mode=result.mode,
                reason=result.reason,
                rows=result.rows_written,
                files=[f.path for f in result.files],
                pipeline_run=self.run,
                activity_run=ActivityRun.objects.get(pk=activity_run_id),
            )
        except WatermarkConflictError as exc:
            raise TerminalError("watermark_conflict", str(exc)) from None

    def release_watermark(self, key: WatermarkKey) -> None:
        """Give the watermark back."""
        self._watermark(key).release(self.run)
