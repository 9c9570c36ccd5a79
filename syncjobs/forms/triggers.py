"""The schedule trigger form: name, the pipelines it starts with typed parameters, and its recurrence (UTC).

``definition()`` builds ordinary ADF ``ScheduleTrigger`` JSON; validation findings come back onto the
field they concern (``show_findings``), e.g. ``recurrence.schedule.hours[0]`` onto *At hours*. A trigger
starting the same pipeline twice keeps only the first entry here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.forms.boundfield import BoundField, BoundWidget
from django.utils import timezone

from syncjobs.adf.findings import Finding
from syncjobs.adf.schedules import FREQUENCIES, MAX_INTERVAL, WEEKDAYS
from syncjobs.adf.secure_parameters import is_secure
from syncjobs.engine import jsontext
from syncjobs.engine.limits import INTEGER_RANGE
from syncjobs.models import Pipeline, Trigger
from syncjobs.secrets import MASK
from syncjobs.timestamps import TimestampError, parse_timestamp

RECURRENCE = "properties.typeProperties.recurrence"
_RECURRENCE_FIELDS = {
    "frequency": "frequency",
    "interval": "interval",
    "startTime": "start_time",
    "endTime": "end_time",
    "timeZone": "start_time",
}
_SCHEDULE_FIELDS = {"minutes": "minutes", "hours": "hours", "weekDays": "week_days", "monthDays": "month_days"}
_PIPELINE_PATH = re.compile(r"^properties\.pipelines\[(\d+)\](?:\.parameters\.(.+))?")
_MODELLED = ("type", "typeProperties", "pipelines", "description", "runtimeState")
_TIME = {"type": "datetime-local", "step": "1"}


@dataclass(frozen=True)
class PipelineBlock:
    """One pipeline on the form: its checkbox and the fields of its declared parameters."""

    name: str
    checkbox: BoundWidget
    fields: list[BoundField]


class JsonValueField(forms.CharField):
    """An Array or Object parameter, typed as JSON."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        self.kind = kind
        super().__init__(widget=forms.Textarea(attrs={"rows": 2, "cols": 40}), **kwargs)

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if not text:
            return None
        try:
            parsed = jsontext.loads(text)
        except jsontext.JsonTextError as exc:
            raise forms.ValidationError(f"not JSON: {exc.message}") from None
        if not isinstance(parsed, list if self.kind == "array" else dict):
            example = "[1, 2]" if self.kind == "array" else '{"key": "value"}'
            raise forms.ValidationError(f"must be a JSON {self.kind}, e.g. {example}")
        return parsed


class IntegerListField(forms.CharField):
    """Whole numbers separated by commas (their range is ADF's rule, checked with the trigger)."""

    def clean(self, value: Any) -> list[int]:
        text = super().clean(value) or ""
        numbers = []
        for token in re.split(r"[,\s]+", text.strip()):
            if not token:
                continue
            if not re.fullmatch(r"-?\d{1,6}", token):
                raise forms.ValidationError(f"{token[:20]!r} is not a whole number")
            numbers.append(int(token))
        return list(dict.fromkeys(numbers))


