"""Template context: the signed-in user's role, shown in the layout."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def role_of(user: Any) -> str:
    """Admin (superuser), Operator (staff: may trigger, edit and cancel) or Viewer (reads only)."""
    if getattr(user, "is_superuser", False):
        return "Admin"
    if getattr(user, "is_staff", False):
        return "Operator"
    return "Viewer"


def portal(request: HttpRequest) -> dict[str, Any]:
    """``role`` and ``can_operate`` for every page."""
    user = getattr(request, "user", None)
    return {"role": role_of(user), "can_operate": role_of(user) in ("Admin", "Operator")}
