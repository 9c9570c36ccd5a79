"""How the SQL Server source reaches ODBC: which driver, and the connection string it is given."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyodbc

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.secret import Secret
from syncjobs.engine.sources import sqlserver_sql as tsql

if TYPE_CHECKING:
    from syncjobs.engine.sources.sqlserver import SqlServerConfig

PREFERRED_DRIVERS = ("ODBC Driver 18 for SQL Server", "ODBC Driver 17 for SQL Server", "FreeTDS")


def choose_driver(config: SqlServerConfig) -> str:
    """The configured driver, or the best installed one (raises driver_missing)."""
    fields = tsql.connection_fields(config.connection_string.reveal()) if config.connection_string else {}
    if "DRIVER" in fields or "DSN" in fields:
        return fields.get("DRIVER", "")  # an ODBC connection string goes to its own driver, as written
    installed = pyodbc.drivers()
    if config.driver:
        if "/" in config.driver or config.driver in installed:
            return config.driver
        raise TerminalError(
            "driver_missing", f"ODBC driver {config.driver!r} is not installed (installed: {', '.join(installed)})"
        )
    found = next((d for d in PREFERRED_DRIVERS if d in installed), None)
    if not found:
        raise TerminalError("driver_missing", "no SQL Server ODBC driver is installed (ODBC Driver 18 or FreeTDS)")
    return found


def odbc_connection_string(config: SqlServerConfig, driver: str) -> tuple[Secret, int]:
    """The ODBC connection string for ``driver`` and the login timeout in seconds."""
    if config.connection_string:
        text, timeout = tsql.ado_to_odbc(config.connection_string.reveal(), driver, config.login_timeout)
        return Secret(text), timeout
    ado = [("Server", f"tcp:{config.server},{config.port}"), ("Database", config.database), ("UID", config.user),
           ("PWD", config.password.reveal()), ("Encrypt", "yes" if config.encrypt else "no"),
           ("TrustServerCertificate", "yes" if config.trust_server_certificate else "no")]  # fmt: skip
    text, timeout = tsql.ado_to_odbc(tsql.format_connection_string(ado), driver, config.login_timeout)
    return Secret(text), timeout
