"""python manage.py set_role USER ROLE [--deactivate | --activate]: a user's role, creating the user if new."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from syncjobs.access import Role
from syncjobs.management.portal_command import PortalCommand
from syncjobs.services import users


class Command(PortalCommand):
    help = (
        "Give USER the role Viewer, Operator, Editor or Admin. A user that does not exist is created with a "
        "password printed once (change it)."
    )
    required_role = Role.ADMIN

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user")
        parser.add_argument("role", choices=[r.label for r in Role], type=str.capitalize)
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--deactivate", action="store_true", help="the user can no longer sign in or use tokens")
        state.add_argument("--activate", action="store_true", help="let an inactive user in again")

    def handle(self, *args: Any, **options: Any) -> None:
        role = Role.parse(options["role"])
        user = get_user_model().objects.filter(username=options["user"]).first()
        try:
            if user is None:
                password = secrets.token_urlsafe(12)
                user = users.create_user(options["user"], password, role, actor=self.actor)
                self.stdout.write(f"Created user {user.username} with password {password} (shown once; change it).")
            users.set_role(user, role, actor=self.actor)
            if options["deactivate"] or options["activate"]:
                users.set_active(user, options["activate"], actor=self.actor)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        state = "active" if user.is_active else "inactive"
        self.stdout.write(f"{user.username}: {role.label}, {state}")
