"""The runner's host over the portal's models: activity runs, watermarks and their windows, cancel, heartbeat.

Every write a run makes is fenced: an activity run is only started while the run still runs and only
ended while it is still open, and a watermark is only written under the claim (and its token) the run
took. A worker judged dead that wakes up again (a frozen host, a long pause) is refused everything.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.pipeline.host import WatermarkKey
from syncjobs.engine.types import CopyResult
from syncjobs.engine.types import Watermark as EngineWatermark
from syncjobs.engine.windows import PendingWindow, SyncState
from syncjobs.models import ActivityRun, LinkedService, PipelineRun, Watermark, WatermarkConflictError
from syncjobs.models.pipeline_runs import RUNNING, ActivityStatus
from syncjobs.models.watermarks import ClaimLostError

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 2.0


def claim_lost(what: str) -> TerminalError:
    """The error a run gets once it no longer holds what it writes to."""
    return TerminalError("claim_lost", f"{what}: this run's worker was judged dead and its claim taken; it stops here")


class Heartbeat:
    """The worker's liveness for one run, beaten from a background thread every ``interval`` seconds.

    A thread, so that one long statement (a big COPY, a slow CHANGETABLE) never looks like a dead
    worker: the run's heartbeat keeps coming while the runner's thread waits on the database. Each beat
    also reads the cancel flag, and notices when recovery failed the run (``lost``). ``threaded=False``
    (tasks run inline: tests, one-off scripts) beats from the runner's own calls instead.
    """

    def __init__(self, run: PipelineRun, interval: float = HEARTBEAT_SECONDS, *, threaded: bool = True) -> None:
        self.run = run
        self.interval = interval
        self.threaded = threaded
        self.cancelled = False
        self.lost = False
        self.beats = 0
        self._last = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run.pk}", daemon=True)

    def __enter__(self) -> Heartbeat:
        if self.threaded:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def should_stop(self) -> bool:
        """True once a cancel was asked for, or the run was taken from this worker."""
        if not self.threaded and time.monotonic() - self._last >= self.interval:
            self.beat()
        return self.cancelled or self.lost

    def beat(self) -> None:
        """One heartbeat: record it, read the cancel flag, notice a run no longer ours."""
        self._last = time.monotonic()
        try:
            running, cancelled = self.run.heartbeat()
        except DatabaseError:  # the portal's database hiccuped: try again at the next beat
            logger.warning("heartbeat of run %s failed", self.run.pk, exc_info=True)
            return
        self.beats += 1
        self.cancelled = self.cancelled or cancelled
        self.lost = self.lost or not running

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self.beat()
        finally:
            connection.close()  # this thread's own connection


class DjangoRunHost:
    """Implements ``engine.pipeline.host.RunHost`` for one pipeline run."""

    def __init__(self, run: PipelineRun, heartbeat: Heartbeat | None = None) -> None:
        self.run = run
        self.heartbeat = heartbeat or Heartbeat(run, threaded=False)
        self._watermarks: dict[WatermarkKey, Watermark] = {}
        self._tokens: dict[WatermarkKey, int] = {}

    def linked_service(self, name: str) -> dict[str, Any]:
        """The stored linked service with its secrets revealed (KeyError when there is none)."""
        found = LinkedService.objects.filter(name__iexact=name).first()
        if found is None:
            raise KeyError(name)
        return found.revealed_definition()

    def activity_started(self, name: str, activity_type: str, input: dict[str, Any], attempt: int) -> str:
        """A new InProgress activity run, only while the run still runs (its row is locked meanwhile)."""
        return self._started(name, activity_type=activity_type, input=input, retry_attempt=attempt)

    def table_started(self, parent_run_id: str, name: str, table: str, input: dict[str, Any]) -> str:
        """A table's own InProgress activity run, a child of its activity's run ("Sync: dbo.orders")."""
        parent = ActivityRun.objects.get(pk=parent_run_id)
        return self._started(
            f"{name}: {table}",
            activity_type=parent.activity_type,
            input=input,
            retry_attempt=parent.retry_attempt,
            parent=parent,
            table=table,
        )

    def _started(self, name: str, **fields: Any) -> str:
        with transaction.atomic():
            touched = PipelineRun.objects.filter(pk=self.run.pk, status__in=RUNNING)
            if touched.update(last_updated=timezone.now()) != 1:
                raise claim_lost(f"activity {name} was not started")
            activity_run = ActivityRun.objects.create(
                pipeline_run=self.run, activity_name=name, status=ActivityStatus.IN_PROGRESS, **fields
            )
        return str(activity_run.pk)

    def activity_finished(
        self, activity_run_id: str, status: str, output: dict[str, Any], error: dict[str, Any]
    ) -> None:
        """Store the activity run's end, with copy counts lifted out of the output (refused once it ended)."""
        activity_run = ActivityRun.objects.get(pk=activity_run_id)
        ended = activity_run.finish(
            status,
            output,
            error,
            rows_read=output.get("rowsRead"),
            rows_written=output.get("rowsCopied"),
            bytes_written=output.get("dataWritten"),
        )
        if not ended:
            raise claim_lost(f"activity {activity_run.activity_name} was already ended by recovery")

    def cancel_requested(self) -> bool:
        """True once a cancel was asked for or the run was taken from this worker (read off the heartbeat)."""
        return self.heartbeat.should_stop()

    def _watermark(self, key: WatermarkKey) -> Watermark:
        if key not in self._watermarks:
            linked = LinkedService.objects.get(name__iexact=key.linked_service)
            self._watermarks[key] = Watermark.objects.for_target(linked, key.table, key.sink_key)
        return self._watermarks[key]

    def claim_watermark(self, key: WatermarkKey) -> SyncState:
        """Take the watermark with a new fencing token; refuse while another active run holds it or it is paused."""
        watermark = self._watermark(key)
        if Watermark.objects.filter(pk=watermark.pk, paused=True).exists():
            raise TerminalError("table_paused", f"{key.table} to {key.sink_key} is paused; this run did not copy it")
        token = watermark.claim(self.run)
        if token is None:
            if not PipelineRun.objects.filter(pk=self.run.pk, status__in=RUNNING).exists():
                raise claim_lost(f"{key.table} was not claimed")
            holder = Watermark.objects.filter(pk=watermark.pk).values_list("claimed_by", flat=True).get()
            raise TerminalError(
                "watermark_busy",
                f"another run ({holder}) is copying {key.table} to {key.sink_key}; this run did not copy it",
            )
        self._tokens[key] = token
        stored = None if watermark.version is None else EngineWatermark(watermark.version, watermark.database_identity)
        pending = PendingWindow.from_json(watermark.pending) if watermark.pending else None
        return SyncState(stored, watermark.generation, watermark.chain_version, pending, token)

    def record_window(self, key: WatermarkKey, window: PendingWindow) -> None:
        """Store the window being written, under this run's claim."""
        try:
            self._watermark(key).record_pending(self.run, self._tokens[key], window.to_json())
        except ClaimLostError:
            raise claim_lost(f"the window of {key.table} was not recorded") from None

    def check_claim(self, key: WatermarkKey) -> None:
        """The fence: raise claim_lost unless this run still holds the watermark with its token."""
        if not self._watermark(key).holds(self.run, self._tokens[key]):
            raise claim_lost(f"the manifest of {key.table} was not written")

    def advance_watermark(self, key: WatermarkKey, state: SyncState, result: CopyResult, activity_run_id: str) -> None:
        """Store the window and the new version, conditional on the old version and on the claim."""
        assert result.watermark is not None and result.window is not None
        window = result.window
        try:
            self._watermark(key).advance(
                state.watermark.version if state.watermark else None,
                result.watermark.version,
                result.watermark.database_identity,
                claim=(self.run, self._tokens[key]),
                generation=window.generation,
                chain_version=window.chain_version,
                window={
                    "generation": window.generation,
                    "from_version": window.from_version,
                    "manifest": window.manifest,
                },
                mode=result.mode,
                reason=result.reason,
                rows=window.rows,
                files=[f.path for f in result.files],
                pipeline_run=self.run,
                activity_run=ActivityRun.objects.get(pk=activity_run_id),
            )
        except ClaimLostError:
            raise claim_lost(f"the watermark of {key.table} did not move") from None
        except WatermarkConflictError as exc:
            raise TerminalError("watermark_conflict", str(exc)) from None

    def release_watermark(self, key: WatermarkKey) -> None:
        """Give the watermark back."""
        self._watermark(key).release(self.run)
