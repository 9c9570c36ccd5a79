"""Secrets are bound to their target: point a linked service elsewhere and the stored secret is cleared.

A fake server on a loopback port asks for a password, as an attacker's would: it must never receive the
stored one, whether the server was changed in the form, the API, an import, the admin, or at run.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from django.apps import apps

from syncjobs.models import LinkedService, PipelineRun, RunStatus
from syncjobs.secrets import MASK, encrypt_mapping
from syncjobs.services.definitions import export_definition, import_definitions, save_definition
from syncjobs.services.runs import trigger_run
from tests.factories import make_dataset, make_linked_service, make_pipeline

pytestmark = pytest.mark.django_db

PG_PASSWORD = "hunter2-pg-secret"
SQL_PASSWORD = "hunter2-sql-secret"
SQL_CONNECTION = f"Driver={{FreeTDS}};Server=127.0.0.1,1433;Database=sales;UID=loader;PWD={SQL_PASSWORD};Encrypt=no"
PASSWORD = "properties.typeProperties.password"


@pytest.fixture
def warehouse() -> LinkedService:
    return make_linked_service(
        "Warehouse",
        type="PostgreSqlV2",
        server="127.0.0.1",
        port=5432,
        database="app",
        username="reader",
        password=PG_PASSWORD,
        sslMode=0,
    )


@pytest.fixture
def sales() -> LinkedService:
    return make_linked_service("Sales", type="SqlServer", connectionString=SQL_CONNECTION)


def page_text(response) -> str:
    assert response.status_code in (200, 302), response.content[:500]
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def edited(linked: LinkedService, **type_properties) -> dict:
    """The linked service as exported (secrets masked), with some type properties changed."""
    definition = export_definition(LinkedService.objects.get(pk=linked.pk))
    definition["properties"]["typeProperties"].update(type_properties)
    return definition


def pg_form(port: int, server: str = "127.0.0.1", **changes: str) -> dict:
    form = {"kind": "PostgreSqlV2", "existing": "Warehouse", "name": "Warehouse", "server": server}
    form.update(port=str(port), database="app", username="reader", password="", sslMode="0")
    return {**form, **changes}


@pytest.mark.parametrize("server", ["127.0.0.1", "localhost"])
def test_test_connection_to_a_changed_server_never_sends_the_stored_password(admin, warehouse, fake_postgres, server):
    page = page_text(admin.post("/manage/test-connection/", pg_form(fake_postgres.port, server)))
    assert fake_postgres.connections == 1  # it was reached, as the attacker wanted...
    assert PG_PASSWORD not in fake_postgres.captured  # ...and got nothing
    assert "password: cleared" in page and "changed" in page and "enter it again" in page
    assert LinkedService.objects.get(pk=warehouse.pk).secrets() == {PASSWORD: PG_PASSWORD}  # a test saves nothing


def test_test_connection_of_a_changed_sql_server_connection_string_sends_no_stored_password(
    admin, sales, fake_sqlserver
):
    stored = LinkedService.objects.get(pk=sales.pk).properties["typeProperties"]["connectionString"]
    assert MASK in stored and SQL_PASSWORD not in stored  # what the form shows and sends back
    moved = stored.replace("127.0.0.1,1433", f"127.0.0.1,{fake_sqlserver.port}")
    form = {"kind": "SqlServer", "existing": "Sales", "name": "Sales", "connectionString": moved, "port": "1433"}
    page = page_text(admin.post("/manage/test-connection/", form))
    assert fake_sqlserver.connections == 1 and SQL_PASSWORD not in fake_sqlserver.captured
    assert "connectionString pwd: cleared" in page and "(connectionstring changed)" in page


def test_the_form_keeps_the_secret_of_a_connection_string_saved_through_the_api(admin, sales):
    """The form sends every field (port 1433, encrypt mandatory...): defaults never count as a change."""
    stored = LinkedService.objects.get(pk=sales.pk).properties["typeProperties"]["connectionString"]
    form = {"name": "Sales", "connectionString": stored, "port": "1433", "encrypt": "mandatory"}
    page = page_text(admin.post("/manage/linkedservices/Sales/", {**form, "authenticationType": "SQL"}, follow=True))
    assert "Linked service Sales saved." in page and "cleared" not in page
    assert LinkedService.objects.get(pk=sales.pk).secrets() == {
        "properties.typeProperties.connectionString#pwd": SQL_PASSWORD
    }


def test_the_form_saves_a_changed_server_without_the_secret_and_says_so(admin, warehouse, fake_postgres):
    response = admin.post("/manage/linkedservices/Warehouse/", pg_form(fake_postgres.port), follow=True)
    page = page_text(response)
    assert "Linked service Warehouse saved." in page and "password: cleared" in page
    assert LinkedService.objects.get(pk=warehouse.pk).secrets() == {}
    assert "A value is stored" not in page_text(admin.get("/manage/linkedservices/Warehouse/"))


def test_the_api_clears_a_secret_whose_target_changed_and_a_run_then_sends_nothing(
    admin, settings, warehouse, fake_postgres
):
    body = edited(warehouse, port=fake_postgres.port)
    response = admin.put(
        "/api/linkedservices/Warehouse",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert response.status_code == 200
    [warning] = response.json()["warnings"]
    assert warning["target"] == PASSWORD and "cleared" in warning["message"]
    assert LinkedService.objects.get(pk=warehouse.pk).secrets() == {}

    settings.CTPORTAL_TASKS_INLINE = True
    make_dataset("Orders", "Warehouse", type="PostgreSqlTable", typeProperties={"schema": "public", "table": "t"})
    lookup = {
        "name": "Look",
        "type": "Lookup",
        "typeProperties": {
            "source": {"type": "PostgreSqlV2Source"},
            "dataset": {"referenceName": "Orders", "type": "DatasetReference"},
        },
    }
    run = trigger_run(make_pipeline("Read", [lookup]))
    assert PipelineRun.objects.get(pk=run.pk).status == RunStatus.FAILED
    assert fake_postgres.connections >= 1 and PG_PASSWORD not in fake_postgres.captured


@pytest.mark.parametrize(
    "change",
    [
        {"server": "db.example.net"},
        {"port": 6432},
        {"port": "6432"},
        {"database": "other"},
        {"username": "postgres"},
        {"sslMode": 2},
    ],
)
def test_changing_where_it_connects_clears_the_secret(warehouse, change):
    saved, warnings = save_definition("linkedService", edited(warehouse, **change))
    assert saved.secrets() == {}
    assert [w.path for w in warnings] == [PASSWORD]
    assert saved.revealed_definition()["properties"]["typeProperties"]["password"]["value"] == ""


def test_changing_the_type_clears_the_secret(sales):
    definition = edited(sales)
    definition["properties"]["type"] = "AzureSqlDatabase"
    saved, _ = save_definition("linkedService", definition)
    assert saved.secrets() == {}


def test_the_same_target_written_differently_keeps_the_secret(warehouse):
    saved, warnings = save_definition("linkedService", edited(warehouse, port="5432", server=" 127.0.0.1"))
    assert warnings == [] and saved.secrets() == {PASSWORD: PG_PASSWORD}


def test_a_new_secret_entered_with_the_new_target_is_kept(warehouse):
    saved, warnings = save_definition("linkedService", edited(warehouse, server="db2", password="n3w"))
    assert warnings == [] and saved.secrets() == {PASSWORD: "n3w"}
    again, warnings = save_definition("linkedService", edited(saved))
    assert warnings == [] and again.secrets() == {PASSWORD: "n3w"}  # bound to db2 now


def test_an_unchanged_connection_string_keeps_its_secret(sales):
    stored = LinkedService.objects.get(pk=sales.pk).properties["typeProperties"]["connectionString"]
    kept, warnings = save_definition("linkedService", edited(sales, connectionString=stored))
    assert warnings == [] and kept.secrets()["properties.typeProperties.connectionString#pwd"] == SQL_PASSWORD


@pytest.mark.parametrize("part", ["Server=127.0.0.1,1433", "Database=sales", "UID=loader", "Encrypt=no"])
def test_a_connection_string_secret_is_bound_to_the_rest_of_the_string(sales, part):
    stored = LinkedService.objects.get(pk=sales.pk).properties["typeProperties"]["connectionString"]
    cleared, warnings = save_definition(
        "linkedService", edited(sales, connectionString=stored.replace(part, part + "0"))
    )
    assert cleared.secrets() == {}
    assert [w.path for w in warnings] == ["properties.typeProperties.connectionString#pwd"]


def test_a_sas_signature_is_bound_to_its_account(admin):
    sas = "https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=c2lnbmF0dXJl&se=2030-01-01"
    linked = make_linked_service("Sas", type="AzureBlobStorage", sasUri=sas)
    masked = linked.properties["typeProperties"]["sasUri"]
    other = masked.replace("acct.blob", "attacker.blob")
    saved, warnings = save_definition("linkedService", edited(linked, sasUri=other))
    assert saved.secrets() == {} and [w.path for w in warnings] == ["properties.typeProperties.sasUri#sig"]


def test_an_import_clears_a_secret_whose_target_changed(warehouse):
    result = import_definitions([("linkedService", edited(warehouse, server="attacker.example"))], replace=True)
    assert LinkedService.objects.get(pk=warehouse.pk).secrets() == {}
    assert [f.path for f in result.findings] == [PASSWORD]


def test_the_django_admin_cannot_move_a_secret_to_another_server(admin, warehouse):
    """Definitions are read-only in the admin (changes go through the audited pages and API)."""
    before = warehouse.secrets()
    definition = edited(warehouse, server="attacker.example")
    response = admin.post(
        f"/admin/syncjobs/linkedservice/{warehouse.pk}/change/",
        {"definition": json.dumps({"name": "Warehouse", "properties": definition["properties"]})},
    )
    assert response.status_code == 403, page_text(response)[:2000]
    stored = LinkedService.objects.get(pk=warehouse.pk)
    assert stored.properties["typeProperties"]["server"] != "attacker.example" and stored.secrets() == before


def test_secrets_stored_before_binding_are_bound_by_the_migration(warehouse):
    migration = __import__("syncjobs.migrations.0008_secret_targets", fromlist=["bind_stored_secrets"])
    LinkedService.objects.filter(pk=warehouse.pk).update(encrypted_secrets=encrypt_mapping({PASSWORD: PG_PASSWORD}))
    migration.bind_stored_secrets(apps, None)
    linked = LinkedService.objects.get(pk=warehouse.pk)
    linked.definition = edited(warehouse, server="attacker.example")  # as a form over the model assigns it
    linked.save()
    assert LinkedService.objects.get(pk=warehouse.pk).secrets() == {}
