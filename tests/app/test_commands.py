"""The operator's commands: seed_tutorial, trigger, change_tracking, create_api_token, recover_runs."""

from __future__ import annotations

import socket
import sqlite3

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from syncjobs import tutorial
from syncjobs.models import Pipeline, PipelineRun
from syncjobs.services.definitions import save_definition
from syncjobs.services.runs import trigger_run
from tests.factories import make_pipeline

pytestmark = pytest.mark.django_db


def run_command(capsys, *args: str) -> str:
    call_command(*args)
    return capsys.readouterr().out


@pytest.fixture
def seeded(tmp_path, capsys):
    run_command(capsys, "seed_tutorial", "--dir", str(tmp_path))
    return tmp_path


def test_seed_tutorial_creates_the_source_and_an_admin_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CTPORTAL_ADMIN_PASSWORD", "tutorial-pass-1")
    out = run_command(capsys, "seed_tutorial", "--dir", str(tmp_path))
    assert "Created user admin with password tutorial-pass-1" in out
    assert get_user_model().objects.get(username="admin").check_password("tutorial-pass-1")
    with sqlite3.connect(tmp_path / "source.sqlite3") as conn:
        rows = conn.execute(f"SELECT PersonID, Name, Age FROM {tutorial.TABLE} ORDER BY PersonID").fetchall()
        stored = conn.execute(f"SELECT TableName, SYS_CHANGE_VERSION FROM {tutorial.VERSION_TABLE}").fetchall()
    assert rows == [(1, "aaaa", 21), (2, "bbbb", 24), (3, "cccc", 20), (4, "dddd", 26), (5, "eeee", 22)]
    assert len(stored) == 1 and stored[0][0] == tutorial.TABLE and isinstance(stored[0][1], int)
    assert (tmp_path / "output").is_dir()
    names = set(Pipeline.objects.values_list("name", flat=True))
    assert {"FullCopyPipeline", "IncrementalCopyPipeline", "IncrementalSync"} <= names

    again = run_command(capsys, "seed_tutorial", "--if-empty", "--dir", str(tmp_path))
    assert "password" not in again and "not seeded again" in again
    assert get_user_model().objects.count() == 1


def test_seeding_again_keeps_the_source_data(seeded, capsys):
    with sqlite3.connect(seeded / "source.sqlite3") as conn:
        conn.execute(f"INSERT INTO {tutorial.TABLE} VALUES (9, 'kept', 40)")
    out = run_command(capsys, "seed_tutorial", "--dir", str(seeded))
    assert "FullCopyPipeline" in out
    with sqlite3.connect(seeded / "source.sqlite3") as conn:
        assert conn.execute(f"SELECT Name FROM {tutorial.TABLE} WHERE PersonID = 9").fetchone() == ("kept",)


def test_trigger_takes_typed_parameters(capsys):
    make_pipeline("Typed", parameters={"days": {"type": "Int"}, "tables": {"type": "Array"}})
    run_id = run_command(capsys, "trigger", "Typed", "--param", "days=3", "--param", 'tables=["a","b"]').strip()
    assert PipelineRun.objects.get(pk=run_id).parameters == {"days": 3, "tables": ["a", "b"]}
    with pytest.raises(CommandError, match="days"):
        call_command("trigger", "Typed", "--param", "days=three", "--param", "tables=[]")
    with pytest.raises(CommandError, match="name=value"):
        call_command("trigger", "Typed", "--param", "days")
    with pytest.raises(CommandError, match="no pipeline named 'Nope'"):
        call_command("trigger", "Nope")
    assert PipelineRun.objects.count() == 1


def test_trigger_wait_gives_up_after_its_timeout(capsys):
    make_pipeline("Queued")  # no worker runs here: the run stays Queued
    with pytest.raises(CommandError, match="still Queued after 0.1 s"):
        call_command("trigger", "Queued", "--wait", "--timeout", "0.1")


def test_change_tracking_status_of_an_untracked_table(seeded, capsys):
    with sqlite3.connect(seeded / "source.sqlite3") as conn:
        conn.execute("CREATE TABLE plain (id INTEGER PRIMARY KEY, v TEXT)")
    out = run_command(capsys, "change_tracking", "status", tutorial.SOURCE_LS, "plain")
    assert out.strip() == "plain: change tracking off"
    out = run_command(capsys, "change_tracking", "enable", tutorial.SOURCE_LS, "plain")
    assert out.startswith("change tracking enabled on plain\n")
    with pytest.raises(CommandError, match="no linked service named 'Elsewhere'"):
        call_command("change_tracking", "status", "Elsewhere", "plain")


def test_change_tracking_on_sql_server_prints_the_statements_without_apply(capsys):
    save_definition(
        "linkedService",
        {
            "name": "Warehouse",
            "properties": {
                "type": "SqlServer",
                "typeProperties": {
                    "server": "127.0.0.1",
                    "database": "Tutorial",
                    "userName": "sa",
                    "password": {"type": "SecureString", "value": "never-printed-9"},
                },
            },
        },
    )
    out = run_command(capsys, "change_tracking", "enable", "Warehouse", "dbo.data_source_table")
    assert out.splitlines() == [
        "-- run these on the database (or again with --apply):",
        "ALTER DATABASE [Tutorial] SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 2 DAYS, AUTO_CLEANUP = ON)",
        "ALTER DATABASE [Tutorial] SET ALLOW_SNAPSHOT_ISOLATION ON",
        "ALTER TABLE [dbo].[data_source_table] ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = ON)",
    ]
    out = run_command(capsys, "change_tracking", "disable", "Warehouse", "dbo.data_source_table")
    assert out.splitlines()[1:] == ["ALTER TABLE [dbo].[data_source_table] DISABLE CHANGE_TRACKING"]
    assert "never-printed-9" not in out


def test_create_api_token_for_an_unknown_user_fails(capsys):
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        call_command("create_api_token", "ghost")


def test_recover_runs_reports_what_it_failed(capsys):
    run = trigger_run(make_pipeline())
    assert run.mark_in_progress(worker=f"{socket.gethostname()}:999999999")  # a process that does not exist
    assert run_command(capsys, "recover_runs").strip() == "1 run(s) recovered"
    run.refresh_from_db()
    assert run.status == "Failed" and "worker stopped" in run.message
    assert run_command(capsys, "recover_runs").strip() == "0 run(s) recovered"
