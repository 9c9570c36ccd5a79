"""A pipeline's activities without JSON: add one from the palette, remove, move up or down, set its dependsOn.

Each change is saved through the definitions service like any save (validated whole, audited); a
stale page (the activity moved or went since it was drawn) is sent back to the pipeline with a message.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from syncjobs.access import Actor, Role, requires
from syncjobs.adf.activity_edits import ActivityEditError, dependents_of, move_activity, names_of, remove_activity
from syncjobs.adf.findings import Finding
from syncjobs.adf.palette import BY_TYPE, PALETTE
from syncjobs.forms.palette import DependencyFormSet, NewActivityForm
from syncjobs.models import Pipeline
from syncjobs.views.author import pipeline_context
from syncjobs.views.saving import save_or_findings


@requires(GET=Role.EDITOR, POST=Role.EDITOR)
def new_activity(request: HttpRequest, name: str) -> HttpResponse:
    """The palette (``?type=`` picks one), then that type's form; saving appends the activity."""
    instance = get_object_or_404(Pipeline, name=name)
    activity_type = request.POST.get("type") or request.GET.get("type", "")
    context: dict[str, Any] = {"pipeline": instance, "palette": PALETTE, "findings": []}
    if activity_type not in BY_TYPE:
        context["unknown"] = activity_type
        return render(request, "author/new_activity.html", context)
    form = NewActivityForm(request.POST or None, pipeline=instance.definition, activity_type=activity_type)
    context |= {"form": form, "entry": BY_TYPE[activity_type]}
    if request.method == "POST" and form.is_valid():
        try:
            changed = form.pipeline_with_it()
        except forms.ValidationError as exc:
            form.add_error(None, exc)
        else:
            saved, context["findings"] = _save(request, changed)
            if saved:
                messages.success(request, f"Activity {form.cleaned_data['name']} added.")
                return redirect("syncjobs:author_pipeline", name=name)
    return render(request, "author/new_activity.html", context)


@requires(POST=Role.EDITOR)
def remove(request: HttpRequest, name: str, index: int) -> HttpResponse:
    """Remove an activity; when others depend on it, ask first and drop those dependsOn entries once confirmed."""
    instance = get_object_or_404(Pipeline, name=name)
    activity = _named(request, instance, index)
    if activity is None:
        return redirect("syncjobs:author_pipeline", name=name)
    confirmed = request.POST.get("drop_dependencies") == "yes"
    try:
        changed = remove_activity(instance.definition, activity, drop_dependencies=confirmed)
    except ActivityEditError as exc:
        context = {"pipeline": instance, "activity": activity, "index": index, "reason": str(exc)}
        context["dependents"] = dependents_of(instance.definition, activity)
        return render(request, "author/remove_activity.html", context)
    return _save_and_return(request, instance, changed, f"Activity {activity} removed.")


@requires(POST=Role.EDITOR)
def move(request: HttpRequest, name: str, index: int) -> HttpResponse:
    """Move an activity one place up or down (``direction``)."""
    instance = get_object_or_404(Pipeline, name=name)
    activity = _named(request, instance, index)
    offsets = {"up": -1, "down": 1}
    if activity is None or request.POST.get("direction") not in offsets:
        if activity is not None:
            messages.error(request, "Not moved: the direction must be up or down.")
        return redirect("syncjobs:author_pipeline", name=name)
    try:
        changed = move_activity(instance.definition, activity, offsets[request.POST["direction"]])
    except ActivityEditError as exc:
        messages.error(request, f"Not moved: {exc}.")
        return redirect("syncjobs:author_pipeline", name=name)
    return _save_and_return(request, instance, changed, f"Activity {activity} moved {request.POST['direction']}.")


@requires(POST=Role.EDITOR)
def dependencies(request: HttpRequest, name: str, index: int) -> HttpResponse:
    """Replace an activity's dependsOn with the rows of (activity, conditions) posted."""
    instance = get_object_or_404(Pipeline, name=name)
    activity = _named(request, instance, index)
    if activity is None:
        return redirect("syncjobs:author_pipeline", name=name)
    formset = DependencyFormSet(request.POST, prefix=f"d{index}", pipeline=instance.definition, activity=activity)
    findings: list[Finding] = []
    if formset.is_valid():
        try:
            changed = formset.apply()
        except forms.ValidationError as exc:
            findings = [Finding(f"{activity}.dependsOn", "; ".join(exc.messages))]
        else:
            saved, findings = _save(request, changed)
            if saved:
                messages.success(request, f"Dependencies of {activity} saved.")
                return redirect("syncjobs:author_pipeline", name=name)
    text = json.dumps(instance.definition, indent=2, ensure_ascii=False)
    context = pipeline_context(instance, text, findings, False, dependencies=formset)
    return render(request, "author/pipeline.html", context)


def _named(request: HttpRequest, instance: Pipeline, index: int) -> str | None:
    """The activity at ``index`` if it is still the one the page showed (``original``); else a message and None."""
    names = names_of(instance.definition)
    original = request.POST.get("original", "")
    if 0 <= index < len(names) and names[index] == original:
        return original
    messages.error(request, f"The activity {original!r} is no longer at that place: the pipeline changed. Try again.")
    return None


def _save(request: HttpRequest, changed: dict[str, Any]) -> tuple[bool, list[Finding]]:
    saved, findings = save_or_findings("pipeline", changed, replace=True, actor=Actor.of(request.user))
    return saved is not None, findings


def _save_and_return(request: HttpRequest, instance: Pipeline, changed: dict[str, Any], done: str) -> HttpResponse:
    saved, findings = _save(request, changed)
    if saved:
        messages.success(request, done)
    else:
        messages.error(request, "Not saved: " + "; ".join(str(f) for f in findings))
    return redirect("syncjobs:author_pipeline", name=instance.name)
