"""The host is off limits: file roots for Sqlite and FileServer linked services, at save, test and run."""

from __future__ import annotations

import html
import json
import sqlite3
import sysconfig
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from syncjobs import tutorial
from syncjobs.adf.findings import DefinitionError
from syncjobs.models import ActivityRun, LinkedService, PipelineRun, RunStatus
from syncjobs.services.definitions import save_definition
from syncjobs.services.runs import trigger_run
from tests.factories import in_file_root
from tests.fixtures.portal import Portal
from tests.fixtures.postgres import pg_connect

pytestmark = pytest.mark.django_db

SITE_PACKAGES = sysconfig.get_paths()["purelib"]


def put_linked_service(client, name: str, kind: str, **type_properties: str):
    body = {"properties": {"type": kind, "typeProperties": type_properties}}
    return client.put(
        f"/api/linkedservices/{name}",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {client.token}"},
    )


def connection_test_page(client, kind: str, **fields: str) -> str:
    response = client.post("/manage/test-connection/", {"kind": kind, "name": "Probe", **fields})
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def stored_before_this_check(name: str, **type_properties: str) -> None:
    """A linked service saved before file roots existed (or by hand in the database): no save-time check."""
    linked = LinkedService.objects.get(name=name)
    definition = {**linked.definition, "properties": {**linked.properties, "typeProperties": type_properties}}
    LinkedService.objects.filter(pk=linked.pk).update(definition=definition)


def copy_pipeline(name: str, file_name: object = "out.csv", folder: str = "copies") -> PipelineRun:
    sink = {
        "name": "Evil",
        "properties": {
            "linkedServiceName": {"referenceName": tutorial.SINK_LS, "type": "LinkedServiceReference"},
            "type": "DelimitedText",
            "typeProperties": {"location": {"type": "FileServerLocation", "folderPath": folder, "fileName": file_name}},
        },
    }
    save_definition("dataset", sink)
    copy = {
        "name": "Copy",
        "type": "Copy",
        "typeProperties": {"source": {"type": "SqliteSource"}, "sink": {"type": "DelimitedTextSink"}},
        "inputs": [{"referenceName": "SourceDataset", "type": "DatasetReference"}],
        "outputs": [{"referenceName": "Evil", "type": "DatasetReference"}],
    }
    pipeline = save_definition("pipeline", {"name": name, "properties": {"activities": [copy]}})[0]
    run = trigger_run(pipeline)
    run.refresh_from_db()
    return run


def copy_error(run: PipelineRun) -> dict:
    return ActivityRun.objects.get(pipeline_run=run, activity_name="Copy").error


# --- save -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "field", "path", "words"),
    [
        ("FileServer", "host", "/etc", "outside the file roots"),
        ("FileServer", "host", "/root", ""),  # outside the roots, or holding a Python environment of its own
        ("FileServer", "host", SITE_PACKAGES, "a Python environment"),
        ("Sqlite", "database", "/etc/shadow", "outside the file roots"),
        ("Sqlite", "database", "relative/source.sqlite3", "must be an absolute path"),
        ("FileServer", "host", {"value": "@concat('/', 'etc')", "type": "Expression"}, "must be an absolute path"),
    ],
)
def test_a_file_linked_service_outside_the_roots_is_refused_at_save(admin, kind, field, path, words):
    response = put_linked_service(admin, "Anywhere", kind, **{field: path})
    assert response.status_code == 400
    detail = response.json()["error"]["details"][0]
    assert detail["target"] == f"properties.typeProperties.{field}" and words in detail["message"]
    assert not LinkedService.objects.filter(name="Anywhere").exists()


def test_the_form_points_at_the_field_and_names_the_roots(admin):
    response = admin.post("/manage/linkedservices/new/FileServer/", {"name": "Etc", "host": "/etc"})
    page = html.unescape(response.content.decode())
    assert "properties.typeProperties.host" in page and "outside the file roots" in page
    assert settings.CTPORTAL_FILE_ROOTS[0] in page  # the help text says where files may go
    assert not LinkedService.objects.filter(name="Etc").exists()


