"""Authoring without JSON, on the seeded tutorial: activities added from the palette, removed, moved, their
dependsOn set by rows; a dataset's parameters in its form; every editor guarded against leaving unsaved."""

from __future__ import annotations

import json
from typing import Any

import pytest

from syncjobs import tutorial
from syncjobs.adf.palette import BY_TYPE
from syncjobs.engine.pipeline.activities import ACTIVITIES
from syncjobs.models import AuditEntry, Dataset, Pipeline, PipelineRun
from tests.app.pages import text
from tests.factories import make_pipeline

pytestmark = pytest.mark.django_db

FULL = "/author/pipelines/FullCopyPipeline"


def activities(name: str = "FullCopyPipeline") -> list[dict[str, Any]]:
    return Pipeline.objects.get(name=name).properties["activities"]


def add(client: Any, pipeline_url: str, **fields: str) -> Any:
    data = {"after_condition": "Succeeded", "type_properties": "{}", "description": "", "after": "", **fields}
    return client.post(f"{pipeline_url}/activities/new", data)


def depends(client: Any, pipeline_url: str, index: int, original: str, rows: list[tuple[str, list[str]]]) -> Any:
    data: dict[str, Any] = {
        "original": original,
        f"d{index}-TOTAL_FORMS": str(len(rows)),
        f"d{index}-INITIAL_FORMS": "0",
    }
    for i, (activity, conditions) in enumerate(rows):
        data[f"d{index}-{i}-activity"] = activity
        data[f"d{index}-{i}-conditions"] = conditions
    return client.post(f"{pipeline_url}/activities/{index}/depends", data)


def waits(*names: str, **depends_on: str) -> list[dict[str, Any]]:
    """Wait activities; ``depends_on`` maps an activity to the one it waits for (on success)."""
    found = []
    for name in names:
        activity: dict[str, Any] = {"name": name, "type": "Wait", "typeProperties": {"waitTimeInSeconds": 0}}
        if name in depends_on:
            activity["dependsOn"] = [{"activity": depends_on[name], "dependencyConditions": ["Succeeded"]}]
        found.append(activity)
    return found


def test_the_palette_offers_every_activity_the_engine_runs(editor, seeded):
    assert set(BY_TYPE) == set(ACTIVITIES)
    page = text(editor.get(f"{FULL}/activities/new"))
    for entry in BY_TYPE.values():
        assert entry.label in page and f"?type={entry.type}" in editor.get(f"{FULL}/activities/new").content.decode()


def test_a_copy_added_from_the_palette_is_saved_as_adf_json_and_runs(editor, seeded):
    form = text(editor.get(f"{FULL}/activities/new?type=Copy"))
    assert (
        "Source dataset" in form
        and "Sink dataset" in form
        and 'value="Copy1"' in editor.get(f"{FULL}/activities/new?type=Copy").content.decode()
    )
    response = add(
        editor,
        FULL,
        type="Copy",
        name="CopyAgain",
        source_dataset="SourceDataset",
        sink_dataset="SinkDataset",
        after="FullCopyActivity",
    )
    assert response.status_code == 302 and response["Location"] == f"{FULL}/"
    added = activities()[-1]
    assert added["name"] == "CopyAgain" and added["type"] == "Copy"
    assert added["inputs"] == [{"referenceName": "SourceDataset", "type": "DatasetReference"}]
    assert added["outputs"] == [{"referenceName": "SinkDataset", "type": "DatasetReference"}]
    assert added["typeProperties"] == {"source": {"type": "SqliteSource"}, "sink": {"type": "DelimitedTextSink"}}
    assert added["dependsOn"] == [{"activity": "FullCopyActivity", "dependencyConditions": ["Succeeded"]}]
    assert added["policy"]["timeout"] == "0.12:00:00"
    assert AuditEntry.objects.filter(object_kind="pipeline", object_name="FullCopyPipeline").exists()
    assert "Activity CopyAgain added." in text(editor.get(f"{FULL}/"))
    editor.post(f"{FULL}/trigger", {})
    run = PipelineRun.objects.get()
    assert run.status == "Succeeded" and [a.activity_name for a in run.activity_runs.order_by("run_start")] == [
        "FullCopyActivity",
        "CopyAgain",
    ]


def untouched(form: Any) -> dict[str, Any]:
    """What a browser posts for ``form`` as the page first shows it."""
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None and getattr(field, "choices", None) and field.required:
            value = next(iter(field.choices))[0]
        if value is True:
            value = "on"
        if value not in (None, False):
            data[name] = value
    return data


