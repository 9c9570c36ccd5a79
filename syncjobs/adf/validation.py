"""Validation of linked services, datasets and triggers (pipelines are in ``pipelines.py``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from syncjobs.adf.expression_checks import check_dataset_expressions
from syncjobs.adf.findings import ERROR, WARNING, Checker, Finding, KnownObjects, has_control_characters, is_expression
from syncjobs.adf.pipelines import validate_pipeline
from syncjobs.adf.schedules import check_recurrence
from syncjobs.engine import connectors

KINDS = ("linkedService", "dataset", "pipeline", "trigger")

# Linked services that hold secrets for others rather than data: saved and referenced, never connected to.
SECRET_STORE_TYPES = ("AzureKeyVault",)
FILE_DATASETS = ("DelimitedText", "Parquet")
TRIGGER_TYPES = ("ScheduleTrigger", "TumblingWindowTrigger")

# ADF: names start with a letter and avoid . + ? / < > * % & : \ (dashes are also barred for linked
# services and datasets). 260 characters is ADF's documented maximum.
_FORBIDDEN = re.compile(r"[.+?/<>*%&:\\]")
_MAX_NAME = 260

_KEY_VAULT_WARNING = (
    "Azure Key Vault secrets are kept as references but not resolved by ctportal: "
    "a run using this linked service fails until the secret itself is stored here"
)


def validate_name(kind: str, name: Any) -> list[Finding]:
    """Findings for an object name that ADF would refuse."""
    if not isinstance(name, str) or not name:
        return [Finding("name", "required")]
    problems = []
    if not name[0].isalpha():
        problems.append("must start with a letter")
    if _FORBIDDEN.search(name):
        problems.append("must not contain any of . + ? / < > * % & : \\")
    if kind in ("linkedService", "dataset") and "-" in name:
        problems.append("must not contain '-' (ADF bars dashes in linked service and dataset names)")
    if len(name) > _MAX_NAME:
        problems.append(f"must be at most {_MAX_NAME} characters")
    if name != name.strip():
        problems.append("must not start or end with a space")
    if has_control_characters(name):
        problems.append("must not contain control characters")
    return [Finding("name", p) for p in problems]


def validate_definition(kind: str, definition: Any, known: KnownObjects | None = None) -> list[Finding]:
    """Every finding for one definition; references are checked only when ``known`` is given."""
    if kind not in KINDS:
        raise ValueError(f"unknown definition kind {kind!r}")
    if not isinstance(definition, dict):
        return [Finding("", "a definition must be a JSON object")]
    check = Checker()
    check.findings.extend(validate_name(kind, definition.get("name")))
    props = check.obj(definition.get("properties"), "properties")
    if props:
        _VALIDATORS[kind](check, props, known)
    return check.findings


def linked_service_types() -> tuple[str, ...]:
    """Every linked-service type a definition may have: the connectors' (``engine/connectors.py``), then Key Vault."""
    return (*(t.name for t in connectors.linked_service_types()), *SECRET_STORE_TYPES)


def _validate_linked_service(check: Checker, props: dict[str, Any], known: KnownObjects | None) -> None:
    kind = props.get("type")
    if kind not in linked_service_types():
        supported = ", ".join(linked_service_types())
        check.add("properties.type", f"unknown linked service type {kind!r} (supported: {supported})")
        return
    path = "properties.typeProperties"
    tp = check.obj(props.get("typeProperties"), path)
    _check_secret_references(check, tp, path, known)
    _check_type_properties(check, kind, tp, path)


def type_properties_findings(kind: str, tp: dict[str, Any]) -> list[Finding]:
    """What validation says about a linked service's typeProperties alone (the form asks, field by field)."""
    check = Checker()
    _check_type_properties(check, kind, tp, "properties.typeProperties")
    return check.findings


def _check_type_properties(check: Checker, kind: str, tp: dict[str, Any], path: str) -> None:
    connector = connectors.connector_for(kind)
    if connector is not None:
        connector.check_type_properties(tp, TypePropertiesCheck(check, tp, path))
    elif kind in SECRET_STORE_TYPES:
        check.text(tp, "baseUrl", path)