def test_inside_the_roots_the_portals_data_directory_code_and_python_stay_refused(admin, settings):
    settings.CTPORTAL_FILE_ROOTS = ["/"]  # an administrator who allows everything still cannot reach these
    for path, words in [
        (str(Path(settings.DATA_DIR) / "portal.sqlite3"), "the portal's data directory"),
        (str(Path(settings.BASE_DIR) / "syncjobs" / "x.sqlite3"), "the portal's code"),
        (str(Path(SITE_PACKAGES) / "x.sqlite3"), "a Python environment"),
    ]:
        response = put_linked_service(admin, "Inside", "Sqlite", database=path)
        assert response.status_code == 400 and words in response.json()["error"]["message"], path
    response = put_linked_service(admin, "Inside", "FileServer", host=str(Path(settings.BASE_DIR).parent))
    message = response.json()["error"]["message"]
    # Whichever it names first: the portal's code, or the virtual environment a checkout keeps beside it.
    assert response.status_code == 400 and ("contains the portal's" in message or "contains a Python env" in message)


def test_the_default_root_inside_the_data_directory_is_allowed(admin, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.CTPORTAL_FILE_ROOTS = [str(tmp_path / "files")]
    assert put_linked_service(admin, "Ok", "FileServer", host=str(tmp_path / "files" / "out")).status_code == 200
    refused = put_linked_service(admin, "Next", "FileServer", host=str(tmp_path / "static"))
    assert refused.status_code == 400 and "inside the portal's data directory" in refused.json()["error"]["message"]


def test_a_secret_file_of_the_portal_is_refused(admin, monkeypatch):
    key_file = Path(in_file_root("secret_key"))
    key_file.write_text("k")
    monkeypatch.setenv("CTPORTAL_SECRET_KEY_FILE", str(key_file))
    response = put_linked_service(admin, "Key", "Sqlite", database=str(key_file))
    assert response.status_code == 400 and "a secret file of the portal" in response.json()["error"]["message"]


def test_a_symlink_inside_a_root_that_leads_outside_is_refused(admin):
    link = Path(in_file_root(f"etc-{uuid.uuid4().hex[:8]}"))
    link.symlink_to("/etc")
    response = put_linked_service(admin, "Linked", "FileServer", host=str(link))
    assert response.status_code == 400 and "/etc is outside the file roots" in response.json()["error"]["message"]
    response = put_linked_service(admin, "Linked", "Sqlite", database=str(link / "passwd"))
    assert response.status_code == 400


# --- Test connection ------------------------------------------------------------------------------


def test_test_connection_on_etc_and_root_is_refused(admin):
    for kind, fields in [
        ("FileServer", {"host": "/etc"}),
        ("FileServer", {"host": "/root"}),
        ("Sqlite", {"database": "/etc/passwd"}),
    ]:
        page = connection_test_page(admin, kind, **fields)
        assert "Connection successful" not in page and "path_not_allowed" in page, fields
        assert "no linked service may reach it" in page or "outside the file roots" in page
    assert not [p for p in Path("/etc").iterdir() if p.name.startswith(".connection-test")]


# --- run ------------------------------------------------------------------------------------------


def test_a_copy_into_a_python_environment_is_refused_and_no_pth_file_appears(seeded):
    """The chain: a FileServer folder in site-packages, a Copy writing a .pth, the next interpreter runs it."""
    name = f"ctportal_escalation_{uuid.uuid4().hex[:8]}.pth"
    planted = Path(SITE_PACKAGES) / name
    with pytest.raises(DefinitionError, match="a Python environment"):
        save_definition(
            "linkedService",
            {"name": tutorial.SINK_LS, "properties": {"type": "FileServer", "typeProperties": {"host": SITE_PACKAGES}}},
        )
    stored_before_this_check(tutorial.SINK_LS, host=SITE_PACKAGES)
    try:
        run = copy_pipeline("Plant", file_name=name, folder="")
        assert run.status == RunStatus.FAILED
        assert copy_error(run)["errorCode"] == "path_not_allowed"
        assert not planted.exists()
    finally:
        planted.unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("folder", "file_name"),
    [
        ("../../..", "escaped.pth"),
        ("out", {"value": "@concat('../../', 'escaped.pth')", "type": "Expression"}),
    ],
)
def test_a_dataset_path_cannot_leave_its_folder(seeded, folder, file_name):
    run = copy_pipeline("Escape", file_name=file_name, folder=folder)
    assert run.status == RunStatus.FAILED and copy_error(run)["errorCode"] == "invalid_path"
    assert not list(seeded.parent.rglob("escaped.pth"))


