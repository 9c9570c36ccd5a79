"""Add tables: the wizard's settings (tables, sink, folder, format, schedule, schema drift policy) and the
change-tracking choice."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from syncjobs.engine import connectors
from syncjobs.engine.errors import EngineError
from syncjobs.engine.schema_drift import DEFAULT_POLICY
from syncjobs.engine.types import TableName
from syncjobs.models import LinkedService
from syncjobs.services.table_setup import FORMATS, TableSetupError, parse_folder, recurrence_for

SCHEDULES = [("every", "Every N minutes or hours"), ("recurrence", "An ADF recurrence (JSON)"), ("none", "No schedule")]
UNITS = [("Minute", "minutes"), ("Hour", "hours")]
SCHEMA_DRIFT = [
    ("continue", "continue (new files carry the new columns)"),
    ("pause", "pause (the table stops until an Editor accepts the change)"),
    ("resync", "re-sync (a full copy in a new generation)"),
]
DEFAULT_FOLDER = "sync/{schema}.{table}"


def linked_services(*, sources: bool) -> list[tuple[str, str]]:
    """``(name, "name (type)")`` of every source (or sink) linked service, by name."""
    types = [t.name for t in connectors.linked_service_types(sources=sources)]
    rows = LinkedService.objects.filter(type__in=types).order_by("name").values_list("name", "type")
    labels = {t.name: t.label for t in connectors.linked_service_types()}
    return [(name, f"{name} ({labels.get(kind, kind)})") for name, kind in rows]


class TableListField(forms.Field):
    """The ticked tables: one ``tables`` value per table (checkboxes on the grid, hidden inputs after)."""

    widget = forms.MultipleHiddenInput

    def clean(self, value: Any) -> list[str]:
        names = [str(v).strip() for v in (value or []) if str(v).strip()]
        if not names:
            raise forms.ValidationError("tick at least one table")
        for name in names:
            try:
                TableName.parse(name)
            except (ValueError, EngineError) as exc:
                raise forms.ValidationError(f"{name!r} is not a table name: {exc}") from None
        return list(dict.fromkeys(names))


class AddTablesForm(forms.Form):
    """What the wizard needs besides the source: tables, where they go, in which format, and when."""

    source = forms.ChoiceField(label="Source")
    tables = TableListField(label="Tables")
    sink = forms.ChoiceField(label="Sink (where files go)")
    folder = forms.CharField(
        label="Folder",
        initial=DEFAULT_FOLDER,
        max_length=400,
        help_text="{schema} and {table} are replaced per table; a blob store's folder starts with its container",
    )
    format = forms.ChoiceField(label="Format", choices=list(FORMATS.items()), initial="csv", widget=forms.RadioSelect)
    schedule = forms.ChoiceField(label="Schedule", choices=SCHEDULES, initial="every", widget=forms.RadioSelect)
    every = forms.IntegerField(label="Every", min_value=1, max_value=1000, initial=15, required=False)
    unit = forms.ChoiceField(label="Unit", choices=UNITS, initial="Minute", required=False)
    recurrence = forms.CharField(
        label="Recurrence (ADF JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text='e.g. {"frequency": "Day", "interval": 1, "schedule": {"hours": [2], "minutes": [0]}}',
    )
    schema_drift = forms.ChoiceField(
        label="When a table's columns change",
        choices=SCHEMA_DRIFT,
        initial=DEFAULT_POLICY,
        required=False,  # absent: continue, the default
        widget=forms.RadioSelect,
    )
    name = forms.CharField(
        label="Pipeline name", required=False, max_length=60, help_text="empty: Sync<source>, numbered if taken"
    )

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.fields["source"].choices = linked_services(sources=True)  # type: ignore[attr-defined]
        self.fields["sink"].choices = linked_services(sources=False)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        """The folder fits the sink; the schedule becomes one recurrence (its start fixed from here on)."""
        data = super().clean() or {}
        sink = LinkedService.objects.filter(name=data.get("sink") or "").first()
        if sink is not None and data.get("folder"):
            kind = connectors.linked_service_type(sink.type)
            try:
                parse_folder(data["folder"], has_container=bool(kind and kind.has_container))
            except TableSetupError as exc:
                self.add_error("folder", "; ".join(p.removeprefix("folder: ") for p in exc.problems))
        data["resolved"] = self._recurrence(data)
        return data

    def _recurrence(self, data: dict[str, Any]) -> dict[str, Any] | None:
        mode = data.get("schedule")
        if mode == "every":
            if not data.get("every"):
                self.add_error("every", "how often: a whole number from 1")
                return None
            schedule: dict[str, Any] | None = {"frequency": data.get("unit") or "Minute", "interval": data["every"]}
        elif mode == "recurrence":
            try:
                schedule = json.loads(data.get("recurrence") or "")
            except ValueError as exc:
                self.add_error("recurrence", f"not JSON: {exc}")
                return None
        else:
            return None
        try:
            return recurrence_for(schedule)
        except TableSetupError as exc:
            self.add_error("recurrence" if mode == "recurrence" else "every", "; ".join(exc.problems))
            return None

    def carried(self) -> list[tuple[str, str]]:
        """The cleaned choices as hidden ``(name, value)`` pairs for the next step (the recurrence fixed)."""
        data = self.cleaned_data
        keys = ("source", "sink", "folder", "format", "schema_drift", "name")
        pairs = [(key, str(data.get(key) or "")) for key in keys]
        pairs += [("tables", name) for name in data["tables"]]
        if data.get("resolved") is not None:
            pairs += [("schedule", "recurrence"), ("recurrence", json.dumps(data["resolved"]))]
        else:
            pairs.append(("schedule", "none"))
        return pairs

    def schema_drift_label(self) -> str:
        """The chosen schema drift policy in words (the review shows it)."""
        return dict(SCHEMA_DRIFT)[self.cleaned_data.get("schema_drift") or DEFAULT_POLICY]

    def request(self) -> dict[str, Any]:
        """The keyword arguments of ``table_setup.add_tables`` (and of its preview)."""
        data = self.cleaned_data
        return {
            "source": data["source"],
            "tables": data["tables"],
            "sink": data["sink"],
            "folder": data["folder"],
            "format": data["format"],
            "schedule": data.get("resolved"),
            "name": data.get("name") or None,
            "schema_drift": data.get("schema_drift") or DEFAULT_POLICY,
        }
