"""Schema drift end to end: columns added, dropped and retyped and a key changed on PostgreSQL and SQLite
sources, synced by ChangeTrackingCopy into a folder under each policy, then replayed by verify_sync."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from syncjobs.access import Role
from syncjobs.engine import bindings
from syncjobs.engine.sources import Source
from syncjobs.engine.types import TableName
from syncjobs.models import ActivityRun, AuditEntry, Pipeline, SchemaChange, Watermark
from syncjobs.services.definitions import import_definitions
from syncjobs.services.runs import trigger_run
from syncjobs.services.verification import verify_sync
from tests.factories import make_user, signed_in

pytestmark = pytest.mark.django_db
HEADER = "id,name,age,SYS_CHANGE_VERSION,SYS_CHANGE_OPERATION"


@dataclass
class Drifting:
    """A source table ``people`` (id, name, age) synced by the pipeline DriftSync into ``<output>/drift``."""

    kind: str  # "sqlite" or "postgres"
    linked_service: str
    table: str  # as verify_sync takes it
    folder: Path  # the table's windows
    run_sql: Callable[[str], None]
    source: Source

    def rebuild(self, columns: str, key: str) -> None:
        """Change what ALTER cannot change in place: a new table, the rows copied, tracking enabled again."""
        self.source.disable_change_tracking(TableName("people", self.schema))
        self.run_sql(f"CREATE TABLE people_new ({columns}, PRIMARY KEY ({key}))")
        self.run_sql("INSERT INTO people_new SELECT * FROM people")
        self.run_sql("DROP TABLE people")
        self.run_sql("ALTER TABLE people_new RENAME TO people")
        self.source.enable_change_tracking(TableName("people", self.schema), track_columns=self.kind == "postgres")

    @property
    def schema(self) -> str | None:
        return "public" if self.kind == "postgres" else None


CREATE = "CREATE TABLE people (id int NOT NULL PRIMARY KEY, name varchar(40), age int)"
ROWS = "INSERT INTO people VALUES (1, 'ann', 31), (2, 'bob', 42), (3, 'cy', 23)"


@pytest.fixture(params=["sqlite", "postgres"])
def drifting(request, seeded) -> Iterator[Drifting]:
    """The people table on the parametrised source, tracked, with the DriftSync pipeline; synced once (full)."""
    if request.param == "postgres":
        config = request.getfixturevalue("pg_database")
        service = {
            "name": "Pg",
            "properties": {
                "type": "PostgreSqlV2",
                "typeProperties": {
                    "server": config.host,
                    "port": config.port,
                    "database": config.database,
                    "username": config.username,
                    "password": {"type": "SecureString", "value": config.password.reveal()},
                },
            },
        }
        import_definitions([("linkedService", service)])
        dataset = {"type": "PostgreSqlV2Table", "typeProperties": {"schema": "public", "table": "people"}}
        name, table, folder = "Pg", "public.people", "public.people"
    else:
        name, table, folder = "TutorialSourceDatabase", "people", "people"
        dataset = {"type": "SqliteTable", "typeProperties": {"table": "people"}}
    _define(name, dataset)
    source = bindings.source_for(bindings_definition(name))
    for statement in (CREATE, ROWS):
        source.execute(statement)
    source.enable_change_tracking(TableName("people", "public" if request.param == "postgres" else None),
                                  track_columns=request.param == "postgres")  # fmt: skip
    yield Drifting(request.param, name, table, seeded / "output" / "drift" / folder, source.execute, source)
    source.close()


def bindings_definition(name: str) -> dict[str, Any]:
    from syncjobs.models import LinkedService

    return LinkedService.objects.get(name=name).revealed_definition()


def _define(linked_service: str, dataset: dict[str, Any], policy: str | None = None) -> None:
    """The PeopleTable and DriftCsv datasets (CSV with a header) and the DriftSync pipeline."""
    people = {**dataset, "linkedServiceName": {"referenceName": linked_service, "type": "LinkedServiceReference"}}
    csv = {
        "type": "DelimitedText",
        "linkedServiceName": {"referenceName": "TutorialOutputFolder", "type": "LinkedServiceReference"},
        "typeProperties": {
            "location": {"type": "FileServerLocation", "folderPath": "drift"},
            "columnDelimiter": ",",
            "quoteChar": '"',
            "escapeChar": "\\",
            "firstRowAsHeader": True,
        },
    }
    import_definitions(
        [
            ("dataset", {"name": "PeopleTable", "properties": people}),
            ("dataset", {"name": "DriftCsv", "properties": csv}),
            ("pipeline", _pipeline(policy)),
        ]
    )


def _pipeline(policy: str | None) -> dict[str, Any]:
    activity = {
        "name": "Sync",
        "type": "ChangeTrackingCopy",
        "inputs": [{"referenceName": "PeopleTable", "type": "DatasetReference"}],
        "outputs": [{"referenceName": "DriftCsv", "type": "DatasetReference"}],
        "typeProperties": {"schemaDriftPolicy": policy} if policy else {},
    }
    return {"name": "DriftSync", "properties": {"activities": [activity]}}


def default_policy(policy: str) -> None:
    """DriftSync's typeProperties.schemaDriftPolicy: the default for tables without their own."""
    import_definitions([("pipeline", _pipeline(policy))], replace=True)


