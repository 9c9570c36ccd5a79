"""Add tables: pick a source, tick tables on its grid, choose where and when, review, create.

Three requests carry the choices along (the grid page, the review, the create): nothing is stored
until Create, and every step validates again.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from syncjobs.access import Actor, Role, requires, role_of
from syncjobs.engine.errors import EngineError
from syncjobs.engine.types import TableName
from syncjobs.forms.tables import AddTablesForm, linked_services
from syncjobs.models import Dataset, LinkedService, Pipeline, Trigger
from syncjobs.services import change_tracking
from syncjobs.services.table_setup import TableSetupError, add_tables, preview_tables, source_inventory
from syncjobs.services.triggers import TriggerError, next_fire_times

STATEMENTS_SHOWN = 50  # tables whose enabling statements the review prints in full


@requires(GET=Role.EDITOR)
def add(request: HttpRequest) -> HttpResponse:
    """Step 1: the source picker; with ``?source=`` its tables' grid and the settings form."""
    name = request.GET.get("source", "")
    context: dict[str, Any] = {"sources": linked_services(sources=True), "source": name}
    if name:
        linked = get_object_or_404(LinkedService, name=name)
        form = AddTablesForm(initial={"source": linked.name, "sink": _first_sink()})
        context.update(_grid(linked, form))
    return render(request, "tables/add.html", context)


@requires(POST=Role.EDITOR)
def review(request: HttpRequest) -> HttpResponse:
    """Step 2: what Create will make, the next fire times, and the tables still without change tracking."""
    form = AddTablesForm(request.POST)
    if not form.is_valid():
        return _back_to_grid(request, form)
    try:
        added, items = preview_tables(**form.request())
    except TableSetupError as exc:
        form.add_error(None, "; ".join(exc.problems))
        return _back_to_grid(request, form)
    linked = LinkedService.objects.get(name=form.cleaned_data["source"])
    context = {
        "form": form,
        "added": added,
        "items": items,
        "adf_json": "\n\n".join(f"{kind}/{item['name']}.json\n{json.dumps(item, indent=2)}" for kind, item in items),
        "linked": linked,
        "carried": form.carried(),
        "fire_times": _fire_times(form.cleaned_data.get("resolved")),
        "is_admin": (role_of(request.user) or 0) >= Role.ADMIN,
    }
    if added.untracked and context["is_admin"]:
        context["plans"] = _plans(linked, added.untracked[:STATEMENTS_SHOWN])
    return render(request, "tables/add_review.html", context)


@requires(POST=Role.EDITOR)
def create(request: HttpRequest) -> HttpResponse:
    """Step 3: enable change tracking first when asked (Admin), then create the objects."""
    form = AddTablesForm(request.POST)
    if not form.is_valid():
        return _back_to_grid(request, form)
    actor = Actor.of(request.user)
    outcome = None
    if request.POST.get("enable_tracking"):
        if (role_of(request.user) or 0) < Role.ADMIN:
            messages.error(request, "Enabling change tracking needs the Admin role: the tables were not created.")
            return _back_to_grid(request, form)
        outcome = _enable_untracked(form, actor)
    try:
        added = add_tables(actor=actor, **form.request())
    except TableSetupError as exc:
        form.add_error(None, "; ".join(exc.problems))
        return _back_to_grid(request, form)
    messages.success(request, f"Created pipeline {added.pipeline} syncing {len(added.tables)} table(s).")
    if outcome is not None and outcome.done:
        messages.success(request, f"Change tracking enabled on {len(outcome.done)} table(s).")
    if outcome is not None and outcome.failed:
        return render(request, "tables/add_done.html", _done_context(added.pipeline, outcome))
    return redirect("syncjobs:tables_add_done", name=added.pipeline)


@requires(GET=Role.EDITOR)
def done(request: HttpRequest, name: str) -> HttpResponse:
    """What Add tables created, with Run now and the way to Monitor."""
    get_object_or_404(Pipeline, name=name)
    return render(request, "tables/add_done.html", _done_context(name, None))


def _first_sink() -> str:
    sinks = linked_services(sources=False)
    return sinks[0][0] if sinks else ""


