"""Monitor: pipeline runs (and their rows for live updates), one run, cancel and rerun, charts."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from syncjobs.access import Actor, Role, requires
from syncjobs.models import ActivityRun, Pipeline, PipelineRun, Trigger
from syncjobs.services import charts, monitor
from syncjobs.services.runs import cancel_run, rerun


@requires(GET=Role.VIEWER)
def runs(request: HttpRequest) -> HttpResponse:
    """Pipeline runs, as ADF's monitor lists them."""
    filters = monitor.RunFilters.from_query(request.GET)
    page = monitor.run_page(filters, request.GET.get("page"))  # a bad date is left out of the window
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
        "statuses": PipelineRun._meta.get_field("status").choices,
        "pipelines": Pipeline.objects.order_by("name").values_list("name", flat=True),
        "triggers": ["Manual", "Rerun", *Trigger.objects.order_by("name").values_list("name", flat=True)],
        "ranges": [
            ("24h", "Last 24 hours"),
            ("7d", "Last 7 days"),
            ("30d", "Last 30 days"),
            ("all", "All time"),
            ("custom", "Custom"),
        ],
    }
    return render(request, "monitor/runs.html", context, status=400 if filters.errors else 200)


@requires(GET=Role.VIEWER)
def run_rows(request: HttpRequest) -> HttpResponse:
    """The rows of the runs in ``?ids=a,b``, rendered as the runs list renders them (its live update);
    ``next`` is the list's own address, where their Cancel returns. A 400 names ``ids`` when one is no run id."""
    try:
        ids = [uuid.UUID(i) for i in request.GET.get("ids", "").split(",") if i][:100]
    except ValueError:
        message = "ids: must be run ids (UUIDs) separated by commas"
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
    back = request.GET.get("next", "")
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("syncjobs:monitor")
    return render(request, "monitor/_run_rows.html", {"runs": monitor.runs_by_id(ids), "next": back})


@requires(GET=Role.VIEWER)
def run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    """One run: activity runs as a table and a Gantt, their JSON, copy details; ``?partial=1`` for live updates."""
    run = get_object_or_404(PipelineRun, pk=run_id)
    activities = monitor.in_tree_order(list(ActivityRun.objects.filter(pipeline_run=run).order_by("run_start")))
    monitor.attach_outcomes([run])
    for activity in activities:
        activity.copy = monitor.copy_details(activity)
    context = {
        "run": run,
        "activities": activities,
        "gantt": monitor.gantt(run, activities),
        "group": PipelineRun.objects.filter(run_group_id=run.run_group_id).order_by("triggered_at"),
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
