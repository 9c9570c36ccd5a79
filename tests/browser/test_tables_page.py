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
    page.set_viewport_size({"width": 1024, "height": 768})
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024  # no sideways scrolling at 1024 px

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
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot(page, "table-detail")


def test_a_failing_tables_incident_shows_on_its_row_and_the_pace_is_set_on_the_whole_filter(page: Page, portal: Portal):
    portal.manage("import_factory", str(shop_folder(portal)))
    for table in TABLES:
        portal.manage("change_tracking", "enable", "Shop", table)
    nav(page, "Tables")
    page.get_by_label("Source", exact=True).select_option("Shop")
    page.get_by_role("button", name="Apply").click()
    page.get_by_label("Tick every table on this page").check()
    page.get_by_role("button", name="Sync now").click()
    badges = page.locator("#tables tbody tr .badge[data-status]")
    for _ in range(30):  # the worker copies them
        if page.locator("#tables .badge", has_text="On time").count() == 4:
            break
        page.wait_for_timeout(1000)
        page.reload()
    with sqlite3.connect(portal.files / "shop.sqlite3") as conn:
        conn.execute("ALTER TABLE items RENAME TO items_gone")
    conn.close()
    page.get_by_label("Tick Shop items").check()
    page.get_by_role("button", name="Sync now").click()
    items = page.locator("#tables tbody tr", has_text="items")
    for _ in range(30):
        if items.locator(".badge", has_text="Failing").count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(items.locator(".badge[data-status]")).to_have_text("Failing")
    expect(badges).to_have_count(4)

    page.goto("/alerts/")
    page.get_by_role("button", name="Check now").click()
    nav(page, "Tables")
    page.get_by_label("Source", exact=True).select_option("Shop")
    page.get_by_role("button", name="Apply").click()
    incident = items.get_by_role("link", name="table failing")
    expect(incident).to_be_visible()
    expect(page.locator("#tables tbody tr", has_text="orders").locator("a.incident")).to_have_count(0)
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts")).to_contain_text(
        re.compile(r"Alerts \d")
    )

    page.get_by_label("Apply to").select_option("filter")
    page.get_by_label("Freshness target").fill("60")
    page.get_by_role("button", name="Set pace").click()
    expect(page.get_by_role("status")).to_contain_text("pace set on 4 table(s): freshness target 60 min")
    screenshot(page, "tables-incidents-pace")
    page.set_viewport_size({"width": 1024, "height": 768})
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024

    incident.click()
    expect(page.locator("main")).to_contain_text("its last attempt failed")
    page.go_back()
    page.get_by_role("link", name="items", exact=True).click()
    expect(page.locator("#pace")).to_contain_text("freshness target 60 min")
    expect(page.locator("table.incidents")).to_contain_text("table failing")
