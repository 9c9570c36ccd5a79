"""From ADF JSON to engine objects: linked services to sources and sinks, datasets to tables, paths, formats.

Every function takes a definition as ADF writes it (``{"name", "properties": {"type", "typeProperties"}}``)
with its secrets already revealed and its expressions already evaluated: the portal reveals, the runner
evaluates, this module only translates.
"""

from __future__ import annotations

import posixpath
from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.formats import Format
from syncjobs.engine.secret import Secret
from syncjobs.engine.sinks import Sink
from syncjobs.engine.sources import Source
from syncjobs.engine.types import TableName

# ADF's PostgreSqlV2 sslMode numbers, in libpq's words.
_PG_SSL_MODES = {0: "disable", 1: "allow", 2: "prefer", 3: "require", 4: "verify-ca", 5: "verify-full"}
_SOURCE_TYPES = ("SqlServer", "AzureSqlDatabase", "AzureSqlDB", "PostgreSqlV2", "PostgreSql", "Sqlite")
_SINK_TYPES = ("AzureBlobStorage", "FileServer")


def properties(definition: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The definition's type and its typeProperties (empty when absent)."""
    props = definition.get("properties") or {}
    return str(props.get("type", "")), dict(props.get("typeProperties") or {})


def is_source(linked_service: dict[str, Any]) -> bool:
    """True when the linked service is a database rows are read from."""
    return properties(linked_service)[0] in _SOURCE_TYPES


def is_sink(linked_service: dict[str, Any]) -> bool:
    """True when the linked service is a store files are written to."""
    return properties(linked_service)[0] in _SINK_TYPES


def secret_value(value: Any) -> str:
    """A revealed secret's text: a plain string or ``{"type": "SecureString", "value": ...}``."""
    if isinstance(value, dict):
        if value.get("type") == "AzureKeyVaultSecret":
            raise TerminalError("unsupported_secret", "Azure Key Vault secret references are not supported here")
        return str(value.get("value", ""))
    return "" if value is None else str(value)


def source_for(linked_service: dict[str, Any]) -> Source:
    """The source a database linked service points at (nothing is connected until it is used)."""
    kind, tp = properties(linked_service)
    if kind == "Sqlite":
        from syncjobs.engine.sources.sqlite import SqliteConfig, SqliteSource

        return SqliteSource(SqliteConfig(database=_required(tp, "database", linked_service)))
    if kind in ("PostgreSqlV2", "PostgreSql"):
        return _postgres(tp, linked_service)
    if kind in ("SqlServer", "AzureSqlDatabase", "AzureSqlDB"):
        return _sqlserver(tp)
    raise TerminalError("unsupported_linked_service", f"linked service type {kind!r} is not a source")


def _postgres(tp: dict[str, Any], linked_service: dict[str, Any]) -> Source:
    from syncjobs.engine.sources.postgres import PostgresConfig, PostgresSource

    ssl = tp.get("sslMode", 2)
    ssl_mode = _PG_SSL_MODES.get(int(ssl), "prefer") if str(ssl).isdigit() else str(ssl)
    return PostgresSource(
        PostgresConfig(
            host=_required(tp, "server", linked_service),
            database=_required(tp, "database", linked_service),
            username=str(tp.get("username", "")),
            password=Secret(secret_value(tp.get("password"))),
            port=port_number(tp.get("port") or 5432, "port"),
            ssl_mode=ssl_mode,
        )
    )


def _sqlserver(tp: dict[str, Any]) -> Source:
    from syncjobs.engine.sources.sqlserver import SqlServerConfig, SqlServerSource

    if tp.get("connectionString"):
        return SqlServerSource(SqlServerConfig(connection_string=Secret(secret_value(tp["connectionString"]))))
    server, port = sqlserver_address(tp.get("server", ""), tp.get("port"))
    encrypt = tp.get("encrypt", "mandatory")
    return SqlServerSource(
        SqlServerConfig(
            server=server,
            port=port,
            database=str(tp.get("database", "")),
            user=str(tp.get("userName", "")),
            password=Secret(secret_value(tp.get("password"))),
            encrypt=str(encrypt).lower() not in ("optional", "false", "no", "0"),
            trust_server_certificate=bool(tp.get("trustServerCertificate", False)),
        )
    )


def port_number(value: Any, field: str) -> int:
    """A TCP port (1 to 65535) from JSON or text; TerminalError naming ``field`` otherwise."""
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or not 1 <= int(text[:6]) <= 65535:
        raise TerminalError("bad_linked_service", f"{field}: {text[:40]!r} is not a port (a number from 1 to 65535)")
    return int(text)


def sqlserver_address(server: Any, port: Any = None) -> tuple[str, int]:
    """SQL Server's ``host`` or ``host,port`` (the port after the comma wins over ``port``), checked."""
    host, comma, after = str(server or "").partition(",")
    if comma:
        try:
            return host.strip(), port_number(after, "server")
        except TerminalError:
            raise TerminalError(
                "bad_linked_service",
                f"server: the port after the comma in {str(server)[:60]!r} must be a number from 1 to 65535",
            ) from None
    return host.strip(), port_number(port or 1433, "port")


def sink_for(linked_service: dict[str, Any], *, quick: bool = False) -> Sink:
    """The sink a storage linked service points at. Blob paths are ``container/folder/name``.

    ``quick`` (Test connection): no retries and short timeouts, so a dead endpoint answers in seconds.
    """
    kind, tp = properties(linked_service)
    if kind == "FileServer":
        from syncjobs.engine.sinks.folder import FolderConfig, FolderSink

        return FolderSink(FolderConfig(root=_required(tp, "host", linked_service)))
    if kind == "AzureBlobStorage":
        from syncjobs.engine.sinks.azureblob import AzureBlobConfig, AzureBlobSink

        options: dict[str, Any] = {"create_container": True}
        if quick:
            options.update(retries=0, connect_timeout=5.0, read_timeout=10.0)
        if tp.get("connectionString"):
            config = AzureBlobConfig.from_connection_string(secret_value(tp["connectionString"]), **options)
        elif tp.get("sasUri"):
            config = AzureBlobConfig(sas_url=Secret(secret_value(tp["sasUri"])), **options)
        else:
            raise TerminalError("bad_linked_service", "AzureBlobStorage needs a connectionString or a sasUri")
        return AzureBlobSink(config)
    raise TerminalError("unsupported_linked_service", f"linked service type {kind!r} is not a sink")


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


def _required(tp: dict[str, Any], key: str, definition: dict[str, Any]) -> str:
    value = tp.get(key)
    if value in (None, ""):
        raise TerminalError(
            "bad_linked_service", f"linked service {definition.get('name', '?')}: typeProperties.{key} is required"
        )
    return str(value)
