"""Rename, clone and delete from the browser (``.../<name>/actions/``), what uses an object shown first;
and the API's delete, which asks the same question.

The studio folder is the ADF tutorial as ADF Studio saves it: a Key Vault linked service named by two
linked services, a SQL linked service named by two datasets and a stored-procedure activity, datasets
named by two pipelines.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from syncjobs.models import AuditEntry, Dataset, LinkedService, Pipeline, PipelineRun, Trigger, Watermark
from syncjobs.secrets import MASK
from syncjobs.services.definitions import import_folder, save_definition
from syncjobs.services.objects import used_by
from tests.factories import in_file_root, make_dataset, make_linked_service, make_pipeline, make_run

pytestmark = pytest.mark.django_db

SQL_LS = "/manage/linkedservices/AzureSQLDatabaseLinkedService/actions/"
SOURCE = "/author/datasets/SourceDataset/actions/"


def text(response) -> str:
    """The page's HTML, whitespace collapsed."""
    assert response.status_code == 200, response.content[:500]
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def words(response) -> str:
    """What the page says: its text without tags."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", response.content.decode())))


@pytest.fixture
def studio(studio_folder: Path) -> None:
    import_folder(studio_folder)


def rename(client, url: str, name: str):
    return client.post(url, {"action": "rename", "rename-name": name})


def definition_of(model: type, name: str) -> str:
    return json.dumps(model.objects.get(name=name).definition)


def audit(action: str) -> list[tuple[str, str, dict]]:
    return [(e.object_kind, e.object_name, e.detail) for e in AuditEntry.objects.filter(action=action).order_by("pk")]


# --- What uses an object ---------------------------------------------------------------------------------


def test_what_uses_each_kind_is_found_with_where_it_names_it(studio):
    sql = used_by(LinkedService.objects.get(name="AzureSQLDatabaseLinkedService"))
    assert [(u.kind, u.name) for u in sql] == [
        ("dataset", "ChangeTrackingDataset"),
        ("dataset", "SourceDataset"),
        ("pipeline", "IncrementalCopyPipeline"),
    ]
    assert sql[0].paths == ("properties.linkedServiceName.referenceName",)
    assert sql[2].paths[0].endswith(".linkedServiceName.referenceName")  # the stored-procedure activity
    vault = used_by(LinkedService.objects.get(name="AzureKeyVaultLinkedService"))
    assert [(u.name, u.paths) for u in vault] == [
        ("AzureSQLDatabaseLinkedService", ("properties.typeProperties.password.store.referenceName",)),
        ("AzureStorageLinkedService", ("properties.typeProperties.accountKey.store.referenceName",)),
    ]
    source = used_by(Dataset.objects.get(name="SourceDataset"))
    assert [(u.name, len(u.paths)) for u in source] == [("FullCopyPipeline", 1), ("IncrementalCopyPipeline", 2)]


def test_a_viewer_sees_what_uses_it_but_no_form(viewer, studio):
    page = text(viewer.get(SQL_LS))
    assert "Used by" in page and "dataset ChangeTrackingDataset" in page and "pipeline IncrementalCopyPipeline" in page
    assert "needs the Admin role" in page and 'value="rename"' not in page
    assert "Used by: dataset ChangeTrackingDataset, dataset SourceDataset, pipeline IncrementalCopyPipeline" in words(
        viewer.get("/manage/linkedservices/AzureSQLDatabaseLinkedService/")
    )
    assert "Used by: pipeline FullCopyPipeline, pipeline IncrementalCopyPipeline" in words(
        viewer.get("/author/datasets/SourceDataset/")
    )


@pytest.mark.parametrize(
    ("who", "url", "forms"),
    [
        ("editor", SOURCE, True),
        ("editor", SQL_LS, False),  # linked services are an Admin's
        ("operator", SOURCE, False),
        ("admin", SQL_LS, True),
    ],
)
def test_the_forms_are_offered_to_the_role_that_may_use_them(request, studio, who, url, forms):
    page = text(request.getfixturevalue(who).get(url))
    assert ('value="rename"' in page and 'value="clone"' in page) is forms


@pytest.mark.parametrize("who", ["viewer", "operator", "editor"])
def test_below_admin_nothing_happens_to_a_linked_service(request, studio, who):
    client = request.getfixturevalue(who)
    for data in ({"action": "rename", "rename-name": "X"}, {"action": "clone", "clone-name": "X"}):
        assert client.post(SQL_LS, data).status_code == 403
    assert list(LinkedService.objects.order_by("name").values_list("name", flat=True)) == [
        "AzureKeyVaultLinkedService",
        "AzureSQLDatabaseLinkedService",
        "AzureStorageLinkedService",
    ]
    assert not AuditEntry.objects.filter(action__in=("rename", "create"), user__isnull=False).exists()


def test_an_unknown_action_is_a_400(editor, studio):
    assert editor.post(SOURCE, {"action": "explode"}).status_code == 400


# --- Rename ------------------------------------------------------------------------------------------------


def test_renaming_a_linked_service_follows_into_datasets_pipelines_and_nothing_else(admin, studio):
    before = Dataset.objects.get(name="SourceDataset").linked_service_id
    response = rename(admin, SQL_LS, "SqlDb")
    assert response.status_code == 302 and response["Location"] == "/manage/linkedservices/SqlDb/"
    page = text(admin.get(response["Location"]))
    assert "Linked service AzureSQLDatabaseLinkedService renamed to SqlDb." in page
    assert (
        "References updated in dataset ChangeTrackingDataset, dataset SourceDataset, pipeline IncrementalCopy" in page
    )
    for model, name in (
        (Dataset, "SourceDataset"),
        (Dataset, "ChangeTrackingDataset"),
        (Pipeline, "IncrementalCopyPipeline"),
    ):
        assert '"SqlDb"' in definition_of(model, name) and "AzureSQLDatabaseLinkedService" not in definition_of(
            model, name
        )
    assert Dataset.objects.get(name="SourceDataset").linked_service_id == before
    password = LinkedService.objects.get(name="SqlDb").properties["typeProperties"]["password"]
    assert password["store"]["referenceName"] == "AzureKeyVaultLinkedService"  # its own references untouched
    assert audit("rename") == [
        (
            "linkedService",
            "SqlDb",
            {
                "renamedFrom": "AzureSQLDatabaseLinkedService",
                "updated": [
                    "dataset ChangeTrackingDataset",
                    "dataset SourceDataset",
                    "pipeline IncrementalCopyPipeline",
                ],
            },
        )
    ]
    changed = audit("change")
    assert [(k, n) for k, n, _ in changed] == [
        ("dataset", "ChangeTrackingDataset"),
        ("dataset", "SourceDataset"),
        ("pipeline", "IncrementalCopyPipeline"),
    ]
    assert changed[0][2]["changed"] == ["properties.linkedServiceName.referenceName"]


def test_renaming_a_key_vault_linked_service_follows_into_the_linked_services_that_read_it(admin, studio):
    assert rename(admin, "/manage/linkedservices/AzureKeyVaultLinkedService/actions/", "Vault").status_code == 302
    for name in ("AzureSQLDatabaseLinkedService", "AzureStorageLinkedService"):
        assert '"referenceName": "Vault"' in definition_of(LinkedService, name)


def test_a_renamed_linked_service_keeps_its_secrets(admin):
    made = make_linked_service("Pg", type="PostgreSqlV2", server="127.0.0.1", database="d", username="u")
    save_definition(
        "linkedService",
        {
            "name": "Pg",
            "properties": {
                **made.properties,
                "typeProperties": {
                    **made.properties["typeProperties"],
                    "password": {"type": "SecureString", "value": "pw-1"},
                },
            },
        },
    )
    assert rename(admin, "/manage/linkedservices/Pg/actions/", "Postgres").status_code == 302
    assert LinkedService.objects.get(name="Postgres").secrets() == {"properties.typeProperties.password": "pw-1"}


def test_renaming_a_dataset_follows_into_pipelines_and_moves_its_watermarks(editor, studio):
    source = LinkedService.objects.get(name="AzureSQLDatabaseLinkedService")
    mark = Watermark.objects.create(linked_service=source, source_table="t", sink_key="SourceDataset:out/", version=7)
    other = Watermark.objects.create(linked_service=source, source_table="t", sink_key="SourceDatasetOld:x", version=1)
    assert rename(editor, SOURCE, "Orders").status_code == 302
    assert Dataset.objects.filter(name="Orders").exists() and not Dataset.objects.filter(name="SourceDataset").exists()
    assert definition_of(Pipeline, "IncrementalCopyPipeline").count('"referenceName": "Orders"') == 2
    assert '"referenceName": "Orders"' in definition_of(Pipeline, "FullCopyPipeline")
    mark.refresh_from_db()
    other.refresh_from_db()
    assert (mark.sink_key, mark.version) == ("Orders:out/", 7)  # the next run carries on from version 7
    assert other.sink_key == "SourceDatasetOld:x"  # another dataset's name that merely starts alike


def test_renaming_a_pipeline_keeps_its_triggers_pointing_at_it_with_their_secret_values(editor):
    make_pipeline("Nightly", parameters={"token": {"type": "SecureString"}})
    trigger = save_definition("trigger", _trigger("Hourly", "Nightly", {"token": "s3cret"}))[0]
    trigger.start()
    Trigger.objects.filter(pk=trigger.pk).update(last_fired_at="2026-01-01T00:00:00Z")
    assert rename(editor, "/author/pipelines/Nightly/actions/", "Nightly2").status_code == 302
    trigger = Trigger.objects.get(name="Hourly")
    assert trigger.properties["pipelines"][0]["pipelineReference"]["referenceName"] == "Nightly2"
    assert trigger.properties["pipelines"][0]["parameters"]["token"] == MASK
    assert trigger.pipeline_parameters(0) == {"token": "s3cret"}
    assert trigger.runtime_state == "Started" and trigger.last_fired_at.year == 2026


def test_a_renamed_trigger_keeps_its_state_and_last_fire_time(editor):
    make_pipeline("Nightly")
    trigger = save_definition("trigger", _trigger("Hourly", "Nightly"))[0]
    trigger.start()
    Trigger.objects.filter(pk=trigger.pk).update(last_fired_at="2026-01-01T00:00:00Z")
    assert rename(editor, "/manage/triggers/Hourly/actions/", "EveryHour").status_code == 302
    renamed = Trigger.objects.get(name="EveryHour")
    assert (renamed.pk, renamed.runtime_state, renamed.last_fired_at.year) == (trigger.pk, "Started", 2026)
    assert renamed.definition["name"] == "EveryHour"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("1Orders", "must start with a letter"),
        ("Or.ders", "must not contain any of"),
        ("Or-ders", "must not contain '-'"),
        ("sinkdataset", "a dataset named 'SinkDataset' already exists"),
        ("SourceDataset", "is already its name"),
        (" Orders", "must not start or end with a space"),
    ],
)
def test_a_name_adf_would_refuse_is_an_error_on_the_field_and_nothing_changes(editor, studio, name, words):
    before = definition_of(Pipeline, "IncrementalCopyPipeline")
    response = rename(editor, SOURCE, name)
    assert response.status_code == 200
    assert words in " ".join(response.context["forms"]["rename"].errors["name"])
    assert words in text(response)
    assert Dataset.objects.filter(name="SourceDataset").exists()
    assert definition_of(Pipeline, "IncrementalCopyPipeline") == before and not audit("rename")


def test_a_rename_that_would_leave_a_user_invalid_is_refused_with_the_list(editor, studio):
    # Stored before today's checks: a Wait far past its limit (update() skips validation).
    pipeline = Pipeline.objects.get(name="FullCopyPipeline")
    definition = pipeline.definition
    definition["properties"]["activities"].append(
        {"name": "Nap", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 10**9}}
    )
    Pipeline.objects.filter(pk=pipeline.pk).update(definition=definition)
    before = definition_of(Pipeline, "IncrementalCopyPipeline")
    response = rename(editor, SOURCE, "Orders")
    page = text(response)
    assert (
        "pipeline/FullCopyPipeline: properties.activities[1].typeProperties.waitTimeInSeconds: must be at most" in page
    )
    assert Dataset.objects.filter(name="SourceDataset").exists() and not Dataset.objects.filter(name="Orders").exists()
    assert definition_of(Pipeline, "IncrementalCopyPipeline") == before  # rolled back with the rest
    assert not audit("rename") and not audit("change")


def test_a_rename_waits_for_the_runs_using_the_object(editor, studio):
    run = make_run(Pipeline.objects.get(name="FullCopyPipeline"))
    page = text(rename(editor, SOURCE, "Orders"))
    assert f"run {run.run_id} of pipeline FullCopyPipeline is using it" in page
    assert Dataset.objects.filter(name="SourceDataset").exists()
    PipelineRun.objects.filter(pk=run.pk).update(status="Succeeded")
    assert rename(editor, SOURCE, "Orders").status_code == 302


# --- Clone -------------------------------------------------------------------------------------------------


def test_a_cloned_linked_service_has_no_secrets_and_says_so(admin):
    made = make_linked_service("Pg", type="PostgreSqlV2", server="127.0.0.1", database="d", username="u")
    props = {
        **made.properties,
        "typeProperties": {**made.properties["typeProperties"], "password": {"type": "SecureString", "value": "pw-1"}},
    }
    save_definition("linkedService", {"name": "Pg", "properties": props})
    page = text(admin.get("/manage/linkedservices/Pg/actions/"))
    assert 'value="Pg_copy"' in page and "Secrets are not copied" in page
    response = admin.post("/manage/linkedservices/Pg/actions/", {"action": "clone", "clone-name": "Pg_copy"})
    assert response["Location"] == "/manage/linkedservices/Pg_copy/"
    page = text(admin.get(response["Location"]))
    assert "Linked service Pg_copy created from Pg." in page
    assert "Secrets are not copied: enter properties.typeProperties.password on Pg_copy before it is used." in page
    clone = LinkedService.objects.get(name="Pg_copy")
    assert clone.secrets() == {} and clone.properties["typeProperties"]["password"]["value"] == MASK
    assert clone.properties["typeProperties"]["server"] == "127.0.0.1"
    assert LinkedService.objects.get(name="Pg").secrets() == {"properties.typeProperties.password": "pw-1"}
    [(kind, name, detail)] = [a for a in audit("create") if a[1] == "Pg_copy"]
    assert detail == {"clonedFrom": "Pg", "secretsNotCopied": ["properties.typeProperties.password"]}
    assert 'value="Pg_copy2"' in text(admin.get("/manage/linkedservices/Pg/actions/"))


def test_a_cloned_trigger_is_stopped_and_leaves_its_secret_values_behind(editor):
    make_pipeline("Nightly", parameters={"token": {"type": "SecureString"}, "day": {"type": "String"}})
    trigger = save_definition("trigger", _trigger("Hourly", "Nightly", {"token": "s3cret", "day": "mon"}))[0]
    trigger.start()
    response = editor.post("/manage/triggers/Hourly/actions/", {"action": "clone", "clone-name": "Hourly2"})
    assert response["Location"] == "/manage/triggers/Hourly2/"
    assert "It is stopped." in text(editor.get(response["Location"]))
    clone = Trigger.objects.get(name="Hourly2")
    assert clone.runtime_state == "Stopped" and clone.last_fired_at is None
    assert clone.pipeline_parameters(0) == {"token": MASK, "day": "mon"}


def test_cloning_a_dataset_and_a_pipeline_copies_their_json(editor, studio):
    assert editor.post(SOURCE, {"action": "clone", "clone-name": "Source2"}).status_code == 302
    assert Dataset.objects.get(name="Source2").properties == Dataset.objects.get(name="SourceDataset").properties
    url = "/author/pipelines/FullCopyPipeline/actions/"
    assert editor.post(url, {"action": "clone", "clone-name": "FullCopy2"}).status_code == 302
    assert Pipeline.objects.get(name="FullCopy2").properties == Pipeline.objects.get(name="FullCopyPipeline").properties
    page = text(editor.post(url, {"action": "clone", "clone-name": "fullcopy2"}))
    assert "already exists" in page and Pipeline.objects.count() == 3


# --- Delete ------------------------------------------------------------------------------------------------


def test_what_is_in_use_offers_no_delete_and_is_refused_anyway(admin, studio):
    page = text(admin.get(SQL_LS))
    assert "It cannot be deleted while the objects above use it" in page and "Delete AzureSQL" not in page
    response = admin.post(SQL_LS, {"action": "delete", "delete-confirm": "on"})
    assert "is used by dataset(s) ChangeTrackingDataset, SourceDataset; pipeline(s) IncrementalCopyPipeline" in text(
        response
    )
    assert LinkedService.objects.filter(name="AzureSQLDatabaseLinkedService").exists() and not audit("delete")


def test_delete_needs_the_tick_then_deletes_and_audits(editor):
    make_linked_service("Src", database=in_file_root("x.sqlite3"))
    make_dataset("Lonely", "Src")
    url = "/author/datasets/Lonely/actions/"
    assert "tick to confirm" in text(editor.post(url, {"action": "delete"}))
    assert Dataset.objects.filter(name="Lonely").exists()
    response = editor.post(url, {"action": "delete", "delete-confirm": "on"})
    assert response["Location"] == "/author/"
    assert "Dataset Lonely deleted." in text(editor.get("/author/"))
    assert not Dataset.objects.filter(name="Lonely").exists()
    assert audit("delete") == [("dataset", "Lonely", {})]


def test_the_api_refuses_deleting_what_the_pages_refuse(admin, studio):
    make_pipeline("Nightly")
    save_definition("trigger", _trigger("Hourly", "Nightly"))

    def delete(path: str):
        return admin.delete(f"/api/{path}", headers={"Authorization": f"Bearer {admin.token}"})

    response = delete("pipelines/Nightly")
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "Nightly is used by trigger(s) Hourly; change or delete them first"
    response = delete("linkedservices/AzureKeyVaultLinkedService")
    assert response.status_code == 409
    assert (
        "linked service(s) AzureSQLDatabaseLinkedService, AzureStorageLinkedService"
        in response.json()["error"]["message"]
    )
    assert delete("triggers/Hourly").status_code == 200 and delete("pipelines/Nightly").status_code == 200
    assert not Pipeline.objects.filter(name="Nightly").exists()


def _trigger(name: str, pipeline: str, parameters: dict | None = None) -> dict:
    recurrence = {"frequency": "Hour", "interval": 1, "startTime": "2026-01-01T00:00:00Z", "timeZone": "UTC"}
    entry = {"pipelineReference": {"referenceName": pipeline, "type": "PipelineReference"}}
    if parameters:
        entry["parameters"] = parameters
    return {
        "name": name,
        "properties": {"type": "ScheduleTrigger", "typeProperties": {"recurrence": recurrence}, "pipelines": [entry]},
    }
