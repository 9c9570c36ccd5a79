"""Every route declares its role, and every page and endpoint answers each role exactly as declared.

``test_every_route_declares_the_role_it_needs`` walks the whole URL configuration (admin, accounts, the
API, the pages). The role table tries every route and method as anonymous, an inactive user, Viewer,
Operator, Editor and Admin (API routes with a session and with a token each): the exact status, and
that an allowed write happened while a denied one changed no row. A route missing from the table
fails ``test_the_role_table_covers_every_route_and_method``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessFailureLog
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task

from syncjobs.access import Need, Role, stored_role
from syncjobs.models import (
    ActivityRun,
    AlertChannel,
    AlertRule,
    ApiToken,
    AuditEntry,
    Dataset,
    Delivery,
    EvaluationPass,
    Incident,
    LinkedService,
    Pipeline,
    PipelineRun,
    SchemaChange,
    SyncedTable,
    Trigger,
    Watermark,
    WatermarkWindow,
)
from syncjobs.services.schedules import RECOVER_RUNS, ensure_schedules
from tests.factories import (
    PASSWORD,
    bearer,
    make_dataset,
    make_linked_service,
    make_pipeline,
    make_run,
    make_user,
    signed_in,
)

pytestmark = pytest.mark.django_db

PAGE, API = "page", "api"
ROLES = (Role.VIEWER, Role.OPERATOR, Role.EDITOR, Role.ADMIN)
NEW_PASSWORD = "changed-password-42"


# --- The URL walk -------------------------------------------------------------------------------------


def routes(patterns: list[Any] | None = None, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, Any]]:
    """``(route, pattern)`` for every URL pattern, included ones too."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from routes(entry.url_patterns, prefix + str(entry.pattern), inner)
        else:
            yield prefix + str(entry.pattern), entry


def undeclared(patterns: list[Any] | None = None) -> list[str]:
    return [r for r, p in routes(patterns) if not isinstance(getattr(p.callback, "required_role", None), Need)]


def test_every_route_declares_the_role_it_needs():
    walked = [route for route, _ in routes()]
    assert any(r.startswith("admin/") for r in walked) and any(r.startswith("accounts/") for r in walked)
    assert any(r.startswith("api/") for r in walked) and "manage/users/" in walked
    assert undeclared() == []


def test_the_walk_finds_a_route_without_a_declared_role():
    def forgotten(request):  # a new view someone forgot to declare
        raise AssertionError

    assert undeclared([path("forgotten/", forgotten)]) == ["forgotten/"]


def test_only_sign_in_health_and_the_openapi_document_are_public():
    public = sorted(r for r, p in routes() if p.callback.required_role.public)
    assert public == [
        "accounts/login/",
        "accounts/logout/",
        "accounts/password_reset/",
        "accounts/password_reset/done/",
        "accounts/reset/<uidb64>/<token>/",
        "accounts/reset/done/",
        "api/openapi.json",
        "healthz",
    ]


# --- The world every case starts from -----------------------------------------------------------------


@dataclass
class World:
    """The objects the cases act on, and the signed-in users trying them."""

    folder: Path
    run: PipelineRun
    target: Any  # a Viewer the Users page changes
    token: ApiToken
    users: dict[str, Any] = field(default_factory=dict)
    file_url: str = ""  # the preview of a file a run wrote (add "download" for the file)


@pytest.fixture
def world(tmp_path, settings) -> World:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # hashing is not under test
    settings.EMAIL_HOST = "127.0.0.1"  # password reset is offered only with mail (pytest-django keeps mail in memory)
    with sqlite3.connect(tmp_path / "shop.sqlite3") as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, note TEXT)")
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    shop = make_linked_service("Shop", database=str(tmp_path / "shop.sqlite3"))
    make_linked_service("Spare", database=str(tmp_path / "spare.sqlite3"))
    make_dataset("Customers", "Shop", typeProperties={"table": "customers"})
    make_pipeline("Spare")
    run = make_run(make_pipeline("Nightly"))
    ActivityRun.objects.create(pipeline_run=run, activity_name="Pause", activity_type="Wait")
    watermark = Watermark.objects.create(linked_service=shop, source_table="customers", sink_key="out", version=5)
    WatermarkWindow.objects.create(watermark=watermark, mode="full", new_version=5)
    added = {"kinds": ["added"], "added": [{"name": "email", "type": "string"}], "summary": "added email (string)"}
    SchemaChange.objects.create(watermark=watermark, kind="added", diff=added, policy="pause", outcome="paused")
    recurrence = {"frequency": "Hour", "interval": 1, "startTime": "2026-01-01T00:00:00Z", "timeZone": "UTC"}
    Trigger(definition={"name": "Hourly", "properties": _trigger(recurrence)}).save()
    ensure_schedules()
    now = timezone.now()
    Task.objects.create(id="a" * 32, name="done", func="f", started=now, stopped=now, success=True)
    Task.objects.create(id="b" * 32, name="failed", func="f", started=now, stopped=now, success=False)
    OrmQ.objects.create(key="default", payload="x", lock=now)
    target = make_user(Role.VIEWER, "target")
    token = ApiToken.issue(target, "old")[0]
    AuditEntry.objects.create(actor="system", role="System", action="create", object_kind="pipeline", object_name="x")
    _alerts()
    users = {role.label: make_user(role, password=PASSWORD) for role in ROLES}
    users["inactive"] = make_user(Role.ADMIN, active=False)  # even a deactivated Admin gets nothing
    settings.AXES_ENABLE_ACCESS_FAILURE_LOG = True
    sign_in = Client()  # django-axes' rows, for its admin pages: a sign-in, then a failed one
    viewer = {"username": users["Viewer"].username, "password": PASSWORD}
    assert sign_in.post("/accounts/login/", viewer).status_code == 302
    sign_in.post("/accounts/login/", {"username": "target", "password": "wrong"})
    assert AccessFailureLog.objects.exists()
    file_url = _file_run(tmp_path)  # saves definitions: the synced table comes after (saves refresh the list)
    SyncedTable.objects.create(watermark=watermark, source_name="Shop", table_name="customers", sink_dataset="out")
    return World(tmp_path, run, target, token, users, file_url=file_url)


