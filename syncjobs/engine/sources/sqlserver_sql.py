"""The SQL Server source's text, with no driver involved: the T-SQL it runs (catalogue queries,
change-tracking reads and DDL), type kinds, the ODBC connection strings it builds from ADF's ADO.NET
ones, and the text forms of the values pyodbc hands its output converters.

Every identifier goes through ``quote_tsql`` and every name used as a string goes through ``nliteral``
(``N'...'``), so no table or column name, however hostile, becomes SQL of its own. Versions are bound
as parameters.
"""

from __future__ import annotations

import re
import struct
import uuid
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from syncjobs.engine.sqlnames import quote_literal, quote_tsql
from syncjobs.engine.types import (
    SYS_CHANGE_COLUMNS,
    SYS_CHANGE_CREATION_VERSION,
    SYS_CHANGE_OPERATION,
    SYS_CHANGE_VERSION,
    Column,
    Table,
    TableName,
)

DEFAULT_SCHEMA = "dbo"
SQL_TYPE_TIMESTAMP, SQL_SS_TIMESTAMPOFFSET, SQL_GUID, SQL_SS_TIME2 = 93, -155, -11, -154

# Base type name (sys.types, aliases resolved) -> logical kind (types.KINDS).
_KINDS = {
    "tinyint": "int", "smallint": "int", "int": "int", "bigint": "int", "decimal": "decimal",
    "numeric": "decimal", "money": "decimal", "smallmoney": "decimal", "float": "float", "real": "float",
    "bit": "bool", "date": "date", "time": "time", "datetime": "datetime", "datetime2": "datetime",
    "smalldatetime": "datetime", "datetimeoffset": "datetimetz", "uniqueidentifier": "uuid",
    "binary": "binary", "varbinary": "binary", "image": "binary", "timestamp": "binary",  # rowversion
    "hierarchyid": "binary", "geometry": "binary", "geography": "binary",
}  # fmt: skip
# What each change column is in CHANGETABLE's output, and its kind.
_CHANGE_COLUMNS = {
    SYS_CHANGE_VERSION: ("CT.SYS_CHANGE_VERSION", "int"),
    SYS_CHANGE_CREATION_VERSION: ("CT.SYS_CHANGE_CREATION_VERSION", "int"),
    SYS_CHANGE_OPERATION: ("CT.SYS_CHANGE_OPERATION", "string"),
}

SNAPSHOT_STATE_SQL = "SELECT snapshot_isolation_state FROM sys.databases WHERE database_id = DB_ID()"
DATABASE_NAME_SQL = "SELECT DB_NAME()"
CURRENT_VERSION_SQL = "SELECT CHANGE_TRACKING_CURRENT_VERSION()"
DATABASE_TRACKED_SQL = "SELECT COUNT(*) FROM sys.change_tracking_databases WHERE database_id = DB_ID()"
TABLE_TRACKED_SQL = "SELECT COUNT(*) FROM sys.change_tracking_tables WHERE object_id = ?"
OBJECT_ID_SQL = "SELECT OBJECT_ID(?, N'U')"
IDENTITY_SQL = (
    "SELECT CONVERT(nvarchar(36), r.recovery_fork_guid), CONVERT(nvarchar(30), d.create_date, 126) "
    "FROM sys.databases d LEFT JOIN sys.database_recovery_status r ON r.database_id = d.database_id "
    "WHERE d.database_id = DB_ID()"
)
TABLES_SQL = "SELECT SCHEMA_NAME(schema_id), name FROM sys.tables WHERE is_ms_shipped = 0 ORDER BY 1, 2"
TABLE_SQL = (
    "SELECT SCHEMA_NAME(t.schema_id), t.name, c.object_id, c.is_track_columns_updated_on, "
    "(SELECT SUM(p.rows) FROM sys.partitions p WHERE p.object_id = t.object_id AND p.index_id IN (0, 1)) "
    "FROM sys.tables t LEFT JOIN sys.change_tracking_tables c ON c.object_id = t.object_id WHERE t.object_id = ?"
)
COLUMNS_SQL = (
    "SELECT c.name, c.is_nullable, c.max_length, c.precision, c.scale, "
    "CASE WHEN t.is_user_defined = 0 OR t.is_assembly_type = 1 THEN t.name ELSE b.name END "
    "FROM sys.columns c JOIN sys.types t ON t.user_type_id = c.user_type_id "
    "LEFT JOIN sys.types b ON b.user_type_id = c.system_type_id "
    "WHERE c.object_id = ? ORDER BY c.column_id"
)
KEY_SQL = (
    "SELECT c.name FROM sys.indexes i "
    "JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id "
    "JOIN sys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id "
    "WHERE i.object_id = ? AND i.is_primary_key = 1 ORDER BY ic.key_ordinal"
)


