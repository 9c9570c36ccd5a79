"""The connector table: every source and sink, and the ADF type names each one answers to.

A connector is one module under ``sources/`` or ``sinks/`` whose ``<Name>Source`` or ``<Name>Sink``
class is a :class:`Connector`. As class attributes it declares its linked-service types (each with the
dataset, Copy source and legacy names that go with it), its form, its secret fields, its capabilities
(``supports_*``) and, for a database, its :class:`~syncjobs.engine.dialects.Dialect`; and it builds
itself from a linked service's typeProperties. :data:`REGISTRY` lists the connectors, one line each.

They are imported the first time the table is read, not when the engine is: each driver is imported
in its own connector's module only. Bindings, validation, the forms, import, the catalogue, scripts
and the file roots read this table; no other module names a linked-service or dataset type.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Protocol, Self

from syncjobs.engine.dialects import Dialect
from syncjobs.engine.errors import TerminalError

REGISTRY = (
    "syncjobs.engine.sources.sqlserver:SqlServerSource",
    "syncjobs.engine.sources.postgres:PostgresSource",
    "syncjobs.engine.sources.sqlite:SqliteSource",
    "syncjobs.engine.sinks.azureblob:AzureBlobSink",
    "syncjobs.engine.sinks.folder:FolderSink",
)
PATH_KINDS = ("file", "folder")


@dataclass(frozen=True)
class FormField:
    """A typeProperties key as a field of the linked service's form (the portal makes the Django field)."""

    key: str
    label: str
    kind: str = "text"
    """text, int (a port), bool, secret (write-only), choice, or file / folder: a path inside the file roots."""
    help: str = ""
    required: bool = False
    choices: tuple[tuple[Any, str], ...] = ()
    """(value as stored in the JSON, label): an int value is stored as a number."""
    default: Any = None


@dataclass(frozen=True)
class LinkedServiceType:
    """One ADF linked-service type a connector answers to, and the ADF types that go with it."""

    name: str
    label: str
    """What the Manage page calls it."""
    dataset: str
    """A source's table dataset type (``SqlServerTable``); a sink's dataset location type (``FileServerLocation``)."""
    copy_source: str = ""
    """The Copy and Lookup source type that reads a source's dataset (``SqlServerSource``)."""
    write_settings: str = ""
    """A sink's Copy ``storeSettings`` type (``FileServerWriteSettings``)."""
    has_container: bool = False
    """A sink's locations name a container (required) before the folder: ``container/folder/name``."""
    legacy: tuple[str, ...] = ()
    """Older names of this linked-service type; import renames them."""
    legacy_datasets: tuple[str, ...] = ()
    """Older dataset types of it; import renames a table dataset, and rebuilds a file dataset on this location."""
    legacy_copy: tuple[str, ...] = ()
    """Older Copy source or sink types of it (``SqlSource``, ``BlobSink``); import retypes them."""


