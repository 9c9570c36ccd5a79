"""GET /api/tables and /api/tables/<id>: each synced table's status and figures in JSON, filtered as on the page."""

from __future__ import annotations

import pytest

from syncjobs.access import Role
from syncjobs.services import table_facts
from tests.app.tables_world import build_shop
from tests.factories import bearer, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(tmp_path, settings):
    settings.CTPORTAL_TASKS_INLINE = True
    return build_shop(tmp_path)


@pytest.fixture
def token():
    return bearer(make_user(Role.VIEWER))


def by_table(answer: dict) -> dict[str, dict]:
    return {t["table"]: t for t in answer["value"]}


def test_every_table_with_its_status_and_figures(shop, client, token):
    shop.run("ShopSync")
    shop.sql("UPDATE orders SET note = 'x' WHERE id = 1")
    shop.run("ShopSync")
    shop.sql("DROP TABLE items")
    shop.run("ItemsSync")
    table_facts.schedule_refreshes()
    answer = client.get("/api/tables", headers=token).json()
    tables = by_table(answer)
    assert answer["count"] == 4 and answer["continuationToken"] is None
    assert answer["countsByStatus"] == {
        "paused": 0,
        "ct_off": 0,
        "reinitializing": 0,
        "retention_risk": 0,
        "failing": 1,
        "late": 0,
        "not_synced": 1,
        "on_time": 2,
    }
    orders = tables["orders"]
    assert orders["status"] == "on_time" and orders["statusLabel"] == "On time"
    assert orders["linkedServiceName"] == "Shop" and orders["sink"] == "Lake:shop" and orders["sinkDataset"] == "Lake"
    assert orders["lastWindow"] == {"mode": "delta", "rows": 1, "inserted": 0, "updated": 1, "deleted": 0}
    assert orders["version"] == orders["sourceVersion"] and orders["lagVersions"] == 0
    assert orders["changeTracking"] is True and orders["retentionSeconds"] == 172800
    assert orders["scheduleSeconds"] == 900 and orders["nextRun"] and orders["lastError"] is None
    assert 40 < orders["retentionHoursLeft"] <= 48
    items = tables["items"]
    assert items["status"] == "failing" and items["lastError"]["reason"] and items["lastError"]["message"]
    assert tables["notes"]["status"] == "not_synced" and tables["notes"]["lastSuccess"] is None


def test_filters_sorting_and_paging_as_on_the_page(shop, client, token):
    shop.run("ShopSync")
    assert [t["table"] for t in client.get("/api/tables?status=on_time", headers=token).json()["value"]] == [
        "customers",
        "orders",
    ]
    assert [t["table"] for t in client.get("/api/tables?name=ORD&source=shop", headers=token).json()["value"]] == [
        "orders"
    ]
    first = client.get("/api/tables?sort=-table&top=3", headers=token).json()
    assert [t["table"] for t in first["value"]] == ["orders", "notes", "items"] and first["continuationToken"] == "3"
    rest = client.get("/api/tables?sort=-table&top=3&continuationToken=3", headers=token).json()
    assert [t["table"] for t in rest["value"]] == ["customers"] and rest["continuationToken"] is None


@pytest.mark.parametrize(
    ("query", "target"),
    [
        ("status=sideways", "status"),
        ("sort=up", "sort"),
        ("top=0", "top"),
        ("top=x", "top"),
        ("continuationToken=-1", "continuationToken"),
    ],
)
def test_bad_filters_are_a_400_naming_the_field(shop, client, token, query, target):
    response = client.get(f"/api/tables?{query}", headers=token)
    assert response.status_code == 400 and response.json()["error"]["target"] == target


def test_one_table_by_id(shop, client, token):
    orders = shop.table("orders")
    answer = client.get(f"/api/tables/{orders.pk}", headers=token).json()
    assert answer["id"] == orders.pk and answer["table"] == "orders" and answer["status"] == "not_synced"
    assert client.get("/api/tables/999999", headers=token).status_code == 404
    assert client.get("/api/tables/abc", headers=token).status_code == 400


def test_a_session_works_and_no_sign_in_is_a_401(shop, client, viewer):
    assert viewer.get("/api/tables").status_code == 200
    assert client.get("/api/tables").status_code == 401
    assert client.post("/api/tables", headers=bearer(make_user(Role.ADMIN))).status_code == 405


def test_the_openapi_document_describes_the_routes(client):
    document = client.get("/api/openapi.json").json()
    listing = document["paths"]["/api/tables"]["get"]
    assert {p["name"] for p in document["paths"]["/api/tables"]["parameters"]} >= {"status", "source", "top"}
    assert set(listing["responses"]) >= {"200", "400", "401"}
    assert set(document["paths"]["/api/tables/{table_id}"]["get"]["responses"]) >= {"200", "404"}
