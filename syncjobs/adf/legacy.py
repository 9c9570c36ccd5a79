"""Normalization on import: the legacy published form (PowerShell edition) becomes the current form.

Every translation leaves an INFO finding, so the operator can read what changed. Expressions are
never rewritten: ``"@..."`` strings and ``{"value": ..., "type": "Expression"}`` objects stay as given.
"""

from __future__ import annotations

import copy
from typing import Any

from syncjobs.adf.findings import INFO, WARNING, Finding, KnownObjects, is_expression
from syncjobs.adf.pipelines import iter_activities
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.types import TableName

# ADF's stored-procedure parameter types, in ADF's spelling (the PowerShell edition writes INT64).
_PARAMETER_TYPES = {
    t.lower(): t
    for t in (
        "Boolean",
        "Byte[]",
        "Datetime",
        "Decimal",
        "Double",
        "Guid",
        "Int16",
        "Int32",
        "Int64",
        "Single",
        "String",
        "Timespan",
    )
}
_SOURCE_FOR_DATASET = {
    "AzureSqlTable": "AzureSqlSource",
    "SqlServerTable": "SqlServerSource",
    "PostgreSqlV2Table": "PostgreSqlV2Source",
    "SqliteTable": "SqliteSource",
}
_SINK_FOR_DATASET = {"DelimitedText": "DelimitedTextSink", "Parquet": "ParquetSink"}
_WRITE_SETTINGS = {
    "AzureBlobStorageLocation": "AzureBlobStorageWriteSettings",
    "FileServerLocation": "FileServerWriteSettings",
}
# TextFormat had no quote or escape character unless one was set; keep that meaning explicitly.
_TEXT_FORMAT_KEYS = (
    "columnDelimiter",
    "rowDelimiter",
    "escapeChar",
    "quoteChar",
    "nullValue",
    "encodingName",
    "firstRowAsHeader",
)


def normalize(
    kind: str, definition: dict[str, Any], known: KnownObjects | None = None
) -> tuple[dict[str, Any], list[Finding]]:
    """Return ``{"name", "properties"}`` in the current form, and INFO findings saying what changed."""
    notes: list[Finding] = []
    name = definition.get("name")
    if isinstance(name, str) and name != name.strip():
        notes.append(Finding("name", f"trimmed spaces from the name {name!r}", WARNING))
        name = name.strip()
    props = copy.deepcopy(definition.get("properties"))
    result = {"name": name, "properties": props}
    if not isinstance(props, dict):
        return result, notes
    _trim_references(props, "properties", notes)
    if kind == "linkedService":
        _linked_service(props, notes)
    elif kind == "dataset":
        _dataset(props, notes)
    elif kind == "pipeline":
        _pipeline(props, known or KnownObjects(), notes)
    return result, notes


def _trim_references(node: Any, path: str, notes: list[Finding]) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _trim_references(item, f"{path}[{i}]", notes)
    elif isinstance(node, dict):
        ref = node.get("referenceName")
        if isinstance(ref, str) and ref != ref.strip() and str(node.get("type", "")).endswith("Reference"):
            node["referenceName"] = ref.strip()
            notes.append(Finding(f"{path}.referenceName", f"trimmed spaces from the reference {ref!r}", WARNING))
        for key, value in node.items():
            _trim_references(value, f"{path}.{key}", notes)


def _linked_service(props: dict[str, Any], notes: list[Finding]) -> None:
    if props.get("type") == "AzureStorage":
        props["type"] = "AzureBlobStorage"
        notes.append(Finding("properties.type", "legacy AzureStorage became AzureBlobStorage", INFO))


def _dataset(props: dict[str, Any], notes: list[Finding]) -> None:
    kind = props.get("type")
    tp = props.get("typeProperties")
    if not isinstance(tp, dict):
        return
    if kind in ("AzureSqlTable", "SqlServerTable", "PostgreSqlTable", "PostgreSqlV2Table") and "tableName" in tp:
        _split_table_name(tp, notes)
    if kind == "PostgreSqlTable":
        props["type"] = "PostgreSqlV2Table"
        notes.append(Finding("properties.type", "legacy PostgreSqlTable became PostgreSqlV2Table", INFO))
    if kind in ("AzureBlob", "FileShare"):
        props["type"], props["typeProperties"] = _file_dataset(kind, tp, notes)


def _split_table_name(tp: dict[str, Any], notes: list[Finding]) -> None:
    raw = tp.pop("tableName")
    path = "properties.typeProperties.tableName"
    if is_expression(raw) or not isinstance(raw, str):
        tp["table"] = raw
        notes.append(
            Finding(path, "tableName (an expression) became table; it cannot be split into schema and table", INFO)
        )
        return
    try:
        name = TableName.parse(raw)
    except TerminalError:
        tp["table"] = raw
        notes.append(Finding(path, f"tableName {raw!r} became table as written", INFO))
        return
    tp["table"] = name.name
    if name.schema:
        tp["schema"] = name.schema
    parts = f"schema {name.schema!r} and table {name.name!r}" if name.schema else f"table {name.name!r}"
    notes.append(Finding(path, f"tableName {raw!r} became {parts}", INFO))


