"""python manage.py rotate_encryption_keys: every stored secret re-encrypted under the first key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from syncjobs.access import Role
from syncjobs.management.portal_command import PortalCommand
from syncjobs.services.key_rotation import rotate_encryption_keys


class Command(PortalCommand):
    help = (
        "Re-encrypt every stored secret under the first of CTPORTAL_FIELD_ENCRYPTION_KEYS; afterwards the "
        "other keys can be removed. Exits 1 when a secret cannot be read with any configured key."
    )
    required_role = Role.ADMIN

    def handle(self, *args: Any, **options: Any) -> None:
        unreadable = []
        for result in rotate_encryption_keys():
            self.stdout.write(
                f"{result.label}: {result.reencrypted} re-encrypted, {result.current} already under the first key"
                + (f", {len(result.unreadable)} unreadable" if result.unreadable else "")
            )
            unreadable += [f"{result.label} pk={pk}" for pk in result.unreadable]
        if unreadable:
            raise CommandError(
                "no configured key decrypts these (keep their old key in CTPORTAL_FIELD_ENCRYPTION_KEYS): "
                + ", ".join(unreadable)
            )
