"""The REST API on ADF's paths, through Django's test client against real models and runs."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import get_resolver
from django.utils import timezone

from syncjobs import tutorial
from syncjobs.access import Role
from syncjobs.models import ApiToken, PipelineRun
from tests.factories import ADF_DATA, in_file_root, make_pipeline, make_run, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client):
    """An Admin's token: every route is open to it (what each role may do is in test_access.py)."""
    _, token = ApiToken.issue(make_user(Role.ADMIN), "tests")
    return Api(client, token)


class Api:
    def __init__(self, client, token: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def call(self, method: str, url: str, data=None, status: int = 200):
        kwargs = {"content_type": "application/json", "headers": self.headers}
        if data is not None:
            kwargs["data"] = json.dumps(data)
        response = getattr(self.client, method)(url, **kwargs)
        assert response.status_code == status, response.content
        return response.json() if response.content else None


def studio(name: str) -> dict:
    return json.loads((ADF_DATA / "studio" / f"{name}.json").read_text())


def window() -> dict:
    now = timezone.now()
    return {
        "lastUpdatedAfter": (now - timedelta(days=1)).isoformat(),
        "lastUpdatedBefore": (now + timedelta(days=1)).isoformat(),
    }


def test_the_tutorials_objects_through_the_api_and_secrets_never_come_back(api):
    for collection, name in [
        ("linkedservices", "AzureKeyVaultLinkedService"),
        ("linkedservices", "AzureStorageLinkedService"),
        ("linkedservices", "AzureSQLDatabaseLinkedService"),
        ("datasets", "SourceDataset"),
        ("datasets", "SinkDataset"),
        ("datasets", "ChangeTrackingDataset"),
        ("pipelines", "FullCopyPipeline"),
        ("pipelines", "IncrementalCopyPipeline"),
    ]:
        definition = studio(name)
        if name == "AzureSQLDatabaseLinkedService":  # the studio file points its password at Key Vault
            definition["properties"]["typeProperties"] = {
                "connectionString": "Server=tcp:db.example,1433;Database=ct;User ID=u;Password=Sup3r-secret;"
            }
        answer = api.call("put", f"/api/{collection}/{name}", {"properties": definition["properties"]})
        assert answer["name"] == name and answer["id"].endswith(f"/{collection}/{name}")
    fetched = api.call("get", "/api/linkedservices/azuresqldatabaselinkedservice")
    assert "Sup3r-secret" not in json.dumps(fetched)
    assert "Sup3r-secret" not in json.dumps(api.call("get", "/api/linkedservices"))
    names = [p["name"] for p in api.call("get", "/api/pipelines")["value"]]
    assert names == ["FullCopyPipeline", "IncrementalCopyPipeline"]


def test_validation_errors_point_at_the_json_path(api):
    bad = {
        "properties": {"type": "DelimitedText", "linkedServiceName": {"referenceName": "Nope"}, "typeProperties": {}}
    }
    error = api.call("put", "/api/datasets/Broken", bad, status=400)["error"]
    assert error["code"] == "BadRequest"
    assert any(d["target"].startswith("properties.linkedServiceName") for d in error["details"])


def test_without_a_token_the_api_says_how_to_get_one(client):
    response = client.get("/api/pipelines")
    assert response.status_code == 401
    assert "create_api_token" in response.json()["error"]["message"]
    assert client.get("/api/pipelines", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_deleting_something_in_use_is_refused(api):
    api.call(
        "put",
        "/api/linkedservices/Src",
        {"properties": {"type": "Sqlite", "typeProperties": {"database": in_file_root("x.db")}}},
    )
    table = {
        "type": "SqliteTable",
        "linkedServiceName": {"referenceName": "Src", "type": "LinkedServiceReference"},
        "typeProperties": {"table": "t"},
    }
    api.call("put", "/api/datasets/T", {"properties": table})
    assert "dataset(s) T" in api.call("delete", "/api/linkedservices/Src", status=409)["error"]["message"]
    api.call("delete", "/api/datasets/T")
    api.call("delete", "/api/linkedservices/Src")
    api.call("get", "/api/linkedservices/Src", status=404)


def test_create_run_runs_and_the_monitor_api_shows_it(api, settings, tmp_path):
    settings.CTPORTAL_TASKS_INLINE = True
    for ls in tutorial.linked_services(str(tmp_path / "src.db"), str(tmp_path)):
        api.call("put", f"/api/linkedservices/{ls['name']}", ls)
    tutorial.create_source_database(tmp_path / "src.db")
    for dataset in tutorial.datasets():
        api.call("put", f"/api/datasets/{dataset['name']}", dataset)
    api.call("put", "/api/pipelines/FullCopyPipeline", tutorial.full_copy_pipeline())
    run_id = api.call("post", "/api/pipelines/FullCopyPipeline/createRun", {})["runId"]
    run = api.call("get", f"/api/pipelineruns/{run_id}")
    assert run["status"] == "Succeeded" and run["pipelineName"] == "FullCopyPipeline"
    (activity,) = api.call("post", f"/api/pipelineruns/{run_id}/queryActivityruns", window())["value"]
    assert activity["activityName"] == "FullCopyActivity" and activity["output"]["rowsCopied"] == 5
    assert activity["input"]["source"]["type"] == "SqliteSource"
    again = api.call(
        "post", f"/api/pipelines/FullCopyPipeline/createRun?referencePipelineRunId={run_id}&isRecovery=true", {}
    )
    assert api.call("get", f"/api/pipelineruns/{again['runId']}")["runGroupId"] == run_id
    error = api.call("post", "/api/pipelines/FullCopyPipeline/createRun", {"bogus": 1}, status=400)["error"]
    assert "unknown parameter" in error["message"]


def test_query_pipeline_runs_filters_orders_and_pages(api):
    pipeline, other = make_pipeline("A"), make_pipeline("B")
    start = timezone.now() - timedelta(hours=5)
    for i in range(250):
        make_run(
            pipeline if i % 5 else other,
            status="Succeeded" if i % 2 else "Failed",
            run_start=start + timedelta(seconds=i),
        )
    query = {
        **window(),
        "filters": [{"operand": "PipelineName", "operator": "Equals", "values": ["A"]}],
        "orderBy": [{"orderBy": "RunStart", "order": "ASC"}],
    }
    first = api.call("post", "/api/queryPipelineRuns", query)
    assert len(first["value"]) == 100 and first["continuationToken"]
    second = api.call("post", "/api/queryPipelineRuns", {**query, "continuationToken": first["continuationToken"]})
    assert len(second["value"]) == 100 and second["continuationToken"] is None
    starts = [r["runStart"] for r in first["value"] + second["value"]]
    assert starts == sorted(starts) and len(set(starts)) == 200
    failed = {
        **window(),
        "filters": [
            {"operand": "Status", "operator": "In", "values": ["Failed"]},
            {"operand": "PipelineName", "operator": "NotEquals", "values": ["A"]},
        ],
    }
    assert {(r["pipelineName"], r["status"]) for r in api.call("post", "/api/queryPipelineRuns", failed)["value"]} == {
        ("B", "Failed")
    }
    assert "lastUpdatedAfter" in api.call("post", "/api/queryPipelineRuns", {}, status=400)["error"]["message"]
    bad = {**window(), "filters": [{"operand": "Colour", "operator": "Equals", "values": []}]}
    error = api.call("post", "/api/queryPipelineRuns", bad, status=400)["error"]
    assert error["target"] == "filters[0].operand" and "'Colour'" in error["message"]


def test_cancel_a_queued_run(api):
    run = make_run()
    api.call("post", f"/api/pipelineruns/{run.run_id}/cancel")
    assert PipelineRun.objects.get(pk=run.pk).status == "Cancelled"
    assert "already ended" in api.call("post", f"/api/pipelineruns/{run.run_id}/cancel", status=409)["error"]["message"]
    api.call("get", "/api/pipelineruns/not-a-uuid", status=404)


def test_the_openapi_document_describes_every_api_path(client):
    document = client.get("/api/openapi.json").json()
    api_patterns = [p for p in get_resolver().url_patterns if str(p.pattern) == "api/"][0].url_patterns
    from syncjobs.api.openapi import openapi_path

    for pattern in api_patterns:
        assert openapi_path(str(pattern.pattern)) in document["paths"]
    assert "post" in document["paths"]["/api/pipelines/{name}/createRun"]
