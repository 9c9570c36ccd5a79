"""Live looks at linked services: test the connection, list tables, preview rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncjobs.adf.confinement import check_confined
from syncjobs.engine import bindings
from syncjobs.engine.errors import EngineError
from syncjobs.engine.pipeline.activities.sources import json_value
from syncjobs.engine.sources import Query
from syncjobs.engine.types import Table, TableName
from syncjobs.models import LinkedService

# What each reason means, in the operator's words.
REASONS = {
    "name_resolution": "The server name could not be resolved (check the host name / DNS).",
    "refused": "The connection was refused: nothing listens on that host and port, or a firewall blocks it.",
    "timeout": "The connection timed out: the host did not answer in time.",
    "login_failed": "Login failed: the user name or password is wrong, or the user may not connect.",
    "auth_failed": "Access denied: the key, SAS token or connection string is wrong or lacks permissions.",
    "database_missing": "The database does not exist on that server.",
    "driver_missing": "The ODBC driver is not installed on the worker (install msodbcsql18 or tdsodbc).",
    "tls": "TLS failed: the server's certificate could not be trusted, or encryption settings do not match.",
    "not_found": "The file or database does not exist.",
    "folder_missing": "The folder does not exist.",
    "container_missing": "The container does not exist.",
    "permission_denied": "Permission denied.",
    "connect_failed": "The connection failed.",
    "path_not_allowed": (
        "The path is outside the file roots the administrator allows (CTPORTAL_FILE_ROOTS), or inside "
        "the portal itself (its database, data directory, code) or a Python environment."
    ),
    "portal_database": "That is the portal's own database: no linked service may point at it.",
}


@dataclass
class ConnectionTest:
    """The result of Test connection: ``ok``, the reason code, and what to tell the operator."""

    ok: bool
    reason: str = ""
    explanation: str = ""
    message: str = ""


def test_connection(definition: dict[str, Any], existing: LinkedService | None = None) -> ConnectionTest:
    """Connect with a (revealed) linked service definition and say exactly what failed, if anything.

    ``existing``: the stored linked service being edited (its own paths do not count as another's).
    The file roots and the portal's database are checked first, so nothing is opened where it may not be.
    """
    try:
        check_confined(definition, (existing or LinkedService()).host_limits())
        target = (
            bindings.source_for(definition)
            if bindings.is_source(definition)
            else bindings.sink_for(definition, quick=True)
        )
    except EngineError as exc:
        return ConnectionTest(False, exc.reason, REASONS.get(exc.reason, "The settings are not usable."), exc.message)
    try:
        target.test_connection()
    except EngineError as exc:
        return ConnectionTest(False, exc.reason, REASONS.get(exc.reason, "The connection failed."), exc.message)
    finally:
        target.close()
    return ConnectionTest(True, "", "Connection successful.")


def tables(linked: LinkedService) -> list[Table]:
    """The source's tables with columns, keys, change-tracking state and row estimates."""
    source = bindings.source_for(linked.revealed_definition())
    try:
        return source.catalogue()
    finally:
        source.close()


@dataclass
class Preview:
    """A table's description and its first rows."""

    table: Table
    columns: list[str]
    rows: list[list[Any]]


def preview(linked: LinkedService, name: TableName, limit: int = 20) -> Preview:
    """The table's columns and first ``limit`` rows, read in one snapshot."""
    source = bindings.source_for(linked.revealed_definition())
    try:
        with source.snapshot() as snapshot:
            table = snapshot.describe(name)
            rows: list[list[Any]] = []
            first_rows = Query(source.dialect.first_rows_sql(table.name, limit))
            for batch in snapshot.read(first_rows, batch_rows=limit):
                rows.extend([json_value(v) for v in row] for row in batch.rows)
                break
    finally:
        source.close()
    return Preview(table, [c.name for c in table.columns], rows[:limit])