def sync() -> dict[str, Any]:
    """Run DriftSync; the table's output (it must succeed)."""
    run = trigger_run(Pipeline.objects.get(name="DriftSync"))
    run.refresh_from_db()
    assert run.status == "Succeeded", run.message
    (table,) = ActivityRun.objects.get(pipeline_run=run, activity_name="Sync").output["tables"]
    return table


def manifest(output: dict[str, Any], seeded: Path) -> dict[str, Any]:
    return json.loads((seeded / "output" / output["changeTracking"]["window"]["manifest"]).read_bytes())


def lines(output: dict[str, Any], seeded: Path) -> list[str]:
    """The lines of the window's files, each file's header first."""
    return [line for path in output["files"] for line in (seeded / "output" / path).read_text().splitlines()]


def watermark() -> Watermark:
    return Watermark.objects.get(source_table="people")


def exact(drifting: Drifting) -> bool:
    report = verify_sync(drifting.linked_service, drifting.table, "DriftCsv")
    assert report.exact, report.as_dict()
    return True


# --- continue ------------------------------------------------------------------------------------------


def test_an_added_column_continues_in_the_next_window_and_its_manifest_says_so(drifting, seeded):
    full = sync()
    assert lines(full, seeded)[0] == HEADER
    drifting.run_sql("ALTER TABLE people ADD COLUMN email varchar(80)")
    drifting.run_sql("UPDATE people SET email = 'ann@example.com' WHERE id = 1")
    delta = sync()
    change = delta["changeTracking"]
    assert change["mode"] == "delta" and change["window"]["generation"] == 1
    assert change["schemaChange"]["kinds"] == ["added"] and change["schemaChange"]["outcome"] == "continued"
    written = lines(delta, seeded)
    assert written[0] == "id,name,age,email,SYS_CHANGE_VERSION,SYS_CHANGE_OPERATION"
    assert written[1].startswith('1,"ann",31,"ann@example.com",') and written[1].endswith(',"U"')
    found = manifest(delta, seeded)
    assert [c["name"] for c in found["columns"]][:4] == ["id", "name", "age", "email"]
    assert found["schemaChange"]["added"][0]["name"] == "email" and found["schemaChange"]["policy"] == "continue"
    mark = watermark()
    assert [c["name"] for c in mark.schema["columns"]] == ["id", "name", "age", "email"]
    (recorded,) = SchemaChange.objects.all()
    assert (recorded.kind, recorded.outcome, recorded.policy) == ("added", "continued", "continue")
    assert recorded.window == mark.windows.first() and recorded.window.schema_change["kinds"] == ["added"]
    assert exact(drifting)


