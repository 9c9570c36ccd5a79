"""python manage.py seed_tutorial [--if-empty] [--dir D]: the ADF tutorial, ready to click.

``D`` is ``tutorial/`` in the first file root by default (``var/files/tutorial``): linked services may
only point inside the file roots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from syncjobs.access import Role
from syncjobs.management.portal_command import PortalCommand
from syncjobs.services.seeding import seed_tutorial


class Command(PortalCommand):
    required_role = Role.ADMIN
    help = "Create the tutorial's SQLite source, output folder, linked services, datasets and pipelines."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="do nothing when pipelines already exist")
        parser.add_argument("--dir", default=str(Path(settings.CTPORTAL_FILE_ROOTS[0]) / "tutorial"))

    def handle(self, *args: Any, **options: Any) -> None:
        seeded = seed_tutorial(Path(options["dir"]), if_empty=options["if_empty"], actor=self.actor)
        if seeded.admin_password:
            self.stdout.write(f"Created user admin with password {seeded.admin_password} (shown once; change it).")
        if seeded.result is None:
            self.stdout.write("Pipelines exist already; the tutorial was not seeded again.")
            return
        self.stdout.write(f"Tutorial source database: {seeded.database}")
        self.stdout.write(f"Files are written under: {seeded.output}")
        for label in seeded.result.created + seeded.result.updated:
            self.stdout.write(f"  {label}")
