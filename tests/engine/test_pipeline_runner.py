"""The pipeline runner on real SQLite sources and folder sinks, with an in-memory host."""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import pytest

from syncjobs import tutorial
from syncjobs.engine.pipeline.host import WatermarkKey
from syncjobs.engine.pipeline.runner import run_pipeline
from syncjobs.engine.types import TableName
from tests.engine.run_helpers import flaky_script, ls, pg_linked_service
from tests.engine.run_hosts import MemoryHost, info
from tests.fixtures.azurite import free_port


@pytest.fixture
def walk(tmp_path):
    """The seeded tutorial: source database, output folder, linked services, datasets and pipelines."""
    database = tmp_path / "source.db"
    output = tmp_path / "out"
    output.mkdir()
    tutorial.create_source_database(database)
    return Walk(database, output)


class Walk:
    def __init__(self, database: Path, output: Path) -> None:
        self.database = database
        self.output = output
        self.host = MemoryHost(tutorial.linked_services(str(database), str(output)))
        self.datasets = {d["name"]: d for d in tutorial.datasets()}
        self.pipelines = {p["name"]: p for p in tutorial.pipelines()}

    def snapshot(self, pipeline):
        if isinstance(pipeline, str):
            pipeline = self.pipelines[pipeline]
        return {
            "pipeline": copy.deepcopy(pipeline),
            "datasets": copy.deepcopy(self.datasets),
            "linkedServices": dict(self.host.linked_services),
        }

    def run(self, pipeline, **info_overrides):
        name = pipeline if isinstance(pipeline, str) else pipeline["name"]
        run = info(name, **info_overrides)
        return run, run_pipeline(self.snapshot(pipeline), run, self.host)

    def file(self, run_id: str) -> str:
        return (self.output / "adftutorial" / "incchgtracking" / f"Incremental-{run_id}.csv").read_bytes().decode()

    def files(self) -> list[Path]:
        return sorted(p for p in self.output.rglob("*") if p.is_file())


def pipeline(*activities, parameters=None, variables=None):
    props = {"activities": list(activities)}
    if parameters:
        props["parameters"] = parameters
    if variables:
        props["variables"] = variables
    return {"name": "P", "properties": props}


def activity(name, kind, after=(), **type_properties):
    deps = [{"activity": a, "dependencyConditions": [c]} for a, c in (x.split(":") for x in after)]
    return {"name": name, "type": kind, "dependsOn": deps, "typeProperties": type_properties}


def test_full_copy_pipeline_writes_the_tutorials_five_rows(walk):
    run, outcome = walk.run("FullCopyPipeline")
    assert outcome.status == "Succeeded", outcome.message
    assert walk.file(run.run_id) == '1,"aaaa",21\r\n2,"bbbb",24\r\n3,"cccc",20\r\n4,"dddd",26\r\n5,"eeee",22\r\n'
    output = walk.host.run("FullCopyActivity")["output"]
    assert output["rowsRead"] == 5 and output["rowsCopied"] == 5 and output["dataWritten"] == 65


def test_incremental_copy_pipeline_gives_exactly_the_i_and_u_rows_then_nothing(walk):
    tutorial.apply_tutorial_changes(walk.database)
    run, outcome = walk.run("IncrementalCopyPipeline")
    assert outcome.status == "Succeeded", outcome.message
    lines = walk.file(run.run_id).splitlines()
    base = walk.host.run(tutorial.LOOKUP_LAST)["output"]["firstRow"]["SYS_CHANGE_VERSION"]
    assert sorted(lines) == [f'1,"update",10,{base + 2},"U"', f'6,"new",50,{base + 1},"I"']
    assert walk.host.statuses() == [
        (tutorial.LOOKUP_LAST, "Succeeded"),
        (tutorial.LOOKUP_CURRENT, "Succeeded"),
        ("IncrementalCopyActivity", "Succeeded"),
        ("UpdateChangeTrackingVersionActivity", "Succeeded"),
    ]
    copy_input = walk.host.run("IncrementalCopyActivity")["input"]["source"]["query"]
    assert f"CHANGETABLE(CHANGES data_source_table, {base})" in copy_input
    second, outcome = walk.run("IncrementalCopyPipeline")
    assert outcome.status == "Succeeded"
    assert walk.file(second.run_id) == ""  # the version table moved on: nothing new


