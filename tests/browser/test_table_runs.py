"""A run over several tables in real Chromium: each table under its activity in the Gantt, one failing alone
("Succeeded with failed tables", named with its error), then "Retry failed tables" copying only that one."""

from __future__ import annotations

import sqlite3

import pytest
from playwright.sync_api import Page, expect

from syncjobs.engine.sources.sqlite import SqliteConfig, SqliteSource
from syncjobs.engine.types import TableName
from tests.browser.conftest import screenshot
from tests.browser.test_walk import create_pipeline
from tests.fixtures.portal import Portal

pytestmark = pytest.mark.browser
TABLES = ["orders", "customers", "invoices"]


def test_one_table_fails_alone_and_retry_failed_tables_copies_only_it(page: Page, portal: Portal):
    database = portal.files / "tutorial" / "source.sqlite3"
    source = SqliteSource(SqliteConfig(database=str(database)))
    for name in TABLES:
        source.execute(f"CREATE TABLE {name} (id int NOT NULL PRIMARY KEY, note varchar(20))")
        source.execute(f"INSERT INTO {name} VALUES (1, 'one'), (2, 'two')")
        source.enable_change_tracking(TableName(name))
    with sqlite3.connect(database) as conn:
        conn.execute("ALTER TABLE invoices RENAME TO invoices_gone")
    copy = {
        "name": "SyncTables",
        "type": "ChangeTrackingCopy",
        "typeProperties": {"tables": [{"table": t} for t in TABLES], "batchCount": 3},
        "inputs": [{"referenceName": "SourceDataset", "type": "DatasetReference"}],
        "outputs": [{"referenceName": "SinkDataset", "type": "DatasetReference"}],
    }
    create_pipeline(page, {"name": "Tables", "properties": {"activities": [copy]}})
    page.get_by_role("button", name="Trigger now").click()
    page.get_by_role("dialog").get_by_role("button", name="OK").click()
    expect(page.locator("#live .badge").first).to_have_text("Succeeded with failed tables", timeout=60_000)
    expect(page.locator(".gantt-row.child")).to_have_count(3)
    expect(page.locator(".failed-tables")).to_contain_text("invoices")
    screenshot(page, "14-run-with-a-failed-table")

    with sqlite3.connect(database) as conn:
        conn.execute("ALTER TABLE invoices_gone RENAME TO invoices")
    page.get_by_role("button", name="Retry failed tables (1)").click()
    expect(page.locator("#live .badge").first).to_have_text("Succeeded", timeout=60_000)
    expect(page.locator(".gantt-row.child")).to_have_count(1)
    expect(page.locator(".gantt-row.child")).to_contain_text("invoices")
    screenshot(page, "15-retry-failed-tables")
    copied = portal.query("SELECT source_table FROM syncjobs_watermark WHERE version IS NOT NULL ORDER BY 1")
    assert [t for (t,) in copied if t in TABLES] == ["customers", "invoices", "orders"]
