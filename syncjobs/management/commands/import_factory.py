"""python manage.py import_factory DIR [--replace]: import a folder of ADF JSON, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from syncjobs.access import Role
from syncjobs.adf.findings import DefinitionError
from syncjobs.management.portal_command import PortalCommand
from syncjobs.services.definitions import import_folder


class Command(PortalCommand):
    required_role = Role.ADMIN
    help = (
        "Import linked services, datasets, pipelines and triggers from DIR (ADF's repository layout, "
        "or loose *.json files). Nothing is saved unless every object is valid."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--replace", action="store_true", help="update objects that already exist")

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["directory"]
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        try:
            result = import_folder(folder, replace=options["replace"], actor=self.actor)
        except DefinitionError as exc:
            raise CommandError("nothing imported:\n" + "\n".join(f"  {f}" for f in exc.findings)) from exc
        for finding in result.findings:
            self.stdout.write(f"{finding.severity}: {finding}")
        self.stdout.write(
            self.style.SUCCESS(f"Imported {len(result.created)} new and {len(result.updated)} updated definitions")
        )
