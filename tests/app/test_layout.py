"""The layout every page shares: sign-in required, the user's role, the left rail."""

from __future__ import annotations

import pytest

from tests.app.pages import text

pytestmark = pytest.mark.django_db


def test_every_page_needs_a_sign_in(client):
    for url in ("/monitor/", "/author/", "/manage/", "/api/pipelines"):
        response = client.get(url)
        assert response.status_code in (302, 401)
    assert client.get("/monitor/")["Location"].startswith("/accounts/login/")


def test_layout_shows_the_user_role_and_the_rail(operator, seeded):
    page = text(operator.get("/monitor/"))
    assert operator.user.username in page and '<span class="role">Operator</span>' in page
    assert all(f">{label}</a>" in page for label in ("Author", "Monitor", "Manage"))
