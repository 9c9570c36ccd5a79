"""Pipeline runs: createRun, get, queryPipelineRuns, queryActivityruns, cancel; and watermarks."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from syncjobs.access import Actor, Role
from syncjobs.api.auth import api_view
from syncjobs.api.query import apply_filters, apply_order, page, timestamp
from syncjobs.api.responses import ApiError, body, ok
from syncjobs.models import Pipeline, PipelineRun, Watermark
from syncjobs.services.runs import cancel_run, rerun, trigger_run

RUN_FIELDS = {
    "PipelineName": "pipeline_name",
    "Status": "status",
    "RunStart": "run_start",
    "RunEnd": "run_end",
    "RunGroupId": "run_group_id",
    "TriggerName": "invoked_by_name",
    "LatestOnly": "is_latest",
}
ACTIVITY_FIELDS = {
    "ActivityName": "activity_name",
    "ActivityType": "activity_type",
    "Status": "status",
    "ActivityRunStart": "run_start",
    "ActivityRunEnd": "run_end",
}


def _run(run_id: str) -> PipelineRun:
    try:
        return PipelineRun.objects.get(pk=run_id)
    except (PipelineRun.DoesNotExist, ValidationError):
        raise ApiError(404, "NotFound", f"pipeline run {run_id} does not exist") from None


@api_view(POST=Role.OPERATOR)
def create_run(request: HttpRequest, name: str) -> HttpResponse:
    """Trigger now (body: parameters); ``referencePipelineRunId`` + ``isRecovery`` rerun, as in ADF."""
    pipeline = Pipeline.objects.filter(name__iexact=name).first()
    if pipeline is None:
        raise ApiError(404, "NotFound", f"pipeline {name!r} does not exist")
    reference = request.GET.get("referencePipelineRunId")
    try:
        if reference and request.GET.get("isRecovery", "").lower() == "true":
            from_failed = request.GET.get("startFromFailure", "").lower() == "true"
            run = rerun(_run(reference), from_failed=from_failed, actor=Actor.of(request.user))
        else:
            run = trigger_run(pipeline, body(request), invoked_by_type="Manual", actor=Actor.of(request.user))
    except ValidationError as exc:
        raise ApiError(400, "BadRequest", "; ".join(exc.messages)) from None
    return ok({"runId": str(run.run_id)})


@api_view(GET=Role.VIEWER)
def get_run(request: HttpRequest, run_id: str) -> HttpResponse:
    """One pipeline run, as ADF returns it."""
    return ok(_run(run_id).to_adf())


@api_view(POST=Role.VIEWER)
def query_runs(request: HttpRequest) -> HttpResponse:
    """Runs updated in a window, filtered, ordered, 100 a page."""
    data = body(request)
    rows = PipelineRun.objects.filter(
        last_updated__gte=timestamp(data, "lastUpdatedAfter"), last_updated__lte=timestamp(data, "lastUpdatedBefore")
    )
    return _answer(rows, data, RUN_FIELDS, "-run_start")


@api_view(POST=Role.VIEWER)
def query_activity_runs(request: HttpRequest, run_id: str) -> HttpResponse:
    """The activity runs of one pipeline run (the window is optional here)."""
    data = body(request)
    rows = _run(run_id).activity_runs.select_related("pipeline_run")
    if data.get("lastUpdatedAfter"):
        rows = rows.filter(run_start__gte=timestamp(data, "lastUpdatedAfter"))
    if data.get("lastUpdatedBefore"):
        rows = rows.filter(run_start__lte=timestamp(data, "lastUpdatedBefore"))
    return _answer(rows, data, ACTIVITY_FIELDS, "run_start")


def _answer(rows: QuerySet, data: dict[str, Any], fields: dict[str, str], default_order: str) -> HttpResponse:
    """Filter, order and page ``rows`` as the query body says; ADF's ``{"value", "continuationToken"}``."""
    rows = apply_order(apply_filters(rows, data.get("filters"), fields), data.get("orderBy"), fields, default_order)
    items, token = page(rows, data.get("continuationToken"))
    return ok({"value": [item.to_adf() for item in items], "continuationToken": token})


@api_view(POST=Role.OPERATOR)
def cancel(request: HttpRequest, run_id: str) -> HttpResponse:
    """Cancel a run (between batches when it is running)."""
    run = _run(run_id)
    if not cancel_run(run, actor=Actor.of(request.user)) and not run.is_active:
        raise ApiError(409, "Conflict", f"run {run_id} already ended {run.status}")
    return ok({})


@api_view(GET=Role.VIEWER)
def watermarks(request: HttpRequest) -> HttpResponse:
    """Every watermark: source table, sink, version, and the last windows copied."""
    value = []
    for watermark in Watermark.objects.select_related("linked_service").order_by(
        "linked_service__name", "source_table"
    ):
        value.append(
            {
                "linkedServiceName": watermark.linked_service.name,
                "table": str(watermark.table),
                "sink": watermark.sink_key,
                "version": watermark.version,
                "updated": watermark.updated_at.isoformat(),
                "windows": [w.as_dict() for w in watermark.windows.all()[:10]],
            }
        )
    return ok({"value": value})
