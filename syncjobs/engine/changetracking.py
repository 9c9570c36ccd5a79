"""The change-tracking copy: one function for every source, writing change windows (``windows.py``).

The protocol, so that no crash point loses or duplicates a change:

1. a window recorded as pending whose manifest exists was finished by an attempt that died before
   the watermark moved: its manifest is the result, nothing is copied again;
2. inside one snapshot (seed, "Use snapshot isolation"): describe the table (the first read pins the
   snapshot), check the watermark against the table's own minimum valid version and the database's
   identity, and plan the window — the pending one again when it is still valid, else a new one (a
   delta, or a full copy in a new generation) — and record it in the portal before any file is written;
3. write the parts (a full window range by range, each recorded done, so a rerun resumes after them);
4. check the run still holds the watermark, then create the manifest exclusively, and remove the
   files no manifest names (left by attempts that died);
5. hand the result back: the caller advances the watermark, conditional on the version it started
   from and on its claim.

A quiet delta writes nothing (no part, no manifest): its result still moves the watermark, so quiet
tables never leave retention, while the next manifest's ``from`` stays the last manifest's ``to``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.faults import MANIFEST_WRITTEN, PARTS_COMMITTED, fault_point
from syncjobs.engine.formats import Format
from syncjobs.engine.keyset import KeyRange
from syncjobs.engine.manifests import (
    belongs_to,
    build_manifest,
    file_paths,
    manifest_path,
    next_generation,
    output_columns,
    read_manifest,
    remove_unnamed,
    write_manifest,
)
from syncjobs.engine.parts import PartTarget, RangePlan, remove_parts, write_delta_parts, write_full_parts
from syncjobs.engine.schema_drift import DEFAULT_POLICY, SchemaDrift, TableSchema, assess, fingerprint, paused_result
from syncjobs.engine.sinks import Sink
from syncjobs.engine.sources import Changes, FullTable, Snapshot, Source
from syncjobs.engine.streaming import DEFAULT_BATCH_ROWS, Reading, StopCheck
from syncjobs.engine.types import (
    SYS_CHANGE_OPERATION,
    SYS_CHANGE_VERSION,
    ChangeWindow,
    CopyResult,
    FileWritten,
    Table,
    TableName,
    Watermark,
    WindowWritten,
)
from syncjobs.engine.windows import (
    DEFAULT_MAX_ROWS_PER_FILE,
    LocalJournal,
    PartWritten,
    PendingWindow,
    RangeState,
    SyncState,
    WindowJournal,
    window_prefix,
)


@dataclass(frozen=True)
class CopyOptions:
    """How a change-tracking copy reads and writes (the activity's typeProperties)."""

    batch_rows: int = DEFAULT_BATCH_ROWS
    max_rows_per_file: int = DEFAULT_MAX_ROWS_PER_FILE  # ADF's maxRowsPerFile
    parallel_copies: int = 1  # ADF's parallelCopies: full windows' parts read over this many connections
    change_columns: tuple[str, ...] = (SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION)
    run_id: str = ""  # written into the manifest
    schema_drift_policy: str = DEFAULT_POLICY  # for tables whose own policy is unset (schema_drift.py)


@dataclass(frozen=True)
class Plan:
    """What one change-tracking copy will do, decided inside the snapshot."""

    mode: str  # "full", "delta" or "reinitialized"
    reason_code: str
    reason: str
    current_version: int
    min_valid_version: int


def plan_copy(snapshot: Snapshot, table: Table, watermark: Watermark | None) -> Plan:
    """Decide between a delta and a full copy, checking the watermark as the seed prescribes."""
    if not table.primary_key:
        raise TerminalError(
            "no_primary_key",
            f"table {table.name} has no primary key; change tracking needs one to identify rows",
        )
    min_valid = snapshot.min_valid_version(table)  # raises change_tracking_disabled
    current = snapshot.current_version()
    if watermark is None:
        return Plan("full", "no_watermark", "first copy: full copy and a new baseline", current, min_valid)
    reinit = _reinit_reason(snapshot, watermark, current, min_valid)
    if reinit:
        return Plan("reinitialized", reinit[0], reinit[1], current, min_valid)
    return Plan("delta", "", "", current, min_valid)


def _reinit_reason(snapshot: Snapshot, watermark: Watermark, current: int, min_valid: int) -> tuple[str, str] | None:
    if current < watermark.version:
        return (
            "restored",
            f"the source's current version {current} is below the stored watermark {watermark.version}: "
            "the database was restored or re-created",
        )
    if watermark.version < min_valid:
        return (
            "min_version_expired",
            f"the watermark {watermark.version} is older than the table's minimum valid version {min_valid}: "
            "change information was cleaned up",
        )
    if watermark.database_identity and snapshot.database_identity(watermark.version) != watermark.database_identity:
        return (
            "identity_changed",
            f"the database's history at version {watermark.version} is not the one last synced: "
            "it was restored or re-created",
        )
    return None


def copy_table(
    source: Source,
    table_name: TableName,
    sink: Sink,
    fmt: Format,
    root: str,
    state: SyncState | None = None,
    *,
    journal: WindowJournal | None = None,
    options: CopyOptions | None = None,
    should_stop: StopCheck | None = None,
) -> CopyResult:
    """Copy a table's changes since the watermark in ``state`` (or the whole table) as a window under ``root``.

    Returns the result; the caller stores it (``result.window`` and ``result.watermark``). Raises
    EngineError on failure, leaving no part uncommitted and no manifest.
    """
    started = time.monotonic()
    if not source.supports_change_tracking:
        raise TerminalError(
            "change_tracking_unsupported", f"this source has no change tracking to copy {table_name} by"
        )
    state, journal, options = state or SyncState(), journal or LocalJournal(), options or CopyOptions()
    if state.pending is not None:
        finished = read_manifest(sink, state.pending.prefix)
        if finished is not None:
            return _finished_earlier(sink, state.pending, finished, started)
    with source.snapshot() as snapshot:
        table = snapshot.describe(table_name)
        plan = plan_copy(snapshot, table, state.watermark)
        drift = assess(state.schema, table, state.schema_policy or options.schema_drift_policy, state.schema_accepted)
        if drift is not None and drift.paused:
            previous = state.watermark.version if state.watermark else None
            return paused_result(drift, previous, plan.min_valid_version, time.monotonic() - started)
        plan = _with_drift(plan, drift)
        window = _window(snapshot, table, plan, state, sink, root)
        journal.record(window)
        resumed = len(window.parts)
        reading = Reading.of(source, fmt)
        target = PartTarget(sink, fmt, window.prefix, state.claim, options.batch_rows, should_stop, reading)
        window, written = _write(snapshot, source, table, window, target, journal, options)
        _recheck(snapshot, table, window)
    change = drift.to_json() if drift is not None else None
    if not window.is_full and not written:
        return _result(window, state.chain_version, (), None, plan, started, resumed=0, change=change)
    fault_point(PARTS_COMMITTED)
    _check_claim(journal, sink, [] if window.is_full else written)  # the fence, right before the manifest
    parts = window.parts if window.is_full else tuple(written)
    columns = output_columns(table, options.change_columns if not window.is_full else _full_columns(options))
    built = build_manifest(window, table, columns, parts, run_id=options.run_id, schema_change=change)
    manifest = write_manifest(sink, window, built)
    remove_unnamed(sink, window.prefix, manifest)
    fault_point(MANIFEST_WRITTEN)
    return _result(
        window, window.to_version, parts, manifest, plan, started, resumed=resumed, written=written, change=change
    )


def _with_drift(plan: Plan, drift: SchemaDrift | None) -> Plan:
    """The plan once schema drift is taken into account: a re-sync turns a delta into a full copy."""
    if drift is None or not drift.resyncs or plan.mode != "delta":
        return plan
    return Plan("reinitialized", "schema_changed", drift.reason(), plan.current_version, plan.min_valid_version)


def _check_claim(journal: WindowJournal, sink: Sink, unrecorded: list[PartWritten]) -> None:
    """The fence; a run that lost its claim removes the parts it wrote and never recorded (a delta's)."""
    try:
        journal.check_claim()
    except BaseException:
        remove_parts(sink, unrecorded)
        raise


def _full_columns(options: CopyOptions) -> tuple[str, ...]:
    return (SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION) if options.change_columns else ()


def _write(
    snapshot: Snapshot,
    source: Source,
    table: Table,
    window: PendingWindow,
    target: PartTarget,
    journal: WindowJournal,
    options: CopyOptions,
) -> tuple[PendingWindow, list[PartWritten]]:
    """Write the window's parts; return the window as it now stands and the parts this attempt wrote."""
    if window.is_full:
        before = {p.path for p in window.parts}
        plan = RangePlan(window, snapshot, table, options.max_rows_per_file)
        rows = FullTable(table, with_change_columns=bool(options.change_columns))
        window = write_full_parts(snapshot, rows, source, plan, target, journal, options.parallel_copies)
        return window, [p for p in window.parts if p.path not in before]
    assert window.read_after is not None
    changes = Changes(table, ChangeWindow(window.read_after, window.to_version), options.change_columns)
    return window, write_delta_parts(snapshot, changes, target, options.max_rows_per_file)


def _window(snapshot: Snapshot, table: Table, plan: Plan, state: SyncState, sink: Sink, root: str) -> PendingWindow:
    """The window to write: the pending one while it is still valid, else a new delta or full window."""
    pending = state.pending
    abandoned = ""
    schema = fingerprint(table)
    if pending is not None:
        abandoned = _schema_moved(pending, schema) or _why_not_resumable(snapshot, pending, plan, state)
        if not abandoned:
            return pending
        for path in sink.list(pending.prefix + "/"):  # never named by a manifest: never read
            sink.delete(path)
    identity = snapshot.database_identity(plan.current_version)
    current = plan.current_version
    if plan.mode == "delta" and state.generation > 0 and state.watermark is not None:
        after = state.watermark.version
        start = after if state.chain_version is None else state.chain_version
        prefix = window_prefix(root, table.name, state.generation, start, current)
        return PendingWindow(
            state.generation, "delta", "", "", start, current, prefix, identity, after, after, schema_fingerprint=schema
        )
    mode, code, reason = plan.mode, plan.reason_code, plan.reason
    if plan.mode == "delta":
        mode, code = "reinitialized", "new_layout"
        reason = "the watermark was kept before change windows existed: a full window starts generation 1"
    if abandoned:
        reason = f"{reason}; {abandoned}" if reason else abandoned
    generation = next_generation(sink, root, table.name, state.generation)
    prefix = window_prefix(root, table.name, generation, 0, current)
    previous = state.watermark.version if state.watermark else None
    whole = (RangeState(KeyRange()),)
    return PendingWindow(
        generation, mode, code, reason, 0, current, prefix, identity, previous, None, whole, False, schema
    )


def _schema_moved(pending: PendingWindow, schema: str) -> str:
    """Why an interrupted window cannot go on under the table's schema now ("" when it can)."""
    versions = f"{pending.from_version}-{pending.to_version}"
    moved = pending.schema_fingerprint not in ("", schema)
    return f"the interrupted window {versions} was abandoned: the table's schema changed" if moved else ""


def _why_not_resumable(snapshot: Snapshot, pending: PendingWindow, plan: Plan, state: SyncState) -> str:
    """Why an interrupted window cannot be finished as planned ("" when it can)."""
    gone = f"the interrupted window {pending.from_version}-{pending.to_version} was abandoned"
    if plan.current_version < pending.to_version:
        return f"{gone}: the source is now below its version {pending.to_version} (restored)"
    if snapshot.database_identity(pending.to_version) != pending.database_identity:
        return f"{gone}: the source's history changed (restored or re-created)"
    if pending.is_full and pending.to_version < plan.min_valid_version:
        return f"{gone}: its baseline {pending.to_version} is older than the minimum valid version"
    watermark_version = state.watermark.version if state.watermark else None
    if not pending.is_full and (plan.mode != "delta" or pending.read_after != watermark_version):
        return f"{gone}: {plan.reason or 'the watermark moved'}"
    return ""


def _recheck(snapshot: Snapshot, table: Table, window: PendingWindow) -> None:
    """Without snapshot isolation (SQL Server's documented fallback), re-validate after reading."""
    recheck = getattr(snapshot, "recheck_min_valid_version", None)
    if window.is_full or recheck is None or window.read_after is None:
        return
    if window.read_after < recheck(table):
        raise TerminalError(
            "min_version_expired",
            f"change information for {table.name} was cleaned up while it was being read; run again to reinitialize",
        )


def _finished_earlier(sink: Sink, pending: PendingWindow, manifest: dict[str, Any], started: float) -> CopyResult:
    """The result of a window an earlier attempt completed (its manifest exists): nothing is copied."""
    if not belongs_to(manifest, pending):
        raise TerminalError("manifest_conflict", f"{manifest_path(pending.prefix)} does not describe this window")
    remove_unnamed(sink, pending.prefix, manifest)
    parts = tuple(
        PartWritten(i, path, int(entry["rows"]), int(entry["bytes"]), str(entry["checksum"]))
        for i, (path, entry) in enumerate(zip(file_paths(manifest, pending.prefix), manifest["files"], strict=True))
    )
    summary = _summary(pending, pending.to_version, parts, True, resumed=len(parts), written=[], from_manifest=True)
    counts = {op: n for op, n in (manifest.get("operations") or {}).items() if n}
    result = _copy_result(pending, summary, parts, [], counts, None, started)
    schema = TableSchema.from_manifest(manifest).to_json()
    return replace(result, schema=schema, schema_change=manifest.get("schemaChange"))


def _result(
    window: PendingWindow,
    chain_version: int | None,
    parts: tuple[PartWritten, ...],
    manifest: dict[str, Any] | None,
    plan: Plan,
    started: float,
    *,
    resumed: int,
    written: list[PartWritten] | None = None,
    change: dict[str, Any] | None = None,
) -> CopyResult:
    written = list(written or [])
    counts: dict[str, int] = {}
    for part in written:
        for op, n in part.counts.items():
            counts[op] = counts.get(op, 0) + n
    summary = _summary(window, chain_version, parts, manifest is not None, resumed=resumed, written=written)
    result = _copy_result(window, summary, parts, written, counts, plan.min_valid_version, started)
    schema = TableSchema.from_manifest(manifest).to_json() if manifest is not None else None
    return replace(result, schema=schema, schema_change=change)


def _summary(
    window: PendingWindow,
    chain_version: int | None,
    parts: tuple[PartWritten, ...],
    has_manifest: bool,
    *,
    resumed: int,
    written: list[PartWritten],
    from_manifest: bool = False,
) -> WindowWritten:
    return WindowWritten(
        window.generation,
        window.prefix,
        manifest_path(window.prefix) if has_manifest else "",
        window.from_version,
        window.to_version,
        chain_version,
        sum(p.rows for p in parts),
        parts_resumed=resumed,
        parts_written=len(written),
        from_manifest=from_manifest,
    )


def _copy_result(
    window: PendingWindow,
    summary: WindowWritten,
    parts: tuple[PartWritten, ...],
    written: list[PartWritten],
    counts: dict[str, int],
    min_valid: int | None,
    started: float,
) -> CopyResult:
    """The result of a window: all its parts as files; rows and bytes of what this attempt wrote."""
    rows = sum(p.rows for p in written)
    return CopyResult(
        mode=window.mode,
        reason=window.reason,
        reason_code=window.reason_code,
        previous_version=window.previous_version,
        watermark=Watermark(window.to_version, window.database_identity),
        min_valid_version=min_valid,
        rows_read=rows,
        rows_written=rows,
        bytes_written=sum(p.bytes for p in written),
        files=tuple(FileWritten(p.path, p.bytes, p.rows, p.checksum) for p in parts),
        seconds=time.monotonic() - started,
        counts=counts,
        window=summary,
    )


def next_state(result: CopyResult, state: SyncState) -> SyncState:
    """The state once ``result`` is stored: what the portal keeps, for callers that keep it themselves."""
    window = result.window
    if window is None:
        return state
    schema = TableSchema.from_json(result.schema) if result.schema else state.schema
    return SyncState(
        result.watermark, window.generation, window.chain_version, None, state.claim, schema, state.schema_policy
    )