def test_incremental_sync_gives_the_same_rows_after_its_baseline(walk):
    first, outcome = walk.run("IncrementalSync")
    assert outcome.status == "Succeeded", outcome.message
    output = walk.host.run("SyncDataSourceTable")["output"]
    assert output["tables"][0]["changeTracking"]["mode"] == "full"
    assert output["rowsCopied"] == 5
    tutorial.apply_tutorial_changes(walk.database)
    second, outcome = walk.run("IncrementalSync")
    assert outcome.status == "Succeeded", outcome.message
    table_output = walk.host.run("SyncDataSourceTable")["output"]["tables"][0]
    assert table_output["changeTracking"]["mode"] == "delta"
    (path,) = table_output["files"]
    assert path.startswith("adftutorial/incchgtracking/data_source_table/g0001/")
    base = table_output["changeTracking"]["previousVersion"]
    assert sorted((walk.output / path).read_bytes().decode().splitlines()) == [
        f'1,"update",10,{base + 2},"U"',
        f'6,"new",50,{base + 1},"I"',
    ]
    assert [w[3] for w in walk.host.windows] == ["full", "delta"]


def test_a_failed_sink_never_advances_the_watermark(walk):
    walk.host.linked_services[tutorial.SINK_LS]["properties"]["typeProperties"]["host"] = str(walk.output / "missing")
    (walk.output / "missing").write_text("a file where a folder should be")
    _, outcome = walk.run("IncrementalSync")
    assert outcome.status == "Failed"
    assert "SyncDataSourceTable" in outcome.message
    assert [s.watermark for s in walk.host.watermarks.values()] == [None] and walk.host.claimed == {}


def test_two_runs_of_one_watermark_never_overlap_the_busy_table_is_skipped_for_this_run(walk):
    key = WatermarkKey(tutorial.SOURCE_LS, TableName(tutorial.TABLE), "SinkDataset:adftutorial/incchgtracking")
    walk.host.claimed[key] = 99  # another run holds it
    _, outcome = walk.run("IncrementalSync")
    assert outcome.status == "Succeeded" and not outcome.failed_tables  # skipped for this tick, not a failed run
    table = walk.host.tables()[tutorial.TABLE]
    assert table["status"] == "Skipped" and table["output"]["message"] == "skipped: previous window still running"
    assert "another run" in table["output"]["reason"]
    assert walk.host.run("SyncDataSourceTable")["output"]["skippedTables"] == [tutorial.TABLE]
    assert walk.host.windows == [] and walk.host.claimed[key] == 99


def test_dependency_conditions_skip_and_handled_failure(walk):
    p = pipeline(
        activity("Bad", "SetVariable", variableName="nope", value="x"),
        activity("OnSuccess", "Wait", after=["Bad:Succeeded"], waitTimeInSeconds=0),
        activity("OnFailure", "Wait", after=["Bad:Failed"], waitTimeInSeconds=0),
        activity("Always", "Wait", after=["Bad:Completed"], waitTimeInSeconds=0),
        activity("AfterSkip", "Wait", after=["OnSuccess:Skipped"], waitTimeInSeconds=0),
    )
    _, outcome = walk.run(p)
    assert dict(walk.host.statuses()) == {
        "Bad": "Failed",
        "OnSuccess": "Skipped",
        "OnFailure": "Succeeded",
        "Always": "Succeeded",
        "AfterSkip": "Succeeded",
    }
    assert outcome.status == "Succeeded" and outcome.handled_errors


def test_an_unhandled_failure_fails_the_run_with_adfs_message(walk):
    p = pipeline(activity("Bad", "SetVariable", variableName="nope", value="x"))
    _, outcome = walk.run(p)
    assert outcome.status == "Failed"
    assert outcome.message.startswith("Operation on target Bad failed: variable 'nope' is not declared")


def test_a_terminal_error_fails_at_once_whatever_the_retry_policy(walk):
    bad = activity("Bad", "SetVariable", variableName="nope", value="x")
    bad["policy"] = {"retry": 2, "retryIntervalInSeconds": 0}
    walk.run(pipeline(bad))
    assert [(r["attempt"], r["status"]) for r in walk.host.runs] == [(0, "Failed")]


def lookup_on(walk, linked_service: dict) -> dict:
    """A Lookup through a PostgreSQL linked service, retried twice."""
    walk.host.linked_services[linked_service["name"]] = linked_service
    walk.datasets["PgTable"] = {
        "name": "PgTable",
        "properties": {
            "type": "PostgreSqlV2Table",
            "linkedServiceName": {"referenceName": linked_service["name"], "type": "LinkedServiceReference"},
            "typeProperties": {"schema": "public", "table": "t"},
        },
    }
    look = activity("Look", "Lookup", source={"type": "PostgreSqlV2Source", "query": "SELECT 1 AS one"})
    look["typeProperties"]["dataset"] = {"referenceName": "PgTable", "type": "DatasetReference"}
    look["policy"] = {"retry": 2, "retryIntervalInSeconds": 0}
    return look