class TimeField(forms.CharField):
    """A date and time in UTC (``2026-01-31T06:00``), as an aware datetime."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(widget=forms.DateTimeInput(attrs=_TIME), **kwargs)

    def clean(self, value: Any) -> datetime | None:
        text = super().clean(value)
        if not text:
            return None
        try:
            return parse_timestamp(text)
        except TimestampError as exc:
            raise forms.ValidationError(str(exc)) from None


class ScheduleTriggerForm(forms.Form):
    """A ``ScheduleTrigger``; ``definition()`` gives its ADF JSON."""

    name = forms.CharField(label="Name", max_length=260)
    description = forms.CharField(label="Description", required=False)
    frequency = forms.ChoiceField(label="Every", choices=[(f, f) for f in FREQUENCIES], initial="Hour")
    interval = forms.IntegerField(label="Interval", min_value=1, max_value=MAX_INTERVAL, initial=1)
    start_time = TimeField(label="Start time (UTC)")
    end_time = TimeField(label="End time (UTC)", required=False, help_text="empty: no end")
    hours = IntegerListField(label="At hours", required=False, help_text="0-23, comma-separated (Day, Week or Month)")
    minutes = IntegerListField(
        label="At minutes", required=False, help_text="0-59, comma-separated (Hour, Day, Week or Month)"
    )
    week_days = forms.MultipleChoiceField(
        label="On week days",
        required=False,
        choices=[(d, d) for d in WEEKDAYS],
        widget=forms.CheckboxSelectMultiple,
        help_text="Week only",
    )
    month_days = IntegerListField(
        label="On month days", required=False, help_text="1-31, or -1 for the last day, -2 the one before (Month)"
    )
    pipelines = forms.MultipleChoiceField(
        label="Pipelines it starts",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "choose at least one pipeline"},
    )

    def __init__(self, data: Any = None, *, instance: Trigger | None = None) -> None:
        self.instance = instance
        self._entries = _entries(instance)
        super().__init__(data, initial=_initial(instance, self._entries))
        self._parameters: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
        names = []
        for pipeline in Pipeline.objects.order_by("name"):
            names.append(pipeline.name)
            self._add_parameters(pipeline)
        known = {n.lower() for n in names}
        names += [name for name in self._entries.values() if name.lower() not in known]  # gone: shown to uncheck
        self.fields["pipelines"].choices = [(n, n) for n in names]  # type: ignore[attr-defined]
        self._emitted: list[str] = []
        if instance is not None:
            self.fields["name"].disabled = True

    def _add_parameters(self, pipeline: Pipeline) -> None:
        entry = self._entry(pipeline.name)
        given = entry[1] if entry else {}
        stored = self._stored(entry[0]) if entry else {}
        fields = []
        for name, spec in (pipeline.properties.get("parameters") or {}).items():
            spec = spec if isinstance(spec, dict) else {}
            key = f"p{pipeline.pk}_{hashlib.sha256(name.lower().encode()).hexdigest()[:10]}"
            has_secret = is_secure(spec) and _lookup(stored, name) not in (None, MASK)
            self.fields[key] = _parameter_field(name, spec, has_secret)
            if not is_secure(spec):
                self.initial[key] = _shown(_lookup(given, name), str(spec.get("type", "String")))
            fields.append((name, key, spec))
        self._parameters[pipeline.name.lower()] = fields

    def _entry(self, pipeline: str) -> tuple[int, dict[str, Any]] | None:
        for index, name in self._entries.items():
            if name.lower() == pipeline.lower():
                entry = self.instance.properties["pipelines"][index] if self.instance else {}
                parameters = entry.get("parameters")
                return index, parameters if isinstance(parameters, dict) else {}
        return None

    def _stored(self, index: int) -> dict[str, Any]:
        """The values the trigger passes its ``index``-th pipeline, secrets in place (never shown)."""
        try:
            return self.instance.pipeline_parameters(index) if self.instance else {}
        except (TypeError, ValueError):  # parameters stored as something else than an object
            return {}

    @property
    def general_fields(self) -> list[BoundField]:
        """Name and description."""
        return [self["name"], self["description"]]

    @property
    def recurrence_fields(self) -> list[BoundField]:
        """Frequency, interval, start and end."""
        return [self[n] for n in ("frequency", "interval", "start_time", "end_time")]

    @property
    def schedule_fields(self) -> list[BoundField]:
        """Hours, minutes, week days, month days."""
        return [self[n] for n in ("hours", "minutes", "week_days", "month_days")]

    @property
    def pipeline_blocks(self) -> list[PipelineBlock]:
        """Each pipeline with its checkbox and parameter fields, in name order."""
        boxes = {widget.data["value"]: widget for widget in self["pipelines"]}
        return [
            PipelineBlock(name, boxes[name], [self[key] for _, key, _ in self._parameters.get(name.lower(), [])])
            for name, _ in self.fields["pipelines"].choices  # type: ignore[attr-defined]
        ]

    def clean(self) -> dict[str, Any]:
        """A parameter without a default needs a value from the trigger."""
        data = super().clean() or {}
        for pipeline in data.get("pipelines") or []:
            for name, key, spec in self._parameters.get(pipeline.lower(), []):
                stored = self._secret(pipeline, name) if is_secure(spec) else None
                if data.get(key) in (None, "") and "defaultValue" not in spec and stored is None:
                    self.add_error(key, "required (the pipeline has no default value)")
        return data

    def definition(self) -> dict[str, Any]:
        """The trigger's ADF JSON (properties it does not show, such as annotations, kept)."""
        data = self.cleaned_data
        recurrence: dict[str, Any] = {
            "frequency": data["frequency"],
            "interval": data["interval"],
            "startTime": _iso(data["start_time"]),
            "timeZone": "UTC",
        }
        if data.get("end_time"):
            recurrence["endTime"] = _iso(data["end_time"])
        days = [d for d in WEEKDAYS if d in (data.get("week_days") or [])]
        lists = {"minutes": data.get("minutes"), "hours": data.get("hours"), "weekDays": days}
        schedule = {key: value for key, value in {**lists, "monthDays": data.get("month_days")}.items() if value}
        if schedule:
            recurrence["schedule"] = schedule
        kept = {k: v for k, v in (self.instance.properties if self.instance else {}).items() if k not in _MODELLED}
        props: dict[str, Any] = {**copy.deepcopy(kept), "type": "ScheduleTrigger"}
        if data.get("description"):
            props["description"] = data["description"]
        props["typeProperties"] = {"recurrence": recurrence}
        props["pipelines"] = self._pipeline_entries()
        return {"name": self.instance.name if self.instance else data["name"], "properties": props}

    def _pipeline_entries(self) -> list[dict[str, Any]]:
        chosen = self.cleaned_data.get("pipelines") or []
        earlier = {name.lower(): index for index, name in self._entries.items()}
        self._emitted = sorted(chosen, key=lambda n: (earlier.get(n.lower(), len(earlier)), chosen.index(n)))
        entries = []
        for name in self._emitted:
            entry: dict[str, Any] = {"pipelineReference": {"referenceName": name, "type": "PipelineReference"}}
            values = self._values(name)
            if values:
                entry["parameters"] = values
            entries.append(entry)
        return entries

    def _values(self, pipeline: str) -> dict[str, Any]:
        """The values given; a SecureString left empty keeps the stored value, read back so that it follows
        its pipeline when the list changes (the trigger stores them by position)."""
        values = {}
        for name, key, spec in self._parameters.get(pipeline.lower(), []):
            value = self.cleaned_data.get(key)
            if is_secure(spec) and value in (None, ""):
                value = self._secret(pipeline, name)
            if value is not None and value != "":
                values[name] = value
        return values

    def _secret(self, pipeline: str, name: str) -> str | None:
        entry = self._entry(pipeline)
        if self.instance is None or entry is None:
            return None
        value = _lookup(self._stored(entry[0]), name)
        return None if value in (None, MASK) else str(value)

    def show_findings(self, findings: list[Finding]) -> None:
        """Put validation findings on the fields they concern (the rest above the form)."""
        for finding in findings:
            key = self._field_for(finding.path)
            self.add_error(key, finding.message if key else str(finding))

    def _field_for(self, path: str) -> str | None:
        if path in ("name", "properties.description"):
            return path.rpartition(".")[2]
        if path.startswith(RECURRENCE):
            parts = [p for p in re.split(r"[.\[\]]", path[len(RECURRENCE) :]) if p]
            if parts[:1] == ["schedule"]:
                return _SCHEDULE_FIELDS.get(parts[1] if len(parts) > 1 else "", "frequency")
            return _RECURRENCE_FIELDS.get(parts[0] if parts else "", "frequency")
        match = _PIPELINE_PATH.match(path)
        if match is None:
            return None
        index, parameter = int(match.group(1)), match.group(2)
        if parameter and index < len(self._emitted):
            for name, key, _ in self._parameters.get(self._emitted[index].lower(), []):
                if name.lower() == parameter.lower():
                    return key
        return "pipelines"