def _file_dataset(kind: str, tp: dict[str, Any], notes: list[Finding]) -> tuple[str, dict[str, Any]]:
    path = "properties.typeProperties"
    fmt: dict[str, Any] = tp["format"] if isinstance(tp.get("format"), dict) else {"type": "TextFormat"}
    new_type = "Parquet" if fmt.get("type") == "ParquetFormat" else "DelimitedText"
    location: dict[str, Any] = {"type": "AzureBlobStorageLocation" if kind == "AzureBlob" else "FileServerLocation"}
    folder = tp.get("folderPath")
    if kind == "AzureBlob" and isinstance(folder, str) and not is_expression(folder):
        container, _, rest = folder.strip("/").partition("/")
        location["container"] = container
        if rest:
            location["folderPath"] = rest
    elif kind == "AzureBlob" and folder is not None:
        location["container"] = folder
        notes.append(
            Finding(
                f"{path}.folderPath",
                "an expression folderPath cannot be split: it became the container; check it",
                WARNING,
            )
        )
    elif folder is not None:
        location["folderPath"] = folder
    if tp.get("fileName") is not None:
        location["fileName"] = tp["fileName"]
    new_tp: dict[str, Any] = {"location": location}
    if new_type == "DelimitedText":
        new_tp.update({"columnDelimiter": ",", "quoteChar": "", "escapeChar": "", "firstRowAsHeader": False})
        new_tp.update({k: fmt[k] for k in _TEXT_FORMAT_KEYS if k in fmt})
    if tp.get("compression"):
        new_tp["compressionCodec"] = str((tp["compression"] or {}).get("type", "")).lower() or "none"
    done = f"legacy {kind} with {fmt.get('type')} became {new_type} with {location['type']}"
    notes.append(Finding(path, f"{done} (folderPath split into container and folder)", INFO))
    return new_type, new_tp


def _pipeline(props: dict[str, Any], known: KnownObjects, notes: list[Finding]) -> None:
    for path, activity in iter_activities(props.get("activities")):
        tp = activity.get("typeProperties")
        if not isinstance(tp, dict):
            continue
        tp_path = f"{path}.typeProperties"
        source_ds = _first_dataset(activity.get("inputs")) or _first_dataset([tp.get("dataset")])
        if isinstance(tp.get("source"), dict) and tp["source"].get("type") == "SqlSource":
            _retype(tp["source"], f"{tp_path}.source", _source_type(source_ds, known), notes)
        if isinstance(tp.get("sink"), dict) and tp["sink"].get("type") in ("BlobSink", "FileSystemSink"):
            _legacy_sink(tp, tp_path, _first_dataset(activity.get("outputs")), known, notes)
        params = tp.get("storedProcedureParameters")
        if isinstance(params, dict):
            _parameter_types(params, f"{tp_path}.storedProcedureParameters", notes)


def _first_dataset(refs: Any) -> str | None:
    if isinstance(refs, list) and refs and isinstance(refs[0], dict):
        name = refs[0].get("referenceName")
        return name if isinstance(name, str) else None
    return None


def _source_type(dataset: str | None, known: KnownObjects) -> str:
    found = known.dataset(dataset) if dataset else None
    return _SOURCE_FOR_DATASET.get(found[0], "SqlServerSource") if found else "SqlServerSource"


def _retype(node: dict[str, Any], path: str, new_type: str, notes: list[Finding]) -> None:
    notes.append(Finding(f"{path}.type", f"legacy {node['type']} became {new_type}", INFO))
    node["type"] = new_type


def _legacy_sink(tp: dict[str, Any], path: str, dataset: str | None, known: KnownObjects, notes: list[Finding]) -> None:
    found = known.dataset(dataset) if dataset else None
    sink = tp["sink"]
    _retype(sink, f"{path}.sink", _SINK_FOR_DATASET.get(found[0] if found else "", "DelimitedTextSink"), notes)
    location = _known_location(dataset, known)
    if location in _WRITE_SETTINGS:
        sink.setdefault("storeSettings", {"type": _WRITE_SETTINGS[location]})
    if sink["type"] == "DelimitedTextSink":
        sink.setdefault("formatSettings", {"type": "DelimitedTextWriteSettings", "quoteAllText": False})


def _known_location(dataset: str | None, known: KnownObjects) -> str | None:
    found = known.dataset(dataset) if dataset else None
    if not found:
        return None
    ls_type = known.linked_service_type(found[1])
    return {"AzureBlobStorage": "AzureBlobStorageLocation", "FileServer": "FileServerLocation"}.get(ls_type or "")


def _parameter_types(params: dict[str, Any], path: str, notes: list[Finding]) -> None:
    for name, param in params.items():
        if not isinstance(param, dict) or not isinstance(param.get("type"), str):
            continue
        proper = _PARAMETER_TYPES.get(param["type"].lower())
        if proper and proper != param["type"]:
            notes.append(Finding(f"{path}.{name}.type", f"{param['type']} became {proper}", INFO))
            param["type"] = proper
