"""Turning change tracking on and off for a source table, and reading its state."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django_q.tasks import async_task

from syncjobs.access import SYSTEM, Actor
from syncjobs.engine import bindings, connectors
from syncjobs.engine.errors import EngineError, TerminalError
from syncjobs.engine.sources.sqlserver_sql import disable_table_sql
from syncjobs.engine.types import TableName
from syncjobs.models import AuditEntry, LinkedService
from syncjobs.services import audit

logger = logging.getLogger(__name__)


def emulated_types() -> tuple[str, ...]:
    """Source types whose change tracking the portal keeps itself (and cleans up): not SQL Server's own."""
    return tuple(t.name for t in connectors.linked_service_types(sources=True) if not _native(t.name))


def _native(type_name: str) -> bool:
    connector = connectors.connector_for(type_name)
    dialect = connector.dialect if connector is not None else None
    return dialect is not None and dialect.is_change_tracking_native


def schedule_cleanups() -> int:
    """One cleanup task per PostgreSQL and SQLite linked service (SQL Server cleans up itself); how many.

    Each runs on its own, so a slow or unreachable database holds up only its own cleanup.
    """
    services = list(LinkedService.objects.filter(type__in=emulated_types()).values_list("pk", "name"))
    for pk, name in services:
        async_task(
            "syncjobs.tasks.cleanup_change_tracking_task",
            pk,
            task_name=f"ct-cleanup-{name}"[:100],
            sync=settings.CTPORTAL_TASKS_INLINE,
        )
    return len(services)


def cleanup(linked_service_id: int) -> int:
    """Purge the change information past each tracked table's retention, raising its minimum valid version.

    Returns how many entries went (0 for a database without tracked tables); an unreachable database is
    logged and tried again at the next schedule.
    """
    linked = LinkedService.objects.filter(pk=linked_service_id).first()
    if linked is None or linked.type not in emulated_types():
        return 0
    source = bindings.source_for(linked.revealed_definition())
    try:
        return source.cleanup_change_tracking()
    except EngineError as exc:
        logger.warning("change-tracking cleanup of %s failed: %s", linked.name, exc)
        return 0
    finally:
        source.close()


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


# --- Many tables at once, from the browser -------------------------------------------------------------


@dataclass
class TablePlan:
    """The statements that enable or disable change tracking of one table (or why none can be shown)."""

    table: TableName
    statements: list[str]
    problem: str = ""


@dataclass
class Outcome:
    """What a bulk enable or disable did: the tables done, and each failure with its reason and statements."""

    action: str
    done: list[TableName] = field(default_factory=list)
    failed: list[TablePlan] = field(default_factory=list)

    @property
    def needs_dba(self) -> bool:
        """A failure was a permission error: the statements go to someone allowed to run them."""
        return any(f.problem.startswith("permission") for f in self.failed)


def plan(
    linked: LinkedService,
    action: str,
    names: Sequence[TableName],
    *,
    track_columns: bool = True,
    retention_days: int = 2,
) -> list[TablePlan]:
    """The exact statements ``apply`` would run for each table, for the confirm page."""
    _check_action(action)
    source = bindings.source_for(linked.revealed_definition())
    try:
        return [_plan_one(source, action, name, track_columns, retention_days) for name in names]
    finally:
        source.close()


def _plan_one(source: Any, action: str, name: TableName, track_columns: bool, retention_days: int) -> TablePlan:
    try:
        if action == "enable":
            statements = source.change_tracking_statements(
                name, track_columns=track_columns, retention_days=retention_days
            )
        else:
            statements = disable_statements(source, name)
    except EngineError as exc:
        return TablePlan(name, [], f"{exc.reason}: {exc.message}")
    return TablePlan(name, list(statements))


def disable_statements(source: Any, name: TableName) -> list[str]:
    """What disabling tracking of ``name`` runs: T-SQL on SQL Server, the emulation's DROPs elsewhere."""
    if source.dialect.is_change_tracking_native:
        return [disable_table_sql(name)]
    with source.snapshot() as snap:
        table = snap.describe(name)
        if not table.change_tracking:
            return []
        if source.dialect.name == "PostgreSQL":  # the driver's modules load only for a PostgreSQL source
            from syncjobs.engine.sources import postgres_tracking
            from syncjobs.engine.sources.postgres_snapshot import qualified

            return postgres_tracking.disable_statements(snap.relid(table.name), qualified(table.name))
        from syncjobs.engine.sources import sqlite_tracking

        registration = snap.registration(snap.table_name(table.name))
        return sqlite_tracking.disable_statements(registration[0]) if registration else []


def apply(
    linked: LinkedService,
    action: str,
    names: Sequence[TableName],
    *,
    track_columns: bool = True,
    retention_days: int = 2,
    actor: Actor = SYSTEM,
) -> Outcome:
    """Enable or disable change tracking of each table (one connection), each change in the audit log.

    A table that fails does not stop the others; its reason and statements come back (permission
    errors on SQL Server: the T-SQL to hand to a DBA).
    """
    _check_action(action)
    outcome = Outcome(action)
    source = bindings.source_for(linked.revealed_definition())
    try:
        for name in names:
            try:
                _apply_one(source, linked, action, name, track_columns, retention_days, actor)
            except EngineError as exc:
                planned = _plan_one(source, action, name, track_columns, retention_days)
                problem = "permission denied" if _is_permission(exc) else exc.reason
                outcome.failed.append(TablePlan(name, planned.statements, f"{problem}: {exc.message}"))
            else:
                outcome.done.append(name)
    finally:
        source.close()
    return outcome


def _apply_one(
    source: Any,
    linked: LinkedService,
    action: str,
    name: TableName,
    track_columns: bool,
    retention_days: int,
    actor: Actor,
) -> None:
    if action == "enable":
        source.enable_change_tracking(name, track_columns=track_columns, retention_days=retention_days)
        detail = {"trackColumns": track_columns, "retentionDays": retention_days, "from": "browser"}
        audit.record(actor, AuditEntry.Action.ENABLE_CHANGE_TRACKING, "table", f"{linked.name}/{name}", **detail)
    else:
        source.disable_change_tracking(name)
        audit.record(actor, AuditEntry.Action.DISABLE_CHANGE_TRACKING, "table", f"{linked.name}/{name}")


def _is_permission(exc: EngineError) -> bool:
    return exc.reason == "permission_denied" or "permission" in exc.message.lower()


def _check_action(action: str) -> None:
    if action not in ("enable", "disable"):
        raise TerminalError("bad_action", f"unknown action {action!r} (enable or disable)")