def test_a_dropped_column_continues_without_it(drifting, seeded):
    sync()
    drifting.run_sql("ALTER TABLE people DROP COLUMN age")
    drifting.run_sql("INSERT INTO people VALUES (4, 'dee')")
    delta = sync()
    assert delta["changeTracking"]["mode"] == "delta"
    header, row = lines(delta, seeded)
    assert header == "id,name,SYS_CHANGE_VERSION,SYS_CHANGE_OPERATION"
    assert row.startswith('4,"dee",') and row.endswith(',"I"')
    assert manifest(delta, seeded)["schemaChange"]["dropped"][0]["name"] == "age"
    assert SchemaChange.objects.get().kind == "dropped"
    assert exact(drifting)


def test_a_retyped_column_continues_with_its_new_type(drifting, seeded):
    sync()
    if drifting.kind == "postgres":
        drifting.run_sql("ALTER TABLE people ALTER COLUMN age TYPE bigint")
    else:  # SQLite cannot retype in place: the table is rebuilt and tracked again (a reinitialization)
        drifting.rebuild("id int NOT NULL, name varchar(40), age bigint", "id")
    drifting.run_sql("UPDATE people SET age = 5000000000 WHERE id = 2")
    after = sync()
    change = after["changeTracking"]
    assert change["mode"] == ("delta" if drifting.kind == "postgres" else "reinitialized")
    assert change["schemaChange"]["retyped"][0]["after"]["sourceType"].lower() == "bigint"
    assert any(line.startswith('2,"bob",5000000000') for line in lines(after, seeded))
    assert (SchemaChange.objects.get().kind, SchemaChange.objects.get().outcome) == ("retyped", "continued")
    assert exact(drifting)


# --- pause ---------------------------------------------------------------------------------------------


def test_pause_stops_the_table_until_an_editor_accepts_then_it_continues(drifting, seeded):
    sync()
    mark = watermark()
    editor = signed_in(make_user(Role.EDITOR))
    assert editor.post("/tables/schema/policy", {"watermark": [mark.pk], "policy": "pause"}).status_code == 302
    assert watermark().schema_policy == "pause"
    drifting.run_sql("ALTER TABLE people ADD COLUMN email varchar(80)")
    drifting.run_sql("UPDATE people SET email = 'bob@example.com' WHERE id = 2")
    files_before = sorted(p.name for p in drifting.folder.rglob("*"))
    for _ in range(2):  # paused, and paused again: one change waiting, nothing written, the watermark stays
        paused = sync()
        assert paused["changeTracking"]["paused"] is True and paused["filesWritten"] == 0
        assert sorted(p.name for p in drifting.folder.rglob("*")) == files_before
        assert watermark().version == mark.version and watermark().windows.count() == 1
    waiting = SchemaChange.objects.get()
    assert waiting.is_waiting and (waiting.kind, waiting.outcome, waiting.window) == ("added", "paused", None)

    page = editor.get(f"/tables/{mark.pk}/schema/").content.decode()
    assert "Paused on a schema change" in page and "Added email" in page and "Accept the change" in page
    assert editor.post(f"/tables/{mark.pk}/schema/accept").status_code == 302
    waiting.refresh_from_db()
    assert waiting.accepted_at is not None and waiting.accepted_by is not None
    accepted, policy = AuditEntry.objects.filter(object_kind="table").order_by("-pk")[:2]
    assert (accepted.detail, policy.detail) == ({"schemaChangeAccepted": waiting.summary}, {"schemaPolicy": "pause"})
    assert "added email" in waiting.summary

    resumed = sync()
    assert resumed["changeTracking"]["mode"] == "delta"
    assert resumed["changeTracking"]["schemaChange"]["accepted"] is True
    assert lines(resumed, seeded)[0] == "id,name,age,email,SYS_CHANGE_VERSION,SYS_CHANGE_OPERATION"
    assert lines(resumed, seeded)[1].startswith('2,"bob",42,"bob@example.com",')
    assert SchemaChange.objects.get().window == watermark().windows.first()  # the same change, now carried
    assert watermark().schema_accepted is None
    assert editor.post(f"/tables/{mark.pk}/schema/accept").status_code == 400  # nothing waits any more
    assert exact(drifting)


