"""API authentication and roles: ``Authorization: Bearer <token>`` (acting with its user's role), or the session.

Every route declares the role each method needs (``@api_view(GET=Role.VIEWER, PUT=Role.EDITOR)``);
``syncjobs.access.check`` decides, as it does for pages: 401 without a valid sign-in, 403 when the
role is too low, 405 for an undeclared method.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from syncjobs.access import Need, RoleRule, Verdict, check, denial
from syncjobs.api.responses import ApiError
from syncjobs.models import ApiToken

View = Callable[..., HttpResponse]
_SAFE = ("GET", "HEAD", "OPTIONS")


def api_view(**roles: RoleRule) -> Callable[[View], View]:
    """Authenticate, check the role the method needs, and turn ApiError into ADF-shaped JSON errors."""
    need = Need(dict(roles))

    def decorate(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                _authorize(request, need, kwargs)
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return exc.response()

        wrapped.required_role = need  # type: ignore[attr-defined]
        return wrapped

    return decorate


def _authorize(request: HttpRequest, need: Need, kwargs: dict[str, Any]) -> None:
    if need.role_for(request.method or "GET", kwargs) is None:
        raise ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed here")
    _authenticate(request)
    verdict, needed = check(request.user, need, request.method or "GET", kwargs)
    if verdict is Verdict.SIGN_IN:  # a session of a user deactivated since
        raise ApiError(401, "AuthenticationFailed", "sign in again")
    if verdict is Verdict.FORBIDDEN:
        raise ApiError(403, "Forbidden", denial(request.user, needed))  # type: ignore[arg-type]


def _authenticate(request: HttpRequest) -> None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        token = ApiToken.objects.authenticate(header[7:].strip())
        if token is None:
            raise ApiError(401, "AuthenticationFailed", "the bearer token is not valid")
        request.user = token.user
        return
    if not request.user.is_authenticated:
        raise ApiError(
            401,
            "AuthenticationFailed",
            "send 'Authorization: Bearer <token>' (an Admin issues one: Manage > API tokens, or create_api_token)",
        )
    if request.method not in _SAFE and CsrfViewMiddleware(_a_view).process_view(request, _a_view, (), {}):
        raise ApiError(403, "Forbidden", "CSRF check failed for a session-authenticated request")


def _a_view(request: HttpRequest) -> HttpResponse:
    """Stands for the API view in Django's CSRF check, which asks a view only whether it is exempt (it is not)."""
    return HttpResponse()
