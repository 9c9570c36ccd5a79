"""Manage: linked services, their forms, and Test connection."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from syncjobs.access import Actor, Role, requires
from syncjobs.adf.findings import Finding
from syncjobs.engine import connectors
from syncjobs.forms.linked_services import LinkedServiceForm, types
from syncjobs.models import LinkedService, Trigger
from syncjobs.services.catalogue import test_connection as run_test
from syncjobs.services.triggers import set_started
from syncjobs.views.saving import save_or_findings


def _where(linked: LinkedService) -> str:
    """Where a linked service points, without secrets (its connector says; the stored JSON is masked)."""
    tp = linked.properties.get("typeProperties") or {}
    return (connectors.connector_for(linked.type) or connectors.Connector).where(tp)


@requires(GET=Role.VIEWER)
def linked_services(request: HttpRequest) -> HttpResponse:
    """Every linked service: name, type and where it points."""
    labels = types()
    rows = [(ls, labels.get(ls.type, ls.type), _where(ls)) for ls in LinkedService.objects.order_by("name")]
    triggers = Trigger.objects.order_by("name")
    return render(request, "manage/linked_services.html", {"rows": rows, "types": labels, "triggers": triggers})


@requires(POST=Role.OPERATOR)
def trigger_state(request: HttpRequest, name: str) -> HttpResponse:
    """Start or stop a schedule trigger."""
    trigger = get_object_or_404(Trigger, name=name)
    set_started(trigger, request.POST.get("state") == "start", actor=Actor.of(request.user))
    messages.success(request, f"Trigger {trigger.name} is {trigger.runtime_state}.")
    return redirect("syncjobs:manage")


@requires(GET=Role.ADMIN, POST=Role.ADMIN)
def new_linked_service(request: HttpRequest, kind: str) -> HttpResponse:
    """Create a linked service of type ``kind``."""
    if kind not in types():
        raise Http404(f"unknown linked service type {kind}")
    return _linked_service_page(request, kind, None)


@requires(GET=Role.VIEWER, POST=Role.ADMIN)
def edit_linked_service(request: HttpRequest, name: str) -> HttpResponse:
    """A linked service (read-only below Admin); secrets are never sent back."""
    instance = get_object_or_404(LinkedService, name=name)
    if instance.type not in types():
        raise Http404(f"unknown linked service type {instance.type}")
    return _linked_service_page(request, instance.type, instance)


def _linked_service_page(request: HttpRequest, kind: str, instance: LinkedService | None) -> HttpResponse:
    form = LinkedServiceForm(kind, request.POST or None, instance=instance)
    findings: list[Finding] = []
    if request.method == "POST" and form.is_valid():
        actor = Actor.of(request.user)
        saved, findings = save_or_findings(
            "linkedService", form.definition(), replace=instance is not None, actor=actor
        )
        if saved is not None:
            messages.success(request, f"Linked service {saved.name} saved.")
            for warning in findings:  # e.g. a secret cleared because the server changed
                messages.warning(request, f"{_field(warning.path)}: {warning.message}")
            return redirect("syncjobs:manage_edit", name=saved.name)
    context = {"form": form, "kind": kind, "label": types()[kind], "instance": instance, "findings": findings}
    return render(request, "manage/linked_service.html", context)


@requires(POST=Role.ADMIN)
def test_connection(request: HttpRequest) -> HttpResponse:
    """Test the connection described by the (unsaved) form; answers an HTML fragment."""
    kind = request.POST.get("kind", "")
    if kind not in types():
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
