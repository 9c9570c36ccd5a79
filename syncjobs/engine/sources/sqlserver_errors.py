"""SQL Server's errors as engine errors: terminal or transient, by SQLSTATE, native error number and text."""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyodbc

from syncjobs.engine.errors import EngineError, TerminalError, TransientError
from syncjobs.engine.sources import sqlserver_sql as tsql

if TYPE_CHECKING:
    from syncjobs.engine.sources.sqlserver_odbc import SqlServerConfig


def _target(config: SqlServerConfig) -> tuple[str, str]:
    """``host`` and ``server/database`` for messages (never a password)."""
    if not config.connection_string:
        return config.server, f"{config.server},{config.port}/{config.database}"
    fields = tsql.connection_fields(config.connection_string.reveal())
    server = fields.get("SERVER", "")
    host = server.removeprefix("tcp:").partition(",")[0].partition("\\")[0]
    port = f",{fields['PORT']}" if fields.get("PORT") else ""
    return host, f"{server}{port}/{fields.get('DATABASE', '')}"


_NATIVE = {
    4060: ("database_missing", False), 18456: ("login_failed", False), 1205: ("deadlock", True),
    3960: ("snapshot_conflict", True), 3961: ("snapshot_conflict", True), 20003: ("timeout", True),
    20009: ("refused", True), 10061: ("refused", True), 11001: ("name_resolution", False),
    208: ("table_not_found", False), 229: ("permission_denied", False), 40613: ("unavailable", True),
    40501: ("throttled", True), 40197: ("unavailable", True), 49918: ("throttled", True),
}  # fmt: skip
_STATES = {
    "IM002": ("driver_missing", False), "28000": ("login_failed", False), "HYT00": ("timeout", True),
    "HYT01": ("timeout", True), "40001": ("deadlock", True), "42S02": ("table_not_found", False),
}  # fmt: skip
_TEXTS = [
    ("can't open lib", "driver_missing", False), ("data source name not found", "driver_missing", False),
    ("ssl", "tls", False), ("certificate", "tls", False), ("tls", "tls", False),
    ("0x2af9", "name_resolution", False), ("getaddrinfo", "name_resolution", False),
    ("name or service not known", "name_resolution", False), ("unknown host", "name_resolution", False),
    ("0x274d", "refused", True), ("refused", "refused", True),
    ("timeout expired", "timeout", True), ("timed out", "timeout", True),
]  # fmt: skip


def _message(exc: BaseException, secrets: Sequence[str]) -> str:
    raw = exc.args[-1] if exc.args and isinstance(exc.args[-1], str) else str(exc)
    parts = [re.sub(r"^(\[[^\]]*\]\s*)+", "", p.strip()) for p in raw.split("; [")]
    text = " ".join(re.sub(r"\s*\((\d+|SQL\w+)\)", "", p) for p in parts).strip() or type(exc).__name__
    for secret in secrets:
        text = text.replace(secret, "***") if secret else text
    return text


def _classify(state: str, natives: set[int], lowered: str) -> tuple[str, bool]:
    found = next((_NATIVE[n] for n in _NATIVE if n in natives), None) or _STATES.get(state)
    if found:
        return found
    if state.startswith("42"):
        return "invalid_query", False
    found = next(((r, t) for text, r, t in _TEXTS if text in lowered), None)
    return found or (("connection_lost", True) if state == "08S01" else ("query_failed", False))


def engine_error(exc: pyodbc.Error, config: SqlServerConfig, connecting: bool = False) -> EngineError:
    """Map a pyodbc error to a terminal or transient engine error by SQLSTATE and native number."""
    secrets = [config.password.reveal()]
    if config.connection_string:
        secrets.append(tsql.connection_fields(config.connection_string.reveal()).get("PWD", ""))
    message = _message(exc, secrets)
    state = str(exc.args[0]) if len(exc.args) > 1 else ""
    raw = str(exc.args[-1]) if exc.args else ""
    natives = {int(n) for n in re.findall(r"\((\d+)\)", raw)}
    reason, transient = _classify(state, natives, raw.lower())
    host, target = _target(config)
    if connecting and reason in ("query_failed", "connection_lost"):
        reason, transient = ("name_resolution", False) if host and not _resolves(host) else ("connect_failed", True)
    if connecting:
        message = f"cannot connect to SQL Server {target}: {message}"
        if reason == "name_resolution":
            message += f" (the host name {host!r} does not resolve)"
    return (TransientError if transient else TerminalError)(reason, message)


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return True
