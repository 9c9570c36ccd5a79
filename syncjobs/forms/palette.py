"""The forms that change a pipeline's activities without JSON: add one from the palette, and its dependsOn rows."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms

from syncjobs.adf.activity_edits import ActivityEditError, add_activity, set_dependencies
from syncjobs.adf.palette import BY_TYPE, PALETTE, default_name, default_settings, new_activity
from syncjobs.adf.pipelines import DEPENDENCY_CONDITIONS
from syncjobs.engine import connectors, jsontext
from syncjobs.forms.activity_settings import remaining, setting_fields, settings_from
from syncjobs.models import Dataset, LinkedService

TYPES = tuple((entry.type, entry.label) for entry in PALETTE)
ORDER = (
    "name",
    "description",
    "source_dataset",
    "source_parameters",
    "sink_dataset",
    "sink_parameters",
    "linked_service",
    "after",
    "after_condition",
    "type_properties",
)
NEEDS = {
    "source": "source_dataset",
    "sink": "sink_dataset",
    "dataset": "source_dataset",
    "linked_service": "linked_service",
}


def _datasets(*, sinks: bool) -> Any:
    file_types = {"DelimitedText", "Parquet"}
    found = Dataset.objects.select_related("linked_service").order_by("name")
    return found.filter(type__in=file_types) if sinks else found.exclude(type__in=file_types)


class NewActivityForm(forms.Form):
    """A new activity of one palette type: its name, what it reads and writes, what it runs after, its settings."""

    type = forms.ChoiceField(choices=TYPES, widget=forms.HiddenInput)
    name = forms.CharField(label="Name", max_length=55)
    description = forms.CharField(label="Description", required=False)
    source_dataset = forms.ModelChoiceField(
        label="Source dataset", queryset=Dataset.objects.none(), to_field_name="name", required=False
    )
    sink_dataset = forms.ModelChoiceField(
        label="Sink dataset", queryset=Dataset.objects.none(), to_field_name="name", required=False
    )
    source_parameters = forms.CharField(
        label="Source dataset parameters",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="one name = value a line, for the dataset's parameters (a value may be an expression: @...)",
    )
    sink_parameters = forms.CharField(
        label="Sink dataset parameters",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="one name = value a line",
    )
    linked_service = forms.ModelChoiceField(
        label="Linked service", queryset=LinkedService.objects.none(), to_field_name="name", required=False
    )
    after = forms.ChoiceField(label="Runs after", required=False, help_text="leave empty to start with the run")
    after_condition = forms.ChoiceField(
        label="When that activity", choices=[(c, c) for c in DEPENDENCY_CONDITIONS], initial="Succeeded"
    )
    type_properties = forms.CharField(
        label="More settings (typeProperties JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="any other typeProperties, as in ADF's JSON; the fields above win",
    )

    def __init__(self, *args: Any, pipeline: dict[str, Any], activity_type: str, **kwargs: Any) -> None:
        props = pipeline.get("properties") or {}
        taken = [str(a.get("name", "")) for a in props.get("activities") or []]
        variables = list(props.get("variables") or {})
        settings = remaining(activity_type, default_settings(activity_type, variables))
        kwargs.setdefault(
            "initial",
            {
                "type": activity_type,
                "name": default_name(activity_type, taken),
                "after": taken[-1] if taken else "",
                "type_properties": json.dumps(settings, indent=2),
            },
        )
        super().__init__(*args, **kwargs)
        self.pipeline, self.entry = pipeline, BY_TYPE[activity_type]
        cast(forms.ChoiceField, self.fields["after"]).choices = [("", "—"), *((n, n) for n in taken)]
        cast(forms.ModelChoiceField, self.fields["source_dataset"]).queryset = _datasets(sinks=False)
        cast(forms.ModelChoiceField, self.fields["sink_dataset"]).queryset = _datasets(sinks=True)
        cast(forms.ModelChoiceField, self.fields["linked_service"]).queryset = _database_linked_services()
        self._keep_what_the_type_needs()
        settings_fields = setting_fields(activity_type, variables)
        self.fields.update(settings_fields)
        self.order_fields([*ORDER[:-3], *settings_fields, *ORDER[-3:]])

    def _keep_what_the_type_needs(self) -> None:
        """Datasets, their parameters and a linked service only where the type uses them (then required)."""
        if "dataset" in self.entry.needs:
            self.fields["source_dataset"].label = "Dataset"
            self.fields["source_parameters"].label = "Dataset parameters"
        wanted = {NEEDS[need] for need in self.entry.needs}
        for key in ("source_dataset", "sink_dataset", "linked_service"):
            if key in wanted:
                self.fields[key].required = True
            else:
                del self.fields[key]
        for key, dataset in (("source_parameters", "source_dataset"), ("sink_parameters", "sink_dataset")):
            if dataset not in wanted:
                del self.fields[key]

    def clean_type(self) -> str:
        if self.cleaned_data["type"] != self.entry.type:
            raise forms.ValidationError("the activity type changed; start again from the palette")
        return self.entry.type

    def clean_type_properties(self) -> dict[str, Any]:
        return json_object(self.cleaned_data["type_properties"] or "{}")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for key, dataset in (("source_parameters", "source_dataset"), ("sink_parameters", "sink_dataset")):
            if data.get(dataset) is not None and key in self.fields:
                try:
                    data[key] = reference_parameters(data.get(key) or "", data[dataset])
                except forms.ValidationError as exc:
                    self.add_error(key, exc)
        return data

    def pipeline_with_it(self) -> dict[str, Any]:
        """The pipeline with the new activity appended; a form error (ValidationError) when it cannot be."""
        data = self.cleaned_data
        source: Dataset | None = data.get("source_dataset")
        sink: Dataset | None = data.get("sink_dataset")
        linked: LinkedService | None = data.get("linked_service")
        activity = new_activity(
            self.entry.type,
            data["name"],
            {**data["type_properties"], **settings_from(self.entry.type, data)},
            description=data["description"],
            source=(source.name, _copy_source(source), data.get("source_parameters") or {}) if source else None,
            sink=(sink.name, f"{sink.type}Sink", data.get("sink_parameters") or {}) if sink else None,
            linked_service=linked.name if linked else None,
        )
        if data.get("after"):
            activity["dependsOn"] = [{"activity": data["after"], "dependencyConditions": [data["after_condition"]]}]
        try:
            return add_activity(self.pipeline, activity)
        except ActivityEditError as exc:
            raise forms.ValidationError(str(exc)) from None


def _database_linked_services() -> Any:
    databases = [t.name for t in connectors.linked_service_types(sources=True)]
    return LinkedService.objects.filter(type__in=databases).order_by("name")


def _copy_source(dataset: Dataset) -> str:
    found = connectors.linked_service_type(dataset.linked_service.type)
    if found is not None and found.copy_source:
        return found.copy_source
    return connectors.copy_source_types()[0]  # a dataset of no known database: the table's first, validation says more


def reference_parameters(text: str, dataset: Dataset) -> dict[str, Any]:
    """``name = value`` lines as the values a reference passes to ``dataset``'s parameters.

    Every name must be declared by the dataset, and every parameter without a default needs a value.
    A typed parameter's value is JSON (``42``, ``true``) unless it is an expression (``@...``).
    """
    declared = {str(k).lower(): (str(k), v if isinstance(v, dict) else {}) for k, v in _declared(dataset).items()}
    values: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, raw = (part.strip() for part in line.partition("="))
        if not sep or not name:
            raise forms.ValidationError(f"line {number}: write name = value")
        if name.lower() not in declared:
            known = ", ".join(n for n, _ in declared.values()) or "none"
            raise forms.ValidationError(f"{dataset.name} has no parameter {name!r} (it has: {known})")
        actual, spec = declared[name.lower()]
        values[actual] = _typed_value(raw, str(spec.get("type", "String")))
    missing = [n for n, spec in declared.values() if n not in values and spec.get("defaultValue") is None]
    if missing:
        raise forms.ValidationError(f"{dataset.name} needs a value for {', '.join(missing)} (it has no default)")
    return values


def _declared(dataset: Dataset) -> dict[str, Any]:
    found = dataset.properties.get("parameters")
    return found if isinstance(found, dict) else {}


def _typed_value(raw: str, kind: str) -> Any:
    if raw.startswith("@") or kind.lower() in ("string", "securestring"):
        return raw
    try:
        return jsontext.loads(raw)
    except jsontext.JsonTextError:
        raise forms.ValidationError(f"{raw!r} is not a {kind} value") from None


def json_object(text: str) -> dict[str, Any]:
    """A JSON object typed into a form; ValidationError in words otherwise."""
    try:
        value = jsontext.loads(text)
    except jsontext.JsonTextError as exc:
        raise forms.ValidationError(exc.message) from None
    if not isinstance(value, dict):
        raise forms.ValidationError("must be a JSON object")
    return value


class DependencyRowForm(forms.Form):
    """One row of an activity's dependsOn: the activity it waits for and on which outcomes it runs."""

    activity = forms.ChoiceField(label="Activity", required=False)
    conditions = forms.MultipleChoiceField(
        label="Conditions",
        choices=[(c, c) for c in DEPENDENCY_CONDITIONS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def __init__(self, *args: Any, others: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["activity"]).choices = [("", "—"), *((n, n) for n in others)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("activity") and not data.get("conditions"):
            self.add_error("conditions", "tick at least one condition")
        return data


class BaseDependencyFormSet(forms.BaseFormSet):
    """The dependsOn rows of one activity; ``apply`` gives the pipeline changed."""

    def __init__(self, *args: Any, pipeline: dict[str, Any], activity: str, **kwargs: Any) -> None:
        self.pipeline, self.activity = pipeline, activity
        props = pipeline.get("properties") or {}
        self.others = [str(a.get("name")) for a in props.get("activities") or [] if a.get("name") != activity]
        if not args or args[0] is None:
            current: dict[str, Any] = next((a for a in props.get("activities") or [] if a.get("name") == activity), {})
            kwargs.setdefault(
                "initial",
                [
                    {"activity": d.get("activity"), "conditions": d.get("dependencyConditions") or []}
                    for d in current.get("dependsOn") or []
                ],
            )
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {"others": self.others}

    def apply(self) -> dict[str, Any]:
        """The pipeline with this activity's dependsOn replaced by the rows; refuses loops with a form error."""
        rows = [(f.cleaned_data["activity"], f.cleaned_data["conditions"]) for f in self.forms if f.cleaned_data]
        rows = [(name, list(conditions)) for name, conditions in rows if name]
        try:
            return set_dependencies(self.pipeline, self.activity, rows)
        except ActivityEditError as exc:
            raise forms.ValidationError(str(exc)) from None


DependencyFormSet = cast(
    type[BaseDependencyFormSet],
    forms.formset_factory(DependencyRowForm, formset=BaseDependencyFormSet, extra=1, max_num=40),
)
