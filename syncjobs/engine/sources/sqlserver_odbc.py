"""How the SQL Server source reaches ODBC: its settings (``SqlServerConfig``), which driver, and the
connection string the driver is given. The config lives here, beside what reads it, so the connector
module (``sqlserver.py``) and its error mapping (``sqlserver_errors.py``) both import it from below."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyodbc

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.secret import Secret
from syncjobs.engine.sources import sqlserver_sql as tsql

PREFERRED_DRIVERS = ("ODBC Driver 18 for SQL Server", "ODBC Driver 17 for SQL Server", "FreeTDS")


@dataclass(frozen=True)
class SqlServerConfig:
    """ADF's SqlServer linked service: a connection string, or server, database, user and password."""

    server: str = ""
    database: str = ""
    user: str = ""
    password: Secret = field(default_factory=lambda: Secret(""))
    port: int = 1433
    encrypt: bool = True
    trust_server_certificate: bool = False
    driver: str | None = None  # None: ODBC Driver 18 for SQL Server if installed, else 17, else FreeTDS
    login_timeout: int = 15
    connection_string: Secret | None = None  # raw ODBC, or ADO.NET as ADF writes it


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
