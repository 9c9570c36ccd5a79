"""Shared test set-up: clients signed in with every role; fixtures for the real services live in
tests/fixtures/, plain factory functions (``make_user``, ``signed_in``, ``bearer``, ``make_pipeline``...)
in tests/factories.py.

The fixtures ``admin``, ``editor``, ``operator``, ``viewer``, ``inactive`` and ``anonymous`` are clients
ready to use.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client, override_settings

from tests.factories import make_user, signed_in

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.azurite",
    "tests.fixtures.fake_servers",
    "tests.fixtures.alert_receivers",
]


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
