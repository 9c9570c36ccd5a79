"""python manage.py change_tracking enable|disable|status LINKED_SERVICE TABLE."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from syncjobs.access import Role
from syncjobs.engine.errors import EngineError
from syncjobs.management.portal_command import PortalCommand
from syncjobs.models import LinkedService
from syncjobs.services import change_tracking


class Command(PortalCommand):
    required_role = Role.ADMIN
    help = (
        "Turn change tracking on or off for a table, or show its state. PostgreSQL and SQLite get the portal's "
        "own; for SQL Server the T-SQL is printed, and run only with --apply."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["enable", "disable", "status"])
        parser.add_argument("linked_service", help="the source linked service's name")
        parser.add_argument("table", help="the table, optionally schema-qualified")
        parser.add_argument("--apply", action="store_true", help="SQL Server: run the printed statements")
        parser.add_argument("--no-track-columns", action="store_true", help="do not track which columns changed")
        parser.add_argument("--retention-days", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        linked = LinkedService.objects.filter(name__iexact=options["linked_service"]).first()
        if linked is None:
            raise CommandError(f"no linked service named {options['linked_service']!r}")
        try:
            lines = change_tracking.act(
                linked,
                options["action"],
                options["table"],
                apply=options["apply"],
                track_columns=not options["no_track_columns"],
                retention_days=options["retention_days"],
                actor=self.actor,
            )
        except EngineError as exc:
            raise CommandError(str(exc)) from None
        for line in lines:
            self.stdout.write(line)
