"""Sign-in routes (``/accounts/``): Django's auth views, with password reset only when mail is configured."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import views
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import path

View = Callable[..., HttpResponseBase]


def mail_configured() -> bool:
    """Whether the portal can send mail (``CTPORTAL_EMAIL_HOST``): password reset needs it."""
    return bool(settings.EMAIL_HOST)


def when_mail_configured(view: View) -> View:
    """``view``, or 404 when no mail server is configured (a reset link could never arrive)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not mail_configured():
            raise Http404("password reset needs a mail server (CTPORTAL_EMAIL_HOST)")
        return view(request, *args, **kwargs)

    return wrapped


def login(request: HttpRequest) -> HttpResponseBase:
    """The sign-in page; it links to password reset only when reset is possible."""
    return views.LoginView.as_view(extra_context={"password_reset": mail_configured()})(request)


urlpatterns = [
    path("login/", login, name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password_change/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password_change/done/", views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password_reset/", when_mail_configured(views.PasswordResetView.as_view()), name="password_reset"),
    path(
        "password_reset/done/",
        when_mail_configured(views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        when_mail_configured(views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/", when_mail_configured(views.PasswordResetCompleteView.as_view()), name="password_reset_complete"
    ),
]
