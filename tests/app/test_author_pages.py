"""Author pages through Django's test client, on the seeded tutorial: datasets, pipelines, Validate, Trigger now."""

from __future__ import annotations

import pytest

from syncjobs import tutorial
from syncjobs.models import Pipeline, PipelineRun
from tests.app.pages import text

pytestmark = pytest.mark.django_db


def test_dataset_picker_lists_live_tables_and_previews_rows(editor, seeded):
    tables = text(editor.get(f"/author/catalogue/?linked_service={tutorial.SOURCE_LS}"))
    assert "data_source_table" in tables and "PersonID" in tables and "on (columns)" in tables
    preview = text(editor.get(f"/author/catalogue/?linked_service={tutorial.SOURCE_LS}&table=data_source_table"))
    assert "aaaa" in preview and "eeee" in preview
    response = editor.post(
        "/author/datasets/new/", {"name": "People", "linked_service": tutorial.SOURCE_LS, "table": "data_source_table"}
    )
    assert response.status_code == 302
    assert "SqliteTable" in text(editor.get("/author/datasets/People/"))


def test_pipeline_page_draws_the_graph_and_validates(editor, seeded):
    page = text(editor.get("/author/pipelines/IncrementalCopyPipeline/"))
    assert 'class="edge Succeeded"' in page and tutorial.LOOKUP_LAST in page
    definition = Pipeline.objects.get(name="IncrementalCopyPipeline").definition
    import json

    broken = json.dumps(definition).replace("@{activity('Lookup", "@{activty('Lookup", 1)
    found = text(
        editor.post("/author/pipelines/IncrementalCopyPipeline/", {"definition": broken, "action": "validate"})
    )
    assert "unknown function 'activty'" in found and "position 0" in found
    clean = text(
        editor.post(
            "/author/pipelines/FullCopyPipeline/",
            {"definition": json.dumps(Pipeline.objects.get(name="FullCopyPipeline").definition), "action": "validate"},
        )
    )
    assert "Validation passed" in clean


def test_validate_compiles_plain_queries_live(editor, seeded):
    import json

    definition = Pipeline.objects.get(name="IncrementalCopyPipeline").definition
    definition["properties"]["activities"][1]["typeProperties"]["source"]["query"] = (
        "SELECT nope FROM data_source_table"
    )
    found = text(
        editor.post(
            "/author/pipelines/IncrementalCopyPipeline/", {"definition": json.dumps(definition), "action": "validate"}
        )
    )
    assert "the query does not compile" in found and "nope" in found


def test_trigger_now_goes_to_the_run(operator, seeded):
    response = operator.post("/author/pipelines/FullCopyPipeline/trigger", {})
    run = PipelineRun.objects.get()
    assert response["Location"] == f"/monitor/runs/{run.run_id}/" and run.status == "Succeeded"


def test_an_activity_form_edits_the_pipeline_and_renames_follow_dependencies(editor, seeded):
    pipeline = Pipeline.objects.get(name="IncrementalCopyPipeline")
    page = text(editor.get("/author/pipelines/IncrementalCopyPipeline/"))
    assert "Edit IncrementalCopyActivity" in page
    index = [a["name"] for a in pipeline.properties["activities"]].index("IncrementalCopyActivity")
    copy_activity = pipeline.properties["activities"][index]
    import json

    form = {
        f"a{index}-original": "IncrementalCopyActivity",
        f"a{index}-name": "CopyChanges",
        f"a{index}-description": "copies the window",
        f"a{index}-retry": "2",
        f"a{index}-retry_interval": "60",
        f"a{index}-timeout": "0.01:00:00",
        f"a{index}-type_properties": json.dumps(copy_activity["typeProperties"]),
    }
    response = editor.post(f"/author/pipelines/IncrementalCopyPipeline/activities/{index}", form)
    assert response.status_code == 302
    saved = Pipeline.objects.get(name="IncrementalCopyPipeline").properties["activities"]
    renamed = next(a for a in saved if a["name"] == "CopyChanges")
    assert renamed["policy"]["retry"] == 2 and renamed["policy"]["timeout"] == "0.01:00:00"
    update = next(a for a in saved if a["type"] == "Script")
    assert update["dependsOn"][0]["activity"] == "CopyChanges"
    bad = {**form, f"a{index}-original": "CopyChanges", f"a{index}-type_properties": "{nope"}
    page = text(editor.post(f"/author/pipelines/IncrementalCopyPipeline/activities/{index}", bad))
    assert "not valid JSON" in page
