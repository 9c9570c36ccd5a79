"""What the monitor shows: filtered, sorted, paged run lists; outcomes; Gantt bars; charts; retention."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import F, QuerySet
from django.utils import timezone

from syncjobs.models import ActivityRun, PipelineRun, RunStatus
from syncjobs.timestamps import TimestampError, parse_timestamp

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30), "all": None}
SORTS = {
    "pipeline": "pipeline_name",
    "start": "run_start",
    "end": "run_end",
    "duration": "duration_ms",
    "status": "status",
    "trigger": "invoked_by_name",
}
PAGE_SIZE = 50


@dataclass
class RunFilters:
    """The monitor's filters, read from the query string."""

    range: str = "24h"
    start: datetime | None = None
    end: datetime | None = None
    status: str = ""
    pipeline: str = ""
    trigger: str = ""
    sort: str = "start"
    descending: bool = True
    errors: dict[str, str] = field(default_factory=dict)  # query parameter -> what is wrong with it

    @classmethod
    def from_query(cls, query: Any) -> RunFilters:
        """Filters from ``request.GET``; unknown choices fall back to the defaults, bad dates are ``errors``."""
        sort = query.get("sort", "-start")
        errors: dict[str, str] = {}
        return cls(
            range=query.get("range", "24h") if query.get("range", "24h") in (*RANGES, "custom") else "24h",
            start=_moment(query, "from", errors),
            end=_moment(query, "to", errors),
            status=query.get("status", "") if query.get("status", "") in (*RunStatus.values, "") else "",
            pipeline=query.get("pipeline", ""),
            trigger=query.get("trigger", ""),
            sort=sort.lstrip("-") if sort.lstrip("-") in SORTS else "start",
            descending=sort.startswith("-") or sort.lstrip("-") not in SORTS,
            errors=errors,
        )

    def window(self) -> tuple[datetime | None, datetime | None]:
        """The time window on the run's trigger time."""
        if self.range == "custom":
            return self.start, self.end
        span = RANGES[self.range]
        return (timezone.now() - span if span else None), None


def _moment(query: Any, key: str, errors: dict[str, str]) -> datetime | None:
    """The date and time in ``query[key]`` (empty: None); a bad one is recorded in ``errors``."""
    text = query.get(key, "")
    if not text:
        return None
    try:
        return parse_timestamp(text)
    except TimestampError as exc:
        errors[key] = str(exc)
        return None


def filtered_runs(filters: RunFilters) -> QuerySet[PipelineRun]:
    """Latest attempts matching ``filters``, sorted (indexed columns, never loading everything)."""
    runs = PipelineRun.objects.latest_attempts()
    after, before = filters.window()
    if after:
        runs = runs.filter(triggered_at__gte=after)
    if before:
        runs = runs.filter(triggered_at__lte=before)
    if filters.status:
        runs = runs.filter(status=filters.status)
    if filters.pipeline:
        runs = runs.filter(pipeline_name=filters.pipeline)
    if filters.trigger:
        runs = runs.filter(invoked_by_name=filters.trigger)
    column = F(SORTS[filters.sort])
    order = column.desc(nulls_first=True) if filters.descending else column.asc(nulls_last=True)
    tie = "-triggered_at" if filters.descending else "triggered_at"
    return runs.order_by(order, tie)


def run_page(filters: RunFilters, number: Any) -> Page:
    """One page of runs, each with ``run.outcome`` and ``run.rerun_count`` attached (see ``with_row_facts``)."""
    page = Paginator(filtered_runs(filters), PAGE_SIZE, allow_empty_first_page=True).get_page(number)
    page.object_list = with_row_facts(list(page.object_list))
    return page


def runs_by_id(run_ids: list[Any]) -> list[PipelineRun]:
    """The runs with these ids, with what their rows show, as a page's (the runs list's live update)."""
    return with_row_facts(list(PipelineRun.objects.filter(pk__in=run_ids)))


def with_row_facts(runs: list[PipelineRun]) -> list[PipelineRun]:
    """Attach what a row of the runs list shows beyond the run's fields: its outcome and how many reruns
    its group has; returns ``runs``."""
    attach_outcomes(runs)
    groups: dict[Any, int] = defaultdict(int)
    for group in PipelineRun.objects.filter(run_group_id__in=[r.run_group_id for r in runs]).values_list(
        "run_group_id", flat=True
    ):
        groups[group] += 1
    for run in runs:
        run.rerun_count = groups[run.run_group_id] - 1
    return runs


@dataclass
class Outcome:
    """What a run's status means for the data: a label, a CSS class, and why."""

    label: str
    css: str
    why: str = ""


def attach_outcomes(runs: list[PipelineRun]) -> None:
    """Set ``run.outcome`` on each run, reading its copy and lookup activity runs in one query."""
    activities = defaultdict(list)
    succeeded = [r.pk for r in runs if r.status == RunStatus.SUCCEEDED]
    for activity in ActivityRun.objects.filter(pipeline_run_id__in=succeeded).only(
        "pipeline_run_id", "activity_type", "status", "output", "activity_name"
    ):
        activities[activity.pipeline_run_id].append(activity)
    for run in runs:
        run.outcome = outcome_of(run, activities.get(run.pk, []))


