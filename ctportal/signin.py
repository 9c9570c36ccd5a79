"""Sign-in throttling with django-axes: the client's address, and the page a locked-out user sees."""

from __future__ import annotations

import math
from typing import Any

from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ctportal.accounts import mail_configured


def client_address(request: HttpRequest) -> str:
    """The address failed sign-ins are counted against.

    Behind ``CTPORTAL_PROXY_COUNT`` proxies, each appending the address it saw to X-Forwarded-For,
    the client is that many entries from the right; anything further left is the client's own say.
    """
    count = settings.CTPORTAL_PROXY_COUNT
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if count and len(forwarded) >= count:
        return forwarded[-count]
    return request.META.get("REMOTE_ADDR", "")


def locked_out(request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None) -> HttpResponse:
    """The sign-in page saying the lockout and for how long (429 Too Many Requests)."""
    cool_off = get_cool_off(request)
    context = {
        "locked_out_minutes": math.ceil(cool_off.total_seconds() / 60) if cool_off else None,
        "password_reset": mail_configured(),
    }
    return render(request, "registration/login.html", context, status=429)