def test_a_pause_lifted_by_changing_the_policy_continues_and_leaves_nothing_waiting(drifting, seeded):
    sync()
    default_policy("pause")
    drifting.run_sql("ALTER TABLE people ADD COLUMN email varchar(80)")
    assert sync()["changeTracking"]["paused"] is True
    editor = signed_in(make_user(Role.EDITOR))
    editor.post("/tables/schema/policy", {"watermark": [watermark().pk], "policy": "continue"})
    drifting.run_sql("INSERT INTO people VALUES (4, 'dee', 54, 'dee@example.com')")
    carried = sync()
    assert carried["changeTracking"]["schemaChange"]["outcome"] == "continued"
    (change,) = SchemaChange.objects.all()
    assert (change.policy, change.outcome, change.is_waiting) == ("continue", "continued", False)
    assert change.window == watermark().windows.first() and not SchemaChange.objects.waiting().exists()
    assert exact(drifting)


# --- resync --------------------------------------------------------------------------------------------


def test_resync_copies_the_table_again_in_a_new_generation(drifting, seeded):
    sync()
    default_policy("resync")
    drifting.run_sql("ALTER TABLE people ADD COLUMN email varchar(80)")
    drifting.run_sql("UPDATE people SET email = 'cy@example.com' WHERE id = 3")
    again = sync()
    change = again["changeTracking"]
    assert (change["mode"], change["reasonCode"], change["window"]["generation"]) == (
        "reinitialized",
        "schema_changed",
        2,
    )
    assert change["schemaChange"]["outcome"] == "resynced"
    written = lines(again, seeded)
    assert written[0] == "id,name,age,email,SYS_CHANGE_VERSION,SYS_CHANGE_OPERATION"
    assert len(written) == 4 and any(line.startswith('3,"cy",23,"cy@example.com"') for line in written)
    assert manifest(again, seeded)["replacesTable"] is True
    assert (watermark().generation, SchemaChange.objects.get().outcome) == (2, "resynced")
    assert exact(drifting)


def add_email(drifting: Drifting) -> None:
    drifting.run_sql("ALTER TABLE people ADD COLUMN email varchar(80)")
    drifting.run_sql("UPDATE people SET email = 'ann@example.com' WHERE id = 1")


def drop_age(drifting: Drifting) -> None:
    drifting.run_sql("ALTER TABLE people DROP COLUMN age")
    drifting.run_sql("UPDATE people SET name = 'ann again' WHERE id = 1")


def widen_age(drifting: Drifting) -> None:
    if drifting.kind == "postgres":
        drifting.run_sql("ALTER TABLE people ALTER COLUMN age TYPE bigint")
    else:  # SQLite: rebuilt and tracked again
        drifting.rebuild("id int NOT NULL, name varchar(40), age bigint", "id")
    drifting.run_sql("UPDATE people SET age = 5000000000 WHERE id = 2")


CHANGES = {"added": add_email, "dropped": drop_age, "retyped": widen_age}


