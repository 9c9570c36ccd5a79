"""One synced table's page: its windows, its schema (from the last manifest) and schema history, and charts.

The schema lives in the windows' manifests in the sink; the page reads the manifests of the windows it
shows (at most ``MANIFESTS``), one small file each, and says so when the sink cannot be read.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from syncjobs.engine import bindings
from syncjobs.engine.errors import EngineError
from syncjobs.engine.schema_drift import POLICIES
from syncjobs.models import Dataset, Incident, SyncedTable, WatermarkWindow
from syncjobs.models.alerts import ObjectType
from syncjobs.services import charts, schema_drift
from syncjobs.services.table_outcomes import operations

WINDOWS = 100  # windows listed and charted
MANIFESTS = 30  # manifests read for the schema history
INCIDENTS = 20  # incidents listed (open ones first)


def detail(table: SyncedTable, now: datetime) -> dict[str, Any]:
    """Everything the table's page shows besides the table itself."""
    windows = list(
        WatermarkWindow.objects.filter(watermark_id=table.pk)
        .select_related("activity_run")
        .order_by("-created_at")[:WINDOWS]
    )
    for window in windows:
        window.ops = operations(window.activity_run, table.qualified_name)  # type: ignore[attr-defined]
    manifests, sink_error = _manifests(table, [w for w in windows if w.manifest][:MANIFESTS])
    oldest_first = windows[::-1]
    return {
        "windows": windows,
        "schema": _schema(manifests),
        "schema_history": schema_history(manifests),
        "sink_error": sink_error,
        "bindings": table.bindings.select_related("pipeline").order_by("pipeline__name", "activity_name"),
        "rows_chart": charts.time_chart(
            [(w.created_at, w.rows) for w in oldest_first],
            title="Rows per window",
            y_title="Rows",
            unit="rows",
            kind="bars",
        ),
        "lag_chart": lag_chart(oldest_first, now),
        "incidents": table_incidents(table),
        "hours_left": table.retention_hours_left(now),
        "drift_waiting": schema_drift.waiting_change(table.watermark),
        "drift_policies": POLICIES,
        "lag_seconds": table.lag_seconds(now),
    }


def table_incidents(table: SyncedTable) -> list[Incident]:
    """The table's open incidents, then its recent resolved ones (``INCIDENTS`` in all)."""
    mine = Incident.objects.filter(object_type=ObjectType.TABLE, object_id=str(table.pk))
    return list(mine.matching()[:INCIDENTS])


def lag_chart(windows: list[WatermarkWindow], now: datetime) -> charts.Chart:
    """How far behind the sink was just before each window landed (the time since the one before), and now;
    in seconds, minutes or hours, whichever reads best."""
    series = [
        (later.created_at, (later.created_at - earlier.created_at).total_seconds())
        for earlier, later in zip(windows, windows[1:], strict=False)
    ]
    if windows:
        series.append((now, (now - windows[-1].created_at).total_seconds()))
    top = max((s for _, s in series), default=0)
    size, unit, name = (
        (1, "s", "seconds") if top < 120 else (60, "min", "minutes") if top < 7200 else (3600, "h", "hours")
    )
    return charts.time_chart(
        [(when, round(seconds / size, 2)) for when, seconds in series],
        title="Lag over time (time since the previous successful window)",
        y_title=f"Lag ({name})",
        unit=unit,
    )


def _manifests(table: SyncedTable, windows: list[WatermarkWindow]) -> tuple[dict[int, dict[str, Any]], str]:
    """Window id → its manifest, read from the sink; and why the sink could not be read ("" when it could)."""
    if not windows:
        return {}, ""
    dataset = Dataset.objects.select_related("linked_service").filter(name__iexact=table.sink_dataset).first()
    if dataset is None:
        return {}, f"the sink dataset {table.sink_dataset!r} no longer exists"
    found: dict[int, dict[str, Any]] = {}
    try:
        sink = bindings.sink_for(dataset.linked_service.revealed_definition())
    except EngineError as exc:
        return {}, exc.message
    try:
        for window in windows:
            try:
                found[window.pk] = json.loads(sink.read(window.manifest))
            except (EngineError, ValueError) as exc:
                return found, getattr(exc, "message", str(exc))
    finally:
        sink.close()
    return found, ""


def _schema(manifests: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """The newest manifest's columns, keys and schema hash."""
    if not manifests:
        return None
    newest = manifests[max(manifests)]
    return {
        "columns": newest.get("columns") or [],
        "keys": newest.get("keyColumns") or [],
        "hash": newest.get("schemaHash") or "",
    }


def schema_history(manifests: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each change of schema hash across the windows read, oldest first: from when, and the columns added or gone."""
    history: list[dict[str, Any]] = []
    previous: dict[str, Any] | None = None
    for window_id in sorted(manifests):
        manifest = manifests[window_id]
        if previous is not None and manifest.get("schemaHash") == previous.get("schemaHash"):
            continue
        names = [c.get("name") for c in manifest.get("columns") or []]
        before = [c.get("name") for c in (previous or {}).get("columns") or []]
        history.append(
            {
                "since": manifest.get("createdAt", ""),
                "window": f"{manifest.get('fromVersion')}-{manifest.get('toVersion')}",
                "generation": manifest.get("generation"),
                "hash": manifest.get("schemaHash", ""),
                "added": [n for n in names if n not in before] if previous else [],
                "removed": [n for n in before if n not in names],
                "columns": len(names),
            }
        )
        previous = manifest
    return history
