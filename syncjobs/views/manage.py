"""Manage: linked services, their forms, and Test connection."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from syncjobs.forms.linked_services import TYPES, LinkedServiceForm
from syncjobs.models import LinkedService, Trigger
from syncjobs.services.catalogue import test_connection as run_test
from syncjobs.views.decorators import operator_required, save_or_findings


def _where(linked: LinkedService) -> str:
    """Where a linked service points, without secrets."""
    tp = linked.properties.get("typeProperties") or {}
    for key in ("server", "host", "database"):
        if tp.get(key) and not isinstance(tp[key], dict):
            extra = f"/{tp['database']}" if key == "server" and tp.get("database") else ""
            return f"{tp[key]}{extra}"
    if tp.get("connectionString"):
        from syncjobs.engine import bindings

        try:
            return bindings.sink_for(linked.revealed_definition()).config.endpoint  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - only a label
            return "(connection string)"
    return ""


@login_required
def linked_services(request: HttpRequest) -> HttpResponse:
    """Every linked service: name, type and where it points."""
    rows = [(ls, TYPES.get(ls.type, (ls.type,))[0], _where(ls)) for ls in LinkedService.objects.order_by("name")]
    triggers = Trigger.objects.order_by("name")
    return render(request, "manage/linked_services.html", {"rows": rows, "types": TYPES, "triggers": triggers})


@require_POST
@operator_required
def trigger_state(request: HttpRequest, name: str) -> HttpResponse:
    """Start or stop a schedule trigger."""
    trigger = get_object_or_404(Trigger, name=name)
    if request.POST.get("state") == "start":
        trigger.start()
    else:
        trigger.stop()
    messages.success(request, f"Trigger {trigger.name} is {trigger.runtime_state}.")
    return redirect("syncjobs:manage")


@login_required
def edit_linked_service(request: HttpRequest, kind: str | None = None, name: str | None = None) -> HttpResponse:
    """Create (``kind``) or edit (``name``) a linked service; secrets are never sent back."""
    instance = get_object_or_404(LinkedService, name=name) if name else None
    kind = instance.type if instance else kind
    if kind not in TYPES:
        raise Http404(f"unknown linked service type {kind}")
    form = LinkedServiceForm(kind, request.POST or None, instance=instance)
    findings = []
    if request.method == "POST":
        if not request.user.is_staff:
            return render(
                request,
                "manage/linked_service.html",
                {"form": form, "kind": kind, "label": TYPES[kind][0], "denied": True},
                status=403,
            )
        if form.is_valid():
            saved, findings = save_or_findings("linkedService", form.definition(), replace=instance is not None)
            if saved is not None:
                messages.success(request, f"Linked service {saved.name} saved.")
                for warning in findings:  # e.g. a secret cleared because the server changed
                    messages.warning(request, f"{_field(warning.path)}: {warning.message}")
                return redirect("syncjobs:manage_edit", name=saved.name)
    context = {"form": form, "kind": kind, "label": TYPES[kind][0], "instance": instance, "findings": findings}
    return render(request, "manage/linked_service.html", context)


@require_POST
@operator_required
def test_connection(request: HttpRequest) -> HttpResponse:
    """Test the connection described by the (unsaved) form; answers an HTML fragment."""
    kind = request.POST.get("kind", "")
    if kind not in TYPES:
        raise Http404("unknown type")
    name = request.POST.get("existing") or None
    instance = LinkedService.objects.filter(name=name).first() if name else None
    form = LinkedServiceForm(kind, request.POST, instance=instance)
    form.fields["name"].required = False  # a connection can be tested before it is named
    if not form.is_valid():
        return render(request, "manage/test_result.html", {"invalid": form.errors})
    definition, warnings = form.revealed_definition()
    notes = [f"{_field(w.path)}: {w.message}" for w in warnings]
    return render(request, "manage/test_result.html", {"result": run_test(definition, instance), "notes": notes})


def _field(path: str) -> str:
    """A secret's JSON path as the form's field name (``properties.typeProperties.password`` -> password)."""
    return path.removeprefix("properties.typeProperties.").replace("#", " ")
