"""Roles: who may do what. Every page, API route and command declares the role it needs; it is checked here.

Viewer < Operator < Editor < Admin, each role allowed everything the ones below it are:

- *Viewer*: Monitor and definitions, read-only; no data previews.
- *Operator*: Trigger now, rerun, cancel; start and stop triggers.
- *Editor*: author datasets, pipelines and triggers; browse and preview source data.
- *Admin*: linked services, change tracking, users and roles, API tokens, the audit log, Django admin.

A superuser is an Admin. Any other user holds the role of the group named after it (Viewer when in
none). Anonymous and inactive users have no role at all. An API token acts with its user's role.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from functools import wraps
from typing import Any

from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseNotAllowed
from django.http.response import HttpResponseBase
from django.urls import URLPattern, URLResolver

View = Callable[..., HttpResponseBase]


class Role(IntEnum):
    """A role; a higher one includes every lower one."""

    VIEWER = 1
    OPERATOR = 2
    EDITOR = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        """``Viewer``, ``Operator``, ``Editor`` or ``Admin``."""
        return self.name.title()

    @classmethod
    def parse(cls, text: str) -> Role:
        """A role from its label, any case; ValueError for anything else."""
        for role in cls:
            if role.label.lower() == str(text).strip().lower():
                return role
        raise ValueError(f"unknown role {text!r} (one of {', '.join(r.label for r in cls)})")


GROUP_ROLES = (Role.VIEWER, Role.OPERATOR, Role.EDITOR)  # Admin is the superuser flag, not a group
# Who may create, change or delete each kind of definition.
WRITE_ROLES = {"linkedService": Role.ADMIN, "dataset": Role.EDITOR, "pipeline": Role.EDITOR, "trigger": Role.EDITOR}
_CACHE = "_ctportal_role"


def role_of(user: Any) -> Role | None:
    """The user's role; None for anonymous and inactive users (remembered on the user object)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if not hasattr(user, _CACHE):
        setattr(user, _CACHE, stored_role(user))
    return getattr(user, _CACHE)


def stored_role(user: Any) -> Role:
    """The role a user holds, active or not: Admin for a superuser, else the highest role group, else Viewer."""
    if user.is_superuser:
        return Role.ADMIN
    names = set(user.groups.values_list("name", flat=True))
    return max((r for r in GROUP_ROLES if r.label in names), default=Role.VIEWER)


def store_role(user: Any, role: Role) -> None:
    """Give ``user`` exactly ``role`` (no audit: ``services.users.set_role`` is the audited way)."""
    user.is_superuser = user.is_staff = role == Role.ADMIN
    user.save(update_fields=["is_superuser", "is_staff"])
    user.groups.remove(*Group.objects.filter(name__in=[r.label for r in GROUP_ROLES]))
    if role != Role.ADMIN:
        user.groups.add(Group.objects.get_or_create(name=role.label)[0])
    if hasattr(user, _CACHE):
        delattr(user, _CACHE)


@dataclass(frozen=True)
class Actor:
    """Who did something, as the audit log records it: a user and their role, a command line, or the system."""

    name: str
    role: str
    user_id: int | None = None

    @classmethod
    def of(cls, user: Any) -> Actor:
        """A signed-in user (a bearer token's user included)."""
        role = role_of(user)
        return cls(user.get_username(), role.label if role else "None", user.pk)

    @classmethod
    def cli(cls) -> Actor:
        """A management command: the operating-system user who ran it, acting as the system."""
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers)
            who = f"uid{os.getuid()}"
        return cls(f"cli:{who}", "System")


SYSTEM = Actor("system", "System")

# --- Declarations ------------------------------------------------------------------------------------

RoleRule = Role | Callable[[Mapping[str, Any]], Role]  # a role, or one computed from the URL's values


@dataclass(frozen=True)
class Need:
    """What a route needs: a role per HTTP method (``*``: any method), or nothing at all when public."""

    roles: Mapping[str, RoleRule] = field(default_factory=dict)
    public: bool = False

    def role_for(self, method: str, kwargs: Mapping[str, Any]) -> Role | None:
        """The role ``method`` needs here; None when the route does not take that method."""
        rule = self.roles.get("GET" if method == "HEAD" else method, self.roles.get("*"))
        return rule(kwargs) if callable(rule) else rule


PUBLIC = Need(public=True)


class Verdict(Enum):
    """The outcome of a check."""

    ALLOWED = "allowed"
    SIGN_IN = "sign in"  # anonymous or inactive: a login redirect (pages) or 401 (API)
    FORBIDDEN = "forbidden"  # signed in, role too low: 403
    NO_METHOD = "method not allowed"  # 405


def check(user: Any, need: Need, method: str, kwargs: Mapping[str, Any]) -> tuple[Verdict, Role | None]:
    """The one permission check, for pages, API and admin alike; also returns the role needed."""
    if need.public:
        return Verdict.ALLOWED, None
    needed = need.role_for(method, kwargs)
    if needed is None:
        return Verdict.NO_METHOD, None
    role = role_of(user)
    if role is None:
        return Verdict.SIGN_IN, needed
    return (Verdict.ALLOWED if role >= needed else Verdict.FORBIDDEN), needed


def denial(user: Any, needed: Role) -> str:
    """What a user whose role is too low is told."""
    role = role_of(user)
    return f"This needs the {needed.label} role; yours is {role.label if role else 'none'}. Ask an Admin."


def requires(**roles: RoleRule) -> Callable[[View], View]:
    """A page needing a role per method (``GET=Role.VIEWER, POST=Role.EDITOR``); others answer 405.

    Anonymous and inactive users are sent to sign in; a role too low gets a 403. The declaration is
    kept on the view as ``required_role``, where the URL walk test looks for it.
    """
    return _guard(Need(dict(roles)))


def public(view: View) -> View:
    """A page anyone may open (sign-in, health check, the OpenAPI document)."""
    view.required_role = PUBLIC  # type: ignore[attr-defined]
    return view


def _guard(need: Need) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            verdict, needed = check(request.user, need, request.method or "GET", kwargs)
            if verdict is Verdict.NO_METHOD:
                return HttpResponseNotAllowed([m for m in need.roles if m != "*"])
            if verdict is Verdict.SIGN_IN:
                return redirect_to_login(request.get_full_path())
            if verdict is Verdict.FORBIDDEN:
                raise PermissionDenied(denial(request.user, needed))  # type: ignore[arg-type]
            return view(request, *args, **kwargs)

        wrapped.required_role = need  # type: ignore[attr-defined]
        return wrapped

    return decorate


def declared(urls: Any, need: Need, by_name: Mapping[str, Need] | None = None) -> Any:
    """URL patterns of another app (Django admin, sign-in), each guarded by ``need`` or ``by_name[name]``.

    Takes what ``include()`` takes: a list of patterns or admin's ``(patterns, app_name, namespace)``.
    """
    if isinstance(urls, tuple):
        return (declared(urls[0], need, by_name), *urls[1:])
    guarded = []
    for entry in urls:
        if isinstance(entry, URLResolver):
            inner = declared(entry.url_patterns, need, by_name)
            entry = URLResolver(entry.pattern, inner, entry.default_kwargs, entry.app_name, entry.namespace)
        else:
            rule = (by_name or {}).get(entry.name or "", need)
            view = public(_passthrough(entry.callback)) if rule.public else _guard(rule)(entry.callback)
            entry = URLPattern(entry.pattern, view, entry.default_args, entry.name)
        guarded.append(entry)
    return guarded


def _passthrough(view: View) -> View:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> HttpResponseBase:
        return view(*args, **kwargs)

    return wrapped
