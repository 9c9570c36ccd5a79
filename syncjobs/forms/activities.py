"""The form for one activity of a pipeline: name, description, policy and typeProperties."""

from __future__ import annotations

import copy
import json
from typing import Any

from django import forms

from syncjobs.engine import jsontext, limits
from syncjobs.forms.activity_settings import editable_settings, remaining, settings_from

TIMESPAN = r"^(\d+\.)?\d{1,2}:\d{2}:\d{2}$"


class ActivityForm(forms.Form):
    """Edits one top-level activity in place; ``apply`` returns the whole pipeline definition changed."""

    original = forms.CharField(widget=forms.HiddenInput)
    name = forms.CharField(label="Name", max_length=55)
    description = forms.CharField(label="Description", required=False)
    retry = forms.IntegerField(label="Retry", min_value=0, max_value=limits.RETRIES, initial=0)
    retry_interval = forms.IntegerField(  # ADF: 30 s to a day
        label="Retry interval (s)",
        min_value=limits.RETRY_INTERVAL_SECONDS[0],
        max_value=limits.RETRY_INTERVAL_SECONDS[1],
        initial=30,
    )
    timeout = forms.RegexField(label="Timeout (d.hh:mm:ss)", regex=TIMESPAN, initial="0.12:00:00")
    secure_input = forms.BooleanField(label="Secure input", required=False)
    secure_output = forms.BooleanField(label="Secure output", required=False)
    type_properties = forms.CharField(
        label="Settings (typeProperties JSON)", required=False, widget=forms.Textarea(attrs={"rows": 8})
    )
    typed = forms.BooleanField(required=False, widget=forms.HiddenInput)  # the settings fields were on the page

    def __init__(self, *args: Any, activity: dict[str, Any] | None = None, variables: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings, self.values = editable_settings(activity or {}, list(variables))
        self.activity_type = str((activity or {}).get("type", ""))
        if self.settings:
            self.fields.update(self.settings)
            self.fields["type_properties"].label = "More settings (typeProperties JSON)"
            self.order_fields([k for k in self.fields if k != "type_properties"])

    @classmethod
    def for_activity(cls, activity: dict[str, Any], prefix: str, variables: Any = ()) -> ActivityForm:
        """A form filled from an activity's JSON: its main settings as fields where they say all it holds."""
        form = cls(prefix=prefix, activity=activity, variables=variables)
        form.initial = form.initial_for(activity)
        return form

    def initial_for(self, activity: dict[str, Any]) -> dict[str, Any]:
        """The form's values for ``activity``."""
        policy = activity.get("policy") or {}
        tp = activity.get("typeProperties") or {}
        shown = remaining(self.activity_type, tp) if self.settings else tp
        initial = {
            "original": activity.get("name", ""),
            "name": activity.get("name", ""),
            "description": activity.get("description", ""),
            "retry": policy.get("retry", 0),
            "retry_interval": policy.get("retryIntervalInSeconds", 30),
            "timeout": policy.get("timeout", "0.12:00:00"),
            "secure_input": bool(policy.get("secureInput")),
            "secure_output": bool(policy.get("secureOutput")),
            "type_properties": json.dumps(shown, indent=2),
            "typed": bool(self.settings),
        }
        return {**initial, **{k: v for k, v in self.values.items() if v is not None}}

    def clean_type_properties(self) -> dict[str, Any]:
        try:
            value = jsontext.loads(self.cleaned_data["type_properties"] or "{}")
        except jsontext.JsonTextError as exc:
            raise forms.ValidationError(exc.message) from None
        if not isinstance(value, dict):
            raise forms.ValidationError("must be a JSON object")
        return value

    def apply(self, definition: dict[str, Any]) -> dict[str, Any]:
        """The pipeline with this activity changed; a rename follows into every dependsOn."""
        data = self.cleaned_data
        changed = copy.deepcopy(definition)
        activities = (changed.get("properties") or {}).get("activities") or []
        target = next((a for a in activities if a.get("name") == data["original"]), None)
        if target is None:
            raise forms.ValidationError(f"the pipeline has no activity {data['original']!r} any more")
        settings = data["type_properties"]
        if self.settings and data.get("typed"):
            settings = {**settings, **settings_from(self.activity_type, data)}
        target["name"], target["typeProperties"] = data["name"], settings
        if data["description"]:
            target["description"] = data["description"]
        else:
            target.pop("description", None)
        target["policy"] = {
            **(target.get("policy") or {}),
            "retry": data["retry"],
            "retryIntervalInSeconds": data["retry_interval"],
            "timeout": data["timeout"],
            "secureInput": data["secure_input"],
            "secureOutput": data["secure_output"],
        }
        for activity in activities:
            for dep in activity.get("dependsOn") or []:
                if dep.get("activity") == data["original"]:
                    dep["activity"] = data["name"]
        return changed