def test_each_type_starts_from_settings_that_save(editor, seeded):
    make_pipeline("Variables", variables={"label": {"type": "String"}})
    for kind, extra in [
        ("Wait", {}),
        ("IfCondition", {}),
        ("ForEach", {}),
        ("SetVariable", {}),
        ("Lookup", {"source_dataset": "SourceDataset"}),
        ("Script", {"linked_service": tutorial.SOURCE_LS}),
        ("Copy", {"source_dataset": "SourceDataset", "sink_dataset": "SinkDataset"}),
        ("ChangeTrackingCopy", {"source_dataset": "SourceDataset", "sink_dataset": "SinkDataset"}),
    ]:
        form = editor.get(f"/author/pipelines/Variables/activities/new?type={kind}").context["form"]
        data = {**untouched(form), "name": f"New{kind}", **extra}
        response = editor.post("/author/pipelines/Variables/activities/new", data)
        assert response.status_code == 302, (kind, text(response)[-1500:])
    saved = {a["name"]: a for a in activities("Variables")}
    assert saved["NewWait"]["typeProperties"] == {"waitTimeInSeconds": 1}
    assert saved["NewIfCondition"]["typeProperties"] == {
        "expression": {"value": "@equals(1, 1)", "type": "Expression"},
        "ifTrueActivities": [],
        "ifFalseActivities": [],
    }
    assert saved["NewForEach"]["typeProperties"]["isSequential"] is True
    assert saved["NewSetVariable"]["typeProperties"] == {"variableName": "label", "value": ""}
    assert saved["NewLookup"]["typeProperties"] == {
        "firstRowOnly": True,
        "dataset": {"referenceName": "SourceDataset", "type": "DatasetReference"},
        "source": {"type": "SqliteSource"},
    }
    assert saved["NewScript"]["typeProperties"] == {"scripts": [{"type": "Query", "text": "SELECT 1 AS ok"}]}
    assert saved["NewScript"]["linkedServiceName"]["referenceName"] == tutorial.SOURCE_LS
    assert "source" not in saved["NewChangeTrackingCopy"]["typeProperties"]


def test_the_settings_fields_make_the_type_properties(editor, seeded):
    make_pipeline("Fields", variables={"label": {"type": "String"}})
    url = "/author/pipelines/Fields"
    cases = [
        ({"type": "Wait", "wait_seconds": "30"}, {"waitTimeInSeconds": 30}),
        (
            {"type": "SetVariable", "variable": "label", "value": "@pipeline().RunId"},
            {"variableName": "label", "value": {"value": "@pipeline().RunId", "type": "Expression"}},
        ),
        (
            {"type": "ForEach", "items": "@createArray('a')", "batch_count": "4"},
            {
                "activities": [],
                "items": {"value": "@createArray('a')", "type": "Expression"},
                "isSequential": False,
                "batchCount": 4,
            },
        ),
        (
            {"type": "Lookup", "source_dataset": "SourceDataset", "query": "SELECT max(Age) AS oldest FROM t"},
            {
                "firstRowOnly": False,
                "dataset": {"referenceName": "SourceDataset", "type": "DatasetReference"},
                "source": {"type": "SqliteSource", "query": "SELECT max(Age) AS oldest FROM t"},
            },
        ),
        (
            {"type": "SqlServerStoredProcedure", "linked_service": tutorial.SOURCE_LS, "procedure": "dbo.Touch"},
            {"storedProcedureName": "dbo.Touch", "storedProcedureParameters": {}},
        ),
        (
            {
                "type": "Script",
                "linked_service": tutorial.SOURCE_LS,
                "script_type": "NonQuery",
                "sql": "DELETE FROM x",
                "type_properties": '{"scriptBlockExecutionTimeout": "00:10:00"}',
            },
            {"scriptBlockExecutionTimeout": "00:10:00", "scripts": [{"type": "NonQuery", "text": "DELETE FROM x"}]},
        ),
    ]
    for i, (fields, expected) in enumerate(cases):
        more = {"SqlServerStoredProcedure": '{"storedProcedureParameters": {}}', "ForEach": '{"activities": []}'}
        response = add(editor, url, **{"type_properties": more.get(fields["type"], "{}"), **fields, "name": f"A{i}"})
        assert response.status_code == 302, (fields, text(response)[-1500:])
        assert activities("Fields")[-1]["typeProperties"] == expected
    page = text(add(editor, url, type="IfCondition", name="Bad", condition="equals(1, 1)"))
    assert "an expression starts with @" in page
    page = text(add(editor, url, type="IfCondition", name="Bad", condition="@equals(1, "))
    assert "expression error" in page


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"name": "FullCopyActivity"}, "already has an activity named 'FullCopyActivity'"),
        ({"name": "fullcopyactivity"}, "already has an activity named"),
        ({"name": "Bad.Name"}, "an activity name must not contain"),
        ({"name": ""}, "This field is required"),
        ({"type_properties": "{nope"}, "not valid JSON"),
        ({"type_properties": "[1]"}, "must be a JSON object"),
        ({"wait_seconds": "-5"}, "Ensure this value is greater than or equal to 0"),
        ({"wait_seconds": ""}, "This field is required"),
        ({"after": "Ghost"}, "Select a valid choice"),
        ({"after_condition": "Sometimes"}, "Select a valid choice"),
    ],
)
def test_bad_input_for_a_new_activity_is_a_form_error(editor, seeded, fields, words):
    before = activities()
    response = add(editor, FULL, **{"type": "Wait", "name": "Nap", "wait_seconds": "1", **fields})
    assert words in text(response)
    assert activities() == before


