"""Monitor: pipeline runs (and their rows for live updates), one run, cancel and rerun, charts."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from syncjobs.access import Actor, Role, requires, role_of
from syncjobs.models import ActivityRun, Pipeline, PipelineRun, Trigger
from syncjobs.services import charts, monitor, run_files
from syncjobs.services.runs import cancel_run, rerun
from syncjobs.timestamps import TimestampError, parse_timestamp


@requires(GET=Role.VIEWER)
def runs(request: HttpRequest) -> HttpResponse:
    """Pipeline runs, as ADF's monitor lists them: one compact line per run, paged, updated live."""
    filters = monitor.RunFilters.from_query(request.GET)
    size = monitor.page_size(request.GET.get("size"))
    page = monitor.run_page(filters, request.GET.get("page"), size)  # a bad date is left out of the window
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
        "size": size,
        "sizes": monitor.PAGE_SIZES,
        "live_new": page.number == 1 and filters.sort == "start" and filters.descending,
        "statuses": PipelineRun._meta.get_field("status").choices,
        "pipelines": Pipeline.objects.order_by("name").values_list("name", flat=True),
        "triggers": ["Manual", "Rerun", *Trigger.objects.order_by("name").values_list("name", flat=True)],
        "ranges": RANGE_CHOICES,
    }
    return render(request, "monitor/runs.html", context, status=400 if filters.errors else 200)


RANGE_CHOICES = [
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("all", "All time"),
    ("custom", "Custom"),
]


def _bad_request(message: str) -> HttpResponse:
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


@requires(GET=Role.VIEWER)
def run_rows(request: HttpRequest) -> HttpResponse:
    """Rows of the runs list, rendered as the list renders them: the runs in ``?ids=a,b`` (its live
    update), the runs matching the list's filters triggered after ``?since=`` (new runs), or the earlier
    attempts of the rerun group ``?group=`` (a group expanded in place). ``next`` is the list's own
    address, where their Cancel returns. A 400 names the parameter that is wrong."""
    back = request.GET.get("next", "")
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("syncjobs:monitor")
    try:
        found = _rows_asked_for(request)
    except ValueError as exc:
        return _bad_request(str(exc))
    context = {"runs": found, "next": back, "in_group": "group" in request.GET}
    return render(request, "monitor/_run_rows.html", context)


def _rows_asked_for(request: HttpRequest) -> list[PipelineRun]:
    """The runs ``run_rows`` renders; ValueError (its message for the 400) on a bad parameter."""
    if "group" in request.GET:
        try:
            return monitor.earlier_attempts(uuid.UUID(request.GET["group"]))
        except ValueError:
            raise ValueError("group: must be a run group id (a UUID)") from None
    if "since" in request.GET:
        filters = monitor.RunFilters.from_query(request.GET)
        try:
            return monitor.runs_since(filters, parse_timestamp(request.GET["since"]))
        except TimestampError as exc:
            raise ValueError(f"since {exc}") from None
    try:
        ids = [uuid.UUID(i) for i in request.GET.get("ids", "").split(",") if i][:100]
    except ValueError:
        raise ValueError("ids: must be run ids (UUIDs) separated by commas") from None
    return monitor.runs_by_id(ids)


@requires(GET=Role.VIEWER)
def run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    """One run: activity runs as a table and a Gantt, their JSON, copy details; ``?partial=1`` for live updates."""
    run = get_object_or_404(PipelineRun, pk=run_id)
    activities = monitor.in_tree_order(list(ActivityRun.objects.filter(pipeline_run=run).order_by("run_start")))
    monitor.attach_outcomes([run])
    with_children = {a.parent_id for a in activities if a.parent_id is not None}
    for activity in activities:
        activity.copy = monitor.copy_details(activity, per_table=activity.pk not in with_children)
    context = {
        "run": run,
        "activities": activities,
        "gantt": monitor.gantt(run, activities),
        "group": PipelineRun.objects.filter(run_group_id=run.run_group_id).order_by("triggered_at"),
        "can_read_data": (role_of(request.user) or 0) >= run_files.READ_DATA_ROLE,
    }
    template = "monitor/_run_live.html" if request.GET.get("partial") else "monitor/run.html"
    return render(request, template, context)


@requires(POST=Role.OPERATOR)
def cancel(request: HttpRequest, run_id: str) -> HttpResponse:
    """Cancel a run."""
    run = get_object_or_404(PipelineRun, pk=run_id)
    if cancel_run(run, actor=Actor.of(request.user)):
        messages.success(request, f"Cancel requested for run {run.run_id}.")
    else:
        messages.error(request, f"Run {run.run_id} already ended {run.status}; nothing to cancel.")
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("syncjobs:run_detail", run_id=run.run_id)


@requires(POST=Role.OPERATOR)
def rerun_view(request: HttpRequest, run_id: str) -> HttpResponse:
    """Rerun (whole, from the failed activity, or only its failed tables); the new run joins the original's group."""
    run = get_object_or_404(PipelineRun, pk=run_id)
    try:
        new = rerun(
            run,
            from_failed=request.POST.get("from_failed") == "1",
            failed_tables_only=request.POST.get("failed_tables_only") == "1",
            actor=Actor.of(request.user),
        )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("syncjobs:run_detail", run_id=run.run_id)
    messages.success(request, f"Rerun {new.run_id} queued.")
    return redirect("syncjobs:run_detail", run_id=new.run_id)


@requires(GET=Role.VIEWER)
def pipeline_history(request: HttpRequest, name: str) -> HttpResponse:
    """Durations and rows per run over time, as charts."""
    history = monitor.pipeline_history(name)
    return render(
        request,
        "monitor/pipeline.html",
        {
            "name": name,
            "history": history,
            "charts": charts.pipeline_charts(history),
        },
    )


@requires(GET=Role.VIEWER)
def watermarks(request: HttpRequest) -> HttpResponse:
    """Watermarks: versions over time, and the lag behind the source on request."""
    return render(request, "monitor/watermarks.html", {"watermarks": charts.watermark_views(request.GET.get("lag"))})
