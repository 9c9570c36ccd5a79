"""python manage.py recover_runs: fail runs whose worker died (also scheduled every minute)."""

from __future__ import annotations

from typing import Any

from syncjobs.access import Role
from syncjobs.management.portal_command import PortalCommand
from syncjobs.services.runs import recover_stalled_runs


class Command(PortalCommand):
    required_role = Role.OPERATOR
    help = "Fail runs left InProgress by a worker that was killed or crashed; prints how many."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{recover_stalled_runs()} run(s) recovered")