def _parameter_field(name: str, spec: dict[str, Any], has_secret: bool) -> forms.Field:
    """A typed input for one declared pipeline parameter; empty means the pipeline's default."""
    kind = str(spec.get("type", "String"))
    common: dict[str, Any] = {"label": f"{name} ({kind})", "required": False, "help_text": _hint(spec, has_secret)}
    lowered = kind.lower()
    if lowered == "int":
        return forms.IntegerField(**common, min_value=INTEGER_RANGE[0], max_value=INTEGER_RANGE[1])
    if lowered == "float":
        return forms.FloatField(**common)
    if lowered == "bool":
        choices = [("", "(default)" if "defaultValue" in spec else "—"), ("true", "true"), ("false", "false")]
        return forms.TypedChoiceField(**common, choices=choices, coerce=lambda v: v == "true", empty_value=None)
    if lowered in ("array", "object"):
        return JsonValueField(lowered, **common)
    if is_secure(spec):
        return forms.CharField(**common, strip=False, widget=forms.PasswordInput(render_value=False))
    return forms.CharField(**common, widget=forms.TextInput(attrs={"size": 40}))


def _hint(spec: dict[str, Any], has_secret: bool) -> str:
    if has_secret:
        return "a value is stored (never shown); leave empty to keep it"
    if "defaultValue" not in spec:
        hint = "required: the pipeline has no default"
    elif is_secure(spec):
        hint = "empty: the pipeline's default (hidden)"
    else:
        hint = f"empty: the pipeline's default, {json.dumps(spec['defaultValue'], ensure_ascii=False)[:80]}"
    if str(spec.get("type", "String")).lower() == "string":
        hint += "; @trigger().scheduledTime gives the fire time"
    return hint


