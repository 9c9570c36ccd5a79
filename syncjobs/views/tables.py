"""Tables: every synced table with its status, one table's windows and charts, and the actions on them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django_q.tasks import async_task

from syncjobs.access import Actor, Role, requires
from syncjobs.engine.schema_drift import POLICIES
from syncjobs.models import SyncedTable, TableStatus
from syncjobs.services import schema_drift, table_detail, table_facts, tables

ACTIONS = {
    "sync": Role.OPERATOR,
    "pause": Role.OPERATOR,
    "resume": Role.OPERATOR,
    "verify": Role.OPERATOR,
    "facts": Role.OPERATOR,
    "policy": Role.EDITOR,  # the schema drift policy
    "pace": Role.EDITOR,
}
SELECTION_LIMIT = 10_000


def _action_role(kwargs: Mapping[str, Any]) -> Role:
    return ACTIONS.get(str(kwargs.get("action")), Role.OPERATOR)


@requires(GET=Role.VIEWER)
def index(request: HttpRequest) -> HttpResponse:
    """Every synced table, filtered, sorted and paged, with its status and figures."""
    now = timezone.now()
    tables.prepare(now)
    filters = tables.TableFilters.from_query(request.GET)
    query = request.GET.copy()
    query.pop("page", None)
    counts = tables.status_counts(filters, now)
    page = tables.table_page(filters, request.GET.get("page"), now, count=tables.selected_count(filters, counts))
    for table in tables.annotated_rows(list(page.object_list)):
        table.view = tables.row_view(table, now)  # type: ignore[attr-defined]
    context = {
        "page": page,
        "counts": counts,
        "filters": filters,
        "query": query.urlencode(),
        "statuses": TableStatus.choices,
        "sources": SyncedTable.objects.current()
        .order_by("source_name")
        .values_list("source_name", flat=True)
        .distinct(),
        "sorts": tables.SORTS,
        "page_sizes": tables.PAGE_SIZES,
        "now": now,
        "drift_policies": POLICIES,
    }
    return render(request, "tables/index.html", context, status=400 if filters.errors else 200)


@requires(GET=Role.VIEWER)
def detail(request: HttpRequest, table_id: int) -> HttpResponse:
    """One table: status, windows, schema and its history, charts of rows and lag."""
    if table_id > 2**63 - 1:
        raise Http404("no such table")  # past the database's integers: a 404, not a 500
    now = timezone.now()
    tables.prepare(now)
    table = get_object_or_404(SyncedTable.objects.with_status(now).select_related("watermark"), pk=table_id)
    pace = tables.pace_view(table)
    context = {"table": table, "now": now, "pace": pace, "late_factor": settings.CTPORTAL_ALERT_LATE_FACTOR}
    context.update(table_detail.detail(table, now))
    return render(request, "tables/detail.html", context)


@requires(POST=_action_role)
def action(request: HttpRequest, action: str) -> HttpResponse:
    """Sync now, Pause, Resume, Verify, Read source facts, set the schema drift policy or Set pace (both
    Editor) over the selected tables (``ids``) or the whole filter (``scope=filter``)."""
    if action not in ACTIONS:
        raise Http404(f"no action {action!r}")
    chosen = _chosen(request)
    if isinstance(chosen, HttpResponse):
        return chosen
    actor = Actor.of(request.user)
    try:
        if action == "sync":
            result = tables.sync_now(chosen, actor=actor)
        elif action in ("pause", "resume"):
            result = tables.set_paused(chosen, action == "pause", actor=actor)
        elif action == "pace":
            result = tables.set_pace(chosen, tables.parse_pace(request.POST), actor=actor)
        elif action == "facts":
            count = table_facts.schedule_refreshes({t.watermark.linked_service_id for t in chosen})
            result = tables.ActionResult(done=[f"the facts of {count} source(s) are being read"])
        elif action == "policy":
            result = tables.set_schema_policy(chosen, request.POST.get("policy", ""), actor=actor)
        else:
            result = _verify(chosen)
    except (ValidationError, schema_drift.SchemaDriftError) as exc:
        text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return HttpResponseBadRequest(text, content_type="text/plain; charset=utf-8")
    _tell(request, result)
    return redirect(_back(request))


@requires(GET=Role.EDITOR, POST=Role.EDITOR)
def resync(request: HttpRequest) -> HttpResponse:
    """Re-sync: a confirmation page listing the tables, then (POST ``confirm``) a fresh full copy of each."""
    chosen = _chosen(request)
    if isinstance(chosen, HttpResponse):
        return chosen
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        _tell(request, tables.resync(chosen, actor=Actor.of(request.user)))
        return redirect(_back(request))
    data = request.POST if request.method == "POST" else request.GET
    context = {
        "chosen": chosen[:100],
        "count": len(chosen),
        "ids": [t.pk for t in chosen],
        "next": data.get("next", ""),
    }
    return render(request, "tables/resync.html", context)


def _chosen(request: HttpRequest) -> list[SyncedTable] | HttpResponse:
    """The tables an action applies to: ``ids``, or with ``scope=filter`` every table the filters select."""
    data = request.POST if request.method == "POST" else request.GET
    if data.get("scope") == "filter":
        filters = tables.TableFilters.from_query(data)
        chosen = list(tables.listed(filters)[:SELECTION_LIMIT])
    else:
        ids = _ids(data.getlist("ids"))
        if ids is None:
            return HttpResponseBadRequest(
                f"ids: must be at most {SELECTION_LIMIT} table ids (whole numbers)",
                content_type="text/plain; charset=utf-8",
            )
        found = SyncedTable.objects.select_related("watermark").in_bulk(ids)
        chosen = [found[i] for i in dict.fromkeys(ids) if i in found]
    if not chosen:
        return HttpResponseBadRequest(
            "no tables chosen: tick some, or apply to the whole filter", content_type="text/plain; charset=utf-8"
        )
    return chosen


def _ids(given: list[str]) -> list[int] | None:
    """Table ids as numbers a database column holds, at most ``SELECTION_LIMIT`` of them (else None)."""
    if len(given) > SELECTION_LIMIT or not all(i.isascii() and i.isdigit() and len(i) <= 18 for i in given):
        return None
    return [int(i) for i in given]


def _verify(chosen: list[SyncedTable]) -> tables.ActionResult:
    """Verify each table in a task of its own (inline when tasks run inline): a replay can take a while."""
    for table in chosen:
        async_task("syncjobs.tasks.verify_table_task", table.pk, sync=settings.CTPORTAL_TASKS_INLINE)
    verb = "verified" if settings.CTPORTAL_TASKS_INLINE else "queued for verification"
    return tables.ActionResult(done=[f"{len(chosen)} table(s) {verb}; the result shows on each table"])


def _tell(request: HttpRequest, result: tables.ActionResult) -> None:
    for line in result.done:
        messages.success(request, line)
    for line in result.refused[:20]:
        messages.error(request, line)
    if len(result.refused) > 20:
        messages.error(request, f"... and {len(result.refused) - 20} more refused")


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("syncjobs:tables")