def test_a_symlink_planted_after_save_is_refused_at_run_and_nothing_is_created_outside(seeded, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside-the-root")
    (seeded / "output").rename(seeded / "output-before")
    (seeded / "output").symlink_to(outside)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "CTPORTAL_FILE_ROOTS", [str(seeded)])  # outside-the-root is no longer inside
        run = copy_pipeline("Linked", folder="made/by/copy")
    assert run.status == RunStatus.FAILED and copy_error(run)["errorCode"] == "path_not_allowed"
    assert list(outside.iterdir()) == []


def test_a_link_below_the_folder_is_never_followed(seeded, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside-the-root")
    (seeded / "output" / "escape").symlink_to(outside)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "CTPORTAL_FILE_ROOTS", [str(seeded)])
        run = copy_pipeline("Below", folder="escape/made")
    assert run.status == RunStatus.FAILED and copy_error(run)["errorCode"] == "invalid_path"
    assert list(outside.iterdir()) == []


def test_a_sqlite_source_never_creates_a_missing_file(seeded):
    missing = seeded / "typo.sqlite3"
    save_definition(
        "linkedService",
        {"name": tutorial.SOURCE_LS, "properties": {"type": "Sqlite", "typeProperties": {"database": str(missing)}}},
    )
    script = {
        "name": "Create",
        "type": "Script",
        "linkedServiceName": {"referenceName": tutorial.SOURCE_LS, "type": "LinkedServiceReference"},
        "typeProperties": {"scripts": [{"type": "NonQuery", "text": "CREATE TABLE t (x int)"}]},
    }
    run = trigger_run(save_definition("pipeline", {"name": "Typo", "properties": {"activities": [script]}})[0])
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and not missing.exists()


# --- the portal's own database --------------------------------------------------------------------


@pytest.fixture
def portal_on_sqlite_file(settings, tmp_path):
    """The portal's settings name a SQLite file (pytest's own test database lives in memory)."""
    path = tmp_path / "portal.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE auth_user (username TEXT, is_superuser INT)")
        conn.execute("INSERT INTO auth_user VALUES ('viewer', 0)")
    settings.DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}}
    return path


def escalation(linked_service: str) -> dict:
    return {
        "name": "Escalate",
        "type": "Script",
        "linkedServiceName": {"referenceName": linked_service, "type": "LinkedServiceReference"},
        "typeProperties": {"scripts": [{"type": "NonQuery", "text": "UPDATE auth_user SET is_superuser = 1"}]},
    }


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_a_sqlite_linked_service_on_the_portals_own_database_is_refused(admin, settings, portal_on_sqlite_file):
    """The chain: a Sqlite linked service on the portal's file, a Script making everyone a superuser."""
    database = portal_on_sqlite_file
    for path in (database, Path(f"{database}-wal")):
        response = put_linked_service(admin, "Portal", "Sqlite", database=str(path))
        assert response.status_code == 400 and "the portal's own database" in response.json()["error"]["message"]
    page = connection_test_page(admin, "Sqlite", database=str(database))
    assert "path_not_allowed" in page and "the portal's own database" in page
    hard_link = database.parent / "innocent.sqlite3"
    hard_link.hardlink_to(database)
    assert put_linked_service(admin, "Portal", "Sqlite", database=str(hard_link)).status_code == 400

    settings.CTPORTAL_TASKS_INLINE = True
    innocent = database.parent / "innocent-2.sqlite3"
    sqlite3.connect(innocent).close()
    assert put_linked_service(admin, "Portal", "Sqlite", database=str(innocent)).status_code == 200
    pipeline = save_definition("pipeline", {"name": "Up", "properties": {"activities": [escalation("Portal")]}})[0]
    innocent.unlink()
    innocent.symlink_to(database)  # swapped after save
    run = trigger_run(pipeline)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "the portal's own database" in run.message
    assert ActivityRun.objects.get(pipeline_run=run).error["errorCode"] == "path_not_allowed"
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT is_superuser FROM auth_user").fetchall() == [(0,)]


