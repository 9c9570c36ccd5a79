"""Author: datasets (with the live catalogue and a preview), pipelines (graph, JSON, Validate, Trigger now)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from syncjobs.access import Actor, Role, requires
from syncjobs.adf.findings import DefinitionError, Finding
from syncjobs.engine import jsontext
from syncjobs.engine.errors import EngineError
from syncjobs.engine.types import TableName
from syncjobs.forms.activities import ActivityForm
from syncjobs.forms.datasets import DatasetForm
from syncjobs.forms.palette import BaseDependencyFormSet, DependencyFormSet
from syncjobs.models import Dataset, LinkedService, Pipeline
from syncjobs.services import catalogue
from syncjobs.services.definitions import save_definition
from syncjobs.services.graph import layout
from syncjobs.services.pipeline_checks import check_pipeline
from syncjobs.services.runs import trigger_run
from syncjobs.views.saving import save_or_findings

NEW_PIPELINE = {"name": "NewPipeline", "properties": {"activities": [], "parameters": {}, "variables": {}}}


@requires(GET=Role.VIEWER)
def index(request: HttpRequest) -> HttpResponse:
    """Pipelines and datasets."""
    context = {
        "pipelines": Pipeline.objects.order_by("name"),
        "datasets": Dataset.objects.select_related("linked_service").order_by("name"),
    }
    return render(request, "author/index.html", context)


@requires(GET=Role.EDITOR, POST=Role.EDITOR)
def new_dataset(request: HttpRequest) -> HttpResponse:
    """Create a dataset; the table picker and preview come from the live catalogue."""
    return _dataset_page(request, None)


@requires(GET=Role.VIEWER, POST=Role.EDITOR)
def edit_dataset(request: HttpRequest, name: str) -> HttpResponse:
    """A dataset (read-only below Editor)."""
    return _dataset_page(request, get_object_or_404(Dataset, name=name))


def _dataset_page(request: HttpRequest, instance: Dataset | None) -> HttpResponse:
    form = DatasetForm(request.POST or None, instance=instance)
    findings: list[Finding] = []
    if request.method == "POST" and form.is_valid():
        saved, findings = save_or_findings(
            "dataset", form.definition(), replace=instance is not None, actor=Actor.of(request.user)
        )
        if saved is not None:
            messages.success(request, f"Dataset {saved.name} saved.")
            return redirect("syncjobs:author_dataset", name=saved.name)
    return render(request, "author/dataset.html", {"form": form, "instance": instance, "findings": findings})


@requires(GET=Role.EDITOR)
def catalogue_view(request: HttpRequest) -> HttpResponse:
    """HTML fragment: the tables of ``?linked_service=``, or with ``&table=`` its columns and first rows."""
    linked = get_object_or_404(LinkedService, name=request.GET.get("linked_service", ""))
    table = request.GET.get("table", "")
    try:
        if table:
            context: dict[str, Any] = {"preview": catalogue.preview(linked, TableName.parse(table))}
        else:
            context = {"tables": catalogue.tables(linked), "linked": linked}
    except EngineError as exc:
        context = {"error": exc}
    except ValueError as exc:
        context = {"error": str(exc)}
    return render(request, "author/catalogue.html", context)


@requires(GET=Role.VIEWER, POST=Role.EDITOR)
def pipeline(request: HttpRequest, name: str) -> HttpResponse:
    """The pipeline's graph, activities, JSON (editable), Validate and Trigger now."""
    instance = get_object_or_404(Pipeline, name=name)
    text = json.dumps(instance.definition, indent=2, ensure_ascii=False)
    findings: list[Finding] = []
    validated = False
    if request.method == "POST":
        text = request.POST.get("definition", text)
        definition, findings = _parse(text)
        if definition is not None and request.POST.get("action") == "validate":
            findings = check_pipeline(definition, live=True)
            validated = True
        elif definition is not None:
            definition["name"] = instance.name
            try:
                save_definition("pipeline", definition, actor=Actor.of(request.user))
            except DefinitionError as exc:
                findings = exc.findings
            else:
                messages.success(request, f"Pipeline {instance.name} saved.")
                return redirect("syncjobs:author_pipeline", name=instance.name)
    return render(request, "author/pipeline.html", pipeline_context(instance, text, findings, validated))


def _parse(text: str) -> tuple[dict[str, Any] | None, list[Finding]]:
    try:
        data = jsontext.loads(text)
    except jsontext.JsonTextError as exc:
        return None, [Finding("definition", exc.message)]
    if not isinstance(data, dict):
        return None, [Finding("", "the definition must be a JSON object")]
    return data, []


