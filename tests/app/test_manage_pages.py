"""Manage pages through Django's test client: linked services with Test connection, and triggers."""

from __future__ import annotations

import pytest

from syncjobs.models import LinkedService
from tests.app.pages import text
from tests.factories import in_file_root
from tests.fixtures.postgres import HOST as PG_HOST
from tests.fixtures.postgres import PASSWORD as PG_PASSWORD
from tests.fixtures.postgres import PORT as PG_PORT
from tests.fixtures.postgres import USER as PG_USER

pytestmark = pytest.mark.django_db


def test_manage_creates_a_linked_service_and_never_shows_its_password(admin, pg_database):
    form = {
        "name": "Warehouse",
        "server": pg_database.host,
        "port": str(pg_database.port),
        "database": pg_database.database,
        "username": pg_database.username,
        "password": pg_database.password.reveal(),
        "sslMode": "0",
    }
    response = admin.post("/manage/linkedservices/new/PostgreSqlV2/", form)
    assert response.status_code == 302
    page = text(admin.get("/manage/linkedservices/Warehouse/"))
    assert pg_database.password.reveal() not in page and "A value is stored" in page
    assert "127.0.0.1/" + pg_database.database in text(admin.get("/manage/"))
    kept = {**form, "password": "", "existing": "Warehouse", "kind": "PostgreSqlV2"}
    admin.post("/manage/linkedservices/Warehouse/", kept)
    assert LinkedService.objects.get(name="Warehouse").secrets()  # an empty field kept the stored password
    assert "Connection successful." in text(admin.post("/manage/test-connection/", kept))


@pytest.mark.parametrize(
    ("kind", "fields", "words"),
    [
        ("Sqlite", {"database": "{root}/nonexistent/folder/x.sqlite3"}, "does not exist"),
        (
            "PostgreSqlV2",
            {
                "server": PG_HOST,
                "port": str(PG_PORT),
                "database": "ctp_no_such_db",
                "username": PG_USER,
                "password": PG_PASSWORD,
                "sslMode": "0",
            },
            "The database does not exist",
        ),
        (
            "PostgreSqlV2",
            {"server": "127.0.0.1", "port": "1", "database": "x", "username": "postgres", "sslMode": "0"},
            "The connection was refused",
        ),
        (
            "PostgreSqlV2",
            {"server": "no-such-host.invalid", "port": "5432", "database": "x", "username": "u", "sslMode": "0"},
            "could not be resolved",
        ),
        ("FileServer", {"host": "{root}/nonexistent/out"}, "The folder does not exist"),
    ],
)
def test_test_connection_says_what_failed(admin, pg_server, kind, fields, words):
    fields = {k: v.replace("{root}", in_file_root()) for k, v in fields.items()}
    page = text(admin.post("/manage/test-connection/", {"kind": kind, "name": "T", **fields}))
    assert words in page


def test_test_connection_to_azurite_and_to_a_stopped_port(admin, azurite):
    good = {"kind": "AzureBlobStorage", "name": "B", "connectionString": azurite.connection_string}
    assert "Connection successful." in text(admin.post("/manage/test-connection/", good))
    dead = azurite.connection_string.replace(f":{azurite.port}", ":1")
    assert "The connection was refused" in text(
        admin.post("/manage/test-connection/", {**good, "connectionString": dead})
    )


def test_triggers_are_listed_and_started_from_manage(operator, seeded):
    from syncjobs.models import Trigger
    from syncjobs.services.definitions import save_definition

    recurrence = {"frequency": "Hour", "interval": 1, "startTime": "2026-01-01T00:00:00Z", "timeZone": "UTC"}
    save_definition(
        "trigger",
        {
            "name": "Hourly",
            "properties": {
                "type": "ScheduleTrigger",
                "typeProperties": {"recurrence": recurrence},
                "pipelines": [{"pipelineReference": {"referenceName": "IncrementalSync", "type": "PipelineReference"}}],
            },
        },
    )
    page = text(operator.get("/manage/"))
    assert "<title>Linked services · ctportal</title>" in page
    assert page.count('/manage/triggers/Hourly/">Hourly</a></td>') == 1 and "every 1 hour" in page and "Stopped" in page
    operator.post("/manage/triggers/Hourly/state", {"state": "start"})
    assert Trigger.objects.get(name="Hourly").runtime_state == "Started"
    assert "Trigger Hourly is Started." in text(operator.get("/manage/"))