@pytest.fixture
def portal_on_postgres(settings, pg_database):
    """The portal's settings name a PostgreSQL database, holding an auth_user table as the portal's would."""
    with pg_connect(pg_database) as conn:
        conn.execute("CREATE TABLE auth_user (username text, is_superuser boolean)")
        conn.execute("INSERT INTO auth_user VALUES ('viewer', false)")
    settings.DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": "localhost",
            "PORT": str(pg_database.port),
            "NAME": pg_database.database,
            "USER": pg_database.username,
        }
    }
    return pg_database


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_a_postgres_linked_service_on_the_portals_own_database_is_refused(admin, settings, portal_on_postgres):
    pg = portal_on_postgres
    for server in ("127.0.0.1", "localhost", "::1", "/var/run/postgresql", "db.invalid,127.0.0.1"):
        response = put_linked_service(
            admin, "Portal", "PostgreSqlV2", server=server, port=pg.port, database=pg.database, username=pg.username
        )
        assert response.status_code == 400, server
        assert response.json()["error"]["details"][0]["target"] == "properties.typeProperties.database"
    fields = {"server": "127.0.0.1", "port": str(pg.port), "database": pg.database, "username": pg.username}
    page = connection_test_page(admin, "PostgreSqlV2", **fields, sslMode="0")
    assert "portal_database" in page and "Connection successful" not in page

    settings.CTPORTAL_TASKS_INLINE = True
    other = {**fields, "database": "postgres", "port": pg.port}
    assert put_linked_service(admin, "Portal", "PostgreSqlV2", **other).status_code == 200
    pipeline = save_definition("pipeline", {"name": "Up", "properties": {"activities": [escalation("Portal")]}})[0]
    stored_before_this_check("Portal", **{**other, "database": pg.database})
    run = trigger_run(pipeline)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert ActivityRun.objects.get(pipeline_run=run).error["errorCode"] == "portal_database"
    with pg_connect(pg) as conn:
        assert conn.execute("SELECT is_superuser FROM auth_user").fetchall() == [(False,)]


def test_a_real_portal_keeps_its_own_database_out_of_reach(tmp_path):
    """The whole chain on a portal started as an operator would: API, then a Script through a planted link."""
    portal = Portal(tmp_path)
    portal.manage("migrate", "--noinput")
    portal.manage("seed_tutorial")
    portal.manage("shell", "-c", "from django.contrib.auth.models import User; User.objects.create_user('viewer')")
    token = portal.manage("create_api_token", "admin").stdout.strip()
    portal.start_web()
    try:
        own = str(portal.folder / "portal.sqlite3")
        status, answer = api_put(portal, token, "linkedservices/Portal", sqlite_linked_service(own))
        assert status == 400 and "the portal's own database" in answer["error"]["message"]
        innocent = portal.files / "innocent.sqlite3"
        sqlite3.connect(innocent).close()
        assert api_put(portal, token, "linkedservices/Portal", sqlite_linked_service(str(innocent)))[0] == 200
        assert api_put(portal, token, "pipelines/Up", {"properties": {"activities": [escalation("Portal")]}})[0] == 200
        innocent.unlink()
        innocent.symlink_to(own)
        portal.env["CTPORTAL_TASKS_INLINE"] = "true"
        done = portal.manage("trigger", "Up", "--wait", check=False)
        assert done.returncode == 1 and "ended Failed" in done.stderr
        assert portal.query("SELECT is_superuser FROM auth_user WHERE username = 'viewer'") == [(0,)]
    finally:
        portal.stop()


def sqlite_linked_service(database: str) -> dict:
    return {"properties": {"type": "Sqlite", "typeProperties": {"database": database}}}


def api_put(portal: Portal, token: str, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - the test's own portal, on loopback
        f"{portal.url}/api/{path}",
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_tutorial_seeded_in_the_data_directory_moves_into_the_file_root(settings, tmp_path, capsys):
    """Earlier versions seeded into <data dir>/tutorial; ./dev run's `seed_tutorial --if-empty` moves it."""
    settings.DATA_DIR = tmp_path
    settings.CTPORTAL_FILE_ROOTS = [str(tmp_path / "files")]
    with pytest.MonkeyPatch.context() as patch:  # the old layout, saved when any path was accepted
        patch.setattr(settings, "CTPORTAL_FILE_ROOTS", [str(tmp_path)])
        patch.setattr(settings, "DATA_DIR", tmp_path / "elsewhere")
        call_command("seed_tutorial", "--dir", str(tmp_path / "tutorial"))
    call_command("seed_tutorial", "--if-empty")
    moved = tmp_path / "files" / "tutorial"
    assert (moved / "source.sqlite3").is_file() and not (tmp_path / "tutorial").exists()
    database = LinkedService.objects.get(name=tutorial.SOURCE_LS).revealed_definition()["properties"]
    assert database["typeProperties"]["database"] == str(moved / "source.sqlite3")
