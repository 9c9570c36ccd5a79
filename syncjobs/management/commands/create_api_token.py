"""python manage.py create_api_token USER [--name N]: prints a token for the REST API, once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from syncjobs.access import Role
from syncjobs.management.portal_command import PortalCommand
from syncjobs.services.users import issue_token


class Command(PortalCommand):
    required_role = Role.ADMIN
    help = "Create an API token for USER; send it as 'Authorization: Bearer <token>'. It is shown only now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user")
        parser.add_argument("--name", default="cli", help="what the token is for")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user named {options['user']!r}")
        _, token = issue_token(user, options["name"], actor=self.actor)
        self.stdout.write(token)
