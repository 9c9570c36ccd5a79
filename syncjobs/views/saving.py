"""What the page views share: saving a definition from a form, with its findings."""

from __future__ import annotations

from typing import Any

from syncjobs.access import Actor
from syncjobs.adf.findings import DefinitionError, Finding
from syncjobs.models import Definition
from syncjobs.services.definitions import save_definition


def save_or_findings(
    kind: str, definition: dict[str, Any], *, replace: bool, actor: Actor
) -> tuple[Definition | None, list[Finding]]:
    """Save a definition from a form: the saved object and its warnings, or None and the errors that stopped it."""
    try:
        return save_definition(kind, definition, replace=replace, actor=actor)
    except DefinitionError as exc:
        return None, exc.findings
