"""The audit log: who created, changed, deleted, triggered, cancelled, started or stopped what, and when;
shown to Admins and queried through the API; never a secret."""

from __future__ import annotations

import getpass
import json
import sqlite3
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from syncjobs.models import AuditEntry, PipelineRun, Trigger
from tests.factories import bearer, in_file_root, make_linked_service, make_pipeline, make_run

pytestmark = pytest.mark.django_db

SECRET = "Tr0ub4dor-audit-secret"


def everything() -> str:
    """Every audit row, every column, as text."""
    return json.dumps(list(AuditEntry.objects.values()), default=str)


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("pk"))


def postgres_form(name: str, password: str, database: str = "shop") -> dict[str, str]:
    return {
        "name": name,
        "server": "127.0.0.1",
        "port": "5432",
        "database": database,
        "username": "app",
        "password": password,
        "sslMode": "0",
    }


def test_a_secret_entered_in_a_linked_service_never_reaches_the_audit_log(admin, tmp_path):
    admin.post("/manage/linkedservices/new/PostgreSqlV2/", postgres_form("Warehouse", SECRET))
    admin.post("/manage/linkedservices/Warehouse/", postgres_form("Warehouse", SECRET + "-2", database="shop2"))
    connection = f"Server=tcp:db.example,1433;Database=ct;User ID=u;Password={SECRET}-3;"
    admin.put(
        "/api/linkedservices/Azure",
        json.dumps({"properties": {"type": "AzureSqlDatabase", "typeProperties": {"connectionString": connection}}}),
        content_type="application/json",
    )
    folder = tmp_path / "factory" / "linkedService"
    folder.mkdir(parents=True)
    secure = {"type": "SecureString", "value": SECRET + "-4"}
    definition = {"server": "h", "database": "d", "userName": "u", "password": secure}
    (folder / "Imported.json").write_text(
        json.dumps({"name": "Imported", "properties": {"type": "SqlServer", "typeProperties": definition}})
    )
    call_command("import_factory", str(tmp_path / "factory"))

    created = {e.object_name: e for e in entries("create")}
    assert set(created) >= {"Warehouse", "Azure", "Imported"}
    assert created["Imported"].actor == f"cli:{getpass.getuser()}"
    change = entries("change")[0]
    assert change.object_name == "Warehouse" and "properties.typeProperties.database" in change.detail["changed"]
    assert change.detail["secretsChanged"] == ["properties.typeProperties.password"]
    assert SECRET not in everything()


def test_definition_changes_are_recorded_with_who_their_role_and_the_paths_that_changed(editor):
    make_linked_service("Shop", database=in_file_root("shop.sqlite3"))
    body = {"properties": {"activities": [], "description": "first"}}
    editor.put("/api/pipelines/Nightly", json.dumps(body), content_type="application/json")
    body["properties"]["description"] = "second"
    editor.put("/api/pipelines/Nightly", json.dumps(body), content_type="application/json")
    editor.delete("/api/pipelines/Nightly")
    rows = list(AuditEntry.objects.filter(object_name="Nightly").order_by("pk"))
    assert [(r.action, r.actor, r.role, r.object_kind) for r in rows] == [
        ("create", editor.user.username, "Editor", "pipeline"),
        ("change", editor.user.username, "Editor", "pipeline"),
        ("delete", editor.user.username, "Editor", "pipeline"),
    ]
    assert rows[1].detail == {"changed": ["properties.description"]} and rows[1].user == editor.user


def test_trigger_rerun_cancel_and_trigger_state_are_recorded_without_parameter_values(operator):
    secure = {"token": {"type": "SecureString"}}
    make_pipeline("Nightly", parameters=secure)
    headers = bearer(operator.user)
    run_id = operator.post(
        "/api/pipelines/Nightly/createRun",
        json.dumps({"token": SECRET}),
        content_type="application/json",
        headers=headers,
    ).json()["runId"]
    operator.post(f"/monitor/runs/{run_id}/cancel")
    operator.post(f"/monitor/runs/{run_id}/rerun")
    recurrence = {"frequency": "Hour", "interval": 1, "startTime": "2026-01-01T00:00:00Z"}
    pipelines = [{"pipelineReference": {"referenceName": "Nightly", "type": "PipelineReference"}}]
    props = {"type": "ScheduleTrigger", "typeProperties": {"recurrence": recurrence}, "pipelines": pipelines}
    Trigger(definition={"name": "Hourly", "properties": props}).save()
    operator.post("/manage/triggers/Hourly/state", {"state": "start"})
    operator.post("/manage/triggers/Hourly/state", {"state": "stop"})
    rerun = PipelineRun.objects.get(parent_run_id=run_id)
    seen = [(e.action, e.object_name, e.detail) for e in AuditEntry.objects.filter(role="Operator").order_by("pk")]
    assert seen == [
        ("trigger", "Nightly", {"runId": run_id, "parameters": ["token"]}),
        ("cancel", "Nightly", {"runId": run_id}),
        (
            "rerun",
            "Nightly",
            {"runId": str(rerun.run_id), "rerunOf": run_id, "fromFailed": False, "failedTablesOnly": False},
        ),
        ("start", "Hourly", {}),
        ("stop", "Hourly", {}),
    ]
    assert SECRET not in everything()


def test_a_scheduled_fire_is_in_the_run_history_not_the_audit_log():
    from syncjobs.services.runs import trigger_run

    trigger_run(make_pipeline(), invoked_by_type="ScheduleTrigger", invoked_by_name="Hourly")
    assert not AuditEntry.objects.filter(action="trigger").exists()


