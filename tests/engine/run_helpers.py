"""Small builders of ADF JSON for engine tests."""

from __future__ import annotations

from typing import Any


def ls(name: str, kind: str, **type_properties: Any) -> dict[str, Any]:
    """A linked service definition as ADF writes it."""
    return {"name": name, "properties": {"type": kind, "typeProperties": type_properties}}


def pg_linked_service(config: Any, name: str = "Pg") -> dict[str, Any]:
    """A PostgreSqlV2 linked service on a ``PostgresConfig`` (the ``pg_database`` fixture), password a SecureString."""
    secret = {"type": "SecureString", "value": config.password.reveal()}
    return ls(
        name,
        "PostgreSqlV2",
        server=config.host,
        port=config.port,
        database=config.database,
        username=config.username,
        password=secret,
        sslMode=0,
    )


def flaky_script(name: str, linked_service: str, retries: int = 1) -> dict[str, Any]:
    """A Script on a PostgreSQL linked service that fails its first attempt and succeeds on the next.

    The first attempt's session ends itself (``pg_terminate_backend`` of its own backend: the connection
    is lost, a transient error a retry may mend); each script commits on its own, so the count of
    attempts survives the failure. Retried at once (a run allows an interval of 0).
    """
    count_attempts = "INSERT INTO flaky_attempts VALUES (1)"
    fail_first = (
        "SELECT CASE WHEN (SELECT count(*) FROM flaky_attempts) < 2 THEN pg_terminate_backend(pg_backend_pid()) "
        "ELSE true END AS ok"
    )
    return {
        "name": name,
        "type": "Script",
        "linkedServiceName": {"referenceName": linked_service, "type": "LinkedServiceReference"},
        "policy": {"retry": retries, "retryIntervalInSeconds": 0},
        "typeProperties": {
            "scripts": [
                {"type": "NonQuery", "text": "CREATE TABLE IF NOT EXISTS flaky_attempts (n int)"},
                {"type": "NonQuery", "text": count_attempts},
                {"type": "Query", "text": fail_first},
            ]
        },
    }