def pipeline_context(
    instance: Pipeline,
    text: str,
    findings: list[Finding],
    validated: bool,
    bound: ActivityForm | None = None,
    dependencies: BaseDependencyFormSet | None = None,
) -> dict[str, Any]:
    """The pipeline page's context; ``bound`` and ``dependencies`` are forms posted back with their errors."""
    props = instance.properties
    activities = props.get("activities") or []
    variables = list(props.get("variables") or {})
    activity_forms = [
        bound if bound is not None and bound.prefix == f"a{i}" else ActivityForm.for_activity(a, f"a{i}", variables)
        for i, a in enumerate(activities)
    ]
    depends = [
        dependencies
        if dependencies is not None and dependencies.prefix == f"d{i}"
        else DependencyFormSet(prefix=f"d{i}", pipeline=instance.definition, activity=str(a.get("name")))
        for i, a in enumerate(activities)
    ]
    return {
        "pipeline": instance,
        "graph": layout(activities),
        "activities": list(zip(activities, activity_forms, depends, strict=True)),
        "parameters": props.get("parameters") or {},
        "text": text,
        "json_dirty": text.replace("\r\n", "\n") != json.dumps(instance.definition, indent=2, ensure_ascii=False),
        "findings": findings,
        "validated": validated,
        "runs": instance.runs.order_by("-triggered_at")[:5],
    }


@requires(POST=Role.EDITOR)
def edit_activity(request: HttpRequest, name: str, index: int) -> HttpResponse:
    """Save one activity's form into the pipeline (validated like any save)."""
    instance = get_object_or_404(Pipeline, name=name)
    props = instance.properties
    original = request.POST.get(f"a{index}-original")
    activity = next((a for a in props.get("activities") or [] if a.get("name") == original), None)
    form = ActivityForm(request.POST, prefix=f"a{index}", activity=activity, variables=props.get("variables") or ())
    findings: list[Finding] = []
    if form.is_valid():
        try:
            changed = form.apply(instance.definition)
        except forms.ValidationError as exc:
            findings = [Finding("activity", "; ".join(exc.messages))]
        else:
            saved, findings = save_or_findings("pipeline", changed, replace=True, actor=Actor.of(request.user))
            if saved is not None:
                messages.success(request, f"Activity {form.cleaned_data['name']} saved.")
                return redirect("syncjobs:author_pipeline", name=name)
    text = json.dumps(instance.definition, indent=2, ensure_ascii=False)
    return render(request, "author/pipeline.html", pipeline_context(instance, text, findings, False, form))


@requires(POST=Role.OPERATOR)
def trigger_now(request: HttpRequest, name: str) -> HttpResponse:
    """Trigger now with the dialog's parameters; on to the run's monitor page."""
    instance = get_object_or_404(Pipeline, name=name)
    declared = instance.properties.get("parameters") or {}
    parameters = {}
    for key in declared:
        raw = request.POST.get(f"param_{key}", "")
        if raw != "":
            typed = str((declared[key] or {}).get("type")) in ("Int", "Float", "Bool", "Array", "Object")
            try:
                parameters[key] = jsontext.loads(raw) if typed else raw
            except jsontext.JsonTextError:
                parameters[key] = raw  # the parameter's type judges the text, and says what is wrong
    try:
        run = trigger_run(instance, parameters, actor=Actor.of(request.user))
    except ValidationError as exc:
        messages.error(request, "Not triggered: " + "; ".join(exc.messages))
        return redirect("syncjobs:author_pipeline", name=name)
    return redirect("syncjobs:run_detail", run_id=run.run_id)


@requires(GET=Role.EDITOR, POST=Role.EDITOR)
def new_pipeline(request: HttpRequest) -> HttpResponse:
    """Start a pipeline: an empty one by name (then add activities from the palette), or from JSON."""
    text = request.POST.get("definition") or json.dumps(NEW_PIPELINE, indent=2)
    findings: list[Finding] = []
    named = request.POST.get("name") is not None and not request.POST.get("definition")
    if request.method == "POST":
        definition, findings = ({**NEW_PIPELINE, "name": request.POST["name"]}, []) if named else _parse(text)
        if definition is not None:
            try:
                saved, _ = save_definition("pipeline", definition, replace=False, actor=Actor.of(request.user))
            except DefinitionError as exc:
                findings = exc.findings
            else:
                messages.success(request, f"Pipeline {saved.name} created.")
                return redirect("syncjobs:author_pipeline", name=saved.name)
    context = {"text": text, "findings": findings, "named": named, "name": request.POST.get("name", "")}
    return render(request, "author/new_pipeline.html", context)