def test_a_copy_needs_its_datasets_and_an_unknown_type_goes_back_to_the_palette(editor, seeded):
    page = text(add(editor, FULL, type="Copy", name="Half", source_dataset="SourceDataset"))
    assert "This field is required" in page
    assert "Select a valid choice" in text(add(editor, FULL, type="Copy", name="X", source_dataset="Nope"))
    palette = text(editor.get(f"{FULL}/activities/new?type=Teleport"))
    assert "There is no activity type Teleport" in palette and "Copy data" in palette
    assert "There is no activity type Teleport" in text(add(editor, FULL, type="Teleport", name="X"))
    assert len(activities()) == 1


def test_dependencies_are_set_by_rows_of_activity_and_conditions(editor, seeded):
    make_pipeline("Chain", waits("A", "B", "C"))
    url = "/author/pipelines/Chain"
    page = editor.get(f"{url}/").content.decode()
    assert 'name="d2-0-activity"' in page and 'value="Skipped"' in page
    assert depends(editor, url, 2, "C", [("A", ["Succeeded", "Failed"]), ("B", ["Completed"])]).status_code == 302
    assert activities("Chain")[2]["dependsOn"] == [
        {"activity": "A", "dependencyConditions": ["Succeeded", "Failed"]},
        {"activity": "B", "dependencyConditions": ["Completed"]},
    ]
    assert "Dependencies of C saved." in text(editor.get(f"{url}/"))
    assert depends(editor, url, 2, "C", [("", [])]).status_code == 302  # "—" drops them all
    assert activities("Chain")[2]["dependsOn"] == []


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ([("C", ["Succeeded"])], "that would make a loop: A -> C -> A"),
        ([("B", ["Succeeded"])], "that would make a loop: A -> B -> C -> A"),
        ([("A", ["Succeeded"])], "Select a valid choice"),  # itself is not offered
        ([("Ghost", ["Succeeded"])], "Select a valid choice"),
        ([("B", [])], "tick at least one condition"),
        ([("B", ["Sometimes"])], "Select a valid choice"),
        ([("B", ["Succeeded"]), ("B", ["Failed"])], "B is named twice"),
    ],
)
def test_a_loop_or_an_unknown_dependency_is_a_form_error(editor, seeded, rows, words):
    make_pipeline("Loop", waits("A", "B", "C", B="C", C="A"))
    before = activities("Loop")
    page = text(depends(editor, "/author/pipelines/Loop", 0, "A", rows))
    assert words in page and "Dependencies of A" in page
    assert activities("Loop") == before


def test_removing_an_activity_others_depend_on_asks_then_drops_those_dependencies(editor, seeded):
    make_pipeline("Chain", waits("A", "B", "C", B="A", C="A"))
    url = "/author/pipelines/Chain"
    page = text(editor.post(f"{url}/activities/0/remove", {"original": "A"}))
    assert "B, C depend on A" in page and "B depends on A" in page and "Remove A and its 2 dependencies" in page
    assert [a["name"] for a in activities("Chain")] == ["A", "B", "C"]
    response = editor.post(f"{url}/activities/0/remove", {"original": "A", "drop_dependencies": "yes"})
    assert response.status_code == 302
    assert [(a["name"], a.get("dependsOn")) for a in activities("Chain")] == [("B", []), ("C", [])]
    assert "Activity A removed." in text(editor.get(f"{url}/"))
    assert editor.post(f"{url}/activities/1/remove", {"original": "C"}).status_code == 302  # nothing depends on C
    assert [a["name"] for a in activities("Chain")] == ["B"]


