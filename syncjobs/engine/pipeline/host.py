"""What the pipeline runner needs from whoever runs it (the portal's worker, or a test)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from syncjobs.engine.types import CopyResult, TableName
from syncjobs.engine.windows import PendingWindow, SyncState


@dataclass(frozen=True)
class RunInfo:
    """Who and what a pipeline run is: the values behind ``pipeline().RunId`` and friends."""

    run_id: str
    pipeline_name: str
    trigger_time: datetime
    trigger_type: str = "Manual"  # pipeline().TriggerType: Manual, ScheduleTrigger, ...
    trigger_name: str = "Manual"
    trigger_id: str = ""
    group_id: str = ""  # the original run's id, shared by its reruns
    parameters: dict[str, Any] = field(default_factory=dict)
    data_factory: str = "ctportal"
    # Rerun from a failed activity: outputs of activities that succeeded in the earlier run and are
    # not re-run. Lookups are never taken from here (their state is re-read from the source).
    reuse_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # ...and of a ForEach that failed there, the items to run again (the others succeeded).
    retry_items: dict[str, list[int]] = field(default_factory=dict)
    # The tables ("schema.table") a ChangeTrackingCopy copies in this run; None: every table it lists.
    table_filter: tuple[str, ...] | None = None
    # How many activities with no dependency between them run at once, and how many tables of one
    # ChangeTrackingCopy copy at once (the worker's limits; an activity's batchCount may ask for fewer).
    activity_concurrency: int = 4
    table_concurrency: int = 4


@dataclass(frozen=True)
class WatermarkKey:
    """Which watermark a change-tracking copy reads and advances: one per source table and sink."""

    linked_service: str  # the source linked service's name
    table: TableName
    sink_key: str  # the sink dataset's name (plus folder when it is parameterised)


@dataclass(frozen=True)
class PipelineOutcome:
    """How a run ended: ``Succeeded``, ``Failed`` or ``Cancelled``, with ADF's error message."""

    status: str
    message: str = ""
    activity_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    handled_errors: bool = False  # Succeeded, but an activity failed and a Failed/Completed path handled it
    # Tables ("schema.table") a ChangeTrackingCopy failed to copy, each with its error: Succeeded with them
    # is "Succeeded with failed tables"; "Retry failed tables" copies only these.
    failed_tables: dict[str, str] = field(default_factory=dict)


class RunHost(Protocol):
    """The runner's view of the portal. Every method may be called from the runner's thread only."""

    def linked_service(self, name: str) -> dict[str, Any]:
        """The linked service's ADF JSON with its secrets revealed (never logged, never stored in a run)."""
        ...

    def activity_started(self, name: str, activity_type: str, input: dict[str, Any], attempt: int) -> str:
        """Record an activity run as InProgress; return its activity run id."""
        ...

    def table_started(self, parent_run_id: str, name: str, table: str, input: dict[str, Any]) -> str:
        """Record one table of a multi-table activity as its own InProgress activity run, a child of the
        activity run ``parent_run_id`` (``name`` its activity name); return its id (ended by ``activity_finished``)."""
        ...

    def activity_finished(
        self, activity_run_id: str, status: str, output: dict[str, Any], error: dict[str, Any]
    ) -> None:
        """Record the end of an activity run: ``Succeeded``, ``Failed``, ``Skipped`` or ``Cancelled``.

        ``error`` is ADF's shape: ``{"errorCode", "message", "failureType", "target", "details"}``.
        Copy outputs carry ``rowsRead``, ``rowsCopied`` and ``dataWritten`` (``CopyResult.as_output``).
        """
        ...

    def cancel_requested(self) -> bool:
        """True once someone asked to cancel this run (also the runner's heartbeat; call it often)."""
        ...

    def claim_watermark(self, key: WatermarkKey) -> SyncState:
        """Take the watermark for this run; return what is stored (no watermark: never copied).

        Each claim carries a fencing token (``SyncState.claim``, higher than any before it): once the
        claim is taken from this run (its worker judged dead), every later write by it is refused.
        Raises ``engine.errors.TerminalError("watermark_busy", ...)`` when another active run holds it,
        so two runs of one watermark never overlap, and ``TerminalError("table_paused", ...)`` when the
        table is paused (both skip the table for this run).
        """
        ...

    def record_window(self, key: WatermarkKey, window: PendingWindow) -> None:
        """Store the window being written (before any file; then as its ranges are done).

        Raises ``TerminalError("claim_lost")`` when this run no longer holds the claim.
        """
        ...

    def check_claim(self, key: WatermarkKey) -> None:
        """Raise ``TerminalError("claim_lost")`` unless this run still holds the claim (the fence)."""
        ...

    def advance_watermark(self, key: WatermarkKey, state: SyncState, result: CopyResult, activity_run_id: str) -> None:
        """Store ``result``'s window and watermark (only after its manifest exists) and record the window.

        Conditional on the stored version still being the one in ``state`` and on this run's claim;
        raises TerminalError (``watermark_conflict``, ``claim_lost``) otherwise.
        """
        ...

    def release_watermark(self, key: WatermarkKey) -> None:
        """Give the watermark back (always called, after success or failure)."""
        ...
