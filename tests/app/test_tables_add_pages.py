"""The Add tables wizard and the Change tracking page, through the test client (the browser walk is in
tests/browser/test_tables_wizard.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from syncjobs.models import AuditEntry, Pipeline, Trigger
from tests.factories import in_file_root, make_linked_service
from tests.fixtures.many_tables import make_sqlite_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """Db: eight tables, t0008 without a key, the first five tracked; Out: a folder."""
    path = Path(in_file_root(f"{tmp_path.name}-shop.sqlite3"))
    make_sqlite_source(path, 8, keyless=["t0008"], tracked=5)
    make_linked_service("Db", database=str(path))
    out = Path(in_file_root(f"{tmp_path.name}-out"))
    out.mkdir()
    make_linked_service("Out", type="FileServer", host=str(out))
    return path


def choices(**overrides):
    data = {
        "source": "Db",
        "tables": ["t0001", "t0006"],
        "sink": "Out",
        "folder": "raw/{table}",
        "format": "csv",
        "schedule": "every",
        "every": "15",
        "unit": "Minute",
    }
    return {**data, **overrides}


def test_the_grid_lists_every_table_and_the_keyless_one_with_its_reason(shop, editor):
    page = editor.get("/tables/add/?source=Db").content.decode()
    assert page.count('name="tables"') == 7  # t0008 cannot be ticked
    row = re.search(r'<tr data-schema="" data-name="t0008".*?</tr>', page, re.S).group(0)
    assert "no key" in row and "change tracking needs one" in row
    tracked = re.search(r'<tr data-schema="" data-name="t0001".*?</tr>', page, re.S).group(0)
    assert 'data-tracked="1"' in tracked and "kept 2 days" in tracked and '<td class="num">3</td>' in tracked
    assert 'data-tracked="0"' in re.search(r'data-name="t0006".*?</tr>', page, re.S).group(0)


def test_the_source_picker_comes_first(shop, editor):
    page = editor.get("/tables/add/").content.decode()
    assert "Db (SQLite)" in page and 'name="tables"' not in page


def test_review_shows_the_objects_fire_times_and_untracked_tables(shop, admin, editor):
    page = admin.post("/tables/add/review", choices()).content.decode()
    assert "SyncDb_Source" in page and "SyncDb_Sink" in page and "SyncDb_Schedule" in page
    assert page.count("<time ") == 5
    assert 'name="enable_tracking"' in page and "_ctportal_" in page  # the statements it would run
    assert "raw/t0006/" in page
    as_editor = editor.post("/tables/add/review", choices()).content.decode()
    assert 'name="enable_tracking"' not in as_editor and "need change tracking" in as_editor
    assert "tables=t0006" in as_editor
    assert not Pipeline.objects.exists()  # a review saves nothing


def test_review_refuses_bad_choices_on_the_grid(shop, editor):
    response = editor.post("/tables/add/review", choices(tables=[], folder="a/{table}/b", every=""))
    page = response.content.decode()
    assert response.status_code == 400
    assert "tick at least one table" in page and "{table} may only be the last folder" in page
    assert "how often" in page
    keyless = editor.post("/tables/add/review", choices(tables=["t0008"]))
    assert keyless.status_code == 400 and "t0008: refused, no primary key" in keyless.content.decode()


def test_create_as_admin_enables_tracking_then_creates_and_starts(shop, admin, settings):
    response = admin.post("/tables/add/create", {**choices(), "enable_tracking": "1"})
    assert response.status_code == 302 and response.url == "/tables/add/done/SyncDb/"
    assert Trigger.objects.get(name="SyncDb_Schedule").runtime_state == "Started"
    audited = AuditEntry.objects.filter(action="enable_change_tracking").values_list("object_name", flat=True)
    assert list(audited) == ["Db/t0006"]
    done = admin.get(response.url).content.decode()
    assert "Run now" in done and "SyncDb_Sink" in done and "t0006" in done
    grid = admin.get("/tables/add/?source=Db").content.decode()
    assert 'data-tracked="1"' in re.search(r'data-name="t0006".*?</tr>', grid, re.S).group(0)


def test_an_editor_cannot_enable_tracking_on_create(shop, editor):
    response = editor.post("/tables/add/create", {**choices(), "enable_tracking": "1"}, follow=True)
    assert "needs the Admin role" in response.content.decode()
    assert not Pipeline.objects.exists()
    created = editor.post("/tables/add/create", choices(), follow=True).content.decode()
    assert Pipeline.objects.filter(name="SyncDb").exists()
    assert "1 of these table still needs change tracking" in created and "<code>t0006</code>" in created
    assert "/tables/change-tracking/?source=Db&amp;tables=t0006" in created


def test_the_wizard_sets_the_schema_drift_policy_of_the_tables_it_adds(shop, editor):
    grid = editor.get("/tables/add/?source=Db").content.decode()
    assert "When a table&#x27;s columns change" in grid or "When a table's columns change" in grid
    assert re.search(r'<input type="radio" name="schema_drift" value="continue"[^>]*checked', grid)
    assert 'value="pause"' in grid and 'value="resync"' in grid and "re-sync (a full copy" in grid
    review = editor.post("/tables/add/review", choices(schema_drift="pause")).content.decode()
    assert "pause (the table stops until an Editor accepts the change)" in review
    assert '<input type="hidden" name="schema_drift" value="pause">' in review
    assert "&quot;schemaDriftPolicy&quot;: &quot;pause&quot;" in review  # the ADF JSON shown
    editor.post("/tables/add/create", choices(schema_drift="pause"))
    activities = Pipeline.objects.get(name="SyncDb").to_adf()["properties"]["activities"]
    assert [a["typeProperties"]["schemaDriftPolicy"] for a in activities] == ["pause"]
    editor.post("/tables/add/create", choices(name="Plain"))  # no choice posted: continue
    (plain,) = Pipeline.objects.get(name="Plain").to_adf()["properties"]["activities"]
    assert plain["typeProperties"]["schemaDriftPolicy"] == "continue"
    bad = editor.post("/tables/add/review", choices(schema_drift="ignore"))
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()


def test_a_recurrence_json_schedules_it(shop, editor):
    recurrence = '{"frequency": "Day", "interval": 1, "schedule": {"hours": [2], "minutes": [30]}}'
    review = editor.post("/tables/add/review", choices(schedule="recurrence", recurrence=recurrence))
    assert review.content.decode().count("02:30</time>") == 5
    bad = editor.post("/tables/add/review", choices(schedule="recurrence", recurrence="{nope"))
    assert bad.status_code == 400 and "not JSON" in bad.content.decode()


def test_change_tracking_shows_statements_then_runs_them(shop, admin):
    page = admin.get("/tables/change-tracking/?source=Db").content.decode()
    assert 'value="enable:t0006"' in page and 'value="disable:t0001"' in page
    confirm = admin.post(
        "/tables/change-tracking/confirm", {"source": "Db", "action": "enable", "tables": ["t0006", "t0007"]}
    ).content.decode()
    assert confirm.count("CREATE TRIGGER") >= 6 and "Run these statements" in confirm
    assert not AuditEntry.objects.filter(action="enable_change_tracking").exists()  # nothing ran yet
    done = admin.post(
        "/tables/change-tracking/run", {"source": "Db", "action": "enable", "tables": ["t0006", "t0007"]}, follow=True
    ).content.decode()
    assert "Change tracking enabled on 2 table(s) of Db." in done
    one = admin.post("/tables/change-tracking/confirm", {"source": "Db", "only": "disable:t0001"}).content.decode()
    assert "DROP TRIGGER" in one and "t0006" not in one
    admin.post("/tables/change-tracking/run", {"source": "Db", "action": "disable", "tables": ["t0001"]})
    entries = AuditEntry.objects.filter(object_kind="table").order_by("pk").values_list("action", "object_name")
    assert list(entries) == [
        ("enable_change_tracking", "Db/t0006"),
        ("enable_change_tracking", "Db/t0007"),
        ("disable_change_tracking", "Db/t0001"),
    ]


def test_a_failure_shows_the_statements_with_a_copy_button(shop, admin):
    response = admin.post("/tables/change-tracking/run", {"source": "Db", "action": "enable", "tables": ["t0008"]})
    page = response.content.decode()
    assert "Not done on 1 table" in page and "no_primary_key" in page and "data-copy" in page


def test_a_login_that_may_not_alter_gets_the_statements_for_a_dba(pg_database, admin):
    """A PostgreSQL login that may only read: the real permission error, the statements to hand over."""
    from syncjobs.services.definitions import save_definition
    from tests.app.test_tutorial_walk import pg_linked_service
    from tests.fixtures.many_tables import make_postgres_source
    from tests.fixtures.postgres import pg_connect

    make_postgres_source(pg_database, 2)
    with pg_connect(pg_database) as conn:
        conn.execute("DROP ROLE IF EXISTS wizard_reader")
        conn.execute("CREATE ROLE wizard_reader LOGIN PASSWORD 'reader-pw-1'")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO wizard_reader")
    definition = pg_linked_service(pg_database)
    definition["properties"]["typeProperties"].update(
        {"username": "wizard_reader", "password": {"type": "SecureString", "value": "reader-pw-1"}}
    )
    save_definition("linkedService", definition)
    try:
        page = admin.post(
            "/tables/change-tracking/run", {"source": "Pg", "action": "enable", "tables": ["public.t0001"]}
        ).content.decode()
    finally:
        with pg_connect(pg_database) as conn:
            conn.execute("REASSIGN OWNED BY wizard_reader TO CURRENT_USER")
            conn.execute("DROP OWNED BY wizard_reader")
            conn.execute("DROP ROLE wizard_reader")
    assert "Hand these statements to a DBA" in page and "permission denied" in page
    assert 'data-copy="#dba-sql"' in page and "CREATE SCHEMA IF NOT EXISTS" in page and "t0001" in page
    assert not AuditEntry.objects.filter(action="enable_change_tracking").exists()


HOSTILE = 'a"; DROP TABLE b; --'
SCRIPT = "<script>alert(1)</script>"


def test_hostile_table_and_column_names_are_quoted_and_escaped(tmp_path, admin, settings):
    import sqlite3

    settings.CTPORTAL_TASKS_INLINE = True
    path = Path(in_file_root(f"{tmp_path.name}-hostile.sqlite3"))
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE b (id INTEGER PRIMARY KEY)")
        conn.execute('CREATE TABLE "a""; DROP TABLE b; --" (id INTEGER PRIMARY KEY, v TEXT)')
        conn.execute('CREATE TABLE "<script>alert(1)</script>" ("<img src=x onerror=alert(2)>" INTEGER PRIMARY KEY)')
    make_linked_service("Db", database=str(path))
    out = Path(in_file_root(f"{tmp_path.name}-out"))
    out.mkdir()
    make_linked_service("Out", type="FileServer", host=str(out))
    grid = admin.get("/tables/add/?source=Db").content.decode()
    review = admin.post("/tables/add/review", choices(tables=[HOSTILE, SCRIPT])).content.decode()
    for page in (grid, review):
        assert SCRIPT not in page and "<img src=x" not in page and "&lt;script&gt;" in page
    response = admin.post("/tables/add/create", {**choices(tables=[HOSTILE, SCRIPT]), "enable_tracking": "1"})
    assert response.status_code == 302, response.content.decode()[:500]
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"b", HOSTILE, SCRIPT} <= names
        conn.execute('INSERT INTO "a""; DROP TABLE b; --" (id, v) VALUES (1, \'x\')')
    done = admin.get(response.url).content.decode()
    assert SCRIPT not in done
    from syncjobs.services.runs import trigger_run

    run = trigger_run(Pipeline.objects.get(name="SyncDb"))
    run.refresh_from_db()
    assert run.status == "Succeeded", run.message
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM b").fetchone() == (0,)
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written and all(out in p.parents for p in written)
    tables = admin.get("/tables/").content.decode()
    assert SCRIPT not in tables and "&lt;script&gt;alert(1)&lt;/script&gt;" in tables
    from syncjobs.models import SyncedTable

    for table in SyncedTable.objects.all():
        page = admin.get(f"/tables/{table.pk}/").content.decode()
        assert SCRIPT not in page and "<img src=x" not in page
    home = admin.get("/").content.decode() + admin.get("/monitor/").content.decode()
    assert SCRIPT not in home


@pytest.mark.parametrize("days", ["9" * 30, "-5", "100000"])
def test_an_out_of_range_retention_is_refused_not_a_500(shop, admin, days):
    data = {"source": "Db", "action": "enable", "tables": ["t0006"], "retention_days": days}
    for url in ("/tables/change-tracking/confirm", "/tables/change-tracking/run"):
        response = admin.post(url, data, follow=True)
        assert response.status_code == 200, (url, response.status_code)
        assert "retention: a whole number of days from 1 to 3650" in response.content.decode()
    import sqlite3

    with sqlite3.connect(shop) as conn:
        tracked = conn.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE '%ct_%' AND sql LIKE '%t0006%'")
        assert tracked.fetchone() == (0,)
