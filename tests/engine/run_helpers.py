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
