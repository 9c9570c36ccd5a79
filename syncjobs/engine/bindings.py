"""From ADF JSON to engine objects: linked services to sources and sinks, datasets to tables, paths, formats.

A linked service becomes the source or sink of the connector that answers to its type
(``connectors.py``), built by that connector from its typeProperties.

Every function takes a definition as ADF writes it (``{"name", "properties": {"type", "typeProperties"}}``)
with its secrets already revealed and its expressions already evaluated: the portal reveals, the runner
evaluates, this module only translates.
"""

from __future__ import annotations

import posixpath
from typing import Any, cast

from syncjobs.engine import connectors
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.formats import Format
from syncjobs.engine.sinks import Sink
from syncjobs.engine.sources import Source
from syncjobs.engine.types import TableName

_ROLES = {True: "source", False: "sink"}


def properties(definition: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The definition's type and its typeProperties (empty when absent)."""
    props = definition.get("properties") or {}
    return str(props.get("type", "")), dict(props.get("typeProperties") or {})


def is_source(linked_service: dict[str, Any]) -> bool:
    """True when the linked service is a database rows are read from."""
    connector = connectors.connector_for(properties(linked_service)[0])
    return connector is not None and connector.is_source


def is_sink(linked_service: dict[str, Any]) -> bool:
    """True when the linked service is a store files are written to."""
    connector = connectors.connector_for(properties(linked_service)[0])
    return connector is not None and not connector.is_source


def source_for(linked_service: dict[str, Any]) -> Source:
    """The source a database linked service points at (nothing is connected until it is used)."""
    return cast(Source, _build(linked_service, source=True))


def sink_for(linked_service: dict[str, Any], *, quick: bool = False) -> Sink:
    """The sink a storage linked service points at. Blob paths are ``container/folder/name``.

    ``quick`` (Test connection): no retries and short timeouts, so a dead endpoint answers in seconds.
    """
    return cast(Sink, _build(linked_service, source=False, quick=quick))


def _build(linked_service: dict[str, Any], *, source: bool, quick: bool = False) -> connectors.Connector:
    kind, tp = properties(linked_service)
    connector = connectors.connector_for(kind)
    if connector is None or connector.is_source != source:
        raise TerminalError("unsupported_linked_service", f"linked service type {kind!r} is not a {_ROLES[source]}")
    return connector.from_type_properties(tp, name=str(linked_service.get("name") or "?"), quick=quick)


def table_name_for(dataset: dict[str, Any]) -> TableName:
    """The table a table dataset names (``schema`` and ``table``, or the older ``tableName``)."""
    _, tp = properties(dataset)
    if tp.get("table"):
        return TableName(str(tp["table"]), str(tp["schema"]) if tp.get("schema") else None)
    if tp.get("tableName"):
        return TableName.parse(str(tp["tableName"]))
    raise TerminalError("bad_dataset", f"dataset {dataset.get('name', '?')} names no table")


def file_path_for(dataset: dict[str, Any], file_name: str | None = None) -> str:
    """Where a file dataset writes, inside its sink: ``container/folder/name`` or ``folder/name``.

    ``file_name`` (already evaluated) overrides the dataset's own; without either, raises.
    """
    _, tp = properties(dataset)
    location = tp.get("location") or {}
    name = file_name or location.get("fileName")
    if not name:
        raise TerminalError("bad_dataset", f"dataset {dataset.get('name', '?')} has no file name")
    parts = [str(location.get(k) or "").strip("/") for k in ("container", "folderPath")]
    return posixpath.join(*[p for p in parts if p], str(name))


def folder_for(dataset: dict[str, Any]) -> str:
    """The dataset's container and folder, ``container/folder`` (for naming files it writes)."""
    _, tp = properties(dataset)
    location = tp.get("location") or {}
    parts = [str(location.get(k) or "").strip("/") for k in ("container", "folderPath")]
    return "/".join(p for p in parts if p)


def format_for(dataset: dict[str, Any], write_settings: dict[str, Any] | None = None) -> Format:
    """The file format a file dataset writes (DelimitedText or Parquet, with its options)."""
    from syncjobs.engine.formats import format_for_dataset

    kind, tp = properties(dataset)
    return format_for_dataset(kind, tp, write_settings)
