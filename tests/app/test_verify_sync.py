"""verify_sync: the command and the API route replay a table's windows against the source."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from syncjobs import tutorial
from syncjobs.access import Role
from syncjobs.models import Pipeline, WatermarkWindow
from syncjobs.services.runs import trigger_run
from tests.factories import bearer, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(settings, tmp_path):
    """The tutorial seeded, synced by IncrementalSync (full), changed, and synced again (delta)."""
    settings.CTPORTAL_TASKS_INLINE = True
    call_command("seed_tutorial", "--dir", str(tmp_path))
    trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    tutorial.apply_tutorial_changes(tmp_path / "source.sqlite3")
    trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    return tmp_path


def verify(*extra: str, out: StringIO | None = None) -> str:
    out = out or StringIO()
    call_command("verify_sync", tutorial.SOURCE_LS, tutorial.TABLE, "SinkDataset", *extra, stdout=out)
    return out.getvalue()


def test_verify_sync_replays_the_windows_and_finds_the_sink_exact(synced):
    lines = verify().splitlines()
    assert lines[0] == "data_source_table: generation 1, 2 window(s) up to version 2"
    assert lines[1] == "source rows 6, sink rows 6 (0 key(s) changed after version 2 left out)"
    assert lines[2].startswith("rows missing 0, rows stale 0, rows extra 0, changes delivered twice 0, bad files 0")
    assert lines[-1] == "exact"


def test_verify_sync_leaves_out_keys_changed_after_the_last_window(synced):
    import sqlite3

    with sqlite3.connect(synced / "source.sqlite3") as conn:
        conn.execute("UPDATE data_source_table SET Age = 99 WHERE PersonID = 3")
    report = json.loads(verify("--json"))
    assert report["exact"] and report["keys_left_out"] == 1


def test_verify_sync_says_what_a_lost_file_cost_and_exits_non_zero(synced):
    (delta_part,) = WatermarkWindow.objects.get(mode="delta").files
    (synced / "output" / delta_part).unlink()
    printed = StringIO()
    with pytest.raises(CommandError, match="does not match the source"):
        verify(out=printed)
    out = printed.getvalue()
    assert "rows missing 1, rows stale 1, rows extra 0" in out and "bad files 1" in out
    assert "missing: ('6',)" in out and "NOT exact" in out


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 401), ("VIEWER", 403), ("OPERATOR", 403), ("EDITOR", 200), ("ADMIN", 200)],
)
def test_the_api_route_needs_the_editor_role_or_above(synced, client, role, status):
    headers = {} if role == "anonymous" else bearer(make_user(Role[role]))
    body = {"linkedService": tutorial.SOURCE_LS, "table": tutorial.TABLE, "dataset": "SinkDataset"}
    response = client.post("/api/verifySync", json.dumps(body), content_type="application/json", headers=headers)
    assert response.status_code == status, response.content
    if status == 200:
        assert response.json()["exact"] is True and response.json()["source_rows"] == 6


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"table": tutorial.TABLE, "dataset": "SinkDataset"}, 400),
        ({"linkedService": tutorial.SOURCE_LS, "table": ["x"], "dataset": "SinkDataset"}, 400),
        ({"linkedService": tutorial.SOURCE_LS, "table": tutorial.TABLE, "dataset": "NoSuchDataset"}, 404),
        ({"linkedService": "NoSuchService", "table": tutorial.TABLE, "dataset": "SinkDataset"}, 404),
        ({"linkedService": tutorial.SOURCE_LS, "table": "no_such_table", "dataset": "SinkDataset"}, 400),
    ],
)
def test_bad_input_to_the_api_route_is_a_4xx_never_a_500(synced, client, body, status):
    headers = bearer(make_user(Role.EDITOR))
    response = client.post("/api/verifySync", json.dumps(body), content_type="application/json", headers=headers)
    assert response.status_code == status, response.content