def test_removing_the_only_activity_leaves_an_empty_pipeline_as_adf_allows(editor, seeded):
    make_pipeline("Single", waits("A"))
    response = editor.post("/author/pipelines/Single/activities/0/remove", {"original": "A"})
    assert "Activity A removed." in text(editor.get(response["Location"]))
    assert activities("Single") == []


def test_moving_up_and_down_changes_only_the_order(editor, seeded):
    make_pipeline("Chain", waits("A", "B", "C", C="A"))
    url = "/author/pipelines/Chain"
    assert editor.post(f"{url}/activities/2/move", {"original": "C", "direction": "up"}).status_code == 302
    assert [a["name"] for a in activities("Chain")] == ["A", "C", "B"]
    editor.post(f"{url}/activities/0/move", {"original": "A", "direction": "down"})
    assert [a["name"] for a in activities("Chain")] == ["C", "A", "B"]
    assert activities("Chain")[0]["dependsOn"] == [{"activity": "A", "dependencyConditions": ["Succeeded"]}]
    editor.post(f"{url}/activities/0/move", {"original": "C", "direction": "up"})
    assert "Not moved: C is already first." in text(editor.get(f"{url}/"))
    editor.post(f"{url}/activities/0/move", {"original": "C", "direction": "sideways"})
    assert "the direction must be up or down" in text(editor.get(f"{url}/"))


@pytest.mark.parametrize("action", ["move", "remove", "depends"])
def test_a_stale_page_changes_nothing_and_says_so(editor, seeded, action):
    make_pipeline("Chain", waits("A", "B"))
    url = "/author/pipelines/Chain"
    for index, original in [(0, "B"), (7, "A"), (0, "")]:
        response = editor.post(f"{url}/activities/{index}/{action}", {"original": original, "direction": "down"})
        assert response.status_code == 302
        assert "no longer at that place" in text(editor.get(f"{url}/"))
    assert [a["name"] for a in activities("Chain")] == ["A", "B"]


def test_a_viewer_sees_the_activities_but_no_palette_or_buttons(viewer, seeded):
    page = viewer.get(f"{FULL}/").content.decode()
    assert "FullCopyActivity" in page
    for control in ("Add activity", "Remove FullCopyActivity", "/move", "Save dependencies"):
        assert control not in page
    assert viewer.get(f"{FULL}/activities/new").status_code == 403


def dataset_form(**fields: Any) -> dict[str, Any]:
    rows = fields.pop("rows", [])
    data = {
        "name": "Daily",
        "linked_service": tutorial.SINK_LS,
        "folder_path": "out",
        "file_name": "@concat(dataset().prefix, '.csv')",
        "file_format": "DelimitedText",
        "p-TOTAL_FORMS": str(len(rows)),
        "p-INITIAL_FORMS": "0",
        **fields,
    }
    for i, (name, kind, default) in enumerate(rows):
        data |= {f"p-{i}-name": name, f"p-{i}-type": kind, f"p-{i}-default": default}
    return data


def test_dataset_parameters_are_saved_as_adf_json_and_shown_again(editor, seeded):
    rows = [("prefix", "String", "day"), ("limit", "Int", "42"), ("loud", "Bool", "true"), ("", "String", "")]
    response = editor.post("/author/datasets/new/", dataset_form(rows=rows))
    assert response.status_code == 302, text(response)[-2000:]
    props = Dataset.objects.get(name="Daily").properties
    assert props["parameters"] == {
        "prefix": {"type": "String", "defaultValue": "day"},
        "limit": {"type": "Int", "defaultValue": 42},
        "loud": {"type": "Bool", "defaultValue": True},
    }
    assert props["typeProperties"]["location"]["fileName"] == {
        "value": "@concat(dataset().prefix, '.csv')",
        "type": "Expression",
    }
    page = editor.get("/author/datasets/Daily/").content.decode()
    assert 'name="p-0-name" value="prefix"' in page and 'name="p-1-default" value="42"' in page
    assert 'name="p-3-name"' in page  # one empty row to add another
    again = dataset_form(rows=[("prefix", "String", "night")], name="Daily")
    assert editor.post("/author/datasets/Daily/", again).status_code == 302
    assert Dataset.objects.get(name="Daily").properties["parameters"] == {
        "prefix": {"type": "String", "defaultValue": "night"}
    }