def _grid(linked: LinkedService, form: AddTablesForm) -> dict[str, Any]:
    """The source's inventory for the grid (or why it could not be read), the form beside it."""
    context: dict[str, Any] = {"linked": linked, "form": form, "tables": [], "error": ""}
    context["where_fields"], context["name_fields"] = [form["sink"], form["folder"]], [form["name"]]
    try:
        context["tables"] = source_inventory(linked)
    except EngineError as exc:
        context["error"] = f"{exc.reason}: {exc.message}"
    context["schemas"] = sorted({t.name.schema or "" for t in context["tables"]} - {""})
    context["ticked"] = set(form.data.getlist("tables")) if form.is_bound else set()  # type: ignore[attr-defined]
    return context


def _back_to_grid(request: HttpRequest, form: AddTablesForm) -> HttpResponse:
    linked = LinkedService.objects.filter(name=request.POST.get("source", "")).first()
    context: dict[str, Any] = {"sources": linked_services(sources=True), "source": linked.name if linked else ""}
    if linked is not None:
        context.update(_grid(linked, form))
    else:
        context["form"] = form
    return render(request, "tables/add.html", context, status=400)


def _fire_times(recurrence: dict[str, Any] | None) -> list[Any]:
    if recurrence is None:
        return []
    try:
        return next_fire_times(
            {"type": "ScheduleTrigger", "typeProperties": {"recurrence": recurrence}}, timezone.now()
        )
    except TriggerError:
        return []


def _plans(linked: LinkedService, names: list[Any]) -> list[change_tracking.TablePlan]:
    try:
        return change_tracking.plan(linked, "enable", names)
    except EngineError as exc:
        return [change_tracking.TablePlan(n, [], f"{exc.reason}: {exc.message}") for n in names]


def _enable_untracked(form: AddTablesForm, actor: Actor) -> change_tracking.Outcome | None:
    """Enable change tracking on the chosen tables that lack it; None when none do."""
    try:
        added, _ = preview_tables(**form.request())
    except TableSetupError:
        return None  # create says what is wrong
    if not added.untracked:
        return None
    linked = LinkedService.objects.get(name=form.cleaned_data["source"])
    return change_tracking.apply(linked, "enable", added.untracked, actor=actor)


def _untracked(pipeline: Pipeline, tables: list[dict[str, Any]], outcome: Any) -> dict[str, Any] | None:
    """The pipeline's tables still without change tracking, and their source (None when all are tracked).

    Read from the source again: an Editor's Create leaves them for an Admin, who may already have acted.
    """
    if outcome is not None and outcome.failed:
        return None  # the page already lists them, with their statements
    source = Dataset.objects.filter(name=f"{pipeline.name}_Source").first()
    linked = LinkedService.objects.filter(pk=source.linked_service_id).first() if source else None
    if linked is None:
        return None
    wanted = {str(TableName(t["table"], t.get("schema"))).lower() for t in tables}
    try:
        found = [t for t in source_inventory(linked) if str(t.name).lower() in wanted and not t.change_tracking]
    except EngineError:
        return None
    return {"linked": linked, "tables": [str(t.name) for t in found]} if found else None


def _done_context(name: str, outcome: change_tracking.Outcome | None) -> dict[str, Any]:
    pipeline = Pipeline.objects.get(name=name)
    parts = [pipeline, *Pipeline.objects.filter(name__istartswith=f"{name}_Part").order_by("name")]
    activities = [a for part in parts for a in part.properties.get("activities") or []]
    tables = [t for a in activities for t in (a.get("typeProperties") or {}).get("tables") or []]
    references = {r["referenceName"] for a in activities for r in (a.get("inputs") or []) + (a.get("outputs") or [])}
    trigger = Trigger.objects.filter(name=f"{name}_Schedule").first()
    return {
        "untracked": _untracked(pipeline, tables, outcome),
        "pipeline": pipeline,
        "parts": parts,
        "tables": tables,
        "datasets": sorted(references),
        "trigger": trigger,
        "outcome": outcome,
        "fire_times": _fire_times(trigger.properties["typeProperties"]["recurrence"]) if trigger else [],
    }
