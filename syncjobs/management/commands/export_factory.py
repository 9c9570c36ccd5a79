"""python manage.py export_factory DIR: write every definition in ADF's repository layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from syncjobs.access import Role
from syncjobs.management.portal_command import PortalCommand
from syncjobs.services.definitions import export_folder


class Command(PortalCommand):
    required_role = Role.VIEWER
    help = "Export linked services, datasets, pipelines and triggers to DIR/<kind>/<name>.json (secrets masked)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        written = export_folder(options["directory"])
        for path in written:
            self.stdout.write(str(path))
        self.stdout.write(self.style.SUCCESS(f"Exported {len(written)} definitions to {options['directory']}"))