def test_a_table_dataset_may_take_its_table_from_a_parameter(editor, seeded):
    data = dataset_form(
        name="AnyTable",
        linked_service=tutorial.SOURCE_LS,
        table="@dataset().table",
        rows=[("table", "String", tutorial.TABLE)],
    )
    assert editor.post("/author/datasets/new/", data).status_code == 302
    props = Dataset.objects.get(name="AnyTable").properties
    assert props["typeProperties"] == {"table": {"value": "@dataset().table", "type": "Expression"}}
    assert 'value="@dataset().table"' in editor.get("/author/datasets/AnyTable/").content.decode()
    response = add(editor, FULL, type="Copy", name="CopyAny", source_dataset="AnyTable", sink_dataset="SinkDataset")
    assert response.status_code == 302
    editor.post(f"{FULL}/trigger", {})
    run = PipelineRun.objects.get()
    copied = run.activity_runs.get(activity_name="CopyAny")
    assert run.status == "Succeeded" and copied.output["rowsCopied"] == 5, copied.error


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"file_name": "@dataset().missing"}, "dataset().missing is not declared in properties.parameters"),
        ({"file_name": "@concat(dataset().prefix"}, "expression error"),
        ({"rows": [("prefix", "Int", "ten")]}, "not a Int value (e.g. 42)"),
        ({"rows": [("prefix", "Bool", "1")]}, "not a Bool value"),
        ({"rows": [("prefix", "String", ""), ("Prefix", "String", "")]}, "Prefix is declared twice"),
        ({"rows": [("bad name", "String", "")]}, "letters, digits and _ only"),
        ({"rows": [("prefix", "Secret", "")]}, "Select a valid choice"),
    ],
)
def test_bad_dataset_parameters_or_expressions_are_form_errors(editor, seeded, fields, words):
    rows = fields.pop("rows", [("prefix", "String", "x")])
    page = text(editor.post("/author/datasets/new/", dataset_form(rows=rows, **fields)))
    assert words in page
    assert not Dataset.objects.filter(name="Daily").exists()


def test_an_imported_dataset_with_an_undeclared_parameter_is_refused(editor, seeded):
    from syncjobs.adf.findings import DefinitionError
    from syncjobs.services.definitions import save_definition

    definition = json.loads(json.dumps(Dataset.objects.get(name="SinkDataset").definition))
    definition["name"] = "Studio"
    definition["properties"]["parameters"] = {"folder": {"type": "string"}}  # Studio writes the type in lower case
    definition["properties"]["typeProperties"]["location"]["folderPath"] = {
        "value": "@dataset().folder",
        "type": "Expression",
    }
    save_definition("dataset", definition)
    definition["properties"]["typeProperties"]["location"]["folderPath"]["value"] = "@dataset().other"
    with pytest.raises(DefinitionError, match="dataset\\(\\).other is not declared"):
        save_definition("dataset", definition)


@pytest.mark.parametrize(
    "url",
    [
        f"{FULL}/",
        f"{FULL}/activities/new?type=Wait",
        "/author/pipelines/new/",
        "/author/datasets/new/",
        "/author/datasets/SinkDataset/",
        f"/manage/linkedservices/{tutorial.SOURCE_LS}/",
        "/manage/triggers/new/",
        "/author/datasets/SinkDataset/actions/",
    ],
)
def test_every_editor_carries_the_unsaved_changes_guard(admin, seeded, url):
    page = admin.get(url).content.decode()
    assert "data-unsaved-guard" in page and "js/unsaved.js" in page
    assert "data-dirty" not in page  # nothing typed yet


def test_a_refused_save_comes_back_marked_unsaved(editor, seeded):
    page = editor.post(f"{FULL}/", {"definition": "{nope", "action": "save"}).content.decode()
    assert 'id="definition-form" data-unsaved-guard data-dirty' in page
    page = editor.post("/author/datasets/new/", dataset_form(file_name="@dataset().missing")).content.decode()
    assert 'id="dataset-form" data-unsaved-guard data-dirty' in page