@pytest.mark.parametrize("policy", ["pause", "resync"])
@pytest.mark.parametrize("kind", CHANGES)
def test_each_change_takes_the_path_of_each_policy(drifting, seeded, kind, policy):
    sync()
    default_policy(policy)
    CHANGES[kind](drifting)
    first = sync()["changeTracking"]
    assert first["schemaChange"]["kinds"] == [kind] and first["schemaChange"]["policy"] == policy
    if policy == "pause":
        assert first["paused"] is True and watermark().windows.count() == 1
        assert SchemaChange.objects.get().is_waiting
        signed_in(make_user(Role.EDITOR)).post(f"/tables/{watermark().pk}/schema/accept")
        carried = sync()["changeTracking"]
        assert carried["schemaChange"]["accepted"] is True and carried["schemaChange"]["outcome"] == "continued"
        assert carried["mode"] == ("reinitialized" if (drifting.kind, kind) == ("sqlite", "retyped") else "delta")
    else:
        assert (first["mode"], first["window"]["generation"], watermark().generation) == ("reinitialized", 2, 2)
        assert first["schemaChange"]["outcome"] == "resynced"
    (change,) = SchemaChange.objects.all()
    assert change.kind == kind and change.window == watermark().windows.first()
    assert exact(drifting)


# --- a changed primary key -----------------------------------------------------------------------------


def test_a_changed_key_never_continues_it_pauses_and_once_accepted_resyncs(drifting, seeded):
    sync()
    drifting.rebuild("id int NOT NULL, name varchar(40) NOT NULL, age int", "id, name")
    paused = sync()
    assert paused["changeTracking"]["paused"] is True
    assert paused["changeTracking"]["schemaChange"]["primaryKey"] == {"before": ["id"], "after": ["id", "name"]}
    waiting = SchemaChange.objects.get()
    assert (waiting.kind, waiting.policy, waiting.outcome) == ("primary_key", "continue", "paused")

    editor = signed_in(make_user(Role.EDITOR))
    assert "accepting re-syncs the table" in editor.get(f"/tables/{watermark().pk}/schema/").content.decode()
    assert editor.post(f"/tables/{watermark().pk}/schema/accept").status_code == 302
    resynced = sync()
    change = resynced["changeTracking"]
    assert change["mode"] == "reinitialized" and change["window"]["generation"] == 2
    assert change["schemaChange"]["outcome"] == "resynced"
    assert manifest(resynced, seeded)["keyColumns"] == ["id", "name"]
    assert watermark().schema["primaryKey"] == ["id", "name"]
    assert exact(drifting)


# --- the routes' bad input, and who sees what ----------------------------------------------------------


@pytest.fixture
def paused_table() -> Watermark:
    """A table paused on an added column (its rows as a run would have left them)."""
    from tests.factories import make_linked_service

    mark = Watermark.objects.create(linked_service=make_linked_service(), source_table="people", sink_key="out")
    diff = {"kinds": ["added"], "added": [{"name": "email", "type": "string", "sourceType": "text"}]}
    diff |= {"summary": "added email (text)", "schema": {"columns": [], "primaryKey": ["id"]}}
    SchemaChange.objects.create(watermark=mark, kind="added", diff=diff, policy="pause", outcome="paused")
    return mark


def test_a_viewer_sees_the_change_and_the_policy_but_no_accept_or_policy_form(paused_table):
    page = signed_in(make_user(Role.VIEWER)).get(f"/tables/{paused_table.pk}/schema/").content.decode()
    assert "Paused on a schema change" in page and "Added email (text)" in page
    assert "Accept the change" not in page and "<select" not in page
    assert "Schema drift policy: the activity" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"watermark": ["1"], "policy": "ignore"}, "the policy must be one of continue, pause, resync, not 'ignore'"),
        ({"watermark": ["x"], "policy": "pause"}, "table ids must be whole numbers"),
        ({"watermark": ["999999"], "policy": "pause"}, "choose one or more tables that exist"),
        ({"policy": "pause"}, "choose one or more tables that exist"),
        ({"watermark": ["9" * 30], "policy": "pause"}, "table ids must be whole numbers"),
    ],
)
def test_bad_input_to_the_policy_route_is_a_400_that_says_why(paused_table, data, message):
    data = {**data, "watermark": [str(paused_table.pk) if v == "1" else v for v in data.get("watermark", [])]}
    response = signed_in(make_user(Role.EDITOR)).post("/tables/schema/policy", data)
    assert (response.status_code, response.content.decode()) == (400, message)
    assert Watermark.objects.get(pk=paused_table.pk).schema_policy == ""


