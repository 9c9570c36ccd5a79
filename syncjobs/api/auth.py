"""API authentication: ``Authorization: Bearer <token>`` (``create_api_token``), or the browser's session."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from syncjobs.api.responses import ApiError
from syncjobs.models import ApiToken

View = Callable[..., HttpResponse]
_SAFE = ("GET", "HEAD", "OPTIONS")


def api_view(*methods: str) -> Callable[[View], View]:
    """Authenticate, allow only ``methods``, and turn ApiError into ADF-shaped JSON errors."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                if request.method not in methods:
                    raise ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed here")
                _authenticate(request)
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return exc.response()

        return wrapped

    return decorate


def _authenticate(request: HttpRequest) -> None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        token = ApiToken.objects.authenticate(header[7:].strip())
        if token is None:
            raise ApiError(401, "AuthenticationFailed", "the bearer token is not valid")
        request.user = token.user
        return
    if not request.user.is_authenticated:
        raise ApiError(401, "AuthenticationFailed", "send 'Authorization: Bearer <token>' (manage.py create_api_token)")
    if request.method not in _SAFE and CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, None, (), {}):
        raise ApiError(403, "Forbidden", "CSRF check failed for a session-authenticated request")
