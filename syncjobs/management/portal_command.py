"""The base of the portal's management commands."""

from __future__ import annotations

from typing import ClassVar

from django.core.management.base import BaseCommand

from syncjobs.access import Actor, Role


class PortalCommand(BaseCommand):
    """A command declares the role its action needs on the pages (``required_role``, listed in the README).

    Whoever runs it has a shell on the portal's host, and with it the database and its key, so a
    command acts as the system rather than checking a portal user's role; what it changes is noted in
    the audit log as ``cli:<os user>``.
    """

    required_role: ClassVar[Role]

    @property
    def actor(self) -> Actor:
        """Who the audit log names: the operating-system user running the command."""
        return Actor.cli()
