"""`manage.py triggers start|stop|list [NAME]`: the runtime state of schedule triggers."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from syncjobs.access import Role
from syncjobs.management.portal_command import PortalCommand
from syncjobs.models import Trigger
from syncjobs.services.triggers import set_started


class Command(PortalCommand):
    """Start, stop or list triggers."""

    required_role = Role.OPERATOR
    help = "Start or stop a trigger, or list triggers with their state and last fire time."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["start", "stop", "list"])
        parser.add_argument("name", nargs="?")

    def handle(self, *args: Any, action: str, name: str | None, **options: Any) -> None:
        if action == "list":
            found = Trigger.objects.filter(name=name) if name else Trigger.objects.order_by("name")
            for listed in found:
                fired = listed.last_fired_at.isoformat() if listed.last_fired_at else "never"
                self.stdout.write(f"{listed.name}\t{listed.type}\t{listed.runtime_state}\tlast fired {fired}")
            return
        if not name:
            raise CommandError(f"triggers {action} needs a trigger name.")
        trigger = Trigger.objects.filter(name=name).first()
        if trigger is None:
            raise CommandError(f"No trigger named {name!r}.")
        set_started(trigger, action == "start", actor=self.actor)
        self.stdout.write(f"{trigger.name}: {trigger.runtime_state}")
