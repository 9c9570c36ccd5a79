"""Forms of the Admin pages: users and roles, API tokens, and the audit log's filters."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator

from syncjobs.access import Role
from syncjobs.models import AuditEntry

ROLE_CHOICES = [(role.label, role.label) for role in Role]


class RoleField(forms.ChoiceField):
    """A role by its label."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=ROLE_CHOICES, **kwargs)

    def clean(self, value: Any) -> Role:
        return Role.parse(super().clean(value))


class NewUserForm(forms.Form):
    """A user with a password and a role."""

    username = forms.CharField(label="User name", max_length=150, validators=[UnicodeUsernameValidator()])
    password = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    role = RoleField(label="Role", initial=Role.VIEWER.label)


class UserChangeForm(forms.Form):
    """A user's role, active flag and (optionally) a new password."""

    role = RoleField(label="Role")
    active = forms.BooleanField(label="Active", required=False)
    password = forms.CharField(label="New password", widget=forms.PasswordInput, strip=False, required=False)


class TokenForm(forms.Form):
    """An API token for an active user; it acts with that user's role."""

    user = forms.ModelChoiceField(label="User", queryset=get_user_model().objects.none())
    name = forms.CharField(label="What it is for", max_length=100)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        users = cast(forms.ModelChoiceField, self.fields["user"])
        users.queryset = get_user_model().objects.filter(is_active=True).order_by("username")


class AuditFilterForm(forms.Form):
    """The audit log's filters; all optional."""

    user = forms.CharField(label="User", required=False, max_length=200)
    action = forms.ChoiceField(label="Action", required=False, choices=[("", "any"), *AuditEntry.Action.choices])
    object = forms.CharField(label="Object", required=False, max_length=400)
    after = forms.DateTimeField(label="After", required=False)
    before = forms.DateTimeField(label="Before", required=False)

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for ``AuditEntry.objects.matching`` (none when the form is invalid)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {"user": data["user"], "action": data["action"], "obj": data["object"], **_times(data)}


def _times(data: dict[str, Any]) -> dict[str, Any]:
    return {key: data[key] for key in ("after", "before") if data.get(key)}
