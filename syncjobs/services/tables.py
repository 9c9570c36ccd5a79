"""The Tables page's list and actions: synced tables filtered, sorted and paged in SQL, and what an operator
does to them — Sync now, Pause, Resume, Re-sync, Verify — one table, a selection or a whole filter.

Statuses (most urgent first; the first that holds wins): *Paused*; *Change tracking off* (on the source,
as last read); *Reinitializing* (a full copy into a new generation is due or under way); *Retention
risk* (its changes leave the source's retention within its horizon: see ``table_outcomes.risk_at``);
*Failing* (its last attempt failed); *Late* (no success within its freshness target when set, else one
interval of its schedule: ``table_outcomes.late_after``); *Not synced yet*; *On time*. The alerts
evaluator reads the same rules (``services/alerts/conditions.py``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Max
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from syncjobs.access import SYSTEM, Actor
from syncjobs.engine.errors import EngineError
from syncjobs.models import (
    AuditEntry,
    Incident,
    PipelineRun,
    RunCursor,
    SyncedTable,
    TableBinding,
    TableStatus,
    Trigger,
    Watermark,
)
from syncjobs.models.pipeline_runs import ACTIVE
from syncjobs.services import audit, schema_drift, table_discovery, table_outcomes
from syncjobs.services.alerts.incidents import open_for_tables
from syncjobs.services.runs import trigger_run
from syncjobs.services.verification import verify_sync

PAGE_SIZES = (25, 50, 100, 200)
SORTS = {
    "table": ("source_name", "schema_name", "table_name"),
    "status": ("severity", "source_name", "schema_name", "table_name"),
    "last_success": ("last_success_at",),
    "lag": ("lag_versions",),
    "rows": ("last_rows",),
    "next_run": ("next_run_at",),
}
SCHEDULES = "schedules"  # the RunCursor holding the newest trigger change the schedules follow
AUDIT_NAMES = 50  # tables named in one audit entry; the count says how many in all


@dataclass
class TableFilters:
    """The list's filters and order, read from a query string; ``errors`` names the fields at fault."""

    status: str = ""
    source: str = ""
    schema: str = ""
    name: str = ""
    sort: str = "status"
    per_page: int = 50
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_query(cls, query: QueryDict | dict[str, Any]) -> TableFilters:
        """Filters from ``?status=&source=&schema=&name=&sort=&per_page=`` (bad values noted, then ignored)."""
        status, source, schema, name = (
            str(query.get(k, "")).strip()[:260] for k in ("status", "source", "schema", "name")
        )
        found = cls(status=status, source=source, schema=schema, name=name)
        if found.status and found.status not in TableStatus.values:
            found.errors["status"] = f"one of {', '.join(TableStatus.values)}"
            found.status = ""
        sort = str(query.get("sort") or "status")
        if sort.lstrip("-") not in SORTS:
            found.errors["sort"] = f"one of {', '.join(SORTS)} (a leading - reverses it)"
            sort = "status"
        found.sort = sort
        per_page = str(query.get("per_page") or "50")
        if per_page not in {str(n) for n in PAGE_SIZES}:
            found.errors["per_page"] = f"one of {', '.join(map(str, PAGE_SIZES))}"
            per_page = "50"
        found.per_page = int(per_page)
        return found

    def apply(self, tables: Any, *, with_status: bool = True) -> Any:
        """``tables`` narrowed by every filter but the order."""
        if self.source:
            tables = tables.filter(source_name__iexact=self.source)
        if self.schema:
            tables = tables.filter(schema_name__iexact=self.schema)
        if self.name:
            tables = tables.filter(table_name__icontains=self.name)
        if self.status and with_status:
            tables = tables.filter(status=self.status)
        return tables

    def order(self, tables: Any) -> Any:
        """``tables`` in the chosen order; nulls last either way."""
        descending = self.sort.startswith("-")
        columns = SORTS[self.sort.lstrip("-")]
        fields = [F(c).desc(nulls_last=True) if descending else F(c).asc(nulls_last=True) for c in columns]
        return tables.order_by(*fields, "pk")


