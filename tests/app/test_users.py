"""Roles assigned on the Users page and by ``set_role``; API tokens issued and revoked; the role migration."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from syncjobs.access import Role, role_of, stored_role
from syncjobs.management import commands
from syncjobs.management.portal_command import PortalCommand
from tests.factories import make_pipeline, make_user, signed_in

pytestmark = pytest.mark.django_db

User = get_user_model()


def test_an_admin_creates_a_user_who_signs_in_with_the_role_given(admin):
    response = admin.post("/manage/users/", {"username": "erin", "password": "erin-password-1", "role": "Operator"})
    assert response.status_code == 302
    page = admin.get("/manage/users/").content.decode()
    assert "erin" in page and 'value="Operator" selected' in page
    erin = Client()
    assert erin.post("/accounts/login/", {"username": "erin", "password": "erin-password-1"}).status_code == 302
    assert '<span class="role">Operator</span>' in erin.get("/monitor/").content.decode()


def test_a_weak_password_or_a_taken_name_is_refused_on_the_field(admin):
    page = admin.post("/manage/users/", {"username": "finn", "password": "short", "role": "Viewer"}).content.decode()
    assert "This password is too short" in page and not User.objects.filter(username="finn").exists()
    page = admin.post(
        "/manage/users/", {"username": admin.user.username, "password": "long-enough-1", "role": "Viewer"}
    ).content.decode()
    assert "exists already" in page


def test_a_changed_role_and_a_deactivation_take_effect_at_once(admin):
    gus = make_user(Role.VIEWER, "gus")
    session = signed_in(gus)
    make_pipeline("Nightly")
    assert session.post("/author/pipelines/Nightly/trigger").status_code == 403
    admin.post(f"/manage/users/{gus.pk}/", {f"u{gus.pk}-role": "Operator", f"u{gus.pk}-active": "on"})
    assert session.post("/author/pipelines/Nightly/trigger").status_code == 302
    admin.post(f"/manage/users/{gus.pk}/", {f"u{gus.pk}-role": "Operator"})
    response = session.get("/monitor/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert "inactive" in admin.get("/manage/users/").content.decode()


def test_the_last_active_admin_keeps_the_role(admin):
    me = admin.user
    response = admin.post(
        f"/manage/users/{me.pk}/", {f"u{me.pk}-role": "Viewer", f"u{me.pk}-active": "on"}, follow=True
    )
    assert "the last active Admin keeps that role" in response.content.decode()
    me.refresh_from_db()
    assert stored_role(me) == Role.ADMIN and me.is_active
    admin.post(f"/manage/users/{me.pk}/", {f"u{me.pk}-role": "Admin"})  # deactivating oneself, the last Admin
    me.refresh_from_db()
    assert me.is_active
    other = make_user(Role.ADMIN)
    admin.post(f"/manage/users/{other.pk}/", {f"u{other.pk}-role": "Viewer", f"u{other.pk}-active": "on"})
    other.refresh_from_db()
    assert stored_role(other) == Role.VIEWER and not other.is_superuser and not other.is_staff


def test_a_token_is_shown_once_and_acts_with_its_users_role(admin):
    hal = make_user(Role.VIEWER, "hal")
    issued = admin.post("/manage/tokens/", {"user": hal.pk, "name": "reporting"})
    assert "no-store" in issued["Cache-Control"]
    page = issued.content.decode()
    token = re.search(r'<code id="issued-token">([^<]+)</code>', page).group(1)
    assert token not in admin.get("/manage/tokens/").content.decode()
    api = Client(headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/pipelines").status_code == 200
    assert api.put("/api/pipelines/P", '{"properties": {"activities": []}}', "application/json").status_code == 403
    hal.groups.clear()
    call_command("set_role", "hal", "editor", stdout=None)
    assert api.put("/api/pipelines/P", '{"properties": {"activities": []}}', "application/json").status_code == 200
    admin.post(f"/manage/tokens/{hal.api_tokens.get().pk}/revoke")
    assert api.get("/api/pipelines").status_code == 401


def test_a_deactivated_users_token_stops_working(admin):
    ivy = make_user(Role.EDITOR, "ivy")
    page = admin.post("/manage/tokens/", {"user": ivy.pk, "name": "ci"}).content.decode()
    token = re.search(r'<code id="issued-token">([^<]+)</code>', page).group(1)
    api = Client(headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/pipelines").status_code == 200
    call_command("set_role", "ivy", "Editor", "--deactivate")
    assert api.get("/api/pipelines").status_code == 401


def test_set_role_creates_a_user_with_a_password_shown_once_and_changes_roles(capsys):
    call_command("set_role", "jo", "operator")
    out = capsys.readouterr().out
    password = re.search(r"Created user jo with password (\S+) ", out).group(1)
    jo = User.objects.get(username="jo")
    assert jo.check_password(password) and role_of(jo) == Role.OPERATOR and out.endswith("jo: Operator, active\n")
    call_command("set_role", "jo", "Admin")
    jo = User.objects.get(username="jo")  # role_of remembers a role on the object it was asked about
    assert role_of(jo) == Role.ADMIN and jo.is_superuser and jo.is_staff
    assert "password" not in capsys.readouterr().out
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("set_role", "jo", "Owner")
    with pytest.raises(CommandError, match="last active Admin"):
        call_command("set_role", "jo", "Viewer")


def test_every_command_declares_the_role_it_needs():
    declared = {}
    for module in pkgutil.iter_modules(commands.__path__):
        command = importlib.import_module(f"{commands.__name__}.{module.name}").Command
        assert issubclass(command, PortalCommand), module.name
        declared[module.name] = command.required_role
    assert declared == {
        "change_tracking": Role.ADMIN,
        "create_api_token": Role.ADMIN,
        "export_factory": Role.VIEWER,
        "import_factory": Role.ADMIN,
        "recover_runs": Role.OPERATOR,
        "rotate_encryption_keys": Role.ADMIN,
        "seed_tutorial": Role.ADMIN,
        "set_role": Role.ADMIN,
        "trigger": Role.OPERATOR,
        "triggers": Role.OPERATOR,
    }


@pytest.mark.parametrize(
    ("client_fixture", "shown", "hidden"),
    [
        ("viewer", [], ["Trigger now", "Validate", ">Save<", "New pipeline", "New linked service", ">Users<"]),
        ("operator", ["Trigger now"], ["Validate", ">Save<", "New pipeline", "New linked service", ">Users<"]),
        ("editor", ["Trigger now", "Validate", ">Save<", "New pipeline"], ["New linked service", ">Users<"]),
        ("admin", ["Trigger now", "Validate", ">Save<", "New pipeline", "New linked service", ">Users<"], []),
    ],
)
def test_the_layout_offers_only_what_the_role_may_do(request, client_fixture, shown, hidden):
    client = request.getfixturevalue(client_fixture)
    make_pipeline("Nightly")
    pages = "".join(client.get(url).content.decode() for url in ("/author/pipelines/Nightly/", "/author/", "/manage/"))
    assert [w for w in shown if w not in pages] == [] and [w for w in hidden if w in pages] == []


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_staff_the_editor_role_and_everyone_else_viewer():
    executor = MigrationExecutor(connection)
    before, latest = [("syncjobs", "0005_monitor_sort_indexes")], executor.loader.graph.leaf_nodes("syncjobs")
    try:
        executor.migrate(before)
        old = MigrationExecutor(connection).loader.project_state(before).apps.get_model("auth", "User")
        old.objects.create(username="staffer", is_staff=True)
        old.objects.create(username="reader")
        old.objects.create(username="root", is_superuser=True)
        MigrationExecutor(connection).migrate(latest)
        roles = {u.username: (role_of(u), u.is_staff) for u in User.objects.all()}
        assert roles == {
            "staffer": (Role.EDITOR, False),
            "reader": (Role.VIEWER, False),
            "root": (Role.ADMIN, True),
        }
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
