"""Definitions: validation with paths, legacy import, runs' ADF shape and state, watermarks."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from syncjobs.adf.findings import DefinitionError
from syncjobs.engine.types import TableName
from syncjobs.models import (
    ActivityRun,
    Dataset,
    LinkedService,
    Pipeline,
    PipelineRun,
    Watermark,
    WatermarkConflictError,
)
from syncjobs.services.definitions import import_folder, save_definition
from tests.factories import ADF_DATA, in_file_root, make_dataset, make_linked_service, make_pipeline, make_run

pytestmark = pytest.mark.django_db


def _paths(exc: pytest.ExceptionInfo[DefinitionError]) -> dict[str, str]:
    return {f.path: f.message for f in exc.value.findings}


def _copy_activity(name: str = "CopyRows", **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "type": "Copy",
        "typeProperties": {"source": {"type": "SqliteSource"}, "sink": {"type": "DelimitedTextSink"}},
        "inputs": [{"referenceName": "SourceTable", "type": "DatasetReference"}],
        "outputs": [{"referenceName": "SinkFiles", "type": "DatasetReference"}],
        **extra,
    }


@pytest.fixture
def copy_objects(tmp_path: Path) -> None:
    make_linked_service()
    make_linked_service("Files", type="FileServer", host=str(tmp_path))
    make_dataset()
    location = {"type": "FileServerLocation", "folderPath": "out", "fileName": "rows.csv"}
    make_dataset("SinkFiles", "Files", type="DelimitedText", typeProperties={"location": location})


def test_studio_folder_imports_every_object_with_references_resolved(studio_folder: Path) -> None:
    result = import_folder(studio_folder)
    assert len(result.created) == 8  # the tutorial's seven and the Key Vault they reference
    assert set(LinkedService.objects.values_list("name", flat=True)) == {
        "AzureKeyVaultLinkedService",
        "AzureSQLDatabaseLinkedService",
        "AzureStorageLinkedService",
    }
    assert {d.name: d.linked_service.name for d in Dataset.objects.all()} == {
        "ChangeTrackingDataset": "AzureSQLDatabaseLinkedService",
        "SinkDataset": "AzureStorageLinkedService",
        "SourceDataset": "AzureSQLDatabaseLinkedService",
    }
    assert set(Pipeline.objects.values_list("name", flat=True)) == {"FullCopyPipeline", "IncrementalCopyPipeline"}
    sink = Dataset.objects.get(name="SinkDataset").properties["typeProperties"]["location"]
    assert sink["fileName"] == {"value": "@concat('Incremental-',pipeline().RunId,'.csv')", "type": "Expression"}


def test_published_powershell_folder_becomes_the_current_form(powershell_folder: Path) -> None:
    result = import_folder(powershell_folder)
    assert len(result.created) == 7
    assert LinkedService.objects.get(name="AzureStorageLinkedService").type == "AzureBlobStorage"
    sink = Dataset.objects.get(name="SinkDataset")
    assert sink.type == "DelimitedText"
    assert sink.properties["typeProperties"]["location"] == {
        "type": "AzureBlobStorageLocation",
        "container": "adftutorial",
        "folderPath": "incchgtracking",
        "fileName": "@CONCAT('Incremental-', pipeline().RunId, '.txt')",
    }
    assert Dataset.objects.get(name="SourceDataset").properties["typeProperties"] == {"table": "data_source_table"}
    activities = {a["name"]: a for a in Pipeline.objects.get(name="IncrementalCopyPipeline").properties["activities"]}
    copy_tp = activities["IncrementalCopyActivity"]["typeProperties"]
    assert (copy_tp["source"]["type"], copy_tp["sink"]["type"]) == ("AzureSqlSource", "DelimitedTextSink")
    assert copy_tp["source"]["sqlReaderQuery"].startswith("select data_source_table.PersonID")
    params = activities["StoredProceduretoUpdateChangeTrackingActivity"]["typeProperties"]["storedProcedureParameters"]
    assert params["CurrentTrackingVersion"]["type"] == "Int64"


def test_a_leading_space_in_a_published_name_is_trimmed_with_a_warning(powershell_folder: Path) -> None:
    result = import_folder(powershell_folder)
    assert Dataset.objects.filter(name="ChangeTrackingDataset").exists()
    warning = [f for f in result.findings if f.object == "dataset/ChangeTrackingDataset" and f.path == "name"]
    assert warning and warning[0].severity == "warning" and "trimmed" in warning[0].message


def test_a_missing_container_is_reported_at_its_path() -> None:
    make_linked_service("Blob", type="AzureBlobStorage", connectionString="UseDevelopmentStorage=true")
    with pytest.raises(DefinitionError) as exc:
        make_dataset(
            "Files",
            "Blob",
            type="DelimitedText",
            typeProperties={"location": {"type": "AzureBlobStorageLocation", "fileName": "a.csv"}},
        )
    assert _paths(exc) == {"properties.typeProperties.location.container": "required"}
    assert not Dataset.objects.exists()


def test_dependson_naming_an_unknown_activity_is_reported(copy_objects: None) -> None:
    depends = [{"activity": "NoSuchActivity", "dependencyConditions": ["Succeeded"]}]
    with pytest.raises(DefinitionError) as exc:
        make_pipeline("P", [_copy_activity(dependsOn=depends)])
    assert list(_paths(exc)) == ["properties.activities[0].dependsOn[0].activity"]
    assert "NoSuchActivity" in str(exc.value)


def test_an_unknown_activity_type_is_reported() -> None:
    with pytest.raises(DefinitionError) as exc:
        make_pipeline("P", [{"name": "Run", "type": "DatabricksNotebook", "typeProperties": {}}])
    assert list(_paths(exc)) == ["properties.activities[0].type"]


def test_a_dataset_pointing_at_a_missing_linked_service_is_reported() -> None:
    with pytest.raises(DefinitionError) as exc:
        make_dataset("Orphan", "NoSuchService")
    assert "properties.linkedServiceName.referenceName" in _paths(exc)


def test_nested_activities_are_checked_too(copy_objects: None) -> None:
    loop = {
        "name": "Each",
        "type": "ForEach",
        "typeProperties": {
            "items": {"value": "@createArray(1)", "type": "Expression"},
            "activities": [_copy_activity("CopyRows"), _copy_activity("CopyRows")],
        },
    }
    with pytest.raises(DefinitionError) as exc:
        make_pipeline("P", [loop])
    assert "properties.activities[0].typeProperties.activities[1].name" in _paths(exc)


def test_a_dependency_cycle_is_reported(copy_objects: None) -> None:
    a = {
        "name": "A",
        "type": "Wait",
        "typeProperties": {"waitTimeInSeconds": 1},
        "dependsOn": [{"activity": "B", "dependencyConditions": ["Succeeded"]}],
    }
    b = {
        "name": "B",
        "type": "Wait",
        "typeProperties": {"waitTimeInSeconds": 1},
        "dependsOn": [{"activity": "A", "dependencyConditions": ["Completed"]}],
    }
    with pytest.raises(DefinitionError) as exc:
        make_pipeline("P", [a, b])
    assert "cycle" in _paths(exc)["properties.activities"]


def test_names_follow_adf_rules_and_ignore_case() -> None:
    with pytest.raises(DefinitionError) as exc:
        make_linked_service("my-db")
    assert "properties" not in str(exc.value) and "'-'" in _paths(exc)["name"]
    make_linked_service("SourceDb")
    with pytest.raises(DefinitionError, match="already exists"):
        save_definition(
            "linkedService",
            {"name": "SOURCEDB", "properties": {"type": "Sqlite", "typeProperties": {"database": "x"}}},
            replace=False,
        )


def test_references_resolve_whatever_their_case(copy_objects: None) -> None:
    make_dataset("Other", "sourcedb")
    assert Dataset.objects.get(name="Other").linked_service.name == "SourceDb"


def test_a_key_vault_secret_is_kept_as_a_reference_with_a_clear_warning(studio_folder: Path) -> None:
    result = import_folder(studio_folder)
    warnings = [
        f
        for f in result.findings
        if f.object == "linkedService/AzureSQLDatabaseLinkedService" and f.severity == "warning"
    ]
    assert any(f.path == "properties.typeProperties.password" and "Key Vault" in f.message for f in warnings)
    password = LinkedService.objects.get(name="AzureSQLDatabaseLinkedService").properties["typeProperties"]["password"]
    assert password["type"] == "AzureKeyVaultSecret" and password["secretName"] == "<sql-password-secret-name>"


def test_a_schedule_trigger_needs_a_frequency_and_an_existing_pipeline() -> None:
    make_pipeline()
    trigger = {
        "name": "Hourly",
        "properties": {
            "type": "ScheduleTrigger",
            "typeProperties": {"recurrence": {"interval": 1, "startTime": "2024-01-01T00:00:00Z"}},
            "pipelines": [{"pipelineReference": {"referenceName": "Missing", "type": "PipelineReference"}}],
        },
    }
    with pytest.raises(DefinitionError) as exc:
        save_definition("trigger", trigger)
    assert set(_paths(exc)) == {
        "properties.typeProperties.recurrence.frequency",
        "properties.pipelines[0].pipelineReference.referenceName",
    }


def test_a_snapshot_holds_the_pipeline_its_datasets_and_linked_services(copy_objects: None) -> None:
    pipeline = make_pipeline("P", [_copy_activity()])
    snap = pipeline.snapshot()
    assert set(snap["datasets"]) == {"SourceTable", "SinkFiles"}
    assert set(snap["linkedServices"]) == {"SourceDb", "Files"}
    assert snap["pipeline"] == pipeline.definition


def test_pipeline_run_to_adf_has_exactly_the_example_keys() -> None:
    example = json.loads((ADF_DATA / "runs-examples" / "PipelineRun.IncrementalCopyPipeline.example.json").read_text())
    example.pop("_note")
    run = make_run()
    run.mark_in_progress()
    run.succeed()
    shaped = run.to_adf()
    assert shaped.keys() == example.keys()
    assert shaped["invokedBy"].keys() == example["invokedBy"].keys()
    assert shaped["runGroupId"] == shaped["runId"] and shaped["status"] == "Succeeded"
    assert shaped["runEnd"].endswith("Z") and len(shaped["runEnd"]) == len(example["runEnd"])


def test_activity_run_to_adf_has_exactly_the_example_keys() -> None:
    example = json.loads(
        (ADF_DATA / "runs-examples" / "ActivityRuns.IncrementalCopyPipeline.example.json").read_text()
    )["value"][2]
    activity = ActivityRun.objects.create(pipeline_run=make_run(), activity_name="Copy", activity_type="Copy")
    activity.finish("Succeeded", {"rowsCopied": 2}, {}, rows_read=2, rows_written=2, bytes_written=110)
    shaped = activity.to_adf()
    assert shaped.keys() == example.keys()
    assert shaped["error"].keys() == example["error"].keys()
    assert shaped["output"] == {"rowsCopied": 2} and shaped["pipelineName"] == "WaitPipeline"


def _frozen(*activities: dict[str, object]) -> dict[str, object]:
    return {"pipeline": {"name": "P", "properties": {"activities": list(activities)}}, "datasets": {}}


def test_an_activity_run_names_the_linked_service_its_activity_names() -> None:
    script = {"name": "Update", "type": "Script", "linkedServiceName": {"referenceName": "Warehouse"}}
    branch = {"name": "Branch", "type": "IfCondition", "typeProperties": {"ifTrueActivities": [script]}}
    run = make_run(definition=_frozen(branch, _copy_activity()))
    names = {}
    for activity in ("Update", "CopyRows", "Branch"):
        activity_run = ActivityRun.objects.create(pipeline_run=run, activity_name=activity, activity_type="x")
        names[activity] = activity_run.to_adf()["linkedServiceName"]
    assert names == {"Update": "Warehouse", "CopyRows": "", "Branch": ""}  # as ADF's own activity runs say


def test_failed_items_are_read_from_a_failed_foreachs_error_only() -> None:
    run = make_run()
    details = json.dumps({"failedItems": [1, 3], "itemsCount": 4})
    failed = ActivityRun.objects.create(
        pipeline_run=run, activity_name="Each", activity_type="ForEach", status="Failed", error={"details": details}
    )
    garbled = ActivityRun.objects.create(
        pipeline_run=run, activity_name="Other", activity_type="ForEach", status="Failed", error={"details": "{nope"}
    )
    succeeded = ActivityRun.objects.create(
        pipeline_run=run, activity_name="Fine", activity_type="ForEach", status="Succeeded", error={"details": details}
    )
    assert (failed.failed_items(), garbled.failed_items(), succeeded.failed_items()) == ([1, 3], [], [])
    assert run.failed_items() == {"Each": [1, 3]}


def test_a_rerun_reuses_recorded_outputs_of_top_level_activities_that_may_stand_in() -> None:
    inner = {"name": "Inner", "type": "Wait"}
    each = {"name": "Each", "type": "ForEach", "typeProperties": {"activities": [inner]}}
    names = ("Copied", "Looked", "Hidden", "Each", "Inner", "Broken")
    run = make_run(definition=_frozen(*({"name": n, "type": "x"} for n in names[:3]), each, {"name": "Broken"}))
    for name, kind, status, output in [
        ("Copied", "Copy", "Succeeded", {"rowsCopied": 2}),
        ("Looked", "Lookup", "Succeeded", {"firstRow": {"v": 1}}),  # the source's state: read again
        ("Hidden", "Script", "Succeeded", {"secureOutput": True}),  # not recorded: cannot stand in
        ("Each", "ForEach", "Succeeded", {}),  # a container runs again
        ("Inner", "Wait", "Succeeded", {}),  # runs again with its container
        ("Broken", "Copy", "Failed", {}),
    ]:
        ActivityRun.objects.create(
            pipeline_run=run, activity_name=name, activity_type=kind, status=status, output=output
        )
    assert run.reusable_outputs() == {"Copied": {"rowsCopied": 2}}


def test_updated_between_includes_both_ends_as_the_api_does() -> None:
    run = make_run()
    stamp = PipelineRun.objects.get(pk=run.pk).last_updated
    assert list(PipelineRun.objects.updated_between(stamp, stamp)) == [run]
    assert not PipelineRun.objects.updated_between(stamp + timedelta(microseconds=1), stamp + timedelta(seconds=1))


def test_only_one_worker_can_claim_a_queued_run() -> None:
    run = make_run()
    second_delivery = PipelineRun.objects.get(pk=run.pk)
    assert run.mark_in_progress("host:1") is True
    assert second_delivery.mark_in_progress("host:2") is False
    assert PipelineRun.objects.get(pk=run.pk).worker == "host:1"


def test_cancelling_a_queued_run_cancels_it_at_once() -> None:
    run = make_run()
    assert run.request_cancel() is True
    assert PipelineRun.objects.get(pk=run.pk).status == "Cancelled"
    assert run.mark_in_progress() is False


def test_cancelling_a_running_run_asks_it_to_stop_at_its_next_heartbeat() -> None:
    run = make_run()
    run.mark_in_progress()
    PipelineRun.objects.get(pk=run.pk).request_cancel()
    assert run.heartbeat() is True
    assert list(PipelineRun.objects.in_progress()) == [run]
    assert run.mark_cancelled() is True
    assert list(PipelineRun.objects.finished()) == [run] and run.status == "Cancelled"


def test_a_run_whose_worker_went_silent_is_listed_as_stalled() -> None:
    run = make_run()
    run.mark_in_progress()
    PipelineRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    fresh = make_run(make_pipeline("Other"))
    fresh.mark_in_progress()
    assert list(PipelineRun.objects.stalled(timedelta(minutes=2))) == [run]


def test_a_watermark_refuses_a_stale_expected_version() -> None:
    mark = Watermark.objects.for_target(make_linked_service(), TableName("data_source_table", "dbo"), "SinkDataset")
    first = mark.advance(None, 5, "db-1", mode="full", rows=5)
    assert (first.previous_version, first.new_version) == (None, 5)
    stale = Watermark.objects.get(pk=mark.pk)
    mark.advance(5, 7, "db-1", mode="delta", rows=2)
    with pytest.raises(WatermarkConflictError):
        stale.advance(None, 9, "db-1", mode="full")
    with pytest.raises(WatermarkConflictError):
        Watermark.objects.get(pk=mark.pk).advance(5, 9, "db-1", mode="delta")
    assert Watermark.objects.get(pk=mark.pk).version == 7
    assert [w.new_version for w in mark.windows.order_by("id")] == [5, 7]


def test_a_watermark_is_held_by_one_active_run_at_a_time() -> None:
    mark = Watermark.objects.for_target(make_linked_service(), TableName("t"), "out/t")
    first, second = make_run(), make_run(make_pipeline("Other"))
    first.mark_in_progress()
    assert mark.claim(first) is True
    assert Watermark.objects.get(pk=mark.pk).claim(second) is False
    first.fail("boom")
    assert Watermark.objects.get(pk=mark.pk).claim(second) is True


@pytest.mark.django_db
def test_delimited_text_quote_escape_and_compression_level_are_checked():
    from syncjobs.adf.findings import DefinitionError
    from syncjobs.services.definitions import save_definition

    make_linked_service("Files", type="FileServer", host=in_file_root("files"))
    base = {
        "type": "DelimitedText",
        "linkedServiceName": {"referenceName": "Files", "type": "LinkedServiceReference"},
        "typeProperties": {"location": {"type": "FileServerLocation", "fileName": "a.csv"}},
    }
    bad = {**base, "typeProperties": {**base["typeProperties"], "escapeChar": "", "compressionLevel": "Best"}}
    with pytest.raises(DefinitionError) as caught:
        save_definition("dataset", {"name": "D", "properties": bad})
    paths = {f.path for f in caught.value.findings}
    assert paths == {"properties.typeProperties.escapeChar", "properties.typeProperties.compressionLevel"}
    fine = {**base, "typeProperties": {**base["typeProperties"], "escapeChar": "", "quoteChar": ""}}
    save_definition("dataset", {"name": "D", "properties": fine})
