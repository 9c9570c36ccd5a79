"""Every linked-service type the portal accepts, end to end: saved through its form, bound, tested, copied.

``REACH`` has one line per type (a connector's conformance parameter): how a test reaches a real one
here. PostgreSQL, SQLite, Azurite and a folder are real; no SQL Server runs here, so its types are
tested against a loopback port where nothing listens and must say "refused".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from syncjobs.engine import bindings, connectors
from syncjobs.models import LinkedService, PipelineRun
from syncjobs.services.catalogue import REASONS
from syncjobs.services.runs import trigger_run
from tests.app import pages
from tests.factories import make_dataset, make_linked_service, make_pipeline
from tests.fixtures.azurite import free_port
from tests.fixtures.postgres import pg_connect

CONNECTED = "Connection successful."
ROWS = [(1, "a"), (2, "b")]


@dataclass(frozen=True)
class Reached:
    """A linked service's form fields, and what Test connection must answer for it."""

    form: dict[str, str]
    answer: str = CONNECTED
    table: str = ""  # a source's table holding ROWS (empty: nothing to copy from here)


def _sql_server(request: pytest.FixtureRequest) -> Reached:
    form = {"server": "127.0.0.1", "port": str(free_port()), "database": "sales", "authenticationType": "SQL"}
    form |= {"userName": "reader", "password": "not-sent-anywhere", "encrypt": "optional"}
    return Reached(form, answer=REASONS["refused"])


def _postgres(request: pytest.FixtureRequest) -> Reached:
    config = request.getfixturevalue("pg_database")
    with pg_connect(config) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, name text)")
        conn.cursor().executemany("INSERT INTO t VALUES (%s, %s)", ROWS)
    form = {"server": config.host, "port": str(config.port), "database": config.database}
    form |= {"username": config.username, "password": config.password.reveal(), "sslMode": "0"}
    return Reached(form, table="public.t")


def _sqlite(request: pytest.FixtureRequest) -> Reached:
    path = request.getfixturevalue("tmp_path") / "source.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", ROWS)
    conn.close()
    return Reached({"database": str(path)}, table="t")


def _blob(request: pytest.FixtureRequest) -> Reached:
    return Reached({"connectionString": request.getfixturevalue("azurite").connection_string})


def _folder(request: pytest.FixtureRequest) -> Reached:
    folder = request.getfixturevalue("tmp_path") / "out"
    folder.mkdir()
    return Reached({"host": str(folder)})


REACH: dict[str, Callable[[pytest.FixtureRequest], Reached]] = {
    "SqlServer": _sql_server,
    "AzureSqlDatabase": _sql_server,
    "PostgreSqlV2": _postgres,
    "Sqlite": _sqlite,
    "AzureBlobStorage": _blob,
    "FileServer": _folder,
}
COPIED_FROM = ("PostgreSqlV2", "Sqlite")  # every source with a real server here
COPIED_TO = ("AzureBlobStorage", "FileServer")  # every sink


def test_every_type_the_connector_table_holds_has_a_way_to_reach_it_here():
    assert set(REACH) == {t.name for t in connectors.linked_service_types()}
    assert set(COPIED_FROM) == {t.name for t in connectors.linked_service_types(sources=True)} - {
        k for k, reach in REACH.items() if reach is _sql_server
    }
    assert set(COPIED_TO) == {t.name for t in connectors.linked_service_types(sources=False)}


@pytest.mark.parametrize("kind", REACH)
def test_every_type_is_saved_through_its_form_bound_and_tested(admin, request, kind):
    reached = REACH[kind](request)
    name = f"Every{kind}"
    saved = pages.text(admin.post(f"/manage/linkedservices/new/{kind}/", {"name": name, **reached.form}, follow=True))
    assert f"Linked service {name} saved." in saved
    linked = LinkedService.objects.get(name=name)
    assert linked.type == kind and reached.form.keys() <= linked.properties["typeProperties"].keys()

    connector = connectors.connector_for(kind)
    bound = (bindings.source_for if connector.is_source else bindings.sink_for)(linked.revealed_definition())
    assert type(bound) is connector
    bound.close()

    form = {"kind": kind, "existing": name, "name": name, **reached.form}
    tested = pages.text(admin.post("/manage/test-connection/", form))
    assert reached.answer in tested
    assert (reached.answer == CONNECTED) == ("test-result ok" in tested)


