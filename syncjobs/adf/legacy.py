"""Normalization on import: the legacy published form (PowerShell edition) becomes the current form.

The legacy names of linked services, datasets and Copy sources and sinks are the connectors'
(``LinkedServiceType.legacy*`` in ``engine/connectors.py``).

Every translation leaves an INFO finding, so the operator can read what changed. Expressions are
never rewritten: ``"@..."`` strings and ``{"value": ..., "type": "Expression"}`` objects stay as given.
"""

from __future__ import annotations

import copy
from typing import Any

from syncjobs.adf.findings import INFO, WARNING, Finding, KnownObjects, is_expression
from syncjobs.adf.pipelines import iter_activities
from syncjobs.engine import connectors
from syncjobs.engine.connectors import LinkedServiceType
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
_SINK_FOR_DATASET = {"DelimitedText": "DelimitedTextSink", "Parquet": "ParquetSink"}
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


def _legacy(attribute: str, *, sources: bool | None = None) -> dict[str, LinkedServiceType]:
    """Each legacy name in the connectors' ``attribute`` (``legacy``, ``legacy_datasets``...), and its type."""
    types = connectors.linked_service_types(sources=sources)
    return {old: t for t in types for old in getattr(t, attribute)}


def _linked_service(props: dict[str, Any], notes: list[Finding]) -> None:
    kind = props.get("type")
    current = _legacy("legacy").get(kind) if isinstance(kind, str) else None
    if current is not None:
        props["type"] = current.name
        notes.append(Finding("properties.type", f"legacy {kind} became {current.name}", INFO))


def _dataset(props: dict[str, Any], notes: list[Finding]) -> None:
    kind = props.get("type")
    tp = props.get("typeProperties")
    if not isinstance(tp, dict) or not isinstance(kind, str):
        return
    tables, stores = _legacy("legacy_datasets", sources=True), _legacy("legacy_datasets", sources=False)
    if (kind in connectors.table_datasets() or kind in tables) and "tableName" in tp:
        _split_table_name(tp, notes)
    if kind in tables:
        props["type"] = tables[kind].dataset
        notes.append(Finding("properties.type", f"legacy {kind} became {tables[kind].dataset}", INFO))
    if kind in stores:
        props["type"], props["typeProperties"] = _file_dataset(kind, stores[kind], tp, notes)


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


def _file_dataset(
    kind: str, store: LinkedServiceType, tp: dict[str, Any], notes: list[Finding]
) -> tuple[str, dict[str, Any]]:
    path = "properties.typeProperties"
    fmt: dict[str, Any] = tp["format"] if isinstance(tp.get("format"), dict) else {"type": "TextFormat"}
    new_type = "Parquet" if fmt.get("type") == "ParquetFormat" else "DelimitedText"
    location: dict[str, Any] = {"type": store.dataset}
    folder = tp.get("folderPath")
    if store.has_container and isinstance(folder, str) and not is_expression(folder):
        container, _, rest = folder.strip("/").partition("/")
        location["container"] = container
        if rest:
            location["folderPath"] = rest
    elif store.has_container and folder is not None:
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
        old_source = tp["source"].get("type") if isinstance(tp.get("source"), dict) else None
        if old_source in _legacy("legacy_copy", sources=True):
            _retype(tp["source"], f"{tp_path}.source", _source_type(str(old_source), source_ds, known), notes)
        if isinstance(tp.get("sink"), dict) and tp["sink"].get("type") in _legacy("legacy_copy", sources=False):
            _legacy_sink(tp, tp_path, _first_dataset(activity.get("outputs")), known, notes)
        params = tp.get("storedProcedureParameters")
        if isinstance(params, dict):
            _parameter_types(params, f"{tp_path}.storedProcedureParameters", notes)


def _first_dataset(refs: Any) -> str | None:
    if isinstance(refs, list) and refs and isinstance(refs[0], dict):
        name = refs[0].get("referenceName")
        return name if isinstance(name, str) else None
    return None


def _source_type(old: str, dataset: str | None, known: KnownObjects) -> str:
    """The Copy source type that reads ``dataset``; when it is unknown, the one ``old`` was legacy for."""
    found = known.dataset(dataset) if dataset else None
    by_dataset = {t.dataset: t.copy_source for t in connectors.linked_service_types(sources=True)}
    fallback = _legacy("legacy_copy", sources=True)[old].copy_source
    return by_dataset.get(found[0], fallback) if found else fallback


def _retype(node: dict[str, Any], path: str, new_type: str, notes: list[Finding]) -> None:
    notes.append(Finding(f"{path}.type", f"legacy {node['type']} became {new_type}", INFO))
    node["type"] = new_type


def _legacy_sink(tp: dict[str, Any], path: str, dataset: str | None, known: KnownObjects, notes: list[Finding]) -> None:
    found = known.dataset(dataset) if dataset else None
    sink = tp["sink"]
    _retype(sink, f"{path}.sink", _SINK_FOR_DATASET.get(found[0] if found else "", "DelimitedTextSink"), notes)
    store = _known_store(dataset, known)
    if store is not None:
        sink.setdefault("storeSettings", {"type": store.write_settings})
    if sink["type"] == "DelimitedTextSink":
        sink.setdefault("formatSettings", {"type": "DelimitedTextWriteSettings", "quoteAllText": False})


def _known_store(dataset: str | None, known: KnownObjects) -> LinkedServiceType | None:
    """The store (a sink's linked-service type) the dataset's linked service is, when known."""
    found = known.dataset(dataset) if dataset else None
    ls_type = known.linked_service_type(found[1]) if found else None
    store = connectors.linked_service_type(ls_type or "")
    return store if store is not None and store.write_settings else None


def _parameter_types(params: dict[str, Any], path: str, notes: list[Finding]) -> None:
    for name, param in params.items():
        if not isinstance(param, dict) or not isinstance(param.get("type"), str):
            continue
        proper = _PARAMETER_TYPES.get(param["type"].lower())
        if proper and proper != param["type"]:
            notes.append(Finding(f"{path}.{name}.type", f"{param['type']} became {proper}", INFO))
            param["type"] = proper
