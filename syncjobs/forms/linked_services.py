"""One form per linked-service type, building ADF's typeProperties; secrets are write-only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings

from syncjobs.adf.findings import Finding
from syncjobs.adf.masking import reveal_secrets
from syncjobs.engine.bindings import sqlserver_address
from syncjobs.engine.errors import TerminalError
from syncjobs.models import LinkedService
from syncjobs.secrets import MASK


@dataclass(frozen=True)
class Field:
    """A typeProperties key as a form field."""

    key: str
    label: str
    kind: str = "text"  # text, int, bool, secret, choice, path (a file or folder inside the file roots)
    help: str = ""
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    default: Any = None


_SQL = (
    Field("server", "Server", help="host name or address; 'host,port' also works"),
    Field("port", "Port", "int", default=1433),
    Field("database", "Database"),
    Field("authenticationType", "Authentication", "choice", choices=(("SQL", "SQL authentication"),), default="SQL"),
    Field("userName", "User name"),
    Field("password", "Password", "secret"),
    Field(
        "encrypt",
        "Encrypt",
        "choice",
        choices=(("mandatory", "mandatory"), ("optional", "optional"), ("strict", "strict")),
        default="mandatory",
    ),
    Field("trustServerCertificate", "Trust server certificate", "bool"),
    Field("connectionString", "Or: connection string", help="ODBC or ADO.NET; replaces the fields above when set"),
)
_SQL_KINDS = ("SqlServer", "AzureSqlDatabase")
TYPES: dict[str, tuple[str, tuple[Field, ...]]] = {
    "SqlServer": ("SQL Server", _SQL),
    "AzureSqlDatabase": ("Azure SQL Database", _SQL),
    "PostgreSqlV2": (
        "PostgreSQL",
        (
            Field("server", "Server", required=True),
            Field("port", "Port", "int", default=5432),
            Field("database", "Database", required=True),
            Field("username", "User name", required=True),
            Field("password", "Password", "secret"),
            Field(
                "sslMode",
                "SSL mode",
                "choice",
                choices=tuple(
                    (str(i), n)
                    for i, n in enumerate(("disable", "allow", "prefer", "require", "verify-ca", "verify-full"))
                ),
                default="2",
            ),
        ),
    ),
    "Sqlite": (
        "SQLite",
        (Field("database", "Database file", "path", required=True, help="absolute path of the .sqlite3 file"),),
    ),
    "AzureBlobStorage": (
        "Azure Blob Storage",
        (
            Field(
                "connectionString",
                "Connection string",
                help="account key or SAS; 'UseDevelopmentStorage=true' is Azurite",
            ),
            Field("sasUri", "Or: SAS URI", help="an account or container URL with a SAS token"),
        ),
    ),
    "FileServer": (
        "Folder (file system)",
        (Field("host", "Folder", "path", required=True, help="absolute path on the worker"),),
    ),
}


def _django_field(field: Field, stored_secret: bool) -> forms.Field:
    common = {"label": field.label, "required": field.required, "help_text": field.help}
    if field.kind == "int":
        return forms.IntegerField(**common, initial=field.default, min_value=1, max_value=65535)
    if field.kind == "bool":
        return forms.BooleanField(**{**common, "required": False})
    if field.kind == "choice":
        return forms.ChoiceField(**common, choices=field.choices, initial=field.default)
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
    if field.kind == "path":
        roots = " or ".join(map(str, settings.CTPORTAL_FILE_ROOTS))
        common["help_text"] = f"{field.help}, inside {roots} (the file roots, CTPORTAL_FILE_ROOTS)"
    return forms.CharField(**common, widget=forms.TextInput(attrs={"size": 60}))


class LinkedServiceForm(forms.Form):
    """Name, description and the type's fields; ``definition()`` gives the ADF JSON to save or test."""

    name = forms.CharField(label="Name", max_length=260)
    description = forms.CharField(label="Description", required=False)

    def __init__(self, kind: str, *args: Any, instance: LinkedService | None = None, **kwargs: Any) -> None:
        self.kind, self.instance = kind, instance
        initial = kwargs.pop("initial", None) or (_initial(instance) if instance else {})
        super().__init__(*args, initial=initial, **kwargs)
        stored = set(instance.secrets()) if instance else set()
        for field in TYPES[kind][1]:
            has_secret = any(s.startswith(f"properties.typeProperties.{field.key}") for s in stored)
            self.fields[field.key] = _django_field(field, has_secret)
        if instance:
            self.fields["name"].disabled = True

    def clean(self) -> dict[str, Any]:
        """SQL Server's ``host,port``: the port after the comma must be a port number."""
        data = super().clean()
        if self.kind in _SQL_KINDS and data.get("server"):
            try:
                sqlserver_address(data["server"], data.get("port"))
            except TerminalError as exc:
                self.add_error("server", exc.message.partition(": ")[2])
        return data

    def definition(self) -> dict[str, Any]:
        """The ADF JSON; an empty secret field keeps the stored secret (sent as the mask)."""
        data = self.cleaned_data
        tp: dict[str, Any] = {}
        for field in TYPES[self.kind][1]:
            value = data.get(field.key)
            if field.kind == "secret":
                if value or self.instance is not None:
                    tp[field.key] = {"type": "SecureString", "value": value or MASK}
            elif field.kind == "choice" and field.key == "sslMode":
                tp[field.key] = int(value)
            elif value not in (None, ""):
                tp[field.key] = value
        name = self.instance.name if self.instance else data.get("name") or "Untitled"
        props: dict[str, Any] = {"type": self.kind, "typeProperties": tp}
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
        values[key] = str(value) if key == "sslMode" else value
    return values
