"""The dataset form: a table of a database linked service, or a file in a store."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms

from syncjobs.adf.expression_checks import DATASET_PARAMETER_TYPES
from syncjobs.engine import connectors, jsontext
from syncjobs.models import Dataset, LinkedService

_TYPED = ("Int", "Float", "Bool", "Array", "Object")  # defaults typed as JSON; a String's is the text as typed


def _dataset_type(linked: LinkedService, *, sources: bool) -> str:
    """A database's table dataset type (``sources``), or a store's location type; "" when it is neither."""
    return {t.name: t.dataset for t in connectors.linked_service_types(sources=sources)}.get(linked.type, "")


class DatasetForm(forms.Form):
    """Name and linked service; a table (``schema.table``) for databases; location and format for files."""

    name = forms.CharField(label="Name", max_length=260)
    linked_service = forms.ModelChoiceField(
        label="Linked service", queryset=LinkedService.objects.order_by("name"), to_field_name="name"
    )
    table = forms.CharField(
        label="Table",
        required=False,
        help_text="pick from the live catalogue, or type schema.table, or an expression such as @dataset().table",
    )
    container = forms.CharField(label="Container", required=False, help_text="Azure Blob Storage only")
    folder_path = forms.CharField(label="Folder path", required=False)
    file_name = forms.CharField(label="File name", required=False, help_text="may be an expression, e.g. @concat(...)")
    file_format = forms.ChoiceField(
        label="Format", choices=(("DelimitedText", "CSV (DelimitedText)"), ("Parquet", "Parquet")), required=False
    )
    header = forms.BooleanField(label="First row as header", required=False)

    def __init__(self, *args: Any, instance: Dataset | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = _initial(instance)
        super().__init__(*args, **kwargs)
        if instance is not None:
            self.fields["name"].disabled = True
        self.declared = (instance.properties.get("parameters") or {}) if instance is not None else {}
        # A post without the parameter rows (a script's) keeps the parameters the dataset has.
        rows = self.data if self.is_bound and "p-TOTAL_FORMS" in self.data else None
        self.parameters = ParameterFormSet(rows, prefix="p", initial=_parameter_rows(self.declared))

    def is_valid(self) -> bool:
        """The fields and the parameter rows (when posted) are all valid."""
        return all([super().is_valid(), not self.parameters.is_bound or self.parameters.is_valid()])

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        linked = data.get("linked_service")
        if linked and _dataset_type(linked, sources=True) and not data.get("table"):
            self.add_error("table", "pick the table this dataset reads")
        return data

    def definition(self) -> dict[str, Any]:
        """The dataset's ADF JSON."""
        data = self.cleaned_data
        linked: LinkedService = data["linked_service"]
        props: dict[str, Any] = {"linkedServiceName": {"referenceName": linked.name, "type": "LinkedServiceReference"}}
        if _dataset_type(linked, sources=True):
            props["type"] = _dataset_type(linked, sources=True)
            props["typeProperties"] = _table(data["table"])
        else:
            location: dict[str, Any] = {"type": _dataset_type(linked, sources=False)}
            for key, field in (("container", "container"), ("folderPath", "folder_path"), ("fileName", "file_name")):
                value = data.get(field)
                if value:
                    location[key] = {"value": value, "type": "Expression"} if value.startswith("@") else value
            props["type"] = data.get("file_format") or "DelimitedText"
            props["typeProperties"] = {"location": location}
            if props["type"] == "DelimitedText":
                props["typeProperties"].update(
                    {
                        "columnDelimiter": ",",
                        "quoteChar": '"',
                        "escapeChar": "\\",
                        "firstRowAsHeader": bool(data.get("header")),
                    }
                )
        parameters = self.parameters.declarations() if self.parameters.is_bound else self.declared
        if parameters:
            props["parameters"] = parameters
        name = self.instance.name if self.instance else data["name"]
        return {"name": name, "properties": props}


