"""Seeding: the ADF tutorial (``syncjobs/tutorial.py``) stored in the portal: its source database, linked
services, datasets and pipelines, and an Admin when there are no users."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from syncjobs import tutorial
from syncjobs.access import SYSTEM, Actor
from syncjobs.models import LinkedService, Pipeline
from syncjobs.services.definitions import ImportResult, import_definitions
from syncjobs.services.users import ensure_admin


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
