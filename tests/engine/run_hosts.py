"""An in-memory RunHost: the runner's contract kept in dicts, for engine tests (the portal keeps it in models)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from syncjobs.engine.changetracking import next_state
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.pipeline.host import RunInfo, WatermarkKey
from syncjobs.engine.types import CopyResult
from syncjobs.engine.windows import PendingWindow, SyncState


class MemoryHost:
    """Records activity runs and watermarks in memory; ``cancel_after`` cancels after that many checks."""

    def __init__(self, linked_services: list[dict[str, Any]], watermarks: dict | None = None) -> None:
        self.linked_services = {ls["name"]: ls for ls in linked_services}
        self.runs: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}  # a look-up per finish, so 100,000 iterations stay linear
        self.watermarks: dict[WatermarkKey, SyncState] = watermarks if watermarks is not None else {}
        self.claimed: dict[WatermarkKey, int] = {}  # the fencing token each held claim carries
        self.mine: dict[WatermarkKey, int] = {}  # the tokens this run was given
        self.claims = 0
        self.windows: list[tuple[WatermarkKey, int | None, int, str]] = []
        self.threads: set[int] = set()  # threads the runner called the host from
        self.cancel = False
        self.cancel_after: int | None = None
        self.paused: set[str] = set()  # tables ("schema.table") paused
        self.checks = 0

    def linked_service(self, name: str) -> dict[str, Any]:
        return self.linked_services[name]

    def activity_started(self, name: str, activity_type: str, input: dict[str, Any], attempt: int) -> str:
        self.threads.add(threading.get_ident())
        run_id = str(uuid.uuid4())
        record = {
            "id": run_id,
            "name": name,
            "type": activity_type,
            "input": input,
            "attempt": attempt,
            "status": "InProgress",
            "started": time.monotonic(),
        }
        self.runs.append(record)
        self.by_id[run_id] = record
        return run_id

    def table_started(self, parent_run_id: str, name: str, table: str, input: dict[str, Any]) -> str:
        run_id = self.activity_started(f"{name}: {table}", self.by_id[parent_run_id]["type"], input, 0)
        self.by_id[run_id].update(parent=parent_run_id, table=table)
        return run_id

    def activity_finished(self, activity_run_id: str, status: str, output: dict, error: dict) -> None:
        self.threads.add(threading.get_ident())
        run = self.by_id[activity_run_id]
        run.update(status=status, output=output, error=error, ended=time.monotonic())

    def cancel_requested(self) -> bool:
        self.checks += 1
        if self.cancel_after is not None and self.checks > self.cancel_after:
            self.cancel = True
        return self.cancel

    def claim_watermark(self, key: WatermarkKey) -> SyncState:
        self.threads.add(threading.get_ident())
        if str(key.table) in self.paused:
            raise TerminalError("table_paused", f"{key.table} is paused")
        if key in self.claimed:
            raise TerminalError("watermark_busy", f"another run is copying {key.table}")
        self.claims += 1
        self.claimed[key] = self.mine[key] = self.claims
        state = self.watermarks.get(key, SyncState())
        return SyncState(state.watermark, state.generation, state.chain_version, state.pending, self.claims)

    def take_claim(self, key: WatermarkKey) -> None:
        """What recovery does to a run judged dead: its claim goes (a later one gets a new token)."""
        self.claims += 1
        self.claimed[key] = self.claims

    def check_claim(self, key: WatermarkKey) -> None:
        if key not in self.claimed or self.claimed[key] != self.mine.get(key):
            raise TerminalError("claim_lost", f"the claim on {key.table} was taken from this run")

    def record_window(self, key: WatermarkKey, window: PendingWindow) -> None:
        self.check_claim(key)
        state = self.watermarks.get(key, SyncState())
        self.watermarks[key] = SyncState(state.watermark, state.generation, state.chain_version, window)

    def advance_watermark(self, key: WatermarkKey, state: SyncState, result: CopyResult, run_id: str) -> None:
        self.check_claim(key)
        if self.watermarks.get(key, SyncState()).watermark != state.watermark:
            raise TerminalError("watermark_conflict", "the watermark moved")
        assert result.watermark is not None
        self.watermarks[key] = next_state(result, state)
        previous = state.watermark.version if state.watermark else None
        self.windows.append((key, previous, result.watermark.version, result.mode))

    def release_watermark(self, key: WatermarkKey) -> None:
        if self.claimed.get(key) == self.mine.get(key):
            self.claimed.pop(key, None)

    def statuses(self) -> list[tuple[str, str]]:
        """(activity name, status) in the order the activity runs started."""
        return [(r["name"], r["status"]) for r in self.runs]

    def tables(self) -> dict[str, dict[str, Any]]:
        """The last activity run of each table (``table_started``), by table."""
        return {r["table"]: r for r in self.runs if r.get("table")}

    def run(self, name: str) -> dict[str, Any]:
        """The last activity run of ``name``."""
        return [r for r in self.runs if r["name"] == name][-1]


def info(pipeline_name: str, **overrides: Any) -> RunInfo:
    """A RunInfo for a manual run now."""
    values = {"run_id": str(uuid.uuid4()), "pipeline_name": pipeline_name, "trigger_time": datetime.now(UTC)}
    values.update(overrides)
    return RunInfo(**values)
