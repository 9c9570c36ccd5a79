"""Rename, clone or delete any object, with what uses it shown first.

One page per object (``.../<name>/actions/``): linked services need Admin to change, datasets,
pipelines and triggers Editor (``access.WRITE_ROLES``); anyone may see what uses an object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from syncjobs.access import WRITE_ROLES, Actor, Role, requires, role_of
from syncjobs.adf.findings import DefinitionError
from syncjobs.models import Definition
from syncjobs.services.definitions import MODELS
from syncjobs.services.objects import LABELS, ObjectInUseError, clone_name, clone_object, delete_object, rename_object

PAGES = {
    "linkedService": "syncjobs:manage_edit",
    "dataset": "syncjobs:author_dataset",
    "pipeline": "syncjobs:author_pipeline",
    "trigger": "syncjobs:manage_trigger",
}
ACTION_PAGES = {
    "linkedService": "syncjobs:manage_linked_service_actions",
    "dataset": "syncjobs:author_dataset_actions",
    "pipeline": "syncjobs:author_pipeline_actions",
    "trigger": "syncjobs:manage_trigger_actions",
}
LISTS = {
    "linkedService": "syncjobs:manage",
    "trigger": "syncjobs:manage",
    "dataset": "syncjobs:author",
    "pipeline": "syncjobs:author",
}


def page_url(kind: str, name: str) -> str:
    """The page of the ``kind`` object ``name``."""
    return reverse(PAGES[kind], kwargs={"name": name})


def actions_url(kind: str, name: str) -> str:
    """The rename, clone and delete page of the ``kind`` object ``name``."""
    return reverse(ACTION_PAGES[kind], kwargs={"name": name})


class NameForm(forms.Form):
    """A new name (ADF's rules are checked with the object)."""

    name = forms.CharField(label="New name", max_length=260, strip=False)


class DeleteForm(forms.Form):
    """Deleting is confirmed by a tick."""

    confirm = forms.BooleanField(label="Yes, delete it", error_messages={"required": "tick to confirm"})


def _write_role(kwargs: Mapping[str, Any]) -> Role:
    return WRITE_ROLES[kwargs["kind"]]


@requires(GET=Role.VIEWER, POST=_write_role)
def object_actions(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    """What uses the object; POST ``action`` = ``rename``, ``clone`` or ``delete`` with that form's fields."""
    instance = get_object_or_404(MODELS[kind], name=name)
    bound = {
        "rename": NameForm(prefix="rename", initial={"name": instance.name}),
        "clone": NameForm(prefix="clone", initial={"name": clone_name(instance)}),
        "delete": DeleteForm(prefix="delete"),
    }
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in bound:
            return HttpResponseBadRequest("action must be rename, clone or delete")
        form = bound[action] = type(bound[action])(request.POST, prefix=action)
        if form.is_valid():
            done = _DO[action](request, instance, form)
            if done is not None:
                return done
    writer = (role_of(request.user) or 0) >= WRITE_ROLES[kind]
    context = {"instance": instance, "label": LABELS[kind], "forms": bound, "can_write": writer}
    context |= {"page": page_url(kind, instance.name), "needed": WRITE_ROLES[kind].label}
    return render(request, "objects/actions.html", context)


def _rename(request: HttpRequest, instance: Definition, form: forms.Form) -> HttpResponse | None:
    old, new = instance.name, form.cleaned_data["name"]
    try:
        usages = rename_object(instance, new, actor=Actor.of(request.user))
    except DefinitionError as exc:
        for finding in exc.findings:
            on_name = finding.path == "name" and not finding.object
            form.add_error("name" if on_name else None, finding.message if on_name else str(finding))
        return None
    followed = f" References updated in {', '.join(u.label for u in usages)}." if usages else ""
    messages.success(request, f"{LABELS[instance.KIND].capitalize()} {old} renamed to {new}.{followed}")
    return redirect(page_url(instance.KIND, new))


def _clone(request: HttpRequest, instance: Definition, form: forms.Form) -> HttpResponse | None:
    try:
        clone, warnings = clone_object(instance, form.cleaned_data["name"], actor=Actor.of(request.user))
    except DefinitionError as exc:
        for finding in exc.findings:
            form.add_error("name" if finding.path == "name" else None, finding.message)
        return None
    stopped = " It is stopped." if instance.KIND == "trigger" else ""
    messages.success(request, f"{LABELS[clone.KIND].capitalize()} {clone.name} created from {instance.name}.{stopped}")
    if warnings:
        paths = ", ".join(w.path for w in warnings)
        messages.warning(request, f"Secrets are not copied: enter {paths} on {clone.name} before it is used.")
    return redirect(page_url(clone.KIND, clone.name))


def _delete(request: HttpRequest, instance: Definition, form: forms.Form) -> HttpResponse | None:
    try:
        delete_object(instance, actor=Actor.of(request.user))
    except ObjectInUseError as exc:
        form.add_error(None, str(exc))
        return None
    messages.success(request, f"{LABELS[instance.KIND].capitalize()} {instance.name} deleted.")
    return redirect(LISTS[instance.KIND])


_DO: dict[str, Callable[[HttpRequest, Definition, forms.Form], HttpResponse | None]] = {
    "rename": _rename,
    "clone": _clone,
    "delete": _delete,
}