def qualified(name: TableName) -> str:
    """``[schema].[table]``, the schema defaulting to dbo."""
    return f"{quote_tsql(name.schema or DEFAULT_SCHEMA)}.{quote_tsql(name.name)}"


def nliteral(text: str) -> str:
    """A Unicode string literal: ``N'it''s'``."""
    return "N" + quote_literal(text)


def object_id_sql(name: TableName) -> str:
    """``OBJECT_ID(N'[schema].[table]')``."""
    return f"OBJECT_ID({nliteral(qualified(name))})"


def min_valid_version_sql(name: TableName) -> str:
    """The seed's per-table check: CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(N'...'))."""
    return f"SELECT CHANGE_TRACKING_MIN_VALID_VERSION({object_id_sql(name)})"


def pin_sql(name: TableName) -> str:
    """Read one row of the table: the read that starts a snapshot transaction's snapshot."""
    return f"SELECT COUNT_BIG(*) FROM (SELECT TOP (1) 1 AS pinned FROM {qualified(name)}) AS pin"


def enable_database_sql(database: str, retention_days: int) -> str:
    """Turn change tracking on for the database, as the tutorial does."""
    return (
        f"ALTER DATABASE {quote_tsql(database)} SET CHANGE_TRACKING = ON "
        f"(CHANGE_RETENTION = {int(retention_days)} DAYS, AUTO_CLEANUP = ON)"
    )


def allow_snapshot_sql(database: str) -> str:
    """Allow snapshot isolation, so every read of a copy sees one state (seed, "Use snapshot isolation")."""
    return f"ALTER DATABASE {quote_tsql(database)} SET ALLOW_SNAPSHOT_ISOLATION ON"


def enable_table_sql(name: TableName, track_columns: bool) -> str:
    """Track the table, with or without SYS_CHANGE_COLUMNS."""
    return (
        f"ALTER TABLE {qualified(name)} ENABLE CHANGE_TRACKING "
        f"WITH (TRACK_COLUMNS_UPDATED = {'ON' if track_columns else 'OFF'})"
    )


def disable_table_sql(name: TableName) -> str:
    """Stop tracking the table (its change information goes with it)."""
    return f"ALTER TABLE {qualified(name)} DISABLE CHANGE_TRACKING"


def enable_statements(database: str, name: TableName, track_columns: bool, retention_days: int) -> list[str]:
    """The statements that enable change tracking on the database and the table."""
    return [
        enable_database_sql(database, retention_days),
        allow_snapshot_sql(database),
        enable_table_sql(name, track_columns),
    ]


def full_select(table: Table, with_change_columns: bool) -> tuple[str, tuple[Column, ...]]:
    """Every row of the table; the change columns, when asked, are NULL."""
    picks = [f"T.{quote_tsql(c.name)}" for c in table.columns]
    columns = table.columns
    if with_change_columns:
        picks.append(f"CAST(NULL AS bigint) AS {quote_tsql(SYS_CHANGE_VERSION)}")
        picks.append(f"CAST(NULL AS nchar(1)) AS {quote_tsql(SYS_CHANGE_OPERATION)}")
        columns += (Column(SYS_CHANGE_VERSION, "int"), Column(SYS_CHANGE_OPERATION, "string"))
    return f"SELECT {', '.join(picks)} FROM {qualified(table.name)} AS T", columns


