"""Manage: schedule triggers authored in a form, their next five fire times shown before saving."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from syncjobs.access import Actor, Role, requires
from syncjobs.forms.triggers import ScheduleTriggerForm
from syncjobs.models import Trigger
from syncjobs.services.triggers import preview_fire_times
from syncjobs.views.saving import save_or_findings


@requires(GET=Role.EDITOR, POST=Role.EDITOR)
def new_trigger(request: HttpRequest) -> HttpResponse:
    """Create a schedule trigger; ``action=preview`` shows its next five fire times without saving."""
    return _trigger_page(request, None)


@requires(GET=Role.VIEWER, POST=Role.EDITOR)
def edit_trigger(request: HttpRequest, name: str) -> HttpResponse:
    """A trigger and its next five fire times (read-only below Editor; other trigger types as JSON only)."""
    instance = get_object_or_404(Trigger, name=name)
    if instance.type != "ScheduleTrigger":
        return render(request, "manage/trigger.html", {"instance": instance, "unsupported": True})
    return _trigger_page(request, instance)


def _trigger_page(request: HttpRequest, instance: Trigger | None) -> HttpResponse:
    form = ScheduleTriggerForm(request.POST or None, instance=instance)
    context: dict[str, Any] = {"form": form, "instance": instance, "previewed": False, "fire_times": []}
    if request.method == "POST" and form.is_valid():
        definition = form.definition()
        if request.POST.get("action") == "preview":
            context["fire_times"], findings = preview_fire_times(definition)
            context["previewed"] = not findings
            form.show_findings(findings)
        else:
            saved, findings = save_or_findings(
                "trigger", definition, replace=instance is not None, actor=Actor.of(request.user)
            )
            if saved is not None:
                messages.success(request, f"Trigger {saved.name} saved.")
                for warning in findings:
                    messages.warning(request, str(warning))
                return redirect("syncjobs:manage_trigger", name=saved.name)
            form.show_findings(findings)
    elif instance is not None and request.method == "GET":
        context["fire_times"], context["fire_problems"] = preview_fire_times(instance.definition)
        context["previewed"] = True
    return render(request, "manage/trigger.html", context)