def listed(filters: TableFilters, now: datetime | None = None) -> Any:
    """The synced tables the filters select, with status and lag, in order."""
    tables = SyncedTable.objects.current().with_status(now or timezone.now()).select_related("watermark")
    return filters.order(filters.apply(tables))


class CountedPaginator(Paginator):
    """A paginator told its count (the status counts give it), so it does not count the tables again."""

    def __init__(self, object_list: Any, per_page: int, count: int) -> None:
        super().__init__(object_list, per_page)
        self.__dict__["count"] = count  # Paginator.count is a cached_property


def table_page(filters: TableFilters, number: Any, now: datetime | None = None, *, count: int | None = None) -> Page:
    """One page of the list (a bad page number gives the nearest page); ``count``: how many the filters select."""
    if count is None:
        return Paginator(listed(filters, now), filters.per_page).get_page(number)
    return CountedPaginator(listed(filters, now), filters.per_page, count).get_page(number)


def selected_count(filters: TableFilters, counts: dict[str, int]) -> int:
    """How many tables the filters select, from the counts by status."""
    return counts.get(filters.status, 0) if filters.status else sum(counts.values())


def status_counts(filters: TableFilters, now: datetime | None = None) -> dict[str, int]:
    """How many tables each status has among those the other filters select, every status named."""
    tables = filters.apply(SyncedTable.objects.current().with_status(now or timezone.now()), with_status=False)
    counts = dict(tables.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return {status: counts.get(status, 0) for status in TableStatus.values}


def prepare(now: datetime | None = None) -> None:
    """What a reader calls first: the tables found on a first call, ended runs recorded, schedules current
    (after a trigger changed, or once a next run time has passed)."""
    now = now or timezone.now()
    if not RunCursor.objects.filter(name=table_outcomes.CURSOR).exists():
        table_discovery.refresh()
    table_outcomes.catch_up(now)
    changed = Trigger.objects.aggregate(at=Max("updated"))["at"]
    seen = RunCursor.objects.filter(name=SCHEDULES).values_list("at", flat=True).first()
    if (changed and (seen is None or changed > seen)) or SyncedTable.objects.filter(next_run_at__lt=now).exists():
        table_discovery.refresh_schedules(now)
        RunCursor.objects.update_or_create(name=SCHEDULES, defaults={"at": changed or now})


def annotated_rows(page_tables: list[SyncedTable]) -> list[SyncedTable]:
    """Each table given its open ``incidents`` and, when paused on a schema change, ``schema_waiting``."""
    note_schema_waits(page_tables)
    return with_incidents(page_tables)


def with_incidents(page_tables: list[SyncedTable]) -> list[SyncedTable]:
    """Each table given ``incidents``: its open incidents, most severe first (one query for them all)."""
    found = open_for_tables([t.pk for t in page_tables])
    for table in page_tables:
        table.incidents = found.get(table.pk, [])  # type: ignore[attr-defined]
    return page_tables


def incident_dict(incident: Incident) -> dict[str, Any]:
    """An incident as a table's entry in the API names it."""
    return {
        "id": incident.pk,
        "kind": incident.kind,
        "severity": incident.get_severity_display(),
        "reason": incident.reason,
        "since": incident.opened_at.isoformat(),
        "url": reverse("syncjobs:alert_incident", args=[incident.pk]),
    }


def as_dict(table: SyncedTable, now: datetime) -> dict[str, Any]:
    """A table as the API shows it (with its open incidents when ``with_incidents`` gave it them)."""
    watermark = table.watermark
    return {
        "id": table.pk,
        "linkedServiceName": table.source_name,
        "schema": table.schema_name or None,
        "table": table.table_name,
        "sink": watermark.sink_key,
        "sinkDataset": table.sink_dataset,
        "status": getattr(table, "status", None),
        "statusLabel": table.status_label,
        "paused": watermark.paused,
        "schemaChangeWaiting": getattr(table, "schema_waiting", None),  # paused on it until an Editor accepts
        "version": watermark.version,
        "generation": watermark.generation,
        "sourceVersion": table.source_version,
        "lagVersions": getattr(table, "lag_versions", None),
        "lagSeconds": table.lag_seconds(now),
        "lastSuccess": _iso(table.last_success_at),
        "lastAttempt": _iso(table.last_attempt_at),
        "lastRun": str(table.last_run_id) if table.last_run_id else None,
        "lastWindow": {
            "mode": table.last_mode or None,
            "rows": table.last_rows,
            "inserted": table.rows_inserted,
            "updated": table.rows_updated,
            "deleted": table.rows_deleted,
        },
        "lastError": {"reason": table.last_error_reason, "message": table.last_error_message}
        if table.last_attempt_failed
        else None,
        "scheduleSeconds": table.schedule_seconds,
        "nextRun": _iso(table.next_run_at),
        "changeTracking": table.change_tracking,
        "retentionSeconds": table.retention_seconds,
        "retentionHoursLeft": table.retention_hours_left(now),
        "sourceCheckedAt": _iso(table.source_checked_at),
        "verify": table.verify_as_dict(),
        "pace": pace_view(table),
        "incidents": [incident_dict(i) for i in getattr(table, "incidents", [])],
    }


BADGES = {"on_time": "ok", "failing": "bad", "ct_off": "bad", "late": "warn", "retention_risk": "warn", "paused": "off"}


def ago(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h``, ``2 d``: how long, in the fewest characters."""
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


def row_view(table: SyncedTable, now: datetime) -> dict[str, Any]:
    """What a row of the list shows, formatted once here (a template filter per cell costs 10,000 times more)."""
    status = getattr(table, "status", TableStatus.ON_TIME.value)
    since = table.lag_seconds(now)
    until = (table.next_run_at - now).total_seconds() if table.next_run_at else None
    return {
        "badge": BADGES.get(status, ""),
        "since": ago(since) if since is not None else "",
        "next_in": ago(max(until, 0)) if until is not None else "",
        "hours_left": table.retention_hours_left(now),
        "ops": f"{table.rows_inserted or 0}/{table.rows_updated or 0}/{table.rows_deleted or 0}",
    }


def note_schema_waits(rows: Any) -> None:
    """Give each table of ``rows`` paused on a schema change its ``schema_waiting`` (the change in words)."""
    waiting = schema_drift.waiting_summaries(t.pk for t in rows)
    for table in rows:
        table.schema_waiting = waiting.get(table.pk)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- Actions --------------------------------------------------------------------------------------------


@dataclass
class ActionResult:
    """What an action did: lines for the operator, and the runs it queued."""

    done: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    runs: list[PipelineRun] = field(default_factory=list)


def sync_now(tables: list[SyncedTable], *, actor: Actor = SYSTEM) -> ActionResult:
    """Queue one run per pipeline copying just these tables (paused ones are left out)."""
    result = ActionResult()
    by_pipeline: dict[Any, list[str]] = defaultdict(list)
    first: dict[int, Any] = {}
    bound = TableBinding.objects.filter(synced_table__in=[t.pk for t in tables]).select_related("pipeline")
    for binding in bound.order_by("pipeline__name", "pk"):
        first.setdefault(binding.synced_table_id, binding.pipeline)
    for table in tables:
        if table.watermark.paused:
            result.refused.append(f"{table.qualified_name}: paused (resume it first)")
        elif table.pk not in first:
            result.refused.append(f"{table.qualified_name}: no pipeline copies it")
        else:
            by_pipeline[first[table.pk]].append(table.qualified_name)
    for pipeline, names in by_pipeline.items():
        run = trigger_run(pipeline, tables=names, actor=actor)
        result.runs.append(run)
        result.done.append(f"{pipeline.name}: run {run.run_id} copies {len(names)} table(s)")
    return result


def set_paused(tables: list[SyncedTable], paused: bool, *, actor: Actor = SYSTEM) -> ActionResult:
    """Pause or resume: a paused table is skipped by runs until resumed. One audit entry per action."""
    ids = [t.pk for t in tables]
    changed = Watermark.objects.filter(pk__in=ids).exclude(paused=paused).update(paused=paused)
    action = AuditEntry.Action.PAUSE if paused else AuditEntry.Action.RESUME
    _audit(actor, action, tables)
    verb = "paused" if paused else "resumed"
    return ActionResult(
        done=[f"{changed} table(s) {verb}" + (f", {len(ids) - changed} already were" if len(ids) > changed else "")]
    )


def resync(tables: list[SyncedTable], *, actor: Actor = SYSTEM) -> ActionResult:
    """Forget each watermark, so the next copy is a fresh full copy into a new generation, and sync now.

    A table a run is copying right now is refused (its run holds the watermark); audited.
    """
    result = ActionResult()
    ready = []
    for table in tables:
        watermark = table.watermark
        if (
            watermark.claimed_by_id
            and PipelineRun.objects.filter(pk=watermark.claimed_by_id, status__in=ACTIVE).exists()
        ):
            result.refused.append(f"{table.qualified_name}: a run is copying it now; try when it ends")
            continue
        watermark.reset()
        if schema_drift.forget_for_resync(watermark, actor) is not None:
            result.done.append(f"{table.qualified_name}: the schema change it was paused on is settled by the re-sync")
        ready.append(table)
    if ready:
        _audit(actor, AuditEntry.Action.RESYNC, ready)
        result.done.append(f"{len(ready)} table(s) will be copied in full into a new generation")
        synced = sync_now(ready, actor=actor)
        result.done += synced.done
        result.refused += synced.refused
        result.runs += synced.runs
    return result


def set_schema_policy(tables: list[SyncedTable], policy: str, *, actor: Actor = SYSTEM) -> ActionResult:
    """Set the schema drift policy of these tables ("" for the activity's default); audited per table changed.

    Raises ``schema_drift.SchemaDriftError`` for a policy outside ``continue``, ``pause``, ``resync``.
    """
    changed = schema_drift.set_policy([t.pk for t in tables], policy, actor)
    shown = policy.strip().lower() or "the activity's default"
    return ActionResult(done=[f"schema drift policy {shown} set on {changed} of {len(tables)} table(s)"])


KEEP = "keep"  # a pace field left blank: each table keeps its own
PACE_LIMITS = {"freshness_minutes": (1, 525_600, 60), "horizon_hours": (0, 8_760, 3600)}  # low, high, seconds each


def parse_pace(data: QueryDict | dict[str, Any]) -> dict[str, timedelta | None | str]:
    """``freshness_minutes`` and ``horizon_hours`` from a form: a whole number sets it, ``default`` returns
    to the default, blank keeps each table's own. Raises ValidationError naming the field at fault."""
    found: dict[str, timedelta | None | str] = {}
    for name, (low, high, unit) in PACE_LIMITS.items():
        value = str(data.get(name) or "").strip().lower()
        if not value:
            found[name] = KEEP
        elif value == "default":
            found[name] = None
        elif value.isascii() and value.isdigit() and len(value) <= 12 and low <= int(value) <= high:
            found[name] = timedelta(seconds=int(value) * unit)
        else:
            raise ValidationError(f"{name}: a whole number from {low} to {high}, or 'default' (blank keeps it)")
    if all(v == KEEP for v in found.values()):
        raise ValidationError("give a freshness target (minutes) or a retention horizon (hours), or 'default'")
    return found


def set_pace(
    tables: list[SyncedTable], pace: dict[str, timedelta | None | str], *, actor: Actor = SYSTEM
) -> ActionResult:
    """Set the freshness target and/or retention horizon (``parse_pace``) of ``tables``; when each turns
    Late and enters Retention risk follows at once (``table_outcomes.pace_times``). Audited."""
    fields = {"freshness_minutes": "freshness_target", "horizon_hours": "retention_horizon"}
    changed = [fields[k] for k, v in pace.items() if v != KEEP]
    fresh = SyncedTable.objects.in_bulk([t.pk for t in tables])  # the stored figures, not a page's copy
    for table in fresh.values():
        for key in pace:
            if pace[key] != KEEP:
                setattr(table, fields[key], pace[key])
        for name, value in table_outcomes.pace_times(table).items():
            setattr(table, name, value)
    SyncedTable.objects.bulk_update(list(fresh.values()), [*changed, "late_at", "risk_at"], batch_size=500)
    names = [f"{t.source_name}/{t.qualified_name}" for t in tables]
    shown = {k: _pace_words(v, k) for k, v in pace.items() if v != KEEP}
    label = names[0] if len(names) == 1 else f"{len(names)} tables"
    audit.record(
        actor, AuditEntry.Action.SET_PACE, "table", label, tables=names[:AUDIT_NAMES], count=len(names), **shown
    )
    words = {"freshness_minutes": ("freshness target", "min"), "horizon_hours": ("retention horizon", "h")}
    said = ", ".join(f"{words[k][0]} {v}" + ("" if v == "default" else f" {words[k][1]}") for k, v in shown.items())
    return ActionResult(done=[f"pace set on {len(fresh)} table(s): {said}"])


def _pace_words(value: timedelta | None | str, key: str) -> str:
    if not isinstance(value, timedelta):
        return "default"
    return str(int(value.total_seconds() // PACE_LIMITS[key][2]))


def pace_view(table: SyncedTable) -> dict[str, Any]:
    """A table's pace as its page and the API show it: each figure in force, and whether it was set."""
    late = table_outcomes.late_after(table.schedule_seconds, table.freshness_target)
    target = table_outcomes.freshness_target(table.schedule_seconds, table.freshness_target)
    horizon = (
        table_outcomes.risk_horizon(table.retention_seconds, table.schedule_seconds, table.retention_horizon)
        if table.retention_seconds is not None
        else table.retention_horizon
    )
    return {
        "lateAfterSeconds": int(late.total_seconds()) if late else None,
        "freshnessTargetSeconds": int(target.total_seconds()) if target else None,
        "freshnessTargetSet": table.freshness_target is not None,
        "retentionHorizonHours": round(horizon.total_seconds() / 3600, 2) if horizon is not None else None,
        "retentionHorizonSet": table.retention_horizon is not None,
    }


def verify(table: SyncedTable, *, now: datetime | None = None) -> str:
    """Run verify_sync on ``table`` and keep its verdict on the table (counts only); the verdict in words."""
    try:
        report = verify_sync(table.source_name, table.qualified_name, table.sink_dataset)
        exact: bool | None = report.exact
        summary = (
            f"{'exact' if report.exact else 'NOT exact'}: source rows {report.source_rows}, sink rows "
            f"{report.sink_rows}, missing {report.rows_missing}, stale {report.rows_stale}, extra {report.rows_extra}, "
            f"delivered twice {report.duplicate_deliveries}, bad files {report.files_bad}, "
            f"{report.windows} window(s) of generation {report.generation}"
        )
    except EngineError as exc:
        exact, summary = None, f"could not verify ({exc.reason}): {exc.message}"
    SyncedTable.objects.filter(pk=table.pk).update(
        verified_at=now or timezone.now(), verify_exact=exact, verify_summary=summary[:2000]
    )
    return summary


def _audit(actor: Actor, action: str, tables: list[SyncedTable]) -> None:
    names = [f"{t.source_name}/{t.qualified_name}" for t in tables]
    label = names[0] if len(names) == 1 else f"{len(names)} tables"
    audit.record(actor, action, "table", label, tables=names[:AUDIT_NAMES], count=len(names))


def verify_by_id(synced_table_id: int) -> str:
    """``verify`` of the table with that id ("" when it is gone)."""
    table = SyncedTable.objects.filter(pk=synced_table_id).first()
    return verify(table) if table is not None else ""
