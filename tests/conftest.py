"""Shared test set-up: fixtures for the real services live in tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.azurite",
]
