"""Writing the audit log. The services call ``record``; a detail holds names and JSON paths, never values.

Values stay out on purpose: a definition's values may hold a secret the masking did not recognise, a
pipeline's SecureString default, or a connection string. Which paths changed is enough to know what
to look at, and the definition itself (secrets masked) is on its page.
"""

from __future__ import annotations

from typing import Any

from syncjobs.access import Actor
from syncjobs.models import AuditEntry, Definition, LinkedService

MAX_PATHS = 50


def record(actor: Actor, action: str, kind: str, name: str, **detail: Any) -> AuditEntry:
    """Write one entry."""
    return AuditEntry.objects.create(
        actor=actor.name,
        user_id=actor.user_id,
        role=actor.role,
        action=action,
        object_kind=kind,
        object_name=name[:400],
        detail=detail,
    )


def record_definition(actor: Actor, before: Definition | None, after: Definition) -> AuditEntry:
    """A created or changed definition: its type, and the JSON paths (and secret ids) that changed."""
    detail: dict[str, Any] = {}
    kind = getattr(after, "type", "")  # linked services, datasets and triggers have one; pipelines none
    if kind:
        detail["type"] = kind
    if before is not None:
        paths = changed_paths(before.properties, after.properties, "properties")
        detail["changed"] = paths[:MAX_PATHS]
        if len(paths) > MAX_PATHS:
            detail["more"] = len(paths) - MAX_PATHS
        if before.name != after.name:
            detail["renamedFrom"] = before.name
    if isinstance(after, LinkedService):
        old = before.secrets() if isinstance(before, LinkedService) else {}
        new = after.secrets()
        detail["secretsChanged"] = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    action = AuditEntry.Action.CREATE if before is None else AuditEntry.Action.CHANGE
    return record(actor, action, after.KIND, after.name, **detail)


def changed_paths(old: Any, new: Any, path: str) -> list[str]:
    """The JSON paths under ``path`` whose values differ between ``old`` and ``new`` (leaves, or added/removed)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key in sorted(old.keys() | new.keys(), key=str):
            found += changed_paths(old.get(key), new.get(key), f"{path}.{key}")
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [p for i, (a, b) in enumerate(zip(old, new, strict=True)) for p in changed_paths(a, b, f"{path}[{i}]")]
    return [] if old == new else [path]
