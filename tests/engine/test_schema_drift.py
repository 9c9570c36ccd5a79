"""Schema drift: the diff between two schemas, and what each policy makes of it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.schema_drift import (
    ColumnShape,
    TableSchema,
    assess,
    check_policy,
    compare,
    fingerprint,
)
from syncjobs.engine.types import Column, Table, TableName
from syncjobs.engine.verification import verify_table
from tests.engine.sync_helpers import Syncer, csv, make_people, people
from tests.engine.test_windows import TEN, stop_after_parts

BEFORE = Table(
    TableName("people", "public"),
    (Column("id", "int", "integer"), Column("name", "string", "text"), Column("age", "int", "integer")),
    ("id",),
)


def table(*columns: Column, key: tuple[str, ...] = ("id",)) -> Table:
    return Table(TableName("people", "public"), columns, key)


def test_the_same_columns_in_another_order_are_no_change():
    moved = table(BEFORE.columns[2], BEFORE.columns[0], BEFORE.columns[1])
    diff = compare(TableSchema.of(BEFORE), TableSchema.of(moved))
    assert not diff and diff.kinds == () and diff.summary() == ""


def test_an_added_a_dropped_and_a_retyped_column_are_each_named():
    after = table(Column("id", "int", "integer"), Column("age", "int", "bigint"), Column("email", "string", "text"))
    diff = compare(TableSchema.of(BEFORE), TableSchema.of(after))
    assert diff.added == (ColumnShape("email", "string", "text"),)
    assert diff.dropped == (ColumnShape("name", "string", "text"),)
    assert [(r.before.source_type, r.after.source_type) for r in diff.retyped] == [("integer", "bigint")]
    assert diff.kinds == ("dropped", "retyped", "added") and diff.kind == "dropped"
    assert diff.summary() == "dropped name (text); retyped age: integer -> bigint; added email (text)"
    assert diff.to_json()["primaryKey"] is None


def test_a_changed_primary_key_is_the_most_serious_kind():
    diff = compare(TableSchema.of(BEFORE), TableSchema.of(table(*BEFORE.columns, key=("id", "name"))))
    assert diff.key_changed and diff.kinds == ("primary_key",)
    assert diff.to_json()["primaryKey"] == {"before": ["id"], "after": ["id", "name"]}
    assert diff.summary() == "primary key (id) -> (id, name)"


def test_a_schema_survives_json_and_a_manifest_gives_it_without_the_change_columns():
    schema = TableSchema.of(BEFORE)
    assert TableSchema.from_json(schema.to_json()) == schema
    manifest = {
        "keyColumns": ["id"],
        "columns": [*(c.to_json() for c in schema.columns), {"name": "SYS_CHANGE_VERSION", "type": "int"}],
    }
    assert TableSchema.from_manifest(manifest) == schema


ADDED = table(*BEFORE.columns, Column("email", "string", "text"))
REKEYED = table(*BEFORE.columns, key=("name",))


@pytest.mark.parametrize(
    ("policy", "after", "outcome"),
    [
        ("continue", ADDED, "continued"),
        ("pause", ADDED, "paused"),
        ("resync", ADDED, "resynced"),
        ("continue", REKEYED, "paused"),
        ("pause", REKEYED, "paused"),
        ("resync", REKEYED, "resynced"),
    ],
)
def test_each_policy_takes_its_path_and_a_changed_key_never_continues(policy, after, outcome):
    drift = assess(TableSchema.of(BEFORE), after, policy)
    assert drift is not None and drift.outcome == outcome and drift.policy == policy
    assert drift.to_json()["outcome"] == outcome and drift.reason().startswith("schema changed: ")


def test_nothing_is_assessed_without_a_previous_schema_or_without_a_change():
    assert assess(None, ADDED, "pause") is None
    assert assess(TableSchema.of(BEFORE), BEFORE, "pause") is None


def test_an_accepted_change_continues_and_an_accepted_key_change_resyncs():
    added = assess(TableSchema.of(BEFORE), ADDED, "pause", accepted=TableSchema.of(ADDED))
    assert added is not None and (added.outcome, added.accepted) == ("continued", True)
    rekeyed = assess(TableSchema.of(BEFORE), REKEYED, "continue", accepted=TableSchema.of(REKEYED))
    assert rekeyed is not None and rekeyed.outcome == "resynced"


def test_a_change_other_than_the_accepted_one_pauses_again():
    drift = assess(TableSchema.of(BEFORE), ADDED, "pause", accepted=TableSchema.of(REKEYED))
    assert drift is not None and drift.paused and not drift.accepted


def test_a_policy_outside_the_three_is_refused_with_their_names():
    assert check_policy(" Pause ") == "pause"
    with pytest.raises(ValueError, match="continue, pause, resync"):
        check_policy("ignore")


def test_the_fingerprint_follows_columns_and_key():
    assert fingerprint(BEFORE) == fingerprint(table(*BEFORE.columns))
    assert fingerprint(BEFORE) != fingerprint(ADDED) != fingerprint(REKEYED)


# --- the copy on every source --------------------------------------------------------------------------


def add_email(u) -> None:
    """ALTER TABLE ... ADD a nullable Email column (SQL Server spells it without COLUMN)."""
    column = "" if type(u).__name__.startswith("SqlServer") else "COLUMN "
    u.run(f"ALTER TABLE {people(u)} ADD {column}{u.q('Email')} varchar(80)")


def test_continue_writes_the_new_column_and_the_manifest_names_the_change(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test))
    sync.copy()
    add_email(under_test)
    under_test.run(
        f"UPDATE {people(under_test)} SET {under_test.q('Email')} = 'a@x' WHERE {under_test.q('PersonID')} = 1"
    )
    delta = sync.copy()
    assert (
        delta.mode == "delta"
        and sync.lines(delta)[0] == "PersonID,Name,Age,Email,SYS_CHANGE_VERSION,SYS_CHANGE_OPERATION"
    )
    manifest = json.loads(folder_sink.read(delta.window.manifest))
    assert manifest["schemaChange"]["kinds"] == ["added"] and manifest["schemaChange"]["outcome"] == "continued"
    assert [c.name for c in sync.state.schema.columns] == ["PersonID", "Name", "Age", "Email"]
    assert verify_table(under_test.source, sync.table, folder_sink, csv(), "out").exact


def test_pause_writes_nothing_and_keeps_the_state(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test), schema_drift_policy="pause")
    sync.copy()
    before, files = sync.state, folder_sink.list("out/")
    add_email(under_test)
    under_test.run(f"DELETE FROM {people(under_test)} WHERE {under_test.q('PersonID')} = 2")
    paused = sync.copy()
    assert paused.paused and paused.mode == "paused" and paused.window is None and paused.watermark is None
    assert paused.as_output()["changeTracking"]["schemaChange"]["added"][0]["name"] == "Email"
    assert folder_sink.list("out/") == files and replace(sync.state, claim=before.claim) == before


def test_an_interrupted_full_window_is_not_resumed_under_another_schema(under_test, folder_sink):
    sync = Syncer(under_test, folder_sink, make_people(under_test, rows=TEN), max_rows_per_file=3, batch_rows=1)
    with pytest.raises(TerminalError):
        sync.copy(should_stop=stop_after_parts(folder_sink, 2))
    pending = sync.state.pending
    add_email(under_test)
    result = sync.copy()
    assert result.window.prefix != pending.prefix and "the table's schema changed" in result.reason
    assert not [p for p in folder_sink.list("out/") if p.startswith(pending.prefix + "/")]
    assert all(folder_sink.read(f.path).decode().startswith("PersonID,Name,Age,Email,") for f in result.files)
    assert verify_table(under_test.source, sync.table, folder_sink, csv(), "out").exact