def _dataset_properties(kind: str, table: str, container: str) -> dict[str, Any]:
    adf = connectors.linked_service_type(kind)
    if table:
        schema, _, name = table.rpartition(".")
        return {"type": adf.dataset, "typeProperties": {"table": name, **({"schema": schema} if schema else {})}}
    location = {"type": adf.dataset, "folderPath": "copied", "fileName": "t.csv"}
    location |= {"container": container} if adf.has_container else {}
    return {"type": "DelimitedText", "typeProperties": {"location": location, "firstRowAsHeader": True}}


@pytest.mark.parametrize(
    ("source_kind", "sink_kind"),
    [*((s, "FileServer") for s in COPIED_FROM), *(("Sqlite", s) for s in COPIED_TO if s != "FileServer")],
)
def test_every_source_and_sink_copies_a_table_for_real(db, request, settings, source_kind, sink_kind):
    settings.CTPORTAL_TASKS_INLINE = True
    source, sink = REACH[source_kind](request), REACH[sink_kind](request)
    container = request.getfixturevalue("blob_container") if sink_kind == "AzureBlobStorage" else ""
    make_linked_service("From", type=source_kind, **_type_properties(source_kind, source.form))
    make_linked_service("To", type=sink_kind, **_type_properties(sink_kind, sink.form))
    make_dataset("Rows", "From", **_dataset_properties(source_kind, source.table, ""))
    make_dataset("Out", "To", **_dataset_properties(sink_kind, "", container))
    copy_source = connectors.linked_service_type(source_kind).copy_source
    activity = {
        "name": "Copy",
        "type": "Copy",
        "inputs": [{"referenceName": "Rows", "type": "DatasetReference"}],
        "outputs": [{"referenceName": "Out", "type": "DatasetReference"}],
        "typeProperties": {"source": {"type": copy_source}, "sink": {"type": "DelimitedTextSink"}},
    }
    run = trigger_run(make_pipeline("CopyAll", [activity]))
    assert PipelineRun.objects.get(pk=run.pk).status == "Succeeded", PipelineRun.objects.get(pk=run.pk).message
    store = bindings.sink_for(LinkedService.objects.get(name="To").revealed_definition())
    path = "/".join(p for p in (container, "copied", "t.csv") if p)
    assert sorted(store.read(path).decode().splitlines()) == ['1,"a"', '2,"b"', "id,name"]


def _type_properties(kind: str, form: dict[str, str]) -> dict[str, Any]:
    """The form's fields as ADF JSON: numbers as numbers, secrets as SecureStrings."""
    fields = {f.key: f for f in connectors.connector_for(kind).form}
    tp: dict[str, Any] = {}
    for key, value in form.items():
        kind_of = fields[key].kind
        numeric = kind_of == "int" or (kind_of == "choice" and isinstance(fields[key].choices[0][0], int))
        tp[key] = {"type": "SecureString", "value": value} if kind_of == "secret" else int(value) if numeric else value
    return tp


def test_a_key_vault_is_saved_for_its_secrets_but_is_neither_source_nor_sink(db):
    vault = make_linked_service("Vault", type="AzureKeyVault", baseUrl="https://vault.example.net/")
    assert vault.type == "AzureKeyVault" and connectors.connector_for("AzureKeyVault") is None
    assert not bindings.is_source(vault.revealed_definition())


@pytest.mark.parametrize("kind", ["AzureSqlDB", "PostgreSql"])
def test_types_only_the_engine_once_accepted_are_refused_at_save_too(admin, kind):
    body = {"name": "Old", "properties": {"type": kind, "typeProperties": {"server": "h", "database": "d"}}}
    response = admin.put(
        "/api/linkedservices/Old",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert response.status_code == 400
    assert f"unknown linked service type {kind!r}" in response.json()["error"]["message"]