def test_a_transient_error_is_retried_per_the_policy_and_a_terminal_one_is_not(walk, pg_server):
    closed_port = free_port()
    refused = ls("Refused", "PostgreSqlV2", server="127.0.0.1", port=closed_port, database="postgres", username="x")
    walk.run(pipeline(lookup_on(walk, refused)))
    assert [(r["attempt"], r["error"]["errorCode"]) for r in walk.host.runs] == [
        (0, "refused"),
        (1, "refused"),
        (2, "refused"),
    ]
    walk.host.runs.clear()
    host, port = pg_server
    stranger = ls("Stranger", "PostgreSqlV2", server=host, port=port, database="postgres", username="nobody_x")
    walk.run(pipeline(lookup_on(walk, stranger)))
    assert [(r["attempt"], r["error"]["errorCode"]) for r in walk.host.runs] == [(0, "login_failed")]


def test_an_activity_that_succeeds_on_retry_is_no_handled_error(walk, pg_database):
    walk.host.linked_services["Pg"] = pg_linked_service(pg_database, "Pg")
    _, outcome = walk.run(pipeline(flaky_script("Flaky", "Pg")))
    assert walk.host.statuses() == [("Flaky", "Failed"), ("Flaky", "Succeeded")]
    assert outcome.status == "Succeeded" and not outcome.handled_errors


def test_a_failure_handled_inside_a_container_is_a_handled_error(walk):
    branch = activity(
        "Branch",
        "IfCondition",
        expression={"value": "@equals(1, 1)", "type": "Expression"},
        ifTrueActivities=[
            activity("Bad", "SetVariable", variableName="nope", value="x"),
            activity("Recover", "Wait", after=["Bad:Failed"], waitTimeInSeconds=0),
        ],
    )
    _, outcome = walk.run(pipeline(branch))
    assert dict(walk.host.statuses()) == {"Branch": "Succeeded", "Bad": "Failed", "Recover": "Succeeded"}
    assert outcome.status == "Succeeded" and outcome.handled_errors


def test_timeout_stops_a_wait(walk):
    slow = activity("Slow", "Wait", waitTimeInSeconds=30)
    slow["policy"] = {"timeout": "0.00:00:01"}
    _, outcome = walk.run(pipeline(slow))
    assert outcome.status == "Failed"
    assert walk.host.run("Slow")["error"]["errorCode"] == "ActivityTimeout"


def test_cancel_stops_a_wait_and_the_rest(walk):
    walk.host.cancel_after = 5
    _, outcome = walk.run(
        pipeline(activity("Long", "Wait", waitTimeInSeconds=60), activity("Next", "Wait", after=["Long:Completed"]))
    )
    assert outcome.status == "Cancelled"
    assert walk.host.statuses() == [("Long", "Cancelled")]


def test_cancel_stops_a_copy_between_batches_and_writes_nothing(walk):
    sync = copy.deepcopy(walk.pipelines["IncrementalSync"])
    sync["properties"]["activities"][0]["typeProperties"]["batchRows"] = 1
    walk.host.cancel_after = 3
    _, outcome = walk.run(sync)
    assert outcome.status == "Cancelled"
    assert walk.files() == [] and [s.watermark for s in walk.host.watermarks.values()] == [None]


def test_parameters_variables_if_and_foreach(walk):
    p = pipeline(
        activity("Pick", "SetVariable", variableName="who", value="@toUpper(pipeline().parameters.name)"),
        activity(
            "Branch",
            "IfCondition",
            after=["Pick:Succeeded"],
            expression={"value": "@equals(variables('who'), 'ANN')", "type": "Expression"},
            ifTrueActivities=[activity("Yes", "SetVariable", variableName="answer", value="yes")],
            ifFalseActivities=[activity("No", "SetVariable", variableName="answer", value="no")],
        ),
        activity(
            "Each",
            "ForEach",
            after=["Branch:Succeeded"],
            items={"value": "@pipeline().parameters.items", "type": "Expression"},
            isSequential=True,
            activities=[activity("Append", "SetVariable", variableName="last", value="@string(item())")],
        ),
        parameters={"name": {"type": "String"}, "items": {"type": "Array", "defaultValue": [1, 2, 3]}},
        variables={"who": {"type": "String"}, "answer": {"type": "String"}, "last": {"type": "String"}},
    )
    _, outcome = walk.run(p, parameters={"name": "ann"})
    assert outcome.status == "Succeeded", outcome.message
    assert [n for n, s in walk.host.statuses()] == ["Pick", "Branch", "Yes", "Each", "Append", "Append", "Append"]
    assert walk.host.run("Append")["output"] == {"name": "last", "value": "3"}
    assert walk.host.run("Each")["output"]["itemsCount"] == 3