def _table(text: str) -> dict[str, Any]:
    """``schema.table`` as typeProperties; an expression (``@dataset().table``) is the table's name whole."""
    if text.startswith("@"):
        return {"table": {"value": text, "type": "Expression"}}
    schema, _, table = text.rpartition(".")
    return {"table": table, **({"schema": schema} if schema else {})}


def _initial(instance: Dataset) -> dict[str, Any]:
    props = instance.properties
    tp = props.get("typeProperties") or {}
    location = tp.get("location") or {}

    def text(value: Any) -> str:
        return value.get("value", "") if isinstance(value, dict) else str(value or "")

    table = ".".join(text(p) for p in (tp.get("schema"), tp.get("table") or tp.get("tableName")) if p)
    return {
        "name": instance.name,
        "linked_service": instance.linked_service.name,
        "table": table,
        "container": text(location.get("container")),
        "folder_path": text(location.get("folderPath")),
        "file_name": text(location.get("fileName")),
        "file_format": props.get("type") if props.get("type") in ("DelimitedText", "Parquet") else "DelimitedText",
        "header": bool(tp.get("firstRowAsHeader")),
    }


class ParameterForm(forms.Form):
    """One dataset parameter: its name, type and default (JSON for the typed ones)."""

    name = forms.RegexField(
        label="Name",
        regex=r"^[A-Za-z_][A-Za-z0-9_]*$",
        max_length=120,
        required=False,
        error_messages={"invalid": "letters, digits and _ only, starting with a letter"},
    )
    type = forms.ChoiceField(label="Type", choices=[(t, t) for t in DATASET_PARAMETER_TYPES], initial="String")
    default = forms.CharField(label="Default value", required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = data.get("default", "")
        if data.get("name") and raw != "" and data.get("type") in _TYPED:
            try:
                value = jsontext.loads(raw)
            except jsontext.JsonTextError:
                value = None
            wanted = _PYTHON_TYPES[data["type"]]
            if value is None or not isinstance(value, wanted) or (data["type"] == "Int" and isinstance(value, bool)):
                self.add_error("default", f"not a {data['type']} value (e.g. {_EXAMPLES[data['type']]})")
            else:
                data["value"] = value
        elif raw != "":
            data["value"] = raw
        return data


_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "Int": int,
    "Float": (int, float),
    "Bool": bool,
    "Array": list,
    "Object": dict,
}
_EXAMPLES = {"Int": "42", "Float": "1.5", "Bool": "true", "Array": '["a", "b"]', "Object": '{"k": "v"}'}


class BaseParameterFormSet(forms.BaseFormSet):
    """The parameter rows; a row without a name is left out, and a name may appear once."""

    def clean(self) -> None:
        seen: set[str] = set()
        for form in self.forms:
            name = (form.cleaned_data or {}).get("name", "")
            if name and name.lower() in seen:
                form.add_error("name", f"{name} is declared twice")
            seen.add(name.lower())

    def declarations(self) -> dict[str, Any]:
        """ADF's ``properties.parameters``: ``{name: {"type", "defaultValue"?}}``."""
        found: dict[str, Any] = {}
        for form in self.forms:
            data = form.cleaned_data or {}
            if data.get("name"):
                spec = {"type": data["type"]}
                if "value" in data:
                    spec["defaultValue"] = data["value"]
                found[data["name"]] = spec
        return found


ParameterFormSet = cast(
    type[BaseParameterFormSet],
    forms.formset_factory(ParameterForm, formset=BaseParameterFormSet, extra=1, max_num=50),
)


def _parameter_rows(declared: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        kind = next((t for t in DATASET_PARAMETER_TYPES if t.lower() == str(spec.get("type", "")).lower()), "String")
        default = spec.get("defaultValue")
        text = "" if default is None else default if isinstance(default, str) else json.dumps(default)
        rows.append({"name": name, "type": kind, "default": text})
    return rows