class TypePropertiesCheck:
    """The engine's ``connectors.FieldCheck`` over one linked service's typeProperties: findings at ``path.key``."""

    def __init__(self, check: Checker, tp: dict[str, Any], path: str) -> None:
        self._check, self._tp, self._path = check, tp, path

    def text(self, key: str, *, required: bool = True) -> str | None:
        """A non-empty string at ``key``; "required" when missing."""
        return self._check.text(self._tp, key, self._path, required=required)

    def integer(self, key: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
        """An optional integer at ``key`` within the bounds."""
        return self._check.integer(self._tp, key, self._path, minimum=minimum, maximum=maximum)

    def choice(self, key: str, allowed: tuple[str, ...]) -> None:
        """``key``, when given, is one of ``allowed``."""
        self._check.choice(self._tp, key, self._path, allowed)

    def add(self, key: str, message: str, *, warning: bool = False) -> None:
        """An error (or a warning) at ``key``."""
        self._check.add(f"{self._path}.{key}", message, WARNING if warning else ERROR)


def _check_secret_references(check: Checker, node: Any, path: str, known: KnownObjects | None) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _check_secret_references(check, item, f"{path}[{i}]", known)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "AzureKeyVaultSecret":
        check.add(path, _KEY_VAULT_WARNING, WARNING)
        store = (node.get("store") or {}).get("referenceName")
        if not store:
            check.add(f"{path}.store.referenceName", "required")
        elif known is not None and known.linked_service_type(store) is None:
            check.add(f"{path}.store.referenceName", f"linked service {store!r} does not exist")
        return
    for key, value in node.items():
        _check_secret_references(check, value, f"{path}.{key}", known)


def _validate_dataset(check: Checker, props: dict[str, Any], known: KnownObjects | None) -> None:
    ls_name = _reference(
        check, props.get("linkedServiceName"), "properties.linkedServiceName", "LinkedServiceReference"
    )
    ls_type = known.linked_service_type(ls_name) if known is not None and ls_name else None
    if known is not None and ls_name and ls_type is None:
        check.add("properties.linkedServiceName.referenceName", f"linked service {ls_name!r} does not exist")
    kind = props.get("type")
    path = "properties.typeProperties"
    table_datasets = connectors.table_datasets()
    if kind in table_datasets:
        tp = check.obj(props.get("typeProperties"), path)
        check.text(tp, "table", path)
        check.text(tp, "schema", path, required=False)
        if ls_type and ls_type not in table_datasets[kind]:
            check.add(
                "properties.linkedServiceName.referenceName",
                f"a {kind} dataset needs a {' or '.join(table_datasets[kind])} linked service, not {ls_type}",
            )
    elif kind in FILE_DATASETS:
        tp = check.obj(props.get("typeProperties"), path)
        _validate_location(check, tp, ls_type)
        if kind == "DelimitedText":
            _validate_delimited(check, tp, path)
    else:
        check.add(
            "properties.type",
            f"unknown dataset type {kind!r} (supported: {', '.join([*table_datasets, *FILE_DATASETS])})",
        )
    check_dataset_expressions(check, props)


def _validate_location(check: Checker, tp: dict[str, Any], ls_type: str | None) -> None:
    path = "properties.typeProperties.location"
    loc = check.obj(tp.get("location"), path)
    if not loc:
        return
    kind = loc.get("type")
    locations = connectors.locations()
    if kind not in locations:
        check.add(f"{path}.type", f"must be one of {', '.join(locations)} (got {kind!r})")
        return
    store = connectors.linked_service_type(locations[kind])
    if store is not None and store.has_container:
        check.text(loc, "container", path)
    check.text(loc, "folderPath", path, required=False)
    check.text(loc, "fileName", path, required=False)
    if ls_type and ls_type != locations[kind]:
        check.add(f"{path}.type", f"{kind} needs a {locations[kind]} linked service, not {ls_type}")


def _validate_delimited(check: Checker, tp: dict[str, Any], path: str) -> None:
    for key in ("columnDelimiter", "quoteChar", "escapeChar"):
        value = tp.get(key)
        if isinstance(value, str) and not is_expression(value) and len(value) > 1:
            check.add(f"{path}.{key}", "must be a single character")
    if (
        "firstRowAsHeader" in tp
        and not isinstance(tp["firstRowAsHeader"], bool)
        and not is_expression(tp["firstRowAsHeader"])
    ):
        check.add(f"{path}.firstRowAsHeader", "must be true or false")
    check.choice(
        tp,
        "compressionCodec",
        path,
        ("none", "gzip", "bzip2", "deflate", "zipDeflate", "snappy", "lz4", "tar", "tarGZip"),
    )
    check.choice(tp, "compressionLevel", path, ("Optimal", "Fastest"))
    quote, escape = tp.get("quoteChar", '"'), tp.get("escapeChar", "\\")
    if escape == "" and quote != "" and not is_expression(quote):
        check.add(f"{path}.escapeChar", "may be empty only when quoteChar is empty too (as in ADF)")


def _validate_trigger(check: Checker, props: dict[str, Any], known: KnownObjects | None) -> None:
    kind = props.get("type")
    if kind not in TRIGGER_TYPES:
        check.add("properties.type", f"unknown trigger type {kind!r} (supported: {', '.join(TRIGGER_TYPES)})")
        return
    check.choice(props, "runtimeState", "properties", ("Started", "Stopped", "Disabled"))
    path = "properties.typeProperties"
    tp = check.obj(props.get("typeProperties"), path)
    if kind == "ScheduleTrigger":
        rec = check.obj(tp.get("recurrence"), f"{path}.recurrence")
        if rec:
            check_recurrence(check, rec, f"{path}.recurrence")
        refs = check.items(props.get("pipelines"), "properties.pipelines")
        for i, item in enumerate(refs):
            _pipeline_reference(check, item, f"properties.pipelines[{i}]", known)
            if isinstance(item, dict):
                check.obj(item.get("parameters"), f"properties.pipelines[{i}].parameters", required=False)
    else:
        _validate_recurrence(check, tp, path, ("Minute", "Hour", "Month"))
        check.integer(tp, "maxConcurrency", path, minimum=1)
        _pipeline_reference(check, props.get("pipeline"), "properties.pipeline", known)


def _validate_recurrence(check: Checker, rec: dict[str, Any], path: str, frequencies: tuple[str, ...]) -> None:
    check.choice(rec, "frequency", path, frequencies, required=True)
    if rec.get("interval") is None:
        check.add(f"{path}.interval", "required")
    check.integer(rec, "interval", path, minimum=1)
    for key in ("startTime", "endTime"):
        value = check.text(rec, key, path, required=key == "startTime")
        if value and not _is_datetime(value):
            check.add(f"{path}.{key}", f"must be an ISO 8601 date and time (got {value!r})")


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _pipeline_reference(check: Checker, item: Any, path: str, known: KnownObjects | None) -> None:
    node = check.obj(item, path)
    if not node:
        return
    name = _reference(check, node.get("pipelineReference"), f"{path}.pipelineReference", "PipelineReference")
    if known is not None and name and name.strip().lower() not in known.pipelines:
        check.add(f"{path}.pipelineReference.referenceName", f"pipeline {name!r} does not exist")


def _reference(check: Checker, node: Any, path: str, ref_type: str) -> str | None:
    ref = check.obj(node, path)
    if not ref:
        return None
    if ref.get("type") not in (None, ref_type):
        check.add(f"{path}.type", f"must be {ref_type}")
    return check.text(ref, "referenceName", path)


_VALIDATORS = {
    "linkedService": _validate_linked_service,
    "dataset": _validate_dataset,
    "pipeline": validate_pipeline,
    "trigger": _validate_trigger,
}
