"""One attempt of one activity: what an activity implementation gets to work with."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.pipeline.state import RunState


@dataclass
class ActivitiesResult:
    """How a list of activities ended: each one's status, and the first failure's message."""

    statuses: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    cancelled: bool = False
    succeeded: bool = True


RunActivities = Callable[[list[dict[str, Any]], RunState], ActivitiesResult]
"""Runs a body of activities (a ForEach iteration, an IfCondition branch): the runner's ``run_activities``."""


class StoppedError(TerminalError):
    """The activity stopped because the run was cancelled or the activity timed out."""


@dataclass
class Step:
    """An activity's definition, the run's state, and cooperative stop checks (cancel and timeout)."""

    activity: dict[str, Any]
    state: RunState
    activity_run_id: str
    deadline: float
    run_activities: RunActivities
    stop_reason: str = field(default="")

    @property
    def name(self) -> str:
        return str(self.activity.get("name", ""))

    def should_stop(self) -> bool:
        """True once the run is cancelled or the timeout has passed (copies call this between batches)."""
        if self.state.host.cancel_requested():
            self.stop_reason = "cancelled"
        elif time.monotonic() > self.deadline:
            self.stop_reason = "timeout"
        return bool(self.stop_reason)

    def check(self) -> None:
        """Raise :class:`StoppedError` when the activity should stop."""
        if self.should_stop():
            raise StoppedError(self.stop_reason, f"activity {self.name} stopped: {self.stop_reason}")

    def sleep(self, seconds: float) -> None:
        """Wait, waking every fraction of a second to honour cancel and timeout."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.check()
            time.sleep(min(0.2, left))

    def type_properties(self, skip_keys: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The activity's typeProperties with expressions evaluated (``skip_keys`` left for later)."""
        resolved: dict[str, Any] = self.state.resolve(self.activity.get("typeProperties") or {}, skip_keys)
        return resolved

    def dataset(self, reference: dict[str, Any] | None, role: str) -> dict[str, Any]:
        """A referenced dataset, resolved; ``role`` names it in the error when it is missing."""
        if not reference:
            raise TerminalError("bad_activity", f"activity {self.name} has no {role} dataset")
        return self.state.dataset(reference)
