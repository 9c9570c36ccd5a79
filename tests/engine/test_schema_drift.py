"""Schema drift: the diff between two schemas, and what each policy makes of it."""

from __future__ import annotations

import pytest

from syncjobs.engine.schema_drift import (
    ColumnShape,
    TableSchema,
    assess,
    check_policy,
    compare,
    fingerprint,
)
from syncjobs.engine.types import Column, Table, TableName

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
