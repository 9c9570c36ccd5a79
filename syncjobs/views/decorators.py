"""View guards: operators (staff) may change things; everyone signed in may look."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from syncjobs.adf.findings import DefinitionError, Finding
from syncjobs.adf.repository import save_definition
from syncjobs.context import role_of
from syncjobs.models import Definition


def operator_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in as an Operator or Admin, or 403."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if role_of(request.user) == "Viewer":
            raise PermissionDenied("Viewers cannot change anything; ask an admin for the Operator role.")
        return view(request, *args, **kwargs)

    return wrapped


def save_or_findings(
    kind: str, definition: dict[str, Any], *, replace: bool
) -> tuple[Definition | None, list[Finding]]:
    """Save a definition from a form: the saved object and its warnings, or None and the errors that stopped it."""
    try:
        return save_definition(kind, definition, replace=replace)
    except DefinitionError as exc:
        return None, exc.findings
