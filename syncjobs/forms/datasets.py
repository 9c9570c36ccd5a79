"""The dataset form: a table of a database linked service, or a file in a store."""

from __future__ import annotations

from typing import Any

from django import forms

from syncjobs.engine import connectors
from syncjobs.models import Dataset, LinkedService


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
        label="Table", required=False, help_text="pick from the live catalogue, or type schema.table"
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
            schema, _, table = data["table"].rpartition(".")
            props["type"] = _dataset_type(linked, sources=True)
            props["typeProperties"] = {"table": table, **({"schema": schema} if schema else {})}
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
        name = self.instance.name if self.instance else data["name"]
        return {"name": name, "properties": props}


def _initial(instance: Dataset) -> dict[str, Any]:
    props = instance.properties
    tp = props.get("typeProperties") or {}
    location = tp.get("location") or {}

    def text(value: Any) -> str:
        return value.get("value", "") if isinstance(value, dict) else str(value or "")

    table = ".".join(p for p in (tp.get("schema"), tp.get("table") or tp.get("tableName")) if p)
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
