"""Template context: the signed-in user's role, and which actions the layout may offer them.

Hiding a button is a courtesy; every action is checked again on the server (``syncjobs.access``).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from syncjobs.access import Role, role_of
from syncjobs.models import Incident


def portal(request: HttpRequest) -> dict[str, Any]:
    """``role`` (its label), ``can_operate``, ``can_edit`` and ``is_admin`` for every page, and
    ``open_incidents`` for the rail's Alerts badge (one COUNT, run only when a page shows the rail)."""
    role = role_of(getattr(request, "user", None))
    level = role or 0
    return {
        "role": role.label if role else "",
        "can_operate": level >= Role.OPERATOR,
        "can_edit": level >= Role.EDITOR,
        "is_admin": level >= Role.ADMIN,
        "open_incidents": _open_incidents if role else 0,
    }


def _open_incidents() -> int:
    """How many incidents are open (the template calls this only where it renders the rail)."""
    return Incident.objects.open().count()
