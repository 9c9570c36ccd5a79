"""One form per linked-service type, from its connector's fields (``engine/connectors.py``); secrets are write-only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings

from syncjobs.adf.findings import Finding
from syncjobs.adf.masking import reveal_secrets
from syncjobs.adf.validation import type_properties_findings
from syncjobs.engine import connectors
from syncjobs.engine.connectors import PATH_KINDS, FormField
from syncjobs.models import LinkedService
from syncjobs.secrets import MASK


def types() -> dict[str, str]:
    """Each linked-service type a form can make (every connector's), and what the Manage page calls it."""
    return {t.name: t.label for t in connectors.linked_service_types()}


def _django_field(field: FormField, stored_secret: bool) -> forms.Field:
    common: dict[str, Any] = {"label": field.label, "required": field.required, "help_text": field.help}
    if field.kind == "int":
        return forms.IntegerField(**common, initial=field.default, min_value=1, max_value=65535)
    if field.kind == "bool":
        return forms.BooleanField(**{**common, "required": False})
    if field.kind == "choice":  # values go back to the JSON with their own type (sslMode is a number)
        choices = [(str(value), label) for value, label in field.choices]
        coerce: Callable[[Any], Any] = int if isinstance(field.choices[0][0], int) else str
        return forms.TypedChoiceField(**common, choices=choices, coerce=coerce, initial=field.default)
    if field.kind == "secret":
        hint = (
            "A value is stored (never shown). Leave empty to keep it, as long as where it connects (server, "
            "port, database, user) stays the same; change those and it must be entered again."
            if stored_secret
            else field.help
        )
        return forms.CharField(
            **{**common, "required": False, "help_text": hint}, widget=forms.PasswordInput(render_value=False)
        )
    if field.kind in PATH_KINDS:
        roots = " or ".join(map(str, settings.CTPORTAL_FILE_ROOTS))
        common["help_text"] = f"{field.help}, inside {roots} (the file roots, CTPORTAL_FILE_ROOTS)"
    return forms.CharField(**common, widget=forms.TextInput(attrs={"size": 60}))


class LinkedServiceForm(forms.Form):
    """Name, description and the type's fields; ``definition()`` gives the ADF JSON to save or test."""

    name = forms.CharField(label="Name", max_length=260)
    description = forms.CharField(label="Description", required=False)

    def __init__(self, kind: str, *args: Any, instance: LinkedService | None = None, **kwargs: Any) -> None:
        self.kind, self.instance = kind, instance
        kwargs["initial"] = kwargs.get("initial") or (_initial(instance) if instance else {})
        super().__init__(*args, **kwargs)
        stored = set(instance.secrets()) if instance else set()
        self.connector = connectors.connector_for(kind)
        for field in self.connector.form if self.connector else ():
            has_secret = any(s.startswith(f"properties.typeProperties.{field.key}") for s in stored)
            self.fields[field.key] = _django_field(field, has_secret)
        if instance:
            self.fields["name"].disabled = True

    def clean(self) -> dict[str, Any]:
        """What the connector finds wrong with a filled-in field (SQL Server's ``host,port``...), at that field."""
        super().clean()
        data = self.cleaned_data
        for finding in type_properties_findings(self.kind, self._type_properties(data)):
            key = finding.path.removeprefix("properties.typeProperties.")
            if finding.is_error and key in self.fields and data.get(key) not in (None, ""):
                self.add_error(key, finding.message)
        return data

    def _type_properties(self, data: dict[str, Any]) -> dict[str, Any]:
        """typeProperties from the form's values; an empty secret field sends the mask (keep what is stored)."""
        tp: dict[str, Any] = {}
        for field in self.connector.form if self.connector else ():
            value = data.get(field.key)
            if field.kind == "secret":
                if value or self.instance is not None:
                    tp[field.key] = {"type": "SecureString", "value": value or MASK}
            elif value not in (None, ""):
                tp[field.key] = value
        return tp

    def definition(self) -> dict[str, Any]:
        """The ADF JSON; an empty secret field keeps the stored secret (sent as the mask)."""
        data = self.cleaned_data
        name = self.instance.name if self.instance else data.get("name") or "Untitled"
        props: dict[str, Any] = {"type": self.kind, "typeProperties": self._type_properties(data)}
        if data.get("description"):
            props["description"] = data["description"]
        return {"name": name, "properties": props}

    def revealed_definition(self) -> tuple[dict[str, Any], list[Finding]]:
        """The definition with stored secrets in place of masks (for Test connection before saving), and
        warnings: a stored secret is not used when the target it was entered for changed."""
        masked, secrets, warnings = (self.instance or LinkedService()).split_secrets(self.definition())
        return reveal_secrets(masked, secrets), warnings


def _initial(instance: LinkedService) -> dict[str, Any]:
    """Form values from the stored (masked) JSON; secret fields stay empty."""
    props = instance.properties
    tp = props.get("typeProperties") or {}
    values = {"name": instance.name, "description": props.get("description", "")}
    for key, value in tp.items():
        if isinstance(value, dict):
            continue  # SecureString: never put back into a page
        values[key] = value
    return values