def changes_select(table: Table, change_columns: tuple[str, ...]) -> tuple[str, tuple[Column, ...]]:
    """The seed's delta query: CHANGETABLE(CHANGES t, ?) left-joined to t, bounded by ``<= ?``, in key order.

    Key columns come from CT so deletes keep their keys; the other columns come from T (NULL for deletes).
    The two parameters are the window's ``after`` and ``upto`` versions.
    """
    t = qualified(table.name)
    picks = [f"{'CT' if c.name in table.primary_key else 'T'}.{quote_tsql(c.name)}" for c in table.columns]
    columns = list(table.columns)
    for name in change_columns:
        if name == SYS_CHANGE_COLUMNS:
            picks.append(f"{changed_columns_sql(table)} AS {quote_tsql(name)}")
            columns.append(Column(name, "string"))
            continue
        expression, kind = _CHANGE_COLUMNS[name]
        picks.append(f"{expression} AS {quote_tsql(name)}")
        columns.append(Column(name, kind))
    on = " AND ".join(f"T.{quote_tsql(k)} = CT.{quote_tsql(k)}" for k in table.primary_key)
    order = ", ".join(f"CT.{quote_tsql(k)}" for k in table.primary_key)
    sql = (
        f"SELECT {', '.join(picks)} FROM CHANGETABLE(CHANGES {t}, ?) AS CT "
        f"LEFT OUTER JOIN {t} AS T ON {on} WHERE CT.SYS_CHANGE_VERSION <= ? ORDER BY {order}"
    )
    return sql, tuple(columns)


def changed_columns_sql(table: Table) -> str:
    """SYS_CHANGE_COLUMNS as the changed non-key columns' names in table order, joined by commas.

    NULL for inserts, deletes and when column tracking is off. SQL Server leaves the mask NULL on an
    update when every column changed, so a NULL mask on an update names every non-key column.
    """
    others = [c.name for c in table.columns if c.name not in table.primary_key]
    if not table.track_columns or not others:
        return "CAST(NULL AS nvarchar(max))"
    table_id = object_id_sql(table.name)
    tests = " + ".join(
        f"CASE WHEN CHANGE_TRACKING_IS_COLUMN_IN_MASK(COLUMNPROPERTY({table_id}, {nliteral(name)}, 'ColumnId'), "
        f"CT.SYS_CHANGE_COLUMNS) = 1 THEN {nliteral(',' + name)} ELSE N'' END"
        for name in others
    )
    return (
        "CASE WHEN CT.SYS_CHANGE_OPERATION <> N'U' THEN NULL "
        f"WHEN CT.SYS_CHANGE_COLUMNS IS NULL THEN {nliteral(','.join(others))} "
        f"ELSE STUFF(CAST({tests} AS nvarchar(max)), 1, 1, N'') END"
    )


_PY_KINDS = {int: "int", Decimal: "decimal", float: "float", bool: "bool", date: "date", time: "time",
             datetime: "datetime", bytes: "binary", bytearray: "binary", uuid.UUID: "uuid"}  # fmt: skip
_STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{7}"
_TEXT_KINDS = [
    ("datetimetz", re.compile(_STAMP + r" [+-]\d\d:\d\d")),
    ("datetime", re.compile(_STAMP)),
    ("time", re.compile(r"\d\d:\d\d:\d\d\.\d{7}")),
    ("uuid", re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")),
]


def query_columns(description: Sequence[tuple[Any, ...]], rows: Sequence[Sequence[Any]]) -> tuple[Column, ...]:
    """A query's columns from pyodbc's description.

    pyodbc describes every converted type (datetime2, datetimeoffset, time, uniqueidentifier) as str,
    so those are recognised by the text of the first rows' values.
    """
    columns = []
    for i, d in enumerate(description):
        kind = _PY_KINDS.get(d[1], "string")
        if d[1] is str:
            values = [r[i] for r in rows[:1000] if r[i] is not None]
            found = (k for k, p in _TEXT_KINDS if values and all(isinstance(v, str) and p.fullmatch(v) for v in values))
            kind = next(found, "string")
        exact = kind == "decimal"
        columns.append(
            Column(d[0], kind, nullable=bool(d[6]), precision=d[4] if exact else None, scale=d[5] if exact else None)
        )
    return tuple(columns)


def kind_of(base_type: str) -> str:
    """The logical kind of a SQL Server base type (char, varchar, nvarchar, text, xml... are strings)."""
    return _KINDS.get(base_type.lower(), "string")


def source_type(base: str, max_length: int, precision: int, scale: int) -> str:
    """The declared type as SQL Server writes it: ``nvarchar(max)``, ``decimal(18,4)``, ``datetime2(7)``."""
    base = base.lower()
    if base in ("char", "varchar", "binary", "varbinary", "nchar", "nvarchar"):
        size = max_length // 2 if base.startswith("n") else max_length
        return f"{base}({'max' if max_length == -1 else size})"
    if base in ("decimal", "numeric"):
        return f"{base}({precision},{scale})"
    if base in ("datetime2", "datetimeoffset", "time"):
        return f"{base}({scale})"
    return base


def column_of(name: str, nullable: bool, max_length: int, precision: int, scale: int, base: str) -> Column:
    """A catalogue row (COLUMNS_SQL) as a Column."""
    kind = kind_of(base)
    exact = kind == "decimal"
    timed = base.lower() in ("datetime2", "datetimeoffset", "time")
    return Column(
        name=name,
        kind=kind,
        source_type=source_type(base, max_length, precision, scale),
        nullable=bool(nullable),
        precision=precision if exact else None,
        scale=scale if exact or timed else None,
    )


_ADO_KEYS = {
    "data source": "SERVER", "server": "SERVER", "address": "SERVER", "addr": "SERVER",
    "network address": "SERVER", "initial catalog": "DATABASE", "database": "DATABASE",
    "user id": "UID", "uid": "UID", "user": "UID", "password": "PWD", "pwd": "PWD",
    "encrypt": "Encrypt", "trustservercertificate": "TrustServerCertificate",
    "trust server certificate": "TrustServerCertificate", "application name": "APP", "app": "APP",
    "applicationintent": "ApplicationIntent", "application intent": "ApplicationIntent",
    "multisubnetfailover": "MultiSubnetFailover", "multi subnet failover": "MultiSubnetFailover",
    "authentication": "Authentication", "integrated security": "Trusted_Connection",
    "trusted_connection": "Trusted_Connection", "hostnameincertificate": "HostnameInCertificate",
    "host name in certificate": "HostnameInCertificate", "workstation id": "WSID",
    "multipleactiveresultsets": "MARS_Connection", "multiple active result sets": "MARS_Connection",
}  # fmt: skip
_TIMEOUT_KEYS = ("connection timeout", "connect timeout", "timeout")
_DROPPED_KEYS = ("persist security info", "pooling", "max pool size", "min pool size", "packet size",
                 "connect retry count", "connectretrycount", "connect retry interval", "connectretryinterval",
                 "load balance timeout", "enlist")  # fmt: skip
_YES = {"true": "yes", "yes": "yes", "mandatory": "yes", "sspi": "yes", "false": "no", "no": "no", "optional": "no"}


def parse_connection_string(text: str) -> list[tuple[str, str]]:
    """Split ``key=value;...`` (ODBC ``{..}`` or ADO.NET ``'..'``/``".."`` quoting) into pairs."""
    pairs, i, n = [], 0, len(text)
    while i < n:
        eq = text.find("=", i)
        if eq < 0:
            break
        key, j = text[i:eq].strip(" ;"), eq + 1
        while j < n and text[j] == " ":
            j += 1
        close = {"{": "}", "'": "'", '"': '"'}.get(text[j] if j < n else "")
        if close:
            value, j = [], j + 1
            while j < n and not (text[j] == close and text[j + 1 : j + 2] != close):
                value.append(text[j])
                j += 2 if text[j] == close else 1
            pairs.append((key, "".join(value)))
            i = text.find(";", j) + 1 or n
        else:
            end = text.find(";", j)
            end = n if end < 0 else end
            pairs.append((key, text[j:end].strip()))
            i = end + 1
    return [(k, v) for k, v in pairs if k]


def format_connection_string(pairs: Sequence[tuple[str, str]]) -> str:
    """ODBC text; the driver and values with ``;``, braces or edge spaces go in ``{..}``, ``}`` doubled."""
    out = []
    for key, value in pairs:
        if key == "DRIVER" or any(ch in value for ch in ";{}=") or value != value.strip():
            value = "{" + value.replace("}", "}}") + "}"
        out.append(f"{key}={value}")
    return ";".join(out) + ";"


def _normal(key: str) -> str:
    return " ".join(key.lower().split())


def connection_fields(text: str) -> dict[str, str]:
    """A connection string's fields under their ODBC names (SERVER, DATABASE, UID, PWD, PORT...)."""
    return {_ADO_KEYS.get(_normal(k), _normal(k).upper()): v for k, v in parse_connection_string(text)}


def ado_to_odbc(text: str, driver: str, login_timeout: int = 15) -> tuple[str, int]:
    """Translate an ADO.NET connection string (or pass an ODBC one through); return it and the login timeout."""
    pairs = parse_connection_string(text)
    if any(_normal(k) in ("driver", "dsn") for k, _ in pairs):
        return text, login_timeout
    out: list[tuple[str, str]] = [("DRIVER", driver)]
    for key, value in pairs:
        name = _normal(key)
        if name in _TIMEOUT_KEYS:
            login_timeout = int(value) if value.strip().isdigit() else login_timeout
        elif name not in _DROPPED_KEYS:
            odbc = _ADO_KEYS.get(name, key)
            if odbc in ("Encrypt", "TrustServerCertificate", "Trusted_Connection", "MARS_Connection"):
                value = _YES.get(value.lower(), value.lower())
            out.extend(_freetds_server(value) if odbc == "SERVER" and driver == "FreeTDS" else [(odbc, value)])
    if driver == "FreeTDS":
        encrypt = next((v for k, v in out if k == "Encrypt"), "yes")
        out = [(k, v) for k, v in out if k not in ("Encrypt", "TrustServerCertificate")]
        out += [("TDS_Version", "7.4"), ("ClientCharset", "UTF-8"), ("Encryption", _freetds_encryption(encrypt))]
    return format_connection_string(out), login_timeout


def _freetds_server(value: str) -> list[tuple[str, str]]:
    host = value.removeprefix("tcp:")
    host, _, port = host.partition(",")
    return [("SERVER", host.strip()), ("PORT", port.strip())] if port else [("SERVER", host.strip())]


def _freetds_encryption(encrypt: str) -> str:
    # FreeTDS has no certificate switch in the connection string: it checks certificates only when
    # freetds.conf names a CA file, so TrustServerCertificate has nothing to map to.
    return "require" if encrypt in ("yes", "strict") else "request"


def timestamp_text(raw: bytes) -> str:
    """SQL_TIMESTAMP_STRUCT (datetime, datetime2) as ``YYYY-MM-DD hh:mm:ss.fffffff``."""
    year, month, day, hour, minute, second, fraction = struct.unpack("<6hI", raw[:16])
    return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}.{fraction // 100:07d}"


def offset_timestamp_text(raw: bytes) -> str:
    """SQL_SS_TIMESTAMPOFFSET_STRUCT as ``YYYY-MM-DD hh:mm:ss.fffffff +hh:mm``."""
    tz_hour, tz_minute = struct.unpack("<6hI2h", raw[:20])[7:]
    sign = "-" if tz_hour < 0 or tz_minute < 0 else "+"
    return f"{timestamp_text(raw[:16])} {sign}{abs(tz_hour):02d}:{abs(tz_minute):02d}"


def time_text(raw: bytes) -> str:
    """SQL_SS_TIME2_STRUCT (padded to 12 bytes, or packed in 10) as ``hh:mm:ss.fffffff``."""
    hour, minute, second, fraction = struct.unpack("<3H2xI" if len(raw) >= 12 else "<3HI", raw[:12])
    return f"{hour:02d}:{minute:02d}:{second:02d}.{fraction // 100:07d}"


def guid_text(raw: bytes) -> str:
    """SQLGUID bytes (first three fields little-endian) in SQL Server's upper-case text form."""
    return str(uuid.UUID(bytes_le=bytes(raw[:16]))).upper()


# ODBC SQL type -> converter of pyodbc's raw bytes for it (pyodbc.Connection.add_output_converter).
OUTPUT_CONVERTERS = {
    SQL_TYPE_TIMESTAMP: timestamp_text,
    SQL_SS_TIMESTAMPOFFSET: offset_timestamp_text,
    SQL_SS_TIME2: time_text,
    SQL_GUID: guid_text,
}