def test_users_roles_and_tokens_are_recorded_and_a_token_never(admin):
    admin.post("/manage/users/", {"username": "dana", "password": "dana-password-1", "role": "Operator"})
    dana = get_user_model().objects.get(username="dana")
    change = {f"u{dana.pk}-role": "Editor", f"u{dana.pk}-active": "on", f"u{dana.pk}-password": "dana-password-2"}
    admin.post(f"/manage/users/{dana.pk}/", change)
    page = admin.post("/manage/tokens/", {"user": dana.pk, "name": "ci"}).content.decode()
    token = page.split('<code id="issued-token">')[1].split("</code>")[0]
    admin.post(f"/manage/tokens/{dana.api_tokens.get().pk}/revoke")
    admin.post(f"/manage/users/{dana.pk}/", {f"u{dana.pk}-role": "Editor"})  # "active" unticked
    seen = [(e.action, e.object_name, e.detail.get("before"), e.detail.get("after")) for e in AuditEntry.objects.all()]
    assert sorted(seen, key=str) == sorted(
        [
            ("create", "dana", None, None),
            ("set_role", "dana", "Operator", "Editor"),
            ("deactivate", "dana", None, None),
            ("set_password", "dana", None, None),
            ("issue_token", "dana/ci", None, None),
            ("revoke_token", "dana/ci", None, None),
        ],
        key=str,
    )
    assert token not in everything() and "dana-password" not in everything()


def test_change_tracking_enable_and_disable_are_recorded_as_the_command_line(tmp_path, capsys):
    database = tmp_path / "shop.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    make_linked_service("Shop", database=str(database))
    call_command("change_tracking", "enable", "Shop", "orders")
    call_command("change_tracking", "status", "Shop", "orders")
    call_command("change_tracking", "disable", "Shop", "orders")
    seen = [(e.actor, e.role, e.action, e.object_kind, e.object_name) for e in AuditEntry.objects.order_by("pk")][1:]
    who = f"cli:{getpass.getuser()}"
    assert seen == [
        (who, "System", "enable_change_tracking", "table", "Shop/orders"),
        (who, "System", "disable_change_tracking", "table", "Shop/orders"),
    ]


@pytest.fixture
def history(db):
    """A week of entries by two users."""
    now = timezone.now()
    for day in range(7):
        for who, action, name in (("ana", "create", f"Pipe{day}"), ("bo", "cancel", "Nightly")):
            AuditEntry.objects.create(
                at=now - timedelta(days=day),
                actor=who,
                role="Editor",
                action=action,
                object_kind="pipeline",
                object_name=name,
            )
    return now


def test_the_audit_page_filters_and_pages(admin, history, settings):
    page = admin.get("/manage/audit/?user=bo&action=cancel").content.decode()
    assert page.count("<td>bo</td>") == 7 and "<td>ana</td>" not in page
    assert "Pipe3" in admin.get("/manage/audit/?object=pipe3").content.decode()
    for n in range(60):
        AuditEntry.objects.create(actor="cy", role="Admin", action="stop", object_kind="trigger", object_name=f"T{n}")
    first = admin.get("/manage/audit/?user=cy").content.decode()
    assert "Page 1 of 2 · 60 entries" in first and "T59" in first and "T0<" not in first
    assert "T0<" in admin.get("/manage/audit/?user=cy&page=2").content.decode()


def test_the_audit_api_filters_by_user_action_object_and_time(admin, history):
    def query(text: str) -> list[dict]:
        response = admin.get(f"/api/auditlog?{text}", headers=bearer(admin.user))
        assert response.status_code == 200, response.content
        return response.json()["value"]

    assert {e["user"] for e in query("user=ana")} == {"ana"} and len(query("user=ana")) == 7
    assert [e["objectName"] for e in query("object=Pipe2")] == ["Pipe2"]
    after = (history - timedelta(days=2, hours=1)).isoformat().replace("+00:00", "Z")
    assert len(query(f"action=cancel&after={after}")) == 3
    before = (history - timedelta(days=5, hours=1)).isoformat().replace("+00:00", "Z")
    assert len(query(f"before={before}")) == 2
    bad = admin.get("/api/auditlog?action=explode", headers=bearer(admin.user))
    assert bad.status_code == 400 and "unknown action" in bad.json()["error"]["message"]
    assert admin.get("/api/auditlog?after=yesterday", headers=bearer(admin.user)).status_code == 400


def test_the_audit_api_pages_with_continuation_tokens(admin):
    AuditEntry.objects.bulk_create(
        AuditEntry(actor="bulk", role="System", action="start", object_kind="trigger", object_name=f"T{n}")
        for n in range(150)
    )
    first = admin.get("/api/auditlog?user=bulk", headers=bearer(admin.user)).json()
    second = admin.get(
        f"/api/auditlog?user=bulk&continuationToken={first['continuationToken']}", headers=bearer(admin.user)
    ).json()
    assert len(first["value"]) == 100 and len(second["value"]) == 50 and second["continuationToken"] is None
    assert {e["id"] for e in first["value"]}.isdisjoint(e["id"] for e in second["value"])


def test_the_openapi_document_lists_the_audit_log(anonymous):
    document = anonymous.get("/api/openapi.json").json()
    operation = document["paths"]["/api/auditlog"]["get"]
    names = [p["name"] for p in document["paths"]["/api/auditlog"]["parameters"]]
    assert names == ["user", "action", "object", "after", "before", "continuationToken"]
    assert "403" in operation["responses"]


def test_a_run_cancelled_twice_is_recorded_once(operator):
    run = make_run()
    operator.post(f"/monitor/runs/{run.run_id}/cancel")
    operator.post(f"/monitor/runs/{run.run_id}/cancel")
    assert AuditEntry.objects.filter(action="cancel").count() == 1
