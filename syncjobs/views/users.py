"""Manage, for Admins: users and their roles, API tokens, and the audit log."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from syncjobs.access import Actor, Role, requires, stored_role
from syncjobs.forms.users import AuditFilterForm, NewUserForm, TokenForm, UserChangeForm
from syncjobs.models import ApiToken, AuditEntry
from syncjobs.services import users as service

AUDIT_PAGE = 50


@requires(GET=Role.ADMIN, POST=Role.ADMIN)
def users(request: HttpRequest) -> HttpResponse:
    """Every user with their role and active flag; POST creates one."""
    form = NewUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            service.create_user(data["username"], data["password"], data["role"], actor=Actor.of(request.user))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"User {data['username']} created as {data['role'].label}.")
            return redirect("syncjobs:manage_users")
    rows = [
        (
            user,
            UserChangeForm(initial={"role": stored_role(user).label, "active": user.is_active}, prefix=f"u{user.pk}"),
        )
        for user in get_user_model().objects.prefetch_related("groups").order_by("username")
    ]
    return render(request, "manage/users.html", {"rows": rows, "form": form})


@requires(POST=Role.ADMIN)
def change_user(request: HttpRequest, user_id: int) -> HttpResponse:
    """Change a user's role, active flag or password."""
    user = get_object_or_404(get_user_model(), pk=user_id)
    form = UserChangeForm(request.POST, prefix=f"u{user.pk}")
    if not form.is_valid():
        messages.error(request, f"{user.get_username()} not changed: {form.errors.as_text()}")
        return redirect("syncjobs:manage_users")
    data = form.cleaned_data
    try:
        service.update_user(user, data["role"], data["active"], data["password"], actor=Actor.of(request.user))
    except ValidationError as exc:
        messages.error(request, f"{user.get_username()} not changed: {' '.join(exc.messages)}")
    else:
        state = "active" if data["active"] else "inactive"
        messages.success(request, f"{user.get_username()}: {data['role'].label}, {state}.")
    return redirect("syncjobs:manage_users")


@requires(GET=Role.ADMIN, POST=Role.ADMIN)
@never_cache  # the page may hold a token's value: no browser or proxy keeps it
def tokens(request: HttpRequest) -> HttpResponse:
    """API tokens; POST issues one and shows its value this once."""
    form = TokenForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        token, value = service.issue_token(
            form.cleaned_data["user"], form.cleaned_data["name"], actor=Actor.of(request.user)
        )
        issued, form = (token, value), TokenForm()
    listed = ApiToken.objects.select_related("user").order_by("user__username", "name")
    return render(request, "manage/tokens.html", {"tokens": listed, "form": form, "issued": issued})


@requires(POST=Role.ADMIN)
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    """Revoke a token: it stops working at once."""
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=token_id)
    service.revoke_token(token, actor=Actor.of(request.user))
    messages.success(request, f"Token {token.name} of {token.user.get_username()} revoked.")
    return redirect("syncjobs:manage_tokens")


@requires(GET=Role.ADMIN)
def audit_log(request: HttpRequest) -> HttpResponse:
    """Who did what and when: filtered by user, action, object and time, 50 a page."""
    form = AuditFilterForm(request.GET or None)
    rows = AuditEntry.objects.matching(**form.filters()).select_related("user")
    page = Paginator(rows, AUDIT_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "manage/audit.html", {"form": form, "page": page, "query": query.urlencode()})
