"""The Tables page in real Chromium: a shop's four tables synced by the worker, filtered, paused in bulk, and one
table's page with its charts' axes."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_walk import nav
from tests.fixtures.portal import Portal

pytestmark = pytest.mark.browser

TABLES = ("customers", "orders", "items", "notes")


def _ref(name: str, kind: str = "DatasetReference") -> dict[str, str]:
    return {"referenceName": name, "type": kind}


def shop_folder(portal: Portal) -> Path:
    """A SQLite shop in the portal's file root and, beside it, its ADF objects: one pipeline syncing four tables."""
    portal.files.mkdir(parents=True, exist_ok=True)
    database = portal.files / "shop.sqlite3"
    with sqlite3.connect(database) as conn:
        for table in TABLES:
            conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, note TEXT)")  # noqa: S608 - fixed names
            conn.executemany(f"INSERT INTO {table} (note) VALUES (?)", [("a",), ("b",)])  # noqa: S608
    conn.close()
    folder = portal.folder / "shop-factory"
    objects = {
        "linkedService/Shop.json": {"properties": {"type": "Sqlite", "typeProperties": {"database": str(database)}}},
        "linkedService/ShopLake.json": {
            "properties": {"type": "FileServer", "typeProperties": {"host": str(portal.files / "shop-lake")}}
        },
        "dataset/ShopTable.json": {
            "properties": {
                "type": "SqliteTable",
                "linkedServiceName": _ref("Shop", "LinkedServiceReference"),
                "typeProperties": {"table": "customers"},
            }
        },
        "dataset/ShopFiles.json": {
            "properties": {
                "type": "DelimitedText",
                "linkedServiceName": _ref("ShopLake", "LinkedServiceReference"),
                "typeProperties": {"location": {"type": "FileServerLocation", "folderPath": "shop"}},
            }
        },
        "pipeline/ShopSync.json": {
            "properties": {
                "activities": [
                    {
                        "name": "CopyShop",
                        "type": "ChangeTrackingCopy",
                        "typeProperties": {"tables": [{"table": t} for t in TABLES]},
                        "inputs": [_ref("ShopTable")],
                        "outputs": [_ref("ShopFiles")],
                    }
                ]
            }
        },
    }
    for name, body in objects.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"name": Path(name).stem, **body}))
    return folder


def test_filter_sync_pause_in_bulk_and_a_tables_charts(page: Page, portal: Portal):
    portal.manage("import_factory", str(shop_folder(portal)))
    for table in TABLES:
        portal.manage("change_tracking", "enable", "Shop", table)
    nav(page, "Tables")
    rows = page.locator("#tables tbody tr")
    expect(rows).to_have_count(5)  # the shop's four and the tutorial's table
    page.get_by_label("Source", exact=True).select_option("Shop")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(4)
    expect(page.locator("#tables .badge", has_text="Not synced yet")).to_have_count(4)

    page.get_by_label("Tick every table on this page").check()
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_role("status")).to_contain_text("ShopSync: run")
    for _ in range(30):  # the worker copies them: reload until every table is on time
        if page.locator("#tables .badge", has_text="On time").count() == 4:
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(page.locator("#tables .badge", has_text="On time")).to_have_count(4)
    expect(page.locator("#tables tbody tr", has_text="orders")).to_contain_text("2 full")

    page.get_by_label("Name contains", exact=True).fill("o")  # customers, orders, notes
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(3)
    page.get_by_label("Tick Shop customers").check()
    page.get_by_label("Tick Shop orders").check()
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("status")).to_contain_text("2 table(s) paused")
    expect(page.locator("#tables .badge", has_text="Paused")).to_have_count(2)
    expect(page.locator("#tables tbody tr", has_text="notes").locator(".badge")).to_have_text("On time")
    page.get_by_role("link", name=re.compile(r"^Paused")).click()
    expect(rows).to_have_count(2)
    screenshot(page, "tables-page")

    page.get_by_role("link", name="orders", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("orders")
    rows_chart = page.get_by_role("img", name=re.compile("^Rows per window"))
    expect(rows_chart.locator(".x-axis .axis-title")).to_have_text("Time (UTC)")
    expect(rows_chart.locator(".y-axis .axis-title")).to_have_text("Rows")
    assert rows_chart.locator(".x-axis .tick-label").count() == 5
    assert rows_chart.locator(".y-axis .tick-label").count() >= 2
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: 2 rows", rows_chart.locator("rect title").first.text_content() or ""
    )
    lag_chart = page.get_by_role("img", name=re.compile("^Lag over time"))
    expect(lag_chart.locator(".y-axis .axis-title")).to_contain_text("Lag (")
    expect(page.locator("table", has_text="Source type")).to_contain_text("INTEGER")
    screenshot(page, "table-detail")
