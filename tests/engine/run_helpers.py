"""Small builders of ADF JSON for engine tests."""

from __future__ import annotations

from typing import Any


def ls(name: str, kind: str, **type_properties: Any) -> dict[str, Any]:
    """A linked service definition as ADF writes it."""
    return {"name": name, "properties": {"type": kind, "typeProperties": type_properties}}
