"""Seed the ADF tutorial into the portal: its source database, linked services, datasets and pipelines."""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from syncjobs import tutorial
from syncjobs.access import SYSTEM, Actor, Role
from syncjobs.adf.repository import ImportResult, import_definitions
from syncjobs.models import AuditEntry, LinkedService, Pipeline
from syncjobs.services import audit


@dataclass
class Seeded:
    """What seeding did; ``admin_password`` is set only when an admin was created with a new password."""

    result: ImportResult | None
    database: Path
    output: Path
    admin_password: str | None = None


def seed_tutorial(folder: Path, *, if_empty: bool = False, actor: Actor = SYSTEM) -> Seeded:
    """Create the tutorial's source database under ``folder`` (if missing) and store its objects."""
    folder = folder.resolve()
    database, output = folder / "source.sqlite3", folder / "output"
    admin_password = ensure_admin(actor)
    _move_from_the_data_directory(folder)
    if if_empty and Pipeline.objects.exists():
        return Seeded(None, database, output, admin_password)
    output.mkdir(parents=True, exist_ok=True)
    if not database.exists():
        tutorial.create_source_database(database)
    items = [("linkedService", ls) for ls in tutorial.linked_services(str(database), str(output))]
    items += [("dataset", d) for d in tutorial.datasets()] + [("pipeline", p) for p in tutorial.pipelines()]
    return Seeded(import_definitions(items, replace=True, actor=actor), database, output, admin_password)


def _move_from_the_data_directory(folder: Path) -> None:
    """Earlier versions seeded into ``<data dir>/tutorial``, outside any file root: move it into ``folder``.

    The tutorial's linked services are pointed at the new place, so an existing ``./dev run`` keeps working.
    """
    legacy = (Path(settings.DATA_DIR) / "tutorial").resolve()
    if legacy == folder or not (legacy / "source.sqlite3").is_file() or folder.exists():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(legacy, folder)
    if LinkedService.objects.filter(name=tutorial.SOURCE_LS).exists():
        items = tutorial.linked_services(str(folder / "source.sqlite3"), str(folder / "output"))
        import_definitions([("linkedService", ls) for ls in items], replace=True)


def ensure_admin(actor: Actor = SYSTEM) -> str | None:
    """Create user ``admin`` (an Admin) when there are no users; return the password to show once (None otherwise)."""
    users = get_user_model()
    if users.objects.exists():
        return None
    password = os.environ.get("CTPORTAL_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    users.objects.create_superuser("admin", "", password)
    audit.record(actor, AuditEntry.Action.CREATE, "user", "admin", role=Role.ADMIN.label)
    return password
