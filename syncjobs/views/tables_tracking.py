"""Change tracking from the browser: a source's tables with their state; enable or disable, statements first.

PostgreSQL and SQLite: the portal runs its emulation's statements. SQL Server: the portal runs the T-SQL
when the login may; otherwise the page gives the T-SQL to hand to a DBA. Running them needs the Admin role.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from syncjobs.access import Actor, Role, requires
from syncjobs.engine.errors import EngineError
from syncjobs.engine.types import TableName
from syncjobs.forms.tables import linked_services
from syncjobs.models import LinkedService
from syncjobs.services import change_tracking
from syncjobs.services.table_setup import source_inventory

RETENTION_DAYS = (1, 2, 3, 7, 14, 30)


@requires(GET=Role.EDITOR)
def tracking(request: HttpRequest) -> HttpResponse:
    """The tables of ``?source=`` with change tracking on or off (and retention); tick and enable or disable."""
    name = request.GET.get("source", "")
    context: dict[str, Any] = {"sources": linked_services(sources=True), "source": name, "tables": [], "error": ""}
    if name:
        context["linked"] = get_object_or_404(LinkedService, name=name)
        try:
            context["tables"] = source_inventory(context["linked"])
        except EngineError as exc:
            context["error"] = f"{exc.reason}: {exc.message}"
    context["ticked"] = set(request.GET.getlist("tables"))
    context["retention_days"] = RETENTION_DAYS
    return render(request, "tables/change_tracking.html", context)


@requires(POST=Role.ADMIN)
def confirm(request: HttpRequest) -> HttpResponse:
    """The exact statements for the ticked tables, before anything runs."""
    try:
        linked, action, names, options = _request(request)
    except _BadRetentionError as exc:
        return _refused(request, exc)
    if not names:
        messages.error(request, "Tick at least one table.")
        return redirect(_page(linked))
    try:
        plans = change_tracking.plan(linked, action, names, **options)
    except EngineError as exc:
        messages.error(request, f"{exc.reason}: {exc.message}")
        return redirect(_page(linked))
    context = {"linked": linked, "action": action, "plans": plans, "options": options}
    return render(request, "tables/change_tracking_confirm.html", context)


@requires(POST=Role.ADMIN)
def run(request: HttpRequest) -> HttpResponse:
    """Run the confirmed statements, table by table; failures show their statements (for a DBA on SQL Server)."""
    try:
        linked, action, names, options = _request(request)
    except _BadRetentionError as exc:
        return _refused(request, exc)
    outcome = change_tracking.apply(linked, action, names, actor=Actor.of(request.user), **options)
    if outcome.done:
        messages.success(request, f"Change tracking {action}d on {len(outcome.done)} table(s) of {linked.name}.")
    if outcome.failed:
        return render(request, "tables/change_tracking_result.html", {"linked": linked, "outcome": outcome}, status=200)
    return redirect(_page(linked))


def _request(request: HttpRequest) -> tuple[LinkedService, str, list[TableName], dict[str, Any]]:
    linked = get_object_or_404(LinkedService, name=request.POST.get("source", ""))
    action = "disable" if request.POST.get("action") == "disable" else "enable"
    texts = request.POST.getlist("tables")
    only = request.POST.get("only", "")
    if ":" in only:  # a row's own button: "enable:schema.table"
        action, texts = ("disable" if only.startswith("disable:") else "enable"), [only.split(":", 1)[1]]
    names = []
    for text in texts:
        try:
            names.append(TableName.parse(text))
        except (ValueError, EngineError):
            continue
    retention = (request.POST.get("retention_days") or "2").strip()
    if not (
        retention.isascii()
        and retention.isdigit()
        and len(retention) <= 5
        and 1 <= int(retention) <= MAX_RETENTION_DAYS
    ):
        raise _BadRetentionError(linked)
    options = {"track_columns": request.POST.get("track_columns", "on") == "on", "retention_days": int(retention)}
    return linked, action, list(dict.fromkeys(names)), options


MAX_RETENTION_DAYS = 3650


class _BadRetentionError(Exception):
    def __init__(self, linked: LinkedService) -> None:
        super().__init__(f"retention: a whole number of days from 1 to {MAX_RETENTION_DAYS}")
        self.linked = linked


def _refused(request: HttpRequest, exc: _BadRetentionError) -> HttpResponse:
    messages.error(request, str(exc))
    return redirect(_page(exc.linked))


def _page(linked: LinkedService) -> str:
    return f"{reverse('syncjobs:tables_change_tracking')}?source={linked.name}"
