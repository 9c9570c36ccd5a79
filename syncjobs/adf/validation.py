"""Validation of linked services, datasets and triggers (pipelines are in ``pipelines.py``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from syncjobs.adf.findings import WARNING, Checker, Finding, KnownObjects, has_control_characters, is_expression
from syncjobs.adf.pipelines import validate_pipeline
from syncjobs.adf.schedules import check_recurrence
from syncjobs.engine.bindings import sqlserver_address
from syncjobs.engine.errors import TerminalError

KINDS = ("linkedService", "dataset", "pipeline", "trigger")

LINKED_SERVICE_TYPES = (
    "SqlServer",
    "AzureSqlDatabase",
    "AzureBlobStorage",
    "PostgreSqlV2",
    "FileServer",
    "Sqlite",
    "AzureKeyVault",
)
TABLE_DATASETS = {
    "SqlServerTable": ("SqlServer", "AzureSqlDatabase"),
    "AzureSqlTable": ("AzureSqlDatabase", "SqlServer"),
    "PostgreSqlV2Table": ("PostgreSqlV2",),
    "SqliteTable": ("Sqlite",),
}
FILE_DATASETS = ("DelimitedText", "Parquet")
LOCATIONS = {"AzureBlobStorageLocation": "AzureBlobStorage", "FileServerLocation": "FileServer"}
TRIGGER_TYPES = ("ScheduleTrigger", "TumblingWindowTrigger")

# ADF: names start with a letter and avoid . + ? / < > * % & : \ (dashes are also barred for linked
# services and datasets). 260 characters is ADF's documented maximum.
_FORBIDDEN = re.compile(r"[.+?/<>*%&:\\]")
_MAX_NAME = 260

_KEY_VAULT_WARNING = (
    "Azure Key Vault secrets are kept as references but not resolved by ctportal: "
    "a run using this linked service fails until the secret itself is stored here"
)
_SQL_AUTH = ("SQL", "ServicePrincipal", "SystemAssignedManagedIdentity", "UserAssignedManagedIdentity", "Windows")


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


def _validate_linked_service(check: Checker, props: dict[str, Any], known: KnownObjects | None) -> None:
    kind = props.get("type")
    if kind not in LINKED_SERVICE_TYPES:
        check.add(
            "properties.type", f"unknown linked service type {kind!r} (supported: {', '.join(LINKED_SERVICE_TYPES)})"
        )
        return
    path = "properties.typeProperties"
    tp = check.obj(props.get("typeProperties"), path)
    _check_secret_references(check, tp, path, known)
    if kind in ("SqlServer", "AzureSqlDatabase"):
        if not tp.get("connectionString"):
            _sqlserver_address(check, tp, path)
            check.text(tp, "database", path)
            check.choice(tp, "authenticationType", path, _SQL_AUTH)
            if str(tp.get("authenticationType", "SQL")).upper() == "SQL":
                check.text(tp, "userName", path)
    elif kind == "AzureBlobStorage":
        if not any(tp.get(k) for k in ("connectionString", "sasUri", "serviceEndpoint")):
            check.add(f"{path}.connectionString", "required (or sasUri, or serviceEndpoint)")
    elif kind == "PostgreSqlV2":
        for key in ("server", "database", "username"):
            check.text(tp, key, path)
        check.integer(tp, "port", path, minimum=1, maximum=65535)
        if check.integer(tp, "sslMode", path, minimum=0) not in (None, 0, 1, 2, 3, 4, 5):
            check.add(f"{path}.sslMode", "must be 0 (disable) to 5 (verify-full)")
    elif kind == "FileServer":
        host = check.text(tp, "host", path)
        if host and not (host.startswith("/") or re.match(r"^[A-Za-z]:[\\/]|^\\\\", host)):
            check.add(f"{path}.host", "should be an absolute folder path", WARNING)
    elif kind == "Sqlite":
        check.text(tp, "database", path)
    elif kind == "AzureKeyVault":
        check.text(tp, "baseUrl", path)


def _sqlserver_address(check: Checker, tp: dict[str, Any], path: str) -> None:
    server = check.text(tp, "server", path)
    port = check.integer(tp, "port", path, minimum=1, maximum=65535)
    if server is None:
        return
    try:
        sqlserver_address(server, port)
    except TerminalError as exc:
        field = exc.message.partition(":")[0]
        check.add(f"{path}.{field}", exc.message.partition(": ")[2])


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
    if kind in TABLE_DATASETS:
        tp = check.obj(props.get("typeProperties"), path)
        check.text(tp, "table", path)
        check.text(tp, "schema", path, required=False)
        if ls_type and ls_type not in TABLE_DATASETS[kind]:
            check.add(
                "properties.linkedServiceName.referenceName",
                f"a {kind} dataset needs a {' or '.join(TABLE_DATASETS[kind])} linked service, not {ls_type}",
            )
    elif kind in FILE_DATASETS:
        tp = check.obj(props.get("typeProperties"), path)
        _validate_location(check, tp, ls_type)
        if kind == "DelimitedText":
            _validate_delimited(check, tp, path)
    else:
        check.add(
            "properties.type",
            f"unknown dataset type {kind!r} (supported: {', '.join([*TABLE_DATASETS, *FILE_DATASETS])})",
        )


def _validate_location(check: Checker, tp: dict[str, Any], ls_type: str | None) -> None:
    path = "properties.typeProperties.location"
    loc = check.obj(tp.get("location"), path)
    if not loc:
        return
    kind = loc.get("type")
    if kind not in LOCATIONS:
        check.add(f"{path}.type", f"must be one of {', '.join(LOCATIONS)} (got {kind!r})")
        return
    if kind == "AzureBlobStorageLocation":
        check.text(loc, "container", path)
    check.text(loc, "folderPath", path, required=False)
    check.text(loc, "fileName", path, required=False)
    if ls_type and ls_type != LOCATIONS[kind]:
        check.add(f"{path}.type", f"{kind} needs a {LOCATIONS[kind]} linked service, not {ls_type}")


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