def test_a_copy_passes_values_to_its_datasets_parameters(editor, seeded):
    data = dataset_form(name="AnyTable", linked_service=tutorial.SOURCE_LS, table="@dataset().table")
    data |= {"p-TOTAL_FORMS": "2", "p-0-name": "table", "p-0-type": "String", "p-1-name": "limit", "p-1-type": "Int"}
    data |= {"p-1-default": "5"}
    assert editor.post("/author/datasets/new/", data).status_code == 302
    form = {"type": "Copy", "name": "CopyAny", "source_dataset": "AnyTable", "sink_dataset": "SinkDataset"}
    page = text(add(editor, FULL, **form))
    assert "AnyTable needs a value for table (it has no default)" in page
    page = text(add(editor, FULL, **form, source_parameters="tabel = x"))
    assert "AnyTable has no parameter 'tabel' (it has: table, limit)" in page
    assert "line 1: write name = value" in text(add(editor, FULL, **form, source_parameters="table"))
    assert "is not a Int value" in text(add(editor, FULL, **form, source_parameters="table = t\nlimit = many"))
    assert len(activities()) == 1
    values = f"TABLE = {tutorial.TABLE}\n\nlimit = 7"
    assert add(editor, FULL, **form, source_parameters=values).status_code == 302
    assert activities()[-1]["inputs"] == [
        {"referenceName": "AnyTable", "type": "DatasetReference", "parameters": {"table": tutorial.TABLE, "limit": 7}}
    ]
    editor.post(f"{FULL}/trigger", {})
    copied = PipelineRun.objects.get().activity_runs.get(activity_name="CopyAny")
    assert copied.status == "Succeeded" and copied.output["rowsCopied"] == 5, copied.error


def test_removing_an_activity_whose_output_others_read_is_refused_with_the_reason(editor, seeded):
    url = "/author/pipelines/IncrementalCopyPipeline"
    names = [a["name"] for a in activities("IncrementalCopyPipeline")]
    index = names.index(tutorial.LOOKUP_LAST)
    page = text(editor.post(f"{url}/activities/{index}/remove", {"original": tutorial.LOOKUP_LAST}))
    assert f"IncrementalCopyActivity depends on {tutorial.LOOKUP_LAST}" in page
    confirmed = {"original": tutorial.LOOKUP_LAST, "drop_dependencies": "yes"}
    response = editor.post(f"{url}/activities/{index}/remove", confirmed)
    page = text(editor.get(response["Location"]))
    assert "Not saved:" in page and f"activity('{tutorial.LOOKUP_LAST}') names no activity in scope" in page
    assert [a["name"] for a in activities("IncrementalCopyPipeline")] == names


def test_an_empty_pipeline_is_started_by_name_without_json(editor, seeded):
    response = editor.post("/author/pipelines/new/", {"name": "Blank"})
    assert response.status_code == 302 and response["Location"] == "/author/pipelines/Blank/"
    assert Pipeline.objects.get(name="Blank").properties["activities"] == []
    assert "Add activity" in text(editor.get("/author/pipelines/Blank/"))
    for name, words in [("1Blank", "must start with a letter"), ("blank", "already exists"), ("", "required")]:
        page = editor.post("/author/pipelines/new/", {"name": name}).content.decode()
        assert words in text_of(page) and 'class="inline" data-unsaved-guard data-dirty' in page
    assert Pipeline.objects.filter(name__iexact="blank").count() == 1


def text_of(html: str) -> str:
    import html as entities
    import re

    return re.sub(r"\s+", " ", entities.unescape(html))


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("activities/0/depends", {"original": "FullCopyActivity"}),  # no management form
        ("activities/0/depends", {"original": "FullCopyActivity", "d0-TOTAL_FORMS": "x", "d0-INITIAL_FORMS": "0"}),
        ("activities/0/depends", {"original": "FullCopyActivity", "d0-TOTAL_FORMS": "5000", "d0-INITIAL_FORMS": "0"}),
        ("activities/0/move", {}),
        ("activities/99999999999/remove", {"original": "FullCopyActivity"}),
        ("activities/new", {"type": ["Wait", "Copy"], "name": "X"}),
        (
            "activities/new",
            {"type": "Copy", "name": "X", "source_dataset": "SinkDataset", "sink_dataset": "SinkDataset"},
        ),
        ("activities/new", {"type": "Wait", "name": "X" * 500, "wait_seconds": "1e9"}),
    ],
)
def test_odd_posts_are_answered_in_words_never_with_a_500(editor, seeded, path, data):
    before = activities()
    response = editor.post(f"{FULL}/{path}", data)
    assert response.status_code in (200, 302)
    assert activities() == before