def outcome_of(run: PipelineRun, activities: list[ActivityRun]) -> Outcome:
    """Succeeded cleanly, with handled errors (the runner's verdict, stored with the run), or
    suspiciously; else the status itself.

    Suspicious: a Copy wrote no rows although the run's Lookups read two different change-tracking
    versions (the source changed, yet nothing came through), or a copy wrote fewer rows than it read.
    """
    css = {"Succeeded": "ok", "Failed": "bad", "Cancelled": "off", "Canceling": "off"}.get(run.status, "busy")
    if run.status != RunStatus.SUCCEEDED:
        return Outcome(_LABELS.get(run.status, run.status), css, run.message)
    suspicious = _suspicion(activities)
    if suspicious:
        return Outcome("Succeeded but suspicious", "warn", suspicious)
    if run.failed_tables:
        return Outcome("Succeeded with failed tables", "warn", run.message or ", ".join(run.failed_tables))
    if run.handled_errors:
        return Outcome("Succeeded with handled errors", "warn", _HANDLED)
    return Outcome("Succeeded", "ok")


_LABELS = {"InProgress": "In progress", "Canceling": "Cancelling"}
_HANDLED = "an activity failed and a Failed or Completed dependency path handled it (see its activity runs)"


def _suspicion(activities: list[ActivityRun]) -> str:
    versions: set[int] = set()
    for activity in activities:
        if activity.activity_type == "Lookup":
            row = (activity.output or {}).get("firstRow") or {}
            versions.update(v for k, v in row.items() if "version" in k.lower() and isinstance(v, int))
    for activity in activities:
        output = activity.output or {}
        if activity.activity_type != "Copy" or activity.status != "Succeeded":
            continue
        if output.get("rowsCopied") == 0 and len(versions) > 1:
            moved = f"from version {min(versions)} to {max(versions)}"
            return f"{activity.activity_name} copied 0 rows while the source moved {moved}"
        if output.get("rowsRead", 0) != output.get("rowsCopied", 0):
            return f"{activity.activity_name} read {output.get('rowsRead')} rows but copied {output.get('rowsCopied')}"
    return ""


@dataclass
class Bar:
    """One activity run on the Gantt chart: offsets in percent of the run's span."""

    activity: ActivityRun
    left: float
    width: float


@dataclass
class Gantt:
    bars: list[Bar] = field(default_factory=list)
    span_ms: int = 0


def gantt(run: PipelineRun, activities: list[ActivityRun]) -> Gantt:
    """Bars scaled to the run's span (still-running activities end now)."""
    if not activities:
        return Gantt()
    now = timezone.now()
    start = min(a.run_start for a in activities)
    end = max((a.run_end or now) for a in activities)
    span = max((end - start).total_seconds(), 0.001)
    bars = []
    for a in activities:
        left = (a.run_start - start).total_seconds() / span * 100
        width = max(((a.run_end or now) - a.run_start).total_seconds() / span * 100, 0.5)
        bars.append(Bar(a, round(left, 2), round(min(width, 100 - left), 2)))
    return Gantt(bars, int(span * 1000))


def in_tree_order(activities: list[Any]) -> list[Any]:
    """Activity runs by start, each table's run (a child) right after its activity's run."""
    children: dict[Any, list[Any]] = defaultdict(list)
    for activity in activities:
        if activity.parent_id is not None:
            children[activity.parent_id].append(activity)
    ordered: list[Any] = []
    seen = {a.pk for a in activities}
    for activity in activities:
        if activity.parent_id is None or activity.parent_id not in seen:
            ordered.append(activity)
            ordered.extend(children.get(activity.pk, []))
    return ordered


def copy_details(activity: ActivityRun) -> dict[str, Any] | None:
    """Rows, bytes, throughput, change-tracking mode and files of a copy activity, for people."""
    output = activity.output or {}
    if activity.activity_type not in ("Copy", "ChangeTrackingCopy") or "rowsCopied" not in output:
        return None
    tables = output.get("tables") or [{"table": "", **output}]
    seconds = (activity.duration_ms or 0) / 1000
    return {
        "rows_read": output.get("rowsRead"),
        "rows_written": output.get("rowsCopied"),
        "bytes": output.get("dataWritten"),
        "rows_per_second": round(output.get("rowsCopied", 0) / seconds) if seconds else None,
        "tables": [
            {
                "table": t.get("table", ""),
                "status": t.get("status", "Succeeded"),
                "message": t.get("message") or (t.get("error") or {}).get("message", ""),
                "rows": t.get("rowsCopied"),
                "files": t.get("files", []),
                "tracking": _tracking(t.get("changeTracking") or {}),
            }
            for t in tables
        ],
    }


def _tracking(tracking: dict[str, Any]) -> dict[str, Any]:
    """Change-tracking facts, only for copies that keep a watermark (a plain Copy has none)."""
    return tracking if tracking.get("newVersion") is not None else {}


def pipeline_history(pipeline_name: str, limit: int = 100) -> list[dict[str, Any]]:
    """The last runs of a pipeline, oldest first: start, seconds, rows copied, status (for charts)."""
    runs = list(
        PipelineRun.objects.filter(pipeline_name=pipeline_name, run_start__isnull=False).order_by("-run_start")[:limit]
    )
    rows: dict[Any, int] = defaultdict(int)
    for run_id, copied in ActivityRun.objects.filter(
        pipeline_run_id__in=[r.pk for r in runs], rows_written__isnull=False, parent=None
    ).values_list("pipeline_run_id", "rows_written"):
        rows[run_id] += copied
    return [
        {"run": r, "start": r.run_start, "seconds": (r.duration_ms or 0) / 1000, "rows": rows[r.pk], "status": r.status}
        for r in reversed(runs)
    ]


def purge_old_runs(now: datetime | None = None) -> int:
    """Delete finished runs older than CTPORTAL_RUN_RETENTION_DAYS (0 keeps them forever); return how many."""
    days = settings.CTPORTAL_RUN_RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = PipelineRun.objects.finished().filter(triggered_at__lt=cutoff).delete()
    return deleted
