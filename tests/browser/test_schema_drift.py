"""Schema drift in real Chromium: a table paused on an added column, its diff shown, accepted by an Editor."""

from __future__ import annotations

import sqlite3

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.fixtures.portal import Portal

pytestmark = pytest.mark.browser


def run_incremental_sync(page: Page) -> None:
    """Trigger IncrementalSync from its page and wait on the run page until it succeeded."""
    page.goto("/author/pipelines/IncrementalSync/")
    page.get_by_role("button", name="Trigger now").click()
    page.get_by_role("dialog").get_by_role("button", name="OK").click()
    expect(page.locator("#live .badge").first).to_have_text("Succeeded", timeout=60_000)


def test_a_table_paused_on_an_added_column_is_accepted_and_continues(page: Page, portal: Portal):
    run_incremental_sync(page)
    ((table_id,),) = portal.query("SELECT id FROM syncjobs_watermark WHERE source_table = 'data_source_table'")
    page.goto(f"/tables/{table_id}/schema/")
    page.get_by_label("Schema drift policy").select_option("pause")
    page.get_by_role("button", name="Set").click()
    expect(page.get_by_role("status")).to_contain_text("Schema drift policy set on 1 table.")

    with sqlite3.connect(portal.files / "tutorial" / "source.sqlite3") as conn:
        conn.execute("ALTER TABLE data_source_table ADD COLUMN Email varchar(80)")
        conn.execute("UPDATE data_source_table SET Email = 'ann@example.com' WHERE PersonID = 1")
    run_incremental_sync(page)
    page.goto(f"/tables/{table_id}/schema/")
    paused = page.locator(".schema-drift .paused")
    expect(paused).to_contain_text("Paused on a schema change")
    expect(paused).to_contain_text("Added Email (varchar(80))")
    screenshot(page, "schema-drift-paused")

    page.get_by_role("button", name="Accept the change").click()
    expect(page.get_by_role("status")).to_contain_text("Accepted for data_source_table: added Email (varchar(80))")
    run_incremental_sync(page)
    page.goto(f"/tables/{table_id}/schema/")
    expect(page.locator(".schema-drift .paused")).to_have_count(0)
    history = page.locator("table").last
    expect(history).to_contain_text("added Email (varchar(80))")
    expect(history).to_contain_text("delta g0001")
    expect(page.locator("main")).to_contain_text("Email (varchar(80))")  # the columns of the last window
    screenshot(page, "schema-drift-history")
