"""Bad input gets a 400 (API: ADF's error JSON with the field as ``target``) or a form error, never a 500.

Each case below gave a 500 before this suite existed (or was silently accepted and failed later).
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from syncjobs.models import ApiToken, Pipeline, PipelineRun
from tests.factories import make_pipeline, make_run

pytestmark = pytest.mark.django_db

NOW = timezone.now()
WINDOW = {
    "lastUpdatedAfter": (NOW - timedelta(days=1)).isoformat(),
    "lastUpdatedBefore": (NOW + timedelta(days=1)).isoformat(),
}
WAIT = '{"name": "W", "type": "Wait", "typeProperties": {"waitTimeInSeconds": %s}}'


def token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def deep(levels: int) -> str:
    return '{"properties": {"activities": [], "annotations": ' + "[" * levels + "]" * levels + "}}"


def runs_query(**changes: object) -> str:
    return json.dumps({**WINDOW, **changes})


def one_filter(operand: str, values: object, operator: str = "In") -> str:
    return runs_query(filters=[{"operand": operand, "operator": operator, "values": values}])


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser("root", password="pw-12345678")


@pytest.fixture
def api(admin):
    _, value = ApiToken.issue(admin, "tests")
    client = Client(raise_request_exception=False, headers={"Authorization": f"Bearer {value}"})
    make_pipeline("P", parameters={"n": {"type": "Int"}, "f": {"type": "Float", "defaultValue": 1.5}})
    return client


@pytest.fixture
def browser(admin):
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    return client


API_CASES = {
    "NaN in a body": ("put", "/api/pipelines/P", '{"properties": {"activities": [], "annotations": [NaN]}}', "body"),
    "Infinity in a body": ("post", "/api/pipelines/P/createRun", '{"n": 1, "f": Infinity}', "body"),
    "1e999 in a body": ("post", "/api/pipelines/P/createRun", '{"n": 1e999}', "body"),
    "1e999 as an Int parameter's text": ("post", "/api/pipelines/P/createRun", '{"n": "1e999"}', "body"),
    "NaN as a Float parameter's text": ("post", "/api/pipelines/P/createRun", '{"n": 1, "f": "NaN"}', "body"),
    "Infinity as a Float parameter's text": ("post", "/api/pipelines/P/createRun", '{"n": 1, "f": "-inf"}', "body"),
    "500-deep JSON": ("put", "/api/pipelines/P", deep(500), "body"),
    "100,000-deep JSON": ("put", "/api/pipelines/P", deep(100_000), "body"),
    "a 30-digit integer": (
        "put",
        "/api/pipelines/P",
        '{"properties": {"activities": [%s]}}' % (WAIT % ("9" * 30)),
        "body",
    ),
    "linkedServiceName as a string": (
        "put",
        "/api/datasets/D",
        '{"properties": {"type": "SqliteTable", "linkedServiceName": "Src", "typeProperties": {"table": "t"}}}',
        "properties.linkedServiceName",
    ),
    "filters as a string": ("post", "/api/queryPipelineRuns", runs_query(filters="PipelineName"), "filters"),
    "filters as an object": ("post", "/api/queryPipelineRuns", runs_query(filters={"operand": "Status"}), "filters"),
    "a filter that is not an object": ("post", "/api/queryPipelineRuns", runs_query(filters=[5]), "filters[0]"),
    "a filter operand that is a list": (
        "post",
        "/api/queryPipelineRuns",
        runs_query(filters=[{"operand": [], "operator": "In", "values": []}]),
        "filters[0].operand",
    ),
    "filter values as a string": (
        "post",
        "/api/queryPipelineRuns",
        one_filter("PipelineName", "P"),
        "filters[0].values",
    ),
    "filter values as a number": ("post", "/api/queryPipelineRuns", one_filter("Status", 5), "filters[0].values"),
    "a filter value that is an object": (
        "post",
        "/api/queryPipelineRuns",
        one_filter("Status", [{"a": 1}]),
        "filters[0].values[0]",
    ),
    "a RunGroupId that is not a UUID": (
        "post",
        "/api/queryPipelineRuns",
        one_filter("RunGroupId", ["abc"]),
        "filters[0].values[0]",
    ),
    "a RunStart that is not a date": (
        "post",
        "/api/queryPipelineRuns",
        one_filter("RunStart", ["yesterday"]),
        "filters[0].values[0]",
    ),
    "a RunStart on the 45th of the 13th month": (
        "post",
        "/api/queryPipelineRuns",
        one_filter("RunStart", ["2024-13-45T00:00:00Z"]),
        "filters[0].values[0]",
    ),
    "40,000 filter values": (
        "post",
        "/api/queryPipelineRuns",
        one_filter("PipelineName", [f"p{i}" for i in range(40_000)]),
        "filters[0].values",
    ),
    "orderBy as a string": ("post", "/api/queryPipelineRuns", runs_query(orderBy="RunStart"), "orderBy"),
    "orderBy items that are lists": (
        "post",
        "/api/queryPipelineRuns",
        runs_query(orderBy=[[None, None]]),
        "orderBy[0]",
    ),
    "an order that is neither ASC nor DESC": (
        "post",
        "/api/queryPipelineRuns",
        runs_query(orderBy=[{"orderBy": "RunStart", "order": "sideways"}]),
        "orderBy[0].order",
    ),
    "a continuation token that is not base64 JSON": (
        "post",
        "/api/queryPipelineRuns",
        runs_query(continuationToken="!!!"),
        "continuationToken",
    ),
    "a continuation token that is a number": (
        "post",
        "/api/queryPipelineRuns",
        runs_query(continuationToken=5),
        "continuationToken",
    ),
    "a continuation token with a negative offset": (
        "post",
        "/api/queryPipelineRuns",
        runs_query(continuationToken=token('{"offset": -5}')),
        "continuationToken",
    ),
    "a continuation token with a huge offset": (
        "post",
        "/api/queryPipelineRuns",
        runs_query(continuationToken=token('{"offset": 1e300}')),
        "continuationToken",
    ),
    "a continuation token holding a list": (
        "post",
        "/api/queryPipelineRuns",
        runs_query(continuationToken=token("[1]")),
        "continuationToken",
    ),
    "lastUpdatedAfter on the 45th of the 13th month": (
        "post",
        "/api/queryPipelineRuns",
        runs_query(lastUpdatedAfter="2024-13-45T00:00:00Z"),
        "lastUpdatedAfter",
    ),
    "lastUpdatedAfter before the calendar once in UTC": (
        "post",
        "/api/queryPipelineRuns",
        runs_query(lastUpdatedAfter="0001-01-01T00:00:00+05:00"),
        "lastUpdatedAfter",
    ),
    "lastUpdatedBefore as a number": (
        "post",
        "/api/queryPipelineRuns",
        runs_query(lastUpdatedBefore=5),
        "lastUpdatedBefore",
    ),
    "a SQL Server 'host,port' whose port is not a number": (
        "put",
        "/api/linkedservices/Sql",
        json.dumps(
            {
                "properties": {
                    "type": "SqlServer",
                    "typeProperties": {"server": "h,abc", "database": "d", "userName": "u"},
                }
            }
        ),
        "properties.typeProperties.server",
    ),
    "a schedule's minutes as a number": (
        "put",
        "/api/triggers/T",
        json.dumps(
            {
                "properties": {
                    "type": "ScheduleTrigger",
                    "typeProperties": {
                        "recurrence": {
                            "frequency": "Hour",
                            "interval": 1,
                            "startTime": "2026-01-01T00:00:00Z",
                            "schedule": {"minutes": 5},
                        }
                    },
                    "pipelines": [{"pipelineReference": {"referenceName": "P", "type": "PipelineReference"}}],
                }
            }
        ),
        "properties.typeProperties.recurrence.schedule.minutes",
    ),
}


@pytest.mark.parametrize("case", list(API_CASES), ids=list(API_CASES))
def test_bad_api_input_is_a_400_pointing_at_the_field(api, case):
    method, url, raw, target = API_CASES[case]
    response = getattr(api, method)(url, data=raw, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    targets = [error["target"], *(d.get("target") for d in error["details"])]
    assert any(t and t.startswith(target) for t in targets), error


def test_a_name_with_a_control_character_in_the_path_is_a_400(api):
    response = api.get("/api/pipelines/a%00b")
    assert response.status_code == 400 and response.json()["error"]["target"] == "name"


def test_bad_activity_run_queries_are_400s_too(api):
    run = make_run(Pipeline.objects.get(name="P"))
    url = f"/api/pipelineruns/{run.run_id}/queryActivityruns"
    for raw, target in [
        (
            json.dumps({"filters": [{"operand": "ActivityRunStart", "operator": "In", "values": ["2024-02-30"]}]}),
            "filters[0].values[0]",
        ),
        (json.dumps({"lastUpdatedAfter": "2024-13-01T00:00:00Z"}), "lastUpdatedAfter"),
        (json.dumps({"continuationToken": token('{"offset": -1}')}), "continuationToken"),
    ]:
        response = api.post(url, data=raw, content_type="application/json")
        assert response.status_code == 400, response.content[:300]
        assert response.json()["error"]["target"] == target


def test_good_run_queries_still_answer(api):
    make_run(Pipeline.objects.get(name="P"))
    query = {
        **WINDOW,
        "filters": [
            {"operand": "PipelineName", "operator": "Equals", "values": ["P"]},
            {"operand": "LatestOnly", "operator": "Equals", "values": ["true"]},
            {"operand": "RunStart", "operator": "NotIn", "values": ["2024-01-01T00:00:00Z"]},
        ],
        "orderBy": [{"orderBy": "RunStart", "order": "desc"}],
    }
    response = api.post("/api/queryPipelineRuns", data=json.dumps(query), content_type="application/json")
    assert response.status_code == 200, response.content
    assert [r["pipelineName"] for r in response.json()["value"]] == ["P"]


def test_a_bad_run_id_in_the_runs_lists_live_update_is_a_400_naming_ids(browser):
    run = make_run()
    response = browser.get(f"/monitor/rows?ids={run.run_id},not-a-uuid")
    assert response.status_code == 400
    assert response.content.decode().startswith("ids: must be run ids")
    row = browser.get(f"/monitor/rows?ids={run.run_id}").content.decode()
    assert f'<tr data-run-id="{run.run_id}" ' in row and 'data-active="1" data-status="Queued">' in row


@pytest.mark.parametrize(
    "query",
    [
        "range=custom&from=2024-13-45T00:00",
        "range=custom&from=2024-01-01T00:00&to=2024-02-30T25:00",
        "range=custom&from=0001-01-01T00:00:00%2B05:00",
    ],
)
def test_a_bad_custom_time_range_is_a_form_error_on_the_monitor(browser, query):
    response = browser.get(f"/monitor/?{query}")
    assert response.status_code == 400
    page = response.content.decode()
    assert "is not a real date and time" in page or "outside the calendar" in page
    assert "field-error" in page and 'aria-invalid="true"' in page


def test_a_sql_server_port_that_is_not_a_number_is_a_form_error(browser):
    form = {"kind": "SqlServer", "server": "h,abc", "database": "d", "userName": "u", "port": "1433"}
    response = browser.post("/manage/test-connection/", form)
    assert response.status_code == 200
    assert "server" in response.content.decode() and "port" in response.content.decode()
    saved = browser.post("/manage/linkedservices/new/SqlServer/", {**form, "name": "Sql", "encrypt": "mandatory"})
    assert saved.status_code == 200 and b"the port after the comma" in saved.content


def test_trigger_now_with_an_int_parameter_of_1e999_says_why(browser):
    make_pipeline("Q", parameters={"n": {"type": "Int"}})
    response = browser.post("/author/pipelines/Q/trigger", {"param_n": "1e999"}, follow=True)
    assert response.status_code == 200
    assert "Not triggered" in response.content.decode() and "parameter n" in response.content.decode()
    assert not PipelineRun.objects.exists()


def test_nan_in_the_pipeline_json_editor_is_a_finding(browser):
    make_pipeline("Q")
    text = '{"name": "Q", "properties": {"activities": [%s]}}' % (WAIT % "NaN")
    response = browser.post("/author/pipelines/Q/", {"definition": text, "action": "save"})
    assert response.status_code == 200
    assert "NaN is not a JSON number" in response.content.decode()


def test_nan_in_an_activity_form_is_a_form_error(browser):
    make_pipeline("Q")
    form = {
        "a0-original": "Pause",
        "a0-name": "Pause",
        "a0-retry": "0",
        "a0-retry_interval": "30",
        "a0-timeout": "0.12:00:00",
        "a0-type_properties": '{"waitTimeInSeconds": NaN}',
    }
    response = browser.post("/author/pipelines/Q/activities/0", form)
    assert response.status_code == 200
    assert "NaN is not a JSON number" in response.content.decode()