def _file_run(folder: Path) -> str:
    """A run of ``Export`` whose Copy wrote ``exports/out.csv`` to a folder sink; the file's preview URL."""
    make_linked_service("Files", type="FileServer", host=str(folder / "files"))
    location = {"type": "FileServerLocation", "folderPath": "exports", "fileName": "out.csv"}
    make_dataset("OutCsv", "Files", type="DelimitedText", typeProperties={"location": location})
    make_dataset("Orders", "Shop", typeProperties={"table": "orders"})
    copy = {"name": "ToFile", "type": "Copy", "inputs": [{"referenceName": "Orders", "type": "DatasetReference"}]}
    copy["typeProperties"] = {"source": {"type": "SqliteSource"}, "sink": {"type": "DelimitedTextSink"}}
    copy["outputs"] = [{"referenceName": "OutCsv", "type": "DatasetReference"}]
    run = make_run(make_pipeline("Export", [copy]), status="Succeeded")
    (folder / "files" / "exports").mkdir(parents=True)
    (folder / "files" / "exports" / "out.csv").write_text("1,a\n")
    output = {"rowsCopied": 1, "files": [str(folder / "files" / "exports" / "out.csv")]}
    activity = ActivityRun.objects.create(pipeline_run=run, activity_name="ToFile", activity_type="Copy", output=output)
    return f"/monitor/runs/{run.run_id}/files/{activity.pk}/0/"


def _alerts() -> None:
    """An open incident, an e-mail channel (mail stays in memory under pytest) and a rule sending to it."""
    Incident.objects.create(
        kind="run_failed", severity=30, object_type="pipeline", object_id="nightly", object_name="Nightly", reason="x"
    )
    channel = AlertChannel.objects.create(name="Ops", kind="email", config={"recipients": ["ops@example.test"]})
    AlertRule.objects.create(name="All").channels.set([channel])


