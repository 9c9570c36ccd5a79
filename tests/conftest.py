"""Shared test set-up: fixtures for the real services live in tests/fixtures/."""

from collections.abc import Iterator

import pytest
from django.test import override_settings

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.azurite",
    "tests.fixtures.fake_servers",
]


@pytest.fixture(autouse=True, scope="session")
def file_roots_in_pytest_temp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests keep their SQLite files and folders in pytest's temporary folders: that is the file root here.

    Production keeps its default (``files/`` in the data directory); portals started as processes by
    tests use theirs.
    """
    with override_settings(CTPORTAL_FILE_ROOTS=[str(tmp_path_factory.getbasetemp())]):
        yield