class FieldCheck(Protocol):
    """Findings about one linked service's typeProperties, each at its key (validation implements it)."""

    def text(self, key: str, *, required: bool = True) -> str | None:
        """A non-empty string at ``key`` (None when absent or an expression); "required" when missing."""
        ...

    def integer(self, key: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
        """An optional integer at ``key`` within the bounds (None when absent or an expression)."""
        ...

    def choice(self, key: str, allowed: tuple[str, ...]) -> None:
        """``key``, when given, is one of ``allowed``."""
        ...

    def add(self, key: str, message: str, *, warning: bool = False) -> None:
        """Record a finding at ``key``: an error, or with ``warning`` a warning that still saves."""
        ...


class Connector:
    """What a source or sink class declares about itself; every class in :data:`REGISTRY` is one."""

    is_source: ClassVar[bool]
    """True for a database rows are read from, False for a store files are written to."""
    linked_service_types: ClassVar[tuple[LinkedServiceType, ...]]
    """The ADF linked-service types it answers to; forms write the first."""
    form: ClassVar[tuple[FormField, ...]] = ()
    """The typeProperties a person fills in on the Manage page."""
    dialect: ClassVar[Dialect | None] = None
    """A database's SQL spelling (None for a sink)."""

    @classmethod
    def from_type_properties(cls, tp: dict[str, Any], *, name: str = "?", quick: bool = False) -> Self:
        """Build it from a linked service's typeProperties (secrets revealed, expressions evaluated).

        ``name`` names the linked service in errors; ``quick`` (Test connection) gives up in seconds
        instead of retrying. Raises ``TerminalError`` (``bad_linked_service``) naming the field at fault.
        """
        raise NotImplementedError

    @classmethod
    def check_type_properties(cls, tp: dict[str, Any], check: FieldCheck) -> None:
        """Say what is wrong with typeProperties before they are saved (validation and the form ask)."""

    @classmethod
    def where(cls, tp: dict[str, Any]) -> str:
        """Where a linked service points, for lists: its server (and database), host or file, never a secret."""
        for key in ("server", "host", "database"):
            if tp.get(key) and not isinstance(tp[key], dict):
                extra = f"/{tp['database']}" if key == "server" and tp.get("database") else ""
                return f"{tp[key]}{extra}"
        return "(connection string)" if tp.get("connectionString") else ""

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        """The typeProperties keys that hold a secret (stored encrypted, never shown)."""
        return tuple(f.key for f in cls.form if f.kind == "secret")

    @classmethod
    def path_fields(cls) -> tuple[FormField, ...]:
        """The fields naming a file or folder on the worker (kept inside the file roots)."""
        return tuple(f for f in cls.form if f.kind in PATH_KINDS)


@cache
def connectors() -> tuple[type[Connector], ...]:
    """Every registered connector class, in :data:`REGISTRY` order (imported on the first call)."""
    loaded = []
    for path in REGISTRY:
        module, _, name = path.partition(":")
        loaded.append(getattr(importlib.import_module(module), name))
    return tuple(loaded)


@cache
def _by_name() -> dict[str, tuple[type[Connector], LinkedServiceType]]:
    return {t.name: (c, t) for c in connectors() for t in c.linked_service_types}


def connector_for(type_name: str) -> type[Connector] | None:
    """The connector of a linked-service type, or None when no connector answers to it."""
    found = _by_name().get(type_name)
    return found[0] if found else None


def linked_service_type(type_name: str) -> LinkedServiceType | None:
    """What the table knows about a linked-service type, or None."""
    found = _by_name().get(type_name)
    return found[1] if found else None


def linked_service_types(*, sources: bool | None = None) -> tuple[LinkedServiceType, ...]:
    """Every linked-service type in table order; only sources' (or only sinks') with ``sources``."""
    return tuple(t for c, t in _by_name().values() if sources is None or c.is_source == sources)


def table_datasets() -> dict[str, tuple[str, ...]]:
    """Each table dataset type, and the linked-service types it may name (those of its connector)."""
    found: dict[str, tuple[str, ...]] = {}
    for connector in connectors():
        names = tuple(t.name for t in connector.linked_service_types)
        found.update({t.dataset: names for t in connector.linked_service_types if connector.is_source})
    return found


def locations() -> dict[str, str]:
    """Each dataset location type, and the linked-service type it belongs to."""
    return {t.dataset: t.name for t in linked_service_types(sources=False)}


def copy_source_types() -> tuple[str, ...]:
    """The Copy and Lookup source types, in table order."""
    return tuple(dict.fromkeys(t.copy_source for t in linked_service_types(sources=True)))


def secret_value(value: Any) -> str:
    """A revealed secret's text: a plain string or ``{"type": "SecureString", "value": ...}``."""
    if isinstance(value, dict):
        if value.get("type") == "AzureKeyVaultSecret":
            raise TerminalError("unsupported_secret", "Azure Key Vault secret references are not supported here")
        return str(value.get("value", ""))
    return "" if value is None else str(value)


def required_text(tp: dict[str, Any], key: str, name: str) -> str:
    """``tp[key]`` as text; ``bad_linked_service`` naming the key when it is missing or empty."""
    value = tp.get(key)
    if value in (None, ""):
        raise TerminalError("bad_linked_service", f"linked service {name}: typeProperties.{key} is required")
    return str(value)


def port_number(value: Any, field: str) -> int:
    """A TCP port (1 to 65535) from JSON or text; ``bad_linked_service`` naming ``field`` otherwise."""
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or not 1 <= int(text[:6]) <= 65535:
        raise TerminalError("bad_linked_service", f"{field}: {text[:40]!r} is not a port (a number from 1 to 65535)")
    return int(text)
