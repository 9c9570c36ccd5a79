"""Tables: schema drift — a table's schema history, accepting the change it is paused on, and its policy."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from syncjobs.access import Actor, Role, requires
from syncjobs.engine.schema_drift import POLICIES
from syncjobs.models import Watermark
from syncjobs.services import schema_drift

HISTORY = 50  # changes the page lists, newest first


def drift_context(watermark: Watermark) -> dict[str, Any]:
    """What ``tables/_schema_drift.html`` shows for one table (for any page that includes it)."""
    return {"table": watermark, "waiting": schema_drift.waiting_change(watermark), "policies": POLICIES}


@requires(GET=Role.VIEWER)
def schema_page(request: HttpRequest, watermark_id: int) -> HttpResponse:
    """A table's schema: the change it is paused on (Accept), its policy, and its schema history."""
    watermark = get_object_or_404(Watermark.objects.select_related("linked_service"), pk=watermark_id)
    history = watermark.schema_changes.select_related("window", "accepted_by")[:HISTORY]
    return render(request, "tables/schema.html", {**drift_context(watermark), "history": history})


@requires(POST=Role.EDITOR)
def accept(request: HttpRequest, watermark_id: int) -> HttpResponse:
    """Accept the schema change the table is paused on; its next run continues (or re-syncs for a new key)."""
    watermark = get_object_or_404(Watermark, pk=watermark_id)
    try:
        change = schema_drift.accept(watermark, Actor.of(request.user))
    except schema_drift.SchemaDriftError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    messages.success(request, f"Accepted for {watermark.table}: {change.summary}. The next run takes it.")
    return _back(request, watermark.pk)


@requires(POST=Role.EDITOR)
def set_policy(request: HttpRequest) -> HttpResponse:
    """Set the schema drift policy of the tables ticked (``watermark`` values), "" for the activity's default."""
    try:
        given = request.POST.getlist("watermark")
        if len(given) > 10_000 or not all(v.isascii() and v.isdigit() and len(v) <= 18 for v in given):
            raise ValueError("an id too large, or no number")  # a database column holds 18 digits
        ids = [int(value) for value in given]
        changed = schema_drift.set_policy(ids, request.POST.get("policy", ""), Actor.of(request.user))
    except ValueError as exc:  # SchemaDriftError is one; so is an id that is no number
        message = str(exc) if isinstance(exc, schema_drift.SchemaDriftError) else "table ids must be whole numbers"
        return HttpResponse(message, status=400, content_type="text/plain")
    messages.success(request, f"Schema drift policy set on {changed} table{'s' if changed != 1 else ''}.")
    return _back(request, ids[0])


def _back(request: HttpRequest, watermark_id: int) -> HttpResponse:
    """To ``next`` when it is this site's, else the table's schema page."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("syncjobs:table_schema", watermark_id=watermark_id)