def test_the_policy_is_set_in_bulk_and_back_to_the_default(paused_table):
    from tests.factories import make_linked_service

    other = Watermark.objects.create(linked_service=make_linked_service("Other"), source_table="t", sink_key="out")
    editor = signed_in(make_user(Role.EDITOR))
    both = {"watermark": [paused_table.pk, other.pk], "policy": "resync", "next": "/monitor/watermarks/"}
    response = editor.post("/tables/schema/policy", both)
    assert response.status_code == 302 and response["Location"] == "/monitor/watermarks/"
    assert sorted(Watermark.objects.values_list("schema_policy", flat=True)) == ["resync", "resync"]
    editor.post("/tables/schema/policy", {"watermark": [other.pk], "policy": ""})
    assert Watermark.objects.get(pk=other.pk).schema_policy == ""


def test_a_pipeline_with_a_policy_outside_the_three_is_refused_on_save(seeded):
    from syncjobs.services.definitions import DefinitionError

    with pytest.raises(DefinitionError, match="schemaDriftPolicy"):
        import_definitions([("pipeline", _pipeline("ignore"))])


def test_the_api_sets_the_policy_in_bulk_and_refuses_bad_input_with_a_400(paused_table, client):
    from tests.factories import bearer

    headers = bearer(make_user(Role.EDITOR))

    def post(data: dict[str, Any]) -> Any:
        return client.post(
            "/api/tables/schemaPolicy", json.dumps(data), content_type="application/json", headers=headers
        )

    answer = post({"watermarks": [paused_table.pk], "policy": "Resync"})
    assert (answer.status_code, answer.json()) == (200, {"updated": 1, "policy": "resync"})
    assert Watermark.objects.get(pk=paused_table.pk).schema_policy == "resync"
    for bad in (
        {"watermarks": "1", "policy": "pause"},
        {"watermarks": [paused_table.pk]},
        {"watermarks": [], "policy": "x"},
    ):
        answer = post(bad)
        assert answer.status_code == 400 and answer.json()["error"]["message"], answer.content


def test_a_changed_key_under_resync_resyncs_at_once(drifting, seeded):
    sync()
    default_policy("resync")
    drifting.rebuild("id int NOT NULL, name varchar(40) NOT NULL, age int", "id, name")
    change = sync()["changeTracking"]
    assert (change["mode"], change["window"]["generation"]) == ("reinitialized", 2)
    assert change["schemaChange"]["kinds"] == ["primary_key"] and change["schemaChange"]["outcome"] == "resynced"
    assert SchemaChange.objects.get().outcome == "resynced"
    assert exact(drifting)


def test_a_second_change_met_while_paused_supersedes_the_first_and_accepting_takes_both(drifting, seeded):
    sync()
    default_policy("pause")
    drifting.run_sql("ALTER TABLE people ADD COLUMN email varchar(80)")
    sync()
    drifting.run_sql("ALTER TABLE people ADD COLUMN phone varchar(20)")
    drifting.run_sql("UPDATE people SET phone = '555' WHERE id = 3")
    assert sync()["changeTracking"]["paused"] is True
    first, second = SchemaChange.objects.order_by("pk")
    assert list(SchemaChange.objects.waiting()) == [second]
    assert [c["name"] for c in second.diff["added"]] == ["email", "phone"]
    signed_in(make_user(Role.EDITOR)).post(f"/tables/{watermark().pk}/schema/accept")
    carried = sync()
    assert lines(carried, seeded)[0] == "id,name,age,email,phone,SYS_CHANGE_VERSION,SYS_CHANGE_OPERATION"
    assert not SchemaChange.objects.waiting().exists()
    assert exact(drifting)