def test_missing_or_mistyped_parameters_fail_before_anything_runs(walk):
    p = pipeline(activity("W", "Wait", waitTimeInSeconds=0), parameters={"n": {"type": "Int"}})
    _, outcome = walk.run(p)
    assert outcome.status == "Failed" and "parameter n is required" in outcome.message
    _, outcome = walk.run(p, parameters={"n": "abc"})
    assert outcome.status == "Failed" and "parameter n must be int" in outcome.message
    assert walk.host.runs == []


def test_an_expression_error_fails_its_activity_with_position(walk):
    p = pipeline(activity("Bad", "Wait", waitTimeInSeconds="@add(1, pipeline().parameters.nope)"))
    _, outcome = walk.run(p)
    error = walk.host.run("Bad")["error"]
    assert error["errorCode"] == "expression_error"
    assert "position 29: property 'nope' does not exist" in error["message"]
    assert "add(1, pipeline().parameters.nope)" in error["message"]
    assert outcome.status == "Failed"


def test_lookup_all_rows_and_script_result_sets(walk):
    p = pipeline(
        activity(
            "All",
            "Lookup",
            source={"type": "SqliteSource", "query": "SELECT PersonID FROM data_source_table ORDER BY PersonID"},
            dataset={"referenceName": "SourceDataset", "type": "DatasetReference"},
            firstRowOnly=False,
        ),
        activity("Count", "Script", scripts=[{"type": "Query", "text": "SELECT count(*) AS n FROM data_source_table"}]),
    )
    p["properties"]["activities"][1]["linkedServiceName"] = {"referenceName": tutorial.SOURCE_LS}
    _, outcome = walk.run(p)
    assert outcome.status == "Succeeded", outcome.message
    assert walk.host.run("All")["output"] == {"count": 5, "value": [{"PersonID": i} for i in range(1, 6)]}
    assert walk.host.run("Count")["output"] == {
        "resultSetCount": 1,
        "resultSets": [{"rowCount": 1, "rows": [{"n": 5}]}],
    }


def test_foreach_in_parallel_overlaps_iterations_and_calls_the_host_from_one_thread(walk):
    each = activity(
        "Each",
        "ForEach",
        items={"value": "@range(0, 4)", "type": "Expression"},
        batchCount=4,
        activities=[activity("Pause", "Wait", waitTimeInSeconds=0.5)],
    )
    _, outcome = walk.run(pipeline(each))
    assert outcome.status == "Succeeded", outcome.message
    pauses = [r for r in walk.host.runs if r["name"] == "Pause"]
    assert len(pauses) == 4
    assert max(r["started"] for r in pauses) < min(r["ended"] for r in pauses)  # all four ran at once
    assert walk.host.threads == {threading.get_ident()}
    assert walk.host.run("Each")["output"]["batchCount"] == 4


def test_a_failed_iteration_fails_the_foreach_after_the_others_ran(walk):
    body = [
        activity(
            "Check",
            "IfCondition",
            expression={"value": "@equals(item(), 2)", "type": "Expression"},
            ifTrueActivities=[activity("Bad", "SetVariable", variableName="nope", value="x")],
        )
    ]
    each = activity("Each", "ForEach", items={"value": "@range(0, 4)", "type": "Expression"}, activities=body)
    _, outcome = walk.run(pipeline(each))
    assert outcome.status == "Failed"
    assert "1 of 4 iterations failed (items [2])" in walk.host.run("Each")["error"]["message"]
    assert len([r for r in walk.host.runs if r["name"] == "Check"]) == 4


def test_cancel_stops_parallel_iterations(walk):
    walk.host.cancel_after = 10
    each = activity(
        "Each",
        "ForEach",
        items={"value": "@range(0, 3)", "type": "Expression"},
        activities=[activity("Pause", "Wait", waitTimeInSeconds=60)],
    )
    _, outcome = walk.run(pipeline(each))
    assert outcome.status == "Cancelled"
    assert {r["status"] for r in walk.host.runs if r["name"] == "Pause"} == {"Cancelled"}
