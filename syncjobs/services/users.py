"""Users, their roles and their API tokens: every change noted in the audit log."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from syncjobs.access import SYSTEM, Actor, Role, store_role, stored_role
from syncjobs.models import ApiToken, AuditEntry
from syncjobs.services import audit

Action = AuditEntry.Action


def create_user(username: str, password: str, role: Role, *, actor: Actor = SYSTEM) -> Any:
    """A new active user with ``role``; ValidationError for a taken name or a weak password."""
    users = get_user_model()
    if users.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"a user named {username!r} exists already"})
    try:
        validate_password(password, users(username=username))
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    with transaction.atomic():
        user = users.objects.create_user(username, password=password)
        store_role(user, role)
        audit.record(actor, Action.CREATE, "user", username, role=role.label)
    return user


def ensure_admin(actor: Actor = SYSTEM) -> str | None:
    """Create user ``admin`` (an Admin) when there are no users; return the password to show once (None otherwise)."""
    users = get_user_model()
    if users.objects.exists():
        return None
    password = os.environ.get("CTPORTAL_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    users.objects.create_superuser("admin", "", password)
    audit.record(actor, Action.CREATE, "user", "admin", role=Role.ADMIN.label)
    return password


def update_user(user: Any, role: Role, active: bool, password: str = "", *, actor: Actor = SYSTEM) -> None:
    """Role, active flag and (when given) password at once: all or nothing."""
    with transaction.atomic():
        set_role(user, role, actor=actor)
        set_active(user, active, actor=actor)
        if password:
            set_password(user, password, actor=actor)


def set_role(user: Any, role: Role, *, actor: Actor = SYSTEM) -> None:
    """Give ``user`` ``role``; the last active Admin cannot lose it."""
    before = stored_role(user)
    if before == role:
        return
    if before == Role.ADMIN:
        _keep_an_admin(user)
    with transaction.atomic():
        store_role(user, role)
        audit.record(actor, Action.SET_ROLE, "user", user.get_username(), before=before.label, after=role.label)


def set_active(user: Any, active: bool, *, actor: Actor = SYSTEM) -> None:
    """Activate or deactivate ``user`` (an inactive user can do nothing; its tokens stop working)."""
    if user.is_active == active:
        return
    if not active and stored_role(user) == Role.ADMIN:
        _keep_an_admin(user)
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        audit.record(actor, Action.ACTIVATE if active else Action.DEACTIVATE, "user", user.get_username())


def set_password(user: Any, password: str, *, actor: Actor = SYSTEM) -> None:
    """A new password for ``user`` (validated; never recorded)."""
    validate_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(actor, Action.SET_PASSWORD, "user", user.get_username())


def issue_token(user: Any, name: str, *, actor: Actor = SYSTEM) -> tuple[ApiToken, str]:
    """A new API token for ``user``, acting with its role; the value is returned once, never stored."""
    with transaction.atomic():
        token, value = ApiToken.issue(user, name)
        audit.record(actor, Action.ISSUE_TOKEN, "apiToken", f"{user.get_username()}/{name}", tokenId=token.pk)
    return token, value


def revoke_token(token: ApiToken, *, actor: Actor = SYSTEM) -> None:
    """Delete ``token``: it stops working at once."""
    with transaction.atomic():
        label, pk = f"{token.user.get_username()}/{token.name}", token.pk
        token.delete()
        audit.record(actor, Action.REVOKE_TOKEN, "apiToken", label, tokenId=pk)


def _keep_an_admin(leaving: Any) -> None:
    others = get_user_model().objects.filter(is_superuser=True, is_active=True).exclude(pk=leaving.pk)
    if not others.exists():
        raise ValidationError("the last active Admin keeps that role; make someone else Admin first")