def _entries(instance: Trigger | None) -> dict[int, str]:
    """Index -> pipeline name of the trigger's entries, the first of each pipeline only."""
    entries = (instance.properties.get("pipelines") if instance else None) or []
    found: dict[int, str] = {}
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        name = ((entry or {}).get("pipelineReference") or {}).get("referenceName") if isinstance(entry, dict) else None
        if isinstance(name, str) and name.lower() not in {n.lower() for n in found.values()}:
            found[index] = name
    return found


def _initial(instance: Trigger | None, entries: dict[int, str]) -> dict[str, Any]:
    if instance is None:
        return {"start_time": _local(_iso(timezone.now().replace(second=0))), "frequency": "Hour", "interval": 1}
    props = instance.properties
    recurrence = (props.get("typeProperties") or {}).get("recurrence") or {}
    schedule = recurrence["schedule"] if isinstance(recurrence.get("schedule"), dict) else {}
    return {
        "name": instance.name,
        "description": props.get("description", ""),
        "frequency": recurrence.get("frequency"),
        "interval": recurrence.get("interval", 1),
        "start_time": _local(recurrence.get("startTime")),
        "end_time": _local(recurrence.get("endTime")),
        **{f: _listed(schedule.get(k)) for k, f in _SCHEDULE_FIELDS.items() if f != "week_days"},
        "week_days": schedule.get("weekDays") if isinstance(schedule.get("weekDays"), list) else [],
        "pipelines": list(entries.values()),
    }


def _listed(value: Any) -> str:
    """A stored schedule list as its input shows it (as written when it is no list: stored before validation)."""
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value or "")


def _lookup(values: dict[str, Any], name: str) -> Any:
    """``values[name]``, names ignoring case (as ADF's)."""
    return next((v for k, v in values.items() if k.lower() == name.lower()), None)


def _shown(value: Any, kind: str) -> Any:
    """A stored parameter value as its input shows it."""
    if isinstance(value, dict) and value.get("type") == "Expression":
        return value.get("value")
    if kind.lower() == "bool" and isinstance(value, bool):
        return "true" if value else "false"
    if kind.lower() in ("array", "object") and value is not None and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return value


def _local(text: Any) -> str:
    """An ADF time as the UTC ``datetime-local`` input shows it (as written when it does not parse)."""
    if not isinstance(text, str) or not text:
        return ""
    try:
        moment = parse_timestamp(text)
    except TimestampError:
        return text
    return moment.replace(tzinfo=None).isoformat(timespec="seconds" if moment.second else "minutes")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
