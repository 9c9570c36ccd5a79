"""The escalation chains of issue 11, as an attacker walked them: each must now stop at a 403, changing nothing."""

from __future__ import annotations

import json
import sqlite3

import pytest

from syncjobs.models import AuditEntry, LinkedService, Pipeline, PipelineRun
from tests.factories import bearer, make_linked_service, make_pipeline, make_run

pytestmark = pytest.mark.django_db

ROW_SECRET = "row-value-only-editors-may-see"


def state() -> str:
    """What an attack could change, as one comparable text."""
    return json.dumps(
        {
            "pipelines": list(Pipeline.objects.order_by("pk").values_list("name", "definition")),
            "linkedServices": list(LinkedService.objects.order_by("pk").values_list("name", "definition")),
            "runs": list(PipelineRun.objects.order_by("pk").values_list("run_id", "status", "cancel_requested")),
            "audit": AuditEntry.objects.count(),
        },
        default=str,
    )


@pytest.fixture
def factory(tmp_path):
    """A SQLite source with one row, its linked service, a pipeline and a queued run."""
    database = tmp_path / "shop.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, note TEXT)")
        conn.execute("INSERT INTO customers VALUES (1, ?)", (ROW_SECRET,))
    make_linked_service("Shop", database=str(database))
    pipeline = make_pipeline("Nightly")
    return {"database": database, "run": make_run(pipeline)}


def attempts(run_id: str) -> list[tuple[str, str, dict | None]]:
    """Every write a Viewer tried through the API."""
    changed = {"properties": {"activities": [], "description": "taken over"}}
    portal_db = {"properties": {"type": "Sqlite", "typeProperties": {"database": "/tmp/any.sqlite3"}}}
    return [
        ("put", "/api/pipelines/Nightly", changed),
        ("put", "/api/pipelines/Planted", changed),
        ("delete", "/api/pipelines/Nightly", None),
        ("put", "/api/linkedservices/Shop", portal_db),
        ("delete", "/api/linkedservices/Shop", None),
        ("post", "/api/pipelines/Nightly/createRun", {}),
        ("post", f"/api/pipelines/Nightly/createRun?referencePipelineRunId={run_id}&isRecovery=true", {}),
        ("post", f"/api/pipelineruns/{run_id}/cancel", None),
    ]


def test_a_viewers_token_cannot_change_definitions_trigger_or_cancel(factory, viewer):
    headers = bearer(viewer.user)
    before = state()
    for method, url, data in attempts(str(factory["run"].run_id)):
        body = json.dumps(data) if data is not None else ""
        response = getattr(viewer, method)(url, body, content_type="application/json", headers=headers)
        assert response.status_code == 403, (method, url, response.content)
        assert response.json()["error"]["code"] == "Forbidden"
    assert state() == before


def test_a_viewers_session_cannot_change_definitions_trigger_or_cancel(factory, viewer):
    before = state()
    for method, url, data in attempts(str(factory["run"].run_id)):
        body = json.dumps(data) if data is not None else ""
        response = getattr(viewer, method)(url, body, content_type="application/json")
        assert response.status_code == 403, (method, url, response.content)
    assert state() == before


@pytest.mark.parametrize("who", ["viewer", "operator"])
def test_viewers_and_operators_cannot_preview_rows_through_the_catalogue(factory, who, request, editor):
    client = request.getfixturevalue(who)
    for url in ("/author/catalogue/?linked_service=Shop&table=customers", "/author/catalogue/?linked_service=Shop"):
        response = client.get(url)
        assert response.status_code == 403
        assert ROW_SECRET not in response.content.decode() and "customers" not in response.content.decode()
    allowed = editor.get("/author/catalogue/?linked_service=Shop&table=customers")
    assert allowed.status_code == 200 and ROW_SECRET in allowed.content.decode()


@pytest.mark.parametrize("who", ["viewer", "operator", "editor"])
def test_only_an_admin_creates_changes_or_tests_a_linked_service(factory, who, request, tmp_path):
    client = request.getfixturevalue(who)
    before = state()
    planted = {"name": "Planted", "database": str(tmp_path / "x.sqlite3")}
    assert client.post("/manage/linkedservices/new/Sqlite/", planted).status_code == 403
    assert client.post("/manage/linkedservices/Shop/", {"name": "Shop", "database": "/etc/passwd"}).status_code == 403
    tested = client.post("/manage/test-connection/", {"kind": "Sqlite", "existing": "Shop", "database": "/"})
    assert tested.status_code == 403
    put = client.put(
        "/api/linkedservices/Planted",
        json.dumps({"properties": {"type": "Sqlite", "typeProperties": {"database": "/tmp/p.sqlite3"}}}),
        content_type="application/json",
        headers=bearer(client.user),
    )
    assert put.status_code == 403
    assert state() == before


def test_an_admin_may_do_what_the_others_may_not(factory, admin, tmp_path):
    created = admin.post("/manage/linkedservices/new/Sqlite/", {"name": "Planted", "database": str(tmp_path / "p.db")})
    assert created.status_code == 302 and LinkedService.objects.filter(name="Planted").exists()
    response = admin.post(f"/api/pipelineruns/{factory['run'].run_id}/cancel", headers=bearer(admin.user))
    assert response.status_code == 200
    assert PipelineRun.objects.get(pk=factory["run"].pk).status == "Cancelled"