def _incident_url(suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/alerts/incidents/{Incident.objects.get().pk}/{suffix}"


def _channel_url(suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/alerts/channels/{AlertChannel.objects.get(name='Ops').pk}/{suffix}"


def _api_incident(action: str) -> Callable[[World], str]:
    return lambda w: f"/api/alerts/{Incident.objects.get().pk}/{action}"


def _trigger(recurrence: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "ScheduleTrigger",
        "typeProperties": {"recurrence": recurrence},
        "pipelines": [{"pipelineReference": {"referenceName": "Nightly", "type": "PipelineReference"}}],
    }


def fingerprint() -> str:
    """Every row a request could change (timestamps included: a save touches ``updated``)."""
    rows: dict[str, Any] = {}
    for model in (LinkedService, Dataset, Pipeline, Trigger):
        rows[model.__name__] = list(model.objects.order_by("pk").values())
    rows["runs"] = list(PipelineRun.objects.order_by("pk").values("pk", "status", "cancel_requested"))
    rows["activities"] = ActivityRun.objects.count()
    rows["watermarks"] = list(Watermark.objects.order_by("pk").values("pk", "version", "claimed_by"))
    rows["users"] = [
        (u.username, u.password, u.is_active, u.is_superuser, sorted(u.groups.values_list("name", flat=True)))
        for u in get_user_model().objects.order_by("pk")
    ]
    rows["tokens"] = list(ApiToken.objects.order_by("pk").values_list("pk", "name", "user_id"))
    rows["audit"] = AuditEntry.objects.count()
    rows["schedules"] = list(Schedule.objects.order_by("pk").values_list("pk", "func"))
    rows["tasks"] = list(Task.objects.order_by("pk").values_list("pk", flat=True))
    rows["queue"] = OrmQ.objects.count()
    rows["incidents"] = list(
        Incident.objects.order_by("pk").values("pk", "acknowledged_at", "muted_until", "resolved_at", "count")
    )
    rows["channels"] = list(AlertChannel.objects.order_by("pk").values())
    rows["rules"] = list(AlertRule.objects.order_by("pk").values())
    rows["deliveries"] = Delivery.objects.count()
    rows["alert_passes"] = list(EvaluationPass.objects.values_list("last_pass_at", flat=True))
    return json.dumps(rows, default=str, sort_keys=True)


# --- The table ----------------------------------------------------------------------------------------

Check = Callable[[World, Any], bool]


@dataclass(frozen=True)
class Case:
    """One request: who may make it (``None``: anyone), the status it gets then, and what it changes."""

    route: str  # the URL pattern it exercises, as the walk names it
    method: str
    url: Callable[[World], str]
    role: Role | None
    ok: int
    kind: str = PAGE
    data: Callable[[World], Any] | None = None
    done: Check | None = None  # a write: true once it happened (and never after a denial)

    @property
    def label(self) -> str:
        return f"{self.method} {self.route}" + (" (write)" if self.done else "")


def _new(model: type, name: str) -> Check:
    return lambda w, u: model.objects.filter(name=name).exists()


def _gone(model: type, name: str) -> Check:
    return lambda w, u: not model.objects.filter(name=name).exists()


def _runs(count: int) -> Check:
    return lambda w, u: PipelineRun.objects.filter(pipeline_name="Nightly").count() == count


def _cancelled(w: World, u: Any) -> bool:
    return PipelineRun.objects.get(pk=w.run.pk).status == "Cancelled"


def _description(model: type, name: str, text: str) -> Check:
    return lambda w, u: model.objects.get(name=name).properties.get("description") == text


NIGHTLY = "/author/pipelines/Nightly"


def _activities(name: str) -> list[dict[str, Any]]:
    return Pipeline.objects.get(name=name).properties["activities"]


def _pipeline_json(description: str) -> dict[str, Any]:
    wait = {"name": "Pause", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}
    return {"name": "Nightly", "properties": {"activities": [wait], "description": description}}


def _activity_form(w: World) -> dict[str, str]:
    return {
        "a0-original": "Pause",
        "a0-name": "Nap",
        "a0-retry": "0",
        "a0-retry_interval": "30",
        "a0-timeout": "0.12:00:00",
        "a0-type_properties": '{"waitTimeInSeconds": 2}',
    }


def _ls(database: str) -> dict[str, Any]:
    return {"properties": {"type": "Sqlite", "typeProperties": {"database": database}}}


def _in_folder(w: World, body: dict[str, Any]) -> dict[str, Any]:
    """A linked service's file inside the test's folder."""
    text = json.dumps(body).replace('"planted.sqlite3"', json.dumps(str(w.folder / "planted.sqlite3")))
    return json.loads(text)


def _window(w: World) -> dict[str, str]:
    now = timezone.now()
    return {
        "lastUpdatedAfter": (now - timedelta(days=1)).isoformat(),
        "lastUpdatedBefore": (now + timedelta(days=1)).isoformat(),
    }


def _table(w: World) -> int:
    """The world's synced table (its watermark's id)."""
    return SyncedTable.objects.get().pk


def _ids(w: World) -> dict[str, Any]:
    return {"ids": [_table(w)]}


def _add_tables() -> dict[str, Any]:
    form = {"source": "Shop", "tables": "orders", "sink": "Files", "folder": "out/{table}", "format": "csv"}
    return {**form, "schedule": "every", "every": "15", "unit": "Minute"}


def _run_id(w: World) -> str:
    return str(w.run.run_id)


PAGES = [
    Case("", "GET", lambda w: "/", Role.VIEWER, 200),
    Case("healthz", "GET", lambda w: "/healthz", None, 200),
    Case("monitor/", "GET", lambda w: "/monitor/", Role.VIEWER, 200),
    Case("monitor/rows", "GET", lambda w: f"/monitor/rows?ids={w.run.run_id}", Role.VIEWER, 200),
    Case("monitor/runs/<uuid:run_id>/", "GET", lambda w: f"/monitor/runs/{w.run.run_id}/", Role.VIEWER, 200),
    Case(
        "monitor/runs/<uuid:run_id>/files/<uuid:activity_run_id>/<int:index>/",
        "GET",
        lambda w: w.file_url,
        Role.EDITOR,
        200,
    ),
    Case(
        "monitor/runs/<uuid:run_id>/files/<uuid:activity_run_id>/<int:index>/download",
        "GET",
        lambda w: w.file_url + "download",
        Role.EDITOR,
        200,
    ),
    Case(
        "monitor/runs/<uuid:run_id>/cancel",
        "POST",
        lambda w: f"/monitor/runs/{w.run.run_id}/cancel",
        Role.OPERATOR,
        302,
        done=_cancelled,
    ),
    Case(
        "monitor/runs/<uuid:run_id>/rerun",
        "POST",
        lambda w: f"/monitor/runs/{w.run.run_id}/rerun",
        Role.OPERATOR,
        302,
        done=_runs(2),
    ),
    Case("monitor/pipelines/<str:name>/", "GET", lambda w: "/monitor/pipelines/Nightly/", Role.VIEWER, 200),
    Case("monitor/watermarks/", "GET", lambda w: "/monitor/watermarks/", Role.VIEWER, 200),
    Case("tables/<int:watermark_id>/schema/", "GET", lambda w: f"/tables/{_table(w)}/schema/", Role.VIEWER, 200),
    Case(
        "tables/<int:watermark_id>/schema/accept",
        "POST",
        lambda w: f"/tables/{_table(w)}/schema/accept",
        Role.EDITOR,
        302,
        done=lambda w, u: not SchemaChange.objects.waiting().exists(),
    ),
    Case(
        "tables/schema/policy",
        "POST",
        lambda w: "/tables/schema/policy",
        Role.EDITOR,
        302,
        data=lambda w: {"watermark": [_table(w)], "policy": "resync"},
        done=lambda w, u: Watermark.objects.get(pk=_table(w)).schema_policy == "resync",
    ),
    Case("tables/", "GET", lambda w: "/tables/", Role.VIEWER, 200),
    Case("tables/<int:table_id>/", "GET", lambda w: f"/tables/{_table(w)}/", Role.VIEWER, 200),
    Case(
        "tables/actions/<str:action>",
        "POST",
        lambda w: "/tables/actions/pause",
        Role.OPERATOR,
        302,
        data=lambda w: {"ids": [_table(w)]},
        done=lambda w, u: Watermark.objects.get(pk=_table(w)).paused,
    ),
    Case(  # allowed: no pipeline copies the world's table, so nothing is queued (test_tables_page has the runs)
        "tables/actions/<str:action>", "POST", lambda w: "/tables/actions/sync", Role.OPERATOR, 302, data=_ids
    ),
    Case(  # a verify is queued for a worker (the world's tasks are not inline)
        "tables/actions/<str:action>",
        "POST",
        lambda w: "/tables/actions/verify",
        Role.OPERATOR,
        302,
        data=_ids,
        done=lambda w, u: OrmQ.objects.count() == 2,
    ),
    Case(  # the world's table is on a SQLite file with nothing tracked: its facts say so
        "tables/actions/<str:action>",
        "POST",
        lambda w: "/tables/actions/facts",
        Role.OPERATOR,
        302,
        data=_ids,
        done=lambda w, u: OrmQ.objects.count() == 2,
    ),
    Case(  # the schema drift policy, set in bulk from the Tables page
        "tables/actions/<str:action>",
        "POST",
        lambda w: "/tables/actions/policy",
        Role.EDITOR,
        302,
        data=lambda w: {"ids": [_table(w)], "policy": "pause"},
        done=lambda w, u: Watermark.objects.get(pk=_table(w)).schema_policy == "pause",
    ),
    Case(  # Set pace: an Editor's
        "tables/actions/<str:action>",
        "POST",
        lambda w: "/tables/actions/pace",
        Role.EDITOR,
        302,
        data=lambda w: {"ids": [_table(w)], "freshness_minutes": "90"},
        done=lambda w, u: SyncedTable.objects.get(pk=_table(w)).freshness_target == timedelta(minutes=90),
    ),
    Case("tables/resync/", "GET", lambda w: f"/tables/resync/?ids={_table(w)}", Role.EDITOR, 200),
    Case(
        "tables/resync/",
        "POST",
        lambda w: "/tables/resync/",
        Role.EDITOR,
        302,
        data=lambda w: {"ids": [_table(w)], "confirm": "yes"},
        done=lambda w, u: Watermark.objects.get(pk=_table(w)).version is None,
    ),
    Case("manage/", "GET", lambda w: "/manage/", Role.VIEWER, 200),
    Case(
        "manage/linkedservices/new/<str:kind>/", "GET", lambda w: "/manage/linkedservices/new/Sqlite/", Role.ADMIN, 200
    ),
    Case(
        "manage/linkedservices/new/<str:kind>/",
        "POST",
        lambda w: "/manage/linkedservices/new/Sqlite/",
        Role.ADMIN,
        302,
        data=lambda w: {"name": "Planted", "database": str(w.folder / "planted.sqlite3")},
        done=_new(LinkedService, "Planted"),
    ),
    Case("manage/linkedservices/<str:name>/", "GET", lambda w: "/manage/linkedservices/Shop/", Role.VIEWER, 200),
    Case(
        "manage/linkedservices/<str:name>/",
        "POST",
        lambda w: "/manage/linkedservices/Shop/",
        Role.ADMIN,
        302,
        data=lambda w: {"name": "Shop", "database": str(w.folder / "moved.sqlite3")},
        done=lambda w, u: (
            LinkedService.objects.get(name="Shop").properties["typeProperties"]["database"].endswith("moved.sqlite3")
        ),
    ),
    Case(
        "manage/test-connection/",
        "POST",
        lambda w: "/manage/test-connection/",
        Role.ADMIN,
        200,
        data=lambda w: {"kind": "Sqlite", "name": "T", "database": str(w.folder / "shop.sqlite3")},
    ),
    Case(
        "manage/triggers/<str:name>/state",
        "POST",
        lambda w: "/manage/triggers/Hourly/state",
        Role.OPERATOR,
        302,
        data=lambda w: {"state": "start"},
        done=lambda w, u: Trigger.objects.get(name="Hourly").runtime_state == "Started",
    ),
    Case("manage/users/", "GET", lambda w: "/manage/users/", Role.ADMIN, 200),
    Case(
        "manage/users/",
        "POST",
        lambda w: "/manage/users/",
        Role.ADMIN,
        302,
        data=lambda w: {"username": "newbie", "password": "long-enough-pw-1", "role": "Editor"},
        done=lambda w, u: get_user_model().objects.filter(username="newbie").exists(),
    ),
    Case(
        "manage/users/<int:user_id>/",
        "POST",
        lambda w: f"/manage/users/{w.target.pk}/",
        Role.ADMIN,
        302,
        data=lambda w: {f"u{w.target.pk}-role": "Editor", f"u{w.target.pk}-active": "on"},
        done=lambda w, u: stored_role(get_user_model().objects.get(pk=w.target.pk)) == Role.EDITOR,
    ),
    Case("manage/tokens/", "GET", lambda w: "/manage/tokens/", Role.ADMIN, 200),
    Case(
        "manage/tokens/",
        "POST",
        lambda w: "/manage/tokens/",
        Role.ADMIN,
        200,
        data=lambda w: {"user": w.target.pk, "name": "ci"},
        done=lambda w, u: ApiToken.objects.filter(name="ci").exists(),
    ),
    Case(
        "manage/tokens/<int:token_id>/revoke",
        "POST",
        lambda w: f"/manage/tokens/{w.token.pk}/revoke",
        Role.ADMIN,
        302,
        done=lambda w, u: not ApiToken.objects.filter(pk=w.token.pk).exists(),
    ),
    Case("manage/audit/", "GET", lambda w: "/manage/audit/?action=create", Role.ADMIN, 200),
    Case("tables/add/", "GET", lambda w: "/tables/add/?source=Shop", Role.EDITOR, 200),
    Case("tables/add/review", "POST", lambda w: "/tables/add/review", Role.EDITOR, 200, data=lambda w: _add_tables()),
    Case(
        "tables/add/create",
        "POST",
        lambda w: "/tables/add/create",
        Role.EDITOR,
        302,
        data=lambda w: _add_tables(),
        done=_new(Pipeline, "SyncShop"),
    ),
    Case("tables/add/done/<str:name>/", "GET", lambda w: "/tables/add/done/Nightly/", Role.EDITOR, 200),
    Case("tables/change-tracking/", "GET", lambda w: "/tables/change-tracking/?source=Shop", Role.EDITOR, 200),
    Case(
        "tables/change-tracking/confirm",
        "POST",
        lambda w: "/tables/change-tracking/confirm",
        Role.ADMIN,
        200,
        data=lambda w: {"source": "Shop", "action": "enable", "tables": "orders"},
    ),
    Case(
        "tables/change-tracking/run",
        "POST",
        lambda w: "/tables/change-tracking/run",
        Role.ADMIN,
        302,
        data=lambda w: {"source": "Shop", "action": "enable", "tables": "orders"},
        done=lambda w, u: AuditEntry.objects.filter(
            action="enable_change_tracking", object_name="Shop/orders"
        ).exists(),
    ),
    *(
        Case("alerts/", "GET", lambda w: "/alerts/?state=open", Role.VIEWER, 200),
        Case(
            "alerts/evaluate",
            "POST",
            lambda w: "/alerts/evaluate",
            Role.OPERATOR,
            302,
            done=lambda w, u: EvaluationPass.objects.exists(),
        ),
        Case("alerts/incidents/<int:incident_id>/", "GET", _incident_url(), Role.VIEWER, 200),
        Case(
            "alerts/incidents/<int:incident_id>/",
            "POST",
            _incident_url(),
            Role.OPERATOR,
            302,
            data=lambda w: {"action": "acknowledge"},
            done=lambda w, u: Incident.objects.get().acknowledged_by == u,
        ),
        Case("alerts/channels/", "GET", lambda w: "/alerts/channels/", Role.VIEWER, 200),
        Case(
            "alerts/channels/",
            "POST",
            lambda w: "/alerts/channels/",
            Role.ADMIN,
            302,
            data=lambda w: {"name": "Planted", "kind": "email", "recipients": "a@example.test", "enabled": "on"},
            done=_new(AlertChannel, "Planted"),
        ),
        Case("alerts/channels/<int:channel_id>/", "GET", _channel_url(), Role.ADMIN, 200),
        Case(
            "alerts/channels/<int:channel_id>/",
            "POST",
            _channel_url(),
            Role.ADMIN,
            302,
            data=lambda w: {"name": "Ops", "kind": "email", "recipients": "b@example.test", "enabled": "on"},
            done=lambda w, u: AlertChannel.objects.get(name="Ops").config["recipients"] == ["b@example.test"],
        ),
        Case(
            "alerts/channels/<int:channel_id>/test",
            "POST",
            _channel_url("test"),
            Role.ADMIN,
            302,
            done=lambda w, u: Delivery.objects.filter(status="sent").exists(),
        ),
        Case("alerts/rules/", "GET", lambda w: "/alerts/rules/", Role.VIEWER, 200),
        Case(
            "alerts/rules/",
            "POST",
            lambda w: "/alerts/rules/",
            Role.ADMIN,
            302,
            data=lambda w: {
                "name": "Planted",
                "min_severity": "20",
                "scope": "all",
                "channels": [AlertChannel.objects.get(name="Ops").pk],
            },
            done=_new(AlertRule, "Planted"),
        ),
        Case(
            "alerts/rules/<int:rule_id>/",
            "GET",
            lambda w: f"/alerts/rules/{AlertRule.objects.get().pk}/",
            Role.ADMIN,
            200,
        ),
        Case(
            "alerts/rules/<int:rule_id>/",
            "POST",
            lambda w: f"/alerts/rules/{AlertRule.objects.get().pk}/",
            Role.ADMIN,
            302,
            data=lambda w: {"action": "delete"},
            done=_gone(AlertRule, "All"),
        ),
    ),
    Case("author/", "GET", lambda w: "/author/", Role.VIEWER, 200),
    Case("author/datasets/new/", "GET", lambda w: "/author/datasets/new/", Role.EDITOR, 200),
    Case(
        "author/datasets/new/",
        "POST",
        lambda w: "/author/datasets/new/",
        Role.EDITOR,
        302,
        data=lambda w: {"name": "Planted", "linked_service": "Shop", "table": "orders"},
        done=_new(Dataset, "Planted"),
    ),
    Case("author/datasets/<str:name>/", "GET", lambda w: "/author/datasets/Customers/", Role.VIEWER, 200),
    Case(
        "author/datasets/<str:name>/",
        "POST",
        lambda w: "/author/datasets/Customers/",
        Role.EDITOR,
        302,
        data=lambda w: {"name": "Customers", "linked_service": "Shop", "table": "orders"},
        done=lambda w, u: Dataset.objects.get(name="Customers").properties["typeProperties"]["table"] == "orders",
    ),
    Case("author/catalogue/", "GET", lambda w: "/author/catalogue/?linked_service=Shop", Role.EDITOR, 200),
    Case(
        "author/catalogue/", "GET", lambda w: "/author/catalogue/?linked_service=Shop&table=customers", Role.EDITOR, 200
    ),
    Case("author/pipelines/new/", "GET", lambda w: "/author/pipelines/new/", Role.EDITOR, 200),
    Case(
        "author/pipelines/new/",
        "POST",
        lambda w: "/author/pipelines/new/",
        Role.EDITOR,
        302,
        data=lambda w: {"definition": json.dumps({**_pipeline_json("new"), "name": "Planted"})},
        done=_new(Pipeline, "Planted"),
    ),
    Case(
        "author/pipelines/new/",
        "POST",
        lambda w: "/author/pipelines/new/",
        Role.EDITOR,
        302,
        data=lambda w: {"name": "Planted"},
        done=_new(Pipeline, "Planted"),
    ),
    Case("author/pipelines/<str:name>/", "GET", lambda w: "/author/pipelines/Nightly/", Role.VIEWER, 200),
    Case(
        "author/pipelines/<str:name>/",
        "POST",
        lambda w: "/author/pipelines/Nightly/",
        Role.EDITOR,
        302,
        data=lambda w: {"definition": json.dumps(_pipeline_json("edited")), "action": "save"},
        done=_description(Pipeline, "Nightly", "edited"),
    ),
    Case(
        "author/pipelines/<str:name>/",
        "POST",
        lambda w: "/author/pipelines/Nightly/",
        Role.EDITOR,
        200,
        data=lambda w: {"definition": json.dumps(_pipeline_json("validated")), "action": "validate"},
    ),
    Case(
        "author/pipelines/<str:name>/trigger",
        "POST",
        lambda w: "/author/pipelines/Nightly/trigger",
        Role.OPERATOR,
        302,
        done=_runs(2),
    ),
    Case(
        "author/pipelines/<str:name>/activities/<int:index>",
        "POST",
        lambda w: "/author/pipelines/Nightly/activities/0",
        Role.EDITOR,
        302,
        data=_activity_form,
        done=lambda w, u: Pipeline.objects.get(name="Nightly").properties["activities"][0]["name"] == "Nap",
    ),
    Case("author/pipelines/<str:name>/activities/new", "GET", lambda w: f"{NIGHTLY}/activities/new", Role.EDITOR, 200),
    Case(
        "author/pipelines/<str:name>/activities/new",
        "GET",
        lambda w: f"{NIGHTLY}/activities/new?type=Copy",
        Role.EDITOR,
        200,
    ),
    Case(
        "author/pipelines/<str:name>/activities/new",
        "POST",
        lambda w: f"{NIGHTLY}/activities/new",
        Role.EDITOR,
        302,
        data=lambda w: {
            "type": "Wait",
            "name": "Nap",
            "after_condition": "Succeeded",
            "wait_seconds": "1",
        },
        done=lambda w, u: [a["name"] for a in _activities("Nightly")] == ["Pause", "Nap"],
    ),
    Case(
        "author/pipelines/<str:name>/activities/<int:index>/remove",
        "POST",
        lambda w: f"{NIGHTLY}/activities/0/remove",
        Role.EDITOR,
        302,
        data=lambda w: {"original": "Pause"},
        done=lambda w, u: _activities("Nightly") == [],
    ),
    Case(  # the only activity cannot move: a message, nothing saved
        "author/pipelines/<str:name>/activities/<int:index>/move",
        "POST",
        lambda w: f"{NIGHTLY}/activities/0/move",
        Role.EDITOR,
        302,
        data=lambda w: {"original": "Pause", "direction": "down"},
    ),
    Case(
        "author/pipelines/<str:name>/activities/<int:index>/depends",
        "POST",
        lambda w: f"{NIGHTLY}/activities/0/depends",
        Role.EDITOR,
        302,
        data=lambda w: {"original": "Pause", "d0-TOTAL_FORMS": "1", "d0-INITIAL_FORMS": "0", "d0-0-activity": ""},
        done=lambda w, u: _activities("Nightly")[0].get("dependsOn") == [],
    ),
    Case("accounts/login/", "GET", lambda w: "/accounts/login/", None, 200),
    Case(
        "accounts/login/",
        "POST",
        lambda w: "/accounts/login/",
        None,
        200,
        data=lambda w: {"username": "target", "password": "wrong"},
    ),
    Case("accounts/logout/", "GET", lambda w: "/accounts/logout/", None, 405),
    Case("accounts/logout/", "POST", lambda w: "/accounts/logout/", None, 200),
    Case("accounts/password_change/", "GET", lambda w: "/accounts/password_change/", Role.VIEWER, 200),
    Case(
        "accounts/password_change/",
        "POST",
        lambda w: "/accounts/password_change/",
        Role.VIEWER,
        302,
        data=lambda w: {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        done=lambda w, u: get_user_model().objects.get(pk=u.pk).check_password(NEW_PASSWORD),
    ),
    Case("accounts/password_change/done/", "GET", lambda w: "/accounts/password_change/done/", Role.VIEWER, 200),
    Case("accounts/password_reset/", "GET", lambda w: "/accounts/password_reset/", None, 200),
    Case(
        "accounts/password_reset/",
        "POST",
        lambda w: "/accounts/password_reset/",
        None,
        302,
        data=lambda w: {"email": "nobody@example.invalid"},
    ),
    Case("accounts/password_reset/done/", "GET", lambda w: "/accounts/password_reset/done/", None, 200),
    Case("accounts/reset/<uidb64>/<token>/", "GET", lambda w: "/accounts/reset/MQ/bad-token/", None, 200),
    Case("accounts/reset/done/", "GET", lambda w: "/accounts/reset/done/", None, 200),
]


def _trigger_form(**changes: str) -> Callable[[World], dict[str, str]]:
    form = {"name": "Planted", "frequency": "Day", "interval": "1", "start_time": "2026-01-01T06:00"}
    return lambda w: {**form, "pipelines": "Nightly", "action": "save", **changes}


def _recurrence(name: str) -> dict[str, Any]:
    return Trigger.objects.get(name=name).properties["typeProperties"]["recurrence"]


def _names(model: type, name: str, target: str) -> Check:
    """The object ``name`` exists and its JSON names ``target`` (a rename was followed)."""
    return lambda w, u: target in json.dumps(model.objects.get(name=name).definition)


def _object_cases() -> list[Case]:
    """Rename, clone and delete of each kind (what uses it shown on GET), and the trigger form."""
    kinds = [
        # (route prefix, URL prefix, the used one renamed and cloned, the unused one deleted, who writes, check)
        ("manage/linkedservices", "Shop", "Spare", LinkedService, Role.ADMIN, _names(Dataset, "Customers", '"Moved"')),
        ("author/datasets", "Customers", "Customers", Dataset, Role.EDITOR, _new(Dataset, "Moved")),
        ("author/pipelines", "Nightly", "Spare", Pipeline, Role.EDITOR, _names(Trigger, "Hourly", '"Moved"')),
        ("manage/triggers", "Hourly", "Hourly", Trigger, Role.EDITOR, _new(Trigger, "Moved")),
    ]
    cases = []
    for prefix, used, spare, model, writer, renamed in kinds:
        route, url = f"{prefix}/<str:name>/actions/", f"/{prefix}/{used}/actions/"
        cases += [
            Case(route, "GET", lambda w, url=url: url, Role.VIEWER, 200),
            Case(route, "POST", lambda w, url=url: url, writer, 302, data=lambda w: _rename_to("Moved"), done=renamed),
            Case(
                route,
                "POST",
                lambda w, url=url: url,
                writer,
                302,
                data=lambda w: {"action": "clone", "clone-name": "Twin"},
                done=_new(model, "Twin"),
            ),
            Case(
                route,
                "POST",
                lambda w, url=f"/{prefix}/{spare}/actions/": url,
                writer,
                302,
                data=lambda w: {"action": "delete", "delete-confirm": "on"},
                done=_gone(model, spare),
            ),
        ]
    trigger = "manage/triggers/<str:name>/"
    return cases + [
        Case("manage/triggers/new/", "GET", lambda w: "/manage/triggers/new/", Role.EDITOR, 200),
        Case(
            "manage/triggers/new/",
            "POST",
            lambda w: "/manage/triggers/new/",
            Role.EDITOR,
            302,
            data=_trigger_form(),
            done=_new(Trigger, "Planted"),
        ),
        Case(
            "manage/triggers/new/",
            "POST",
            lambda w: "/manage/triggers/new/",
            Role.EDITOR,
            200,
            data=_trigger_form(action="preview"),
        ),
        Case(trigger, "GET", lambda w: "/manage/triggers/Hourly/", Role.VIEWER, 200),
        Case(
            trigger,
            "POST",
            lambda w: "/manage/triggers/Hourly/",
            Role.EDITOR,
            302,
            data=_trigger_form(name="Hourly", frequency="Week", week_days="Friday"),
            done=lambda w, u: _recurrence("Hourly")["schedule"] == {"weekDays": ["Friday"]},
        ),
    ]


def _rename_to(name: str) -> dict[str, str]:
    return {"action": "rename", "rename-name": name}


def _api(route: str, method: str, url: str, role: Role | None, **kwargs: Any) -> Case:
    return Case(route, method, lambda w, url=url: url.format(run=_run_id(w)), role, 200, kind=API, **kwargs)


def _collections() -> list[Case]:
    new = {
        "linkedservices": _ls("planted.sqlite3"),
        "datasets": {
            "properties": {
                "type": "SqliteTable",
                "typeProperties": {"table": "orders"},
                "linkedServiceName": {"referenceName": "Shop", "type": "LinkedServiceReference"},
            }
        },
        "pipelines": {"properties": _pipeline_json("planted")["properties"]},
        "triggers": {"properties": _trigger({"frequency": "Day", "interval": 1, "startTime": "2026-01-01T00:00:00Z"})},
    }
    spare = {"linkedservices": "Spare", "datasets": "Customers", "pipelines": "Spare", "triggers": "Hourly"}
    models = {"linkedservices": LinkedService, "datasets": Dataset, "pipelines": Pipeline, "triggers": Trigger}
    cases = []
    for collection, model in models.items():
        writer = Role.ADMIN if collection == "linkedservices" else Role.EDITOR
        item = "api/<collection:collection>/<str:name>"
        cases += [
            _api("api/<collection:collection>", "GET", f"/api/{collection}", Role.VIEWER),
            _api(item, "GET", f"/api/{collection}/{spare[collection]}", Role.VIEWER),
            _api(
                item,
                "PUT",
                f"/api/{collection}/Planted",
                writer,
                data=lambda w, body=new[collection]: _in_folder(w, body),
                done=_new(model, "Planted"),
            ),
            _api(
                item, "DELETE", f"/api/{collection}/{spare[collection]}", writer, done=_gone(model, spare[collection])
            ),
        ]
    return cases


API_CASES = [
    *_collections(),
    _api(
        "api/pipelines/<str:name>/createRun", "POST", "/api/pipelines/Nightly/createRun", Role.OPERATOR, done=_runs(2)
    ),
    _api(
        "api/pipelines/<str:name>/createRun",
        "POST",
        "/api/pipelines/Nightly/createRun?referencePipelineRunId={run}&isRecovery=true",
        Role.OPERATOR,
        done=_runs(2),
    ),
    _api("api/pipelineruns/<str:run_id>", "GET", "/api/pipelineruns/{run}", Role.VIEWER),
    _api("api/queryPipelineRuns", "POST", "/api/queryPipelineRuns", Role.VIEWER, data=_window),
    _api(
        "api/pipelineruns/<str:run_id>/queryActivityruns",
        "POST",
        "/api/pipelineruns/{run}/queryActivityruns",
        Role.VIEWER,
        data=lambda w: {},
    ),
    _api(
        "api/pipelineruns/<str:run_id>/cancel", "POST", "/api/pipelineruns/{run}/cancel", Role.OPERATOR, done=_cancelled
    ),
    _api("api/watermarks", "GET", "/api/watermarks", Role.VIEWER),
    _api("api/tables", "GET", "/api/tables?status=on_time", Role.VIEWER),
    Case("api/tables/<str:table_id>", "GET", lambda w: f"/api/tables/{_table(w)}", Role.VIEWER, 200, kind=API),
    _api("api/auditlog", "GET", "/api/auditlog?action=create", Role.ADMIN),
    Case(  # allowed, it answers 404: the world has no file dataset (tests/app/test_verify_sync.py has the 200s)
        "api/verifySync",
        "POST",
        lambda w: "/api/verifySync",
        Role.EDITOR,
        404,
        kind=API,
        data=lambda w: {"linkedService": "Shop", "table": "orders", "dataset": "Customers"},
    ),
    Case(
        "api/tables/schemaPolicy",
        "POST",
        lambda w: "/api/tables/schemaPolicy",
        Role.EDITOR,
        200,
        kind=API,
        data=lambda w: {"watermarks": [_table(w)], "policy": "pause"},
        done=lambda w, u: Watermark.objects.get(pk=_table(w)).schema_policy == "pause",
    ),
    _api("api/openapi.json", "GET", "/api/openapi.json", None),
    _api("api/alerts", "GET", "/api/alerts?state=open", Role.VIEWER),
    Case(
        "api/alerts/<int:incident_id>/acknowledge",
        "POST",
        _api_incident("acknowledge"),
        Role.OPERATOR,
        200,
        kind=API,
        done=lambda w, u: Incident.objects.get().acknowledged_by == u,
    ),
    Case(
        "api/alerts/<int:incident_id>/mute",
        "POST",
        _api_incident("mute"),
        Role.OPERATOR,
        200,
        kind=API,
        data=lambda w: {"minutes": 30},
        done=lambda w, u: Incident.objects.get().is_muted,
    ),
]


def _admin_cases() -> list[Case]:
    """Every Django admin URL, as GET; and one delete that Admins may make."""
    cases = []
    for route, pattern in routes():
        if route.startswith("admin/"):
            url = _admin_url(route, pattern)
            cases.append(Case(route, "GET", lambda w, u=url: u(), Role.ADMIN, _admin_ok(pattern)))
    delete = "admin/django_q/schedule/<path:object_id>/delete/"
    cases.append(
        Case(
            delete,
            "POST",
            lambda w: f"/admin/django_q/schedule/{Schedule.objects.get(name=RECOVER_RUNS).pk}/delete/",
            Role.ADMIN,
            302,
            data=lambda w: {"post": "yes"},
            done=lambda w, u: not Schedule.objects.filter(name=RECOVER_RUNS).exists(),
        )
    )
    return cases


def _admin_url(route: str, pattern: URLPattern) -> Callable[[], str]:
    """The URL of an admin pattern, with an existing object's id in it (looked up when the case runs)."""
    model_admin = getattr(pattern.callback, "model_admin", None)
    if model_admin is not None:
        manager = model_admin.model._default_manager
        return lambda: "/" + route.replace("<path:object_id>", str(manager.order_by("pk").first().pk))
    if pattern.name == "view_on_site":
        return lambda: (
            f"/admin/r/{ContentType.objects.get_for_model(LinkedService).pk}/{LinkedService.objects.first().pk}/"
        )
    if pattern.name == "app_list":
        return lambda: "/admin/syncjobs/"
    return lambda: "/admin/nowhere/" if "(?P<url>" in route else "/" + route


def _admin_ok(pattern: URLPattern) -> int:
    """What an Admin gets: the site's pages 200, read-only models refuse adding and deleting with 403."""
    name = pattern.name or ""
    model_admin = getattr(pattern.callback, "model_admin", None)
    fixed = {"login": 302, "logout": 405, "autocomplete": 403, "view_on_site": 404, "": 302}
    if model_admin is None:
        return 404 if "(?P<url>" in str(pattern.pattern) else fixed.get(name, 200)
    if name.endswith("_add"):
        return 200 if model_admin.has_add_permission(_as_admin_request()) else 403
    if name.endswith("_delete"):
        return 200 if model_admin.has_delete_permission(_as_admin_request()) else 403
    return fixed.get(name, 200)


def _as_admin_request() -> Any:
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = get_user_model()(is_superuser=True, is_staff=True, is_active=True)
    return request


CASES = PAGES + _object_cases() + API_CASES


# --- Trying a case as everyone ------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """Who tries a case, and how: a session, a bearer token, or nothing."""

    name: str
    role: Role | None  # None: no role at all (anonymous, inactive)
    via: str  # "session", "token" or "none"


def principals(case: Case) -> list[Principal]:
    people = [Principal("anonymous", None, "none"), Principal("inactive", None, "session")]
    people += [Principal(role.label, role, "session") for role in ROLES]
    if case.kind == API:
        people += [Principal("inactive", None, "token")] + [Principal(r.label, r, "token") for r in ROLES]
    return people


def client_of(who: Principal, world: World) -> tuple[Client, dict[str, str], Any]:
    """A client signed in as ``who`` (or not), the headers it sends, and its user."""
    user = world.users.get(who.name)
    client = signed_in(user) if who.via == "session" else Client()
    return client, (bearer(user) if who.via == "token" else {}), user


def send(case: Case, client: Client, headers: dict[str, str], world: World) -> Any:
    data = case.data(world) if case.data else None
    method = getattr(client, case.method.lower())
    if case.kind == API:
        body = json.dumps(data) if data is not None else ""
        return method(case.url(world), body, content_type="application/json", headers=headers)
    return method(case.url(world), data or {})


def is_allowed(case: Case, who: Principal) -> bool:
    return case.role is None or (who.role is not None and who.role >= case.role)


def expected(case: Case, who: Principal) -> int:
    """The case's own status when allowed; else 403 for a role too low, and a sign-in for no role at all."""
    if is_allowed(case, who):
        return case.ok
    if who.role is not None:
        return 403
    return 401 if case.kind == API else 302


def check(case: Case, who: Principal, world: World) -> None:
    """Try ``case`` as ``who`` inside a savepoint, rolled back after, so every principal starts alike."""
    client, headers, user = client_of(who, world)
    with transaction.atomic():
        before = fingerprint()
        response = send(case, client, headers, world)
        assert response.status_code == expected(case, who), (who, response.status_code, response.content[:300])
        allowed = is_allowed(case, who)
        if not allowed and response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/?next="), response["Location"]
        if allowed and case.done is not None:
            assert case.done(world, user), (who, "the write did not happen")
        else:
            assert fingerprint() == before, (who, "a read or a denied write changed rows")
        transaction.set_rollback(True)


ALL_CASES = CASES + _admin_cases()


@pytest.mark.parametrize("case", ALL_CASES, ids=[f"{c.label} {i}" for i, c in enumerate(ALL_CASES)])
def test_the_role_table(case, world):
    for who in principals(case):
        check(case, who, world)


def test_the_role_table_covers_every_route_and_method():
    tried = {(c.route, c.method) for c in ALL_CASES}
    missing = []
    for route, pattern in routes():
        need = pattern.callback.required_role
        methods = [m for m in need.roles if m != "*"] or ["GET"]
        missing += [(route, m) for m in methods if (route, m) not in tried]
    assert missing == []
    report = Path(__file__).resolve().parents[2] / "test-artifacts" / "role-table.txt"
    report.parent.mkdir(exist_ok=True)
    requests = sum(len(principals(c)) for c in ALL_CASES)
    walked = len(list(routes()))
    report.write_text(
        f"routes: {walked} ({walked - len({c.route for c in CASES})} of them Django admin's)\n"
        f"cases (route x method x variant): {len(ALL_CASES)}\n"
        f"principals: anonymous, inactive, Viewer, Operator, Editor, Admin (API: session and token)\n"
        f"requests checked: {requests}\n"
    )
