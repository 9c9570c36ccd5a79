"""Shared test set-up: users of every role and clients signed in as them; fixtures for the real services
live in tests/fixtures/.

``make_user(Role.EDITOR)`` makes a user; ``signed_in(user)`` a test client with its session;
``bearer(user)`` the headers of an API token acting as it. The fixtures ``admin``, ``editor``,
``operator``, ``viewer``, ``inactive`` and ``anonymous`` are clients ready to use.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.azurite",
    "tests.fixtures.fake_servers",
]

PASSWORD = "role-test-password-1"
_names = itertools.count(1)


def make_user(role: Any, username: str | None = None, *, active: bool = True, password: str | None = None) -> Any:
    """A user holding ``role`` (a ``syncjobs.access.Role``); inactive with ``active=False``.

    Without ``password`` it has none that works (hashing one costs a quarter second; clients sign in
    with ``signed_in`` instead).
    """
    from django.contrib.auth import get_user_model

    from syncjobs.access import store_role

    name = username or f"{role.label.lower()}{next(_names)}"
    user = get_user_model().objects.create_user(name, password=password, is_active=active)
    store_role(user, role)
    return user


def signed_in(user: Any) -> Client:
    """A client with ``user``'s session (CSRF checks off, as Django's test client has them)."""
    client = Client()
    client.force_login(user)
    client.user = user  # type: ignore[attr-defined]
    return client


def bearer(user: Any) -> dict[str, str]:
    """Headers with a new API token of ``user``."""
    from syncjobs.models import ApiToken

    return {"Authorization": f"Bearer {ApiToken.issue(user, 'tests')[1]}"}


def _client(role_name: str, active: bool = True) -> Client:
    from syncjobs.access import Role

    return signed_in(make_user(Role[role_name], active=active))


@pytest.fixture
def admin(db: None) -> Client:
    """Signed in as an Admin; ``admin.token`` is an API token of the same user."""
    from syncjobs.access import Role
    from syncjobs.models import ApiToken

    user = make_user(Role.ADMIN)
    client = signed_in(user)
    client.token = ApiToken.issue(user, "tests")[1]  # type: ignore[attr-defined]
    return client


@pytest.fixture
def editor(db: None) -> Client:
    """Signed in as an Editor."""
    return _client("EDITOR")


@pytest.fixture
def operator(db: None) -> Client:
    """Signed in as an Operator."""
    return _client("OPERATOR")


@pytest.fixture
def viewer(db: None) -> Client:
    """Signed in as a Viewer."""
    return _client("VIEWER")


@pytest.fixture
def inactive(db: None) -> Client:
    """Signed in as an Editor who was deactivated since (the session is kept; it must count for nothing)."""
    return _client("EDITOR", active=False)


@pytest.fixture
def anonymous() -> Client:
    """Not signed in."""
    return Client()


@pytest.fixture(autouse=True, scope="session")
def file_roots_in_pytest_temp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests keep their SQLite files and folders in pytest's temporary folders: that is the file root here.

    Production keeps its default (``files/`` in the data directory); portals started as processes by
    tests use theirs.
    """
    with override_settings(CTPORTAL_FILE_ROOTS=[str(tmp_path_factory.getbasetemp())]):
        yield