def test_an_activity_whose_settings_fit_the_fields_is_edited_with_them(editor, seeded):
    make_pipeline(
        "Edits",
        waits("A")
        + [
            {
                "name": "Call",
                "type": "SqlServerStoredProcedure",
                "linkedServiceName": {"referenceName": tutorial.SOURCE_LS, "type": "LinkedServiceReference"},
                "typeProperties": {
                    "storedProcedureName": "dbo.Old",
                    "storedProcedureParameters": {"n": {"value": 1, "type": "Int32"}},
                },
            }
        ],
    )
    url = "/author/pipelines/Edits"
    page = editor.get(f"{url}/").content.decode()
    assert 'name="a0-wait_seconds"' in page and 'value="0"' in page and 'name="a0-typed" value="True"' in page
    assert 'name="a1-procedure" value="dbo.Old"' in page
    form = editor.get(f"{url}/").context["activities"][1][1]
    assert json.loads(form.initial["type_properties"]) == {
        "storedProcedureParameters": {"n": {"value": 1, "type": "Int32"}}
    }
    policy = {"a1-retry": "0", "a1-retry_interval": "30", "a1-timeout": "0.12:00:00"}
    post = {"a1-original": "Call", "a1-name": "Call", "a1-typed": "True", "a1-procedure": "dbo.New", **policy}
    post["a1-type_properties"] = form.initial["type_properties"]
    assert editor.post(f"{url}/activities/1", post).status_code == 302
    assert activities("Edits")[1]["typeProperties"] == {
        "storedProcedureName": "dbo.New",
        "storedProcedureParameters": {"n": {"value": 1, "type": "Int32"}},
    }
    page = text(editor.post(f"{url}/activities/1", {**post, "a1-procedure": ""}))
    assert "storedProcedureName" in page and "required" in page


def test_settings_the_fields_cannot_hold_stay_json(editor, seeded):
    script = {"scripts": [{"type": "Query", "text": "SELECT 1", "parameters": [{"name": "p", "value": 1}]}]}
    make_pipeline(
        "Odd",
        [
            {"name": "Pause", "type": "Wait", "typeProperties": {"waitTimeInSeconds": "@add(1, 1)"}},
            {
                "name": "Run",
                "type": "Script",
                "linkedServiceName": {"referenceName": tutorial.SOURCE_LS, "type": "LinkedServiceReference"},
                "typeProperties": script,
            },
        ],
    )
    page = editor.get("/author/pipelines/Odd/").content.decode()
    assert "wait_seconds" not in page and "a1-sql" not in page and "Settings (typeProperties JSON)" in page


def test_a_reference_passes_values_only_to_parameters_its_dataset_declares(editor, seeded):
    from syncjobs.adf.findings import DefinitionError
    from syncjobs.services.definitions import save_definition

    data = dataset_form(name="AnyTable", linked_service=tutorial.SOURCE_LS, table="@dataset().table")
    data |= {"p-TOTAL_FORMS": "1", "p-0-name": "table", "p-0-type": "String"}
    assert editor.post("/author/datasets/new/", data).status_code == 302
    copy = {
        "name": "CopyAny",
        "type": "Copy",
        "typeProperties": {"source": {"type": "SqliteSource"}, "sink": {"type": "DelimitedTextSink"}},
        "inputs": [{"referenceName": "AnyTable", "type": "DatasetReference", "parameters": {"tabel": "x"}}],
        "outputs": [{"referenceName": "SinkDataset", "type": "DatasetReference"}],
    }
    pipeline = {"name": "Refs", "properties": {"activities": [copy]}}
    with pytest.raises(DefinitionError, match="dataset 'AnyTable' has no parameter 'tabel' \\(it has: table\\)"):
        save_definition("pipeline", pipeline)
    copy["inputs"][0]["parameters"] = {}
    _, warnings = save_definition("pipeline", pipeline)
    assert [w.message for w in warnings] == ["passes no value to AnyTable's parameter 'table', which has no default"]
    copy["inputs"][0]["parameters"] = {"table": tutorial.TABLE}
    assert save_definition("pipeline", pipeline)[1] == []
