"""Turning change tracking on and off for a source table, and reading its state."""

from __future__ import annotations

from syncjobs.access import SYSTEM, Actor
from syncjobs.engine import bindings
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.sources.sqlserver_sql import disable_table_sql
from syncjobs.engine.types import TableName
from syncjobs.models import AuditEntry, LinkedService
from syncjobs.services import audit


def act(
    linked: LinkedService,
    action: str,
    table: str,
    *,
    apply: bool = False,
    track_columns: bool = True,
    retention_days: int = 2,
    actor: Actor = SYSTEM,
) -> list[str]:
    """Enable, disable or report change tracking of ``table``; return lines for the operator.

    An enable or disable that ran is noted in the audit log; printed T-SQL changed nothing, so it is not.
    """
    name = TableName.parse(table)
    source = bindings.source_for(linked.revealed_definition())
    try:
        if action == "status":
            return [status_line(source, name)]
        if source.dialect.is_change_tracking_native and action in ("enable", "disable") and not apply:
            return [
                "-- run these on the database (or again with --apply):",
                *_statements(source, action, name, track_columns, retention_days),
            ]
        if action == "enable":
            source.enable_change_tracking(name, track_columns=track_columns, retention_days=retention_days)
            detail = {"trackColumns": track_columns, "retentionDays": retention_days}
            audit.record(actor, AuditEntry.Action.ENABLE_CHANGE_TRACKING, "table", f"{linked.name}/{name}", **detail)
        elif action == "disable":
            source.disable_change_tracking(name)
            audit.record(actor, AuditEntry.Action.DISABLE_CHANGE_TRACKING, "table", f"{linked.name}/{name}")
        else:
            raise TerminalError("bad_action", f"unknown action {action!r}")
        return [f"change tracking {action}d on {name}", status_line(source, name)]
    finally:
        source.close()


def _statements(source: object, action: str, name: TableName, track_columns: bool, retention_days: int) -> list[str]:
    """SQL Server's T-SQL for ``action``, for the operator to read before running it."""
    if action == "disable":
        return [disable_table_sql(name)]
    return source.change_tracking_statements(  # type: ignore[attr-defined]
        name, track_columns=track_columns, retention_days=retention_days
    )


def status_line(source: object, name: TableName) -> str:
    """``table: change tracking on (columns tracked), current version N, minimum valid version M``."""
    with source.snapshot() as snapshot:  # type: ignore[attr-defined]
        table = snapshot.describe(name)
        if not table.change_tracking:
            return f"{name}: change tracking off"
        columns = ", columns tracked" if table.track_columns else ""
        current, minimum = snapshot.current_version(), snapshot.min_valid_version(table)
        return f"{name}: change tracking on{columns}; current version {current}, minimum valid version {minimum}"
