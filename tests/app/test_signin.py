"""Sign-in: failed attempts lock one user out from one address (django-axes); password reset needs mail."""

from __future__ import annotations

import http.client
import re
import time
from datetime import timedelta
from urllib.parse import quote, urlencode

import pytest
from django.core import mail
from django.test import override_settings

from syncjobs.models import ApiToken
from tests.fixtures.portal import Portal

RIGHT, WRONG = "right-pw-8472", "wrong-pw"
HERE, THERE = "127.0.0.1", "127.0.0.2"
RESET_URLS = ("/accounts/password_reset/", "/accounts/password_reset/done/", "/accounts/reset/done/")


def sign_in(client, username: str, password: str, address: str = HERE) -> int:
    """POST the sign-in form from ``address``; the response's status (302: signed in)."""
    client.logout()
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    ).status_code


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=3, AXES_COOLOFF_TIME=timedelta(seconds=2))
def test_wrong_passwords_lock_the_user_out_from_that_address_until_the_cool_off(client, django_user_model):
    django_user_model.objects.create_user("ann", password=RIGHT)
    django_user_model.objects.create_user("bob", password=RIGHT)
    assert [sign_in(client, "ann", WRONG) for _ in range(3)] == [200, 200, 429]
    locked = client.post("/accounts/login/", {"username": "ann", "password": RIGHT}, REMOTE_ADDR=HERE)
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    assert "Too many failed sign-ins for this user from your address" in locked.content.decode()
    assert sign_in(client, "ann", RIGHT, THERE) == 302  # another address is unaffected
    assert sign_in(client, "bob", RIGHT, HERE) == 302  # and so is another user from this address
    time.sleep(2.2)  # the cool-off, counted from the last attempt
    assert sign_in(client, "ann", RIGHT, HERE) == 302


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=2)
def test_a_locked_out_user_s_api_token_still_works(client, django_user_model):
    user = django_user_model.objects.create_user("ann", password=RIGHT)
    _, token = ApiToken.issue(user, "script")
    assert [sign_in(client, "ann", WRONG) for _ in range(2)] == [200, 429]
    client.logout()
    response = client.get("/api/pipelines", headers={"Authorization": f"Bearer {token}"}, REMOTE_ADDR=HERE)
    assert response.status_code == 200


@pytest.mark.django_db
def test_without_mail_there_is_no_password_reset(client):
    assert "password_reset" not in client.get("/accounts/login/").content.decode()
    for url in (*RESET_URLS, "/accounts/reset/MQ/set-password/"):
        assert client.get(url).status_code == 404, url
    assert client.post("/accounts/password_reset/", {"email": "ann@example.com"}).status_code == 404
    assert mail.outbox == []


@pytest.mark.django_db
@override_settings(EMAIL_HOST="127.0.0.1")
def test_with_mail_a_reset_link_arrives_and_sets_a_new_password(client, django_user_model):
    django_user_model.objects.create_user("ann", email="ann@example.com", password=RIGHT)
    assert 'href="/accounts/password_reset/"' in client.get("/accounts/login/").content.decode()
    assert client.post("/accounts/password_reset/", {"email": "ann@example.com"}).status_code == 302
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_url = client.get(link)["Location"]  # Django moves the token into the session first
    done = client.post(form_url, {"new_password1": "a-new-pw-5531", "new_password2": "a-new-pw-5531"})
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    assert sign_in(client, "ann", "a-new-pw-5531") == 302


# A whole portal over real HTTP, on each kind of database, from two loopback addresses.


def request(portal: Portal, method: str, path: str, address: str, body: str = "", headers: dict | None = None):
    """One HTTP request to the portal, sent from the loopback ``address``."""
    port = int(portal.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(address, 0))
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def http_sign_in(portal: Portal, username: str, password: str, address: str) -> int:
    """GET the form for its CSRF cookie, then POST it; the status of the POST."""
    page = request(portal, "GET", "/accounts/login/", address)
    csrf = re.search(r"csrftoken=([^;]+)", page.getheader("Set-Cookie")).group(1)
    form = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": csrf})
    headers = {"Cookie": f"csrftoken={csrf}", "Content-Type": "application/x-www-form-urlencoded"}
    return request(portal, "POST", "/accounts/login/", address, form, headers).status


def _database_url(kind: str, portal: Portal, request_fixture: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{portal.folder / 'portal.sqlite3'}"
    db = request_fixture.getfixturevalue("pg_database")
    return f"postgres://{db.username}:{quote(db.password.reveal(), safe='')}@{db.host}:{db.port}/{db.database}"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_portal_locks_out_by_user_and_address_on_each_database(tmp_path, request, kind):
    portal = Portal(tmp_path)
    portal.env.update(
        CTPORTAL_DATABASE_URL=_database_url(kind, portal, request),
        CTPORTAL_LOGIN_FAILURE_LIMIT="3",
        DJANGO_SUPERUSER_PASSWORD=RIGHT,
    )
    portal.manage("migrate", "--noinput")
    portal.manage("createsuperuser", "--noinput", "--username", "ann", "--email", "ann@example.com")
    portal.start_web()
    try:
        assert [http_sign_in(portal, "ann", WRONG, HERE) for _ in range(3)] == [200, 200, 429]
        assert http_sign_in(portal, "ann", RIGHT, HERE) == 429
        assert http_sign_in(portal, "ann", RIGHT, THERE) == 302
    finally:
        portal.stop()


def test_https_turns_on_secure_cookies_hsts_and_the_redirect_from_one_variable(tmp_path):
    portal = Portal(tmp_path)
    portal.env.update(CTPORTAL_HTTPS="true", CTPORTAL_HSTS_SECONDS="600")
    portal.start_web()  # waits for /healthz over plain http: exempt from the redirect
    try:
        plain = request(portal, "GET", "/accounts/login/", HERE)
        assert plain.status == 301 and plain.getheader("Location").startswith("https://")
        proxied = request(portal, "GET", "/accounts/login/", HERE, headers={"X-Forwarded-Proto": "https"})
        assert proxied.status == 200
        assert proxied.getheader("Strict-Transport-Security") == "max-age=600; includeSubDomains; preload"
        assert "; Secure" in proxied.getheader("Set-Cookie")
    finally:
        portal.stop()
