"""Pipeline runs: createRun, get, queryPipelineRuns, queryActivityruns, cancel; and watermarks."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from syncjobs.access import Actor, Role
from syncjobs.api.auth import api_view
from syncjobs.api.query import (
    Operand,
    apply_filters,
    apply_order,
    bool_value,
    page,
    text_value,
    time_value,
    timestamp,
    uuid_value,
)
from syncjobs.api.responses import ApiError, bad_request, body, ok
from syncjobs.models import Pipeline, PipelineRun, Watermark
from syncjobs.services.runs import cancel_run, rerun, trigger_run

RUN_OPERANDS = {
    "PipelineName": Operand("pipeline_name", text_value),
    "Status": Operand("status", text_value),
    "RunStart": Operand("run_start", time_value),
    "RunEnd": Operand("run_end", time_value),
    "RunGroupId": Operand("run_group_id", uuid_value),
    "TriggerName": Operand("invoked_by_name", text_value),
    "LatestOnly": Operand("is_latest", bool_value),
}
ACTIVITY_OPERANDS = {
    "ActivityName": Operand("activity_name", text_value),
    "ActivityType": Operand("activity_type", text_value),
    "Status": Operand("status", text_value),
    "ActivityRunStart": Operand("run_start", time_value),
    "ActivityRunEnd": Operand("run_end", time_value),
}
RUN_ORDERS = {
    "RunStart": "run_start",
    "RunEnd": "run_end",
    "PipelineName": "pipeline_name",
    "Status": "status",
    "TriggerName": "invoked_by_name",
    "RunGroupId": "run_group_id",
}
ACTIVITY_ORDERS = {name: operand.field for name, operand in ACTIVITY_OPERANDS.items()}


def _run(run_id: str, target: str = "runId") -> PipelineRun:
    try:
        found = PipelineRun.objects.filter(pk=uuid_value(run_id)).first()
    except ValueError:
        found = None
    if found is None:
        raise ApiError(404, "NotFound", f"pipeline run {run_id[:60]!r} does not exist", target=target)
    return found


@api_view(POST=Role.OPERATOR)
def create_run(request: HttpRequest, name: str) -> HttpResponse:
    """Trigger now (body: parameters); ``referencePipelineRunId`` + ``isRecovery`` rerun, as in ADF
    (``startFromFailure=true`` from the failed activity; ours, ``failedTablesOnly=true``, only its failed tables)."""
    pipeline = Pipeline.objects.filter(name__iexact=name).first()
    if pipeline is None:
        raise ApiError(404, "NotFound", f"pipeline {name!r} does not exist")
    reference = request.GET.get("referencePipelineRunId")
    try:
        if reference and request.GET.get("isRecovery", "").lower() == "true":
            from_failed = request.GET.get("startFromFailure", "").lower() == "true"
            run = rerun(
                _run(reference, "referencePipelineRunId"),
                from_failed=from_failed,
                failed_tables_only=request.GET.get("failedTablesOnly", "").lower() == "true",
                actor=Actor.of(request.user),
            )
        else:
            run = trigger_run(pipeline, body(request), invoked_by_type="Manual", actor=Actor.of(request.user))
    except ValidationError as exc:
        raise bad_request("body", "; ".join(exc.messages)) from None
    return ok({"runId": str(run.run_id)})


@api_view(GET=Role.VIEWER)
def get_run(request: HttpRequest, run_id: str) -> HttpResponse:
    """One pipeline run, as ADF returns it."""
    return ok(_run(run_id).to_adf())


@api_view(POST=Role.VIEWER)
def query_runs(request: HttpRequest) -> HttpResponse:
    """Runs updated in a window, filtered, ordered, 100 a page."""
    data = body(request)
    rows = PipelineRun.objects.updated_between(
        timestamp(data, "lastUpdatedAfter"), timestamp(data, "lastUpdatedBefore")
    )
    return _answer(rows, data, RUN_OPERANDS, RUN_ORDERS, "-run_start")


@api_view(POST=Role.VIEWER)
def query_activity_runs(request: HttpRequest, run_id: str) -> HttpResponse:
    """The activity runs of one pipeline run (the window is optional here)."""
    data = body(request)
    rows = _run(run_id).activity_runs.select_related("pipeline_run")
    if data.get("lastUpdatedAfter"):
        rows = rows.filter(run_start__gte=timestamp(data, "lastUpdatedAfter"))
    if data.get("lastUpdatedBefore"):
        rows = rows.filter(run_start__lte=timestamp(data, "lastUpdatedBefore"))
    return _answer(rows, data, ACTIVITY_OPERANDS, ACTIVITY_ORDERS, "run_start")


def _answer(
    rows: QuerySet, data: dict[str, Any], operands: dict[str, Operand], orders: dict[str, str], default_order: str
) -> HttpResponse:
    """Filter, order and page ``rows`` as the query body says; ADF's ``{"value", "continuationToken"}``."""
    rows = apply_order(apply_filters(rows, data.get("filters"), operands), data.get("orderBy"), orders, default_order)
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
