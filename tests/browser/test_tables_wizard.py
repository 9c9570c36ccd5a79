"""Issue 14's walk in real Chromium: a SQLite database of 30 tables (nine without change tracking, one
without a primary key) from nothing to scheduled syncs through the browser alone, change tracking enabled
on the way; then one run, and its files. Clicks and page loads are counted and printed."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import screenshot
from tests.fixtures.many_tables import make_sqlite_source
from tests.fixtures.portal import Portal

pytestmark = pytest.mark.browser

TABLES = 30
CLICK_BUDGET = 25


class Counted:
    """The page with its main-frame loads counted (``framenavigated``) and every click made through it."""

    def __init__(self, page: Page) -> None:
        self.page, self.clicks, self.loads = page, 0, 0
        page.on("framenavigated", self._navigated)

    def _navigated(self, frame) -> None:
        if frame == self.page.main_frame:
            self.loads += 1

    def click(self, target: Locator) -> None:
        """A click (a checkbox, radio or link included)."""
        self.clicks += 1
        target.click()

    def choose(self, select: Locator, value: str) -> None:
        """Picking an option in a select: counted as one click, as a mouse user makes it."""
        self.clicks += 1
        select.select_option(value)


def wait_for_success(portal: Portal, pipeline: str, seconds: float = 180) -> None:
    """Until a run of ``pipeline`` succeeded (the scheduled one may start beside the manual one)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        states = [
            s for (s,) in portal.query("SELECT status FROM syncjobs_pipelinerun WHERE pipeline_name = ?", pipeline)
        ]
        if "Succeeded" in states:
            return
        time.sleep(0.5)
    messages = portal.query("SELECT status, message FROM syncjobs_pipelinerun WHERE pipeline_name = ?", pipeline)
    raise AssertionError(f"no run of {pipeline} succeeded: {messages}")


def test_thirty_tables_from_nothing_to_scheduled_syncs(page: Page, portal: Portal):
    source = portal.files / "shop30.sqlite3"
    names = make_sqlite_source(source, TABLES, keyless=["t0030"], tracked=20)
    out = portal.files / "lake"
    out.mkdir()
    user = Counted(page)
    rail = page.get_by_role("navigation", name="Main")

    # The two linked services, on Manage.
    user.click(rail.get_by_role("link", name="Manage"))
    user.click(page.get_by_role("link", name="SQLite", exact=True))
    page.get_by_label("Name", exact=True).fill("Shop")
    page.get_by_label("Database file", exact=True).fill(str(source))
    user.click(page.get_by_role("button", name="Save"))
    expect(page.get_by_role("status")).to_contain_text("Linked service Shop saved.")
    user.click(rail.get_by_role("link", name="Manage"))
    user.click(page.get_by_role("link", name="Folder (file system)", exact=True))
    page.get_by_label("Name", exact=True).fill("Lake")
    page.get_by_label("Folder", exact=True).fill(str(out))
    user.click(page.get_by_role("button", name="Save"))
    expect(page.get_by_role("status")).to_contain_text("Linked service Lake saved.")

    # Add tables: the rail's Tables entry leads here (counted as the click it is).
    user.clicks += 1
    page.goto("/tables/add/")
    user.choose(page.get_by_label("Source database"), "Shop")  # lists its tables at once
    grid = page.locator("[data-grid] tbody tr")
    expect(grid).to_have_count(TABLES)
    keyless = page.locator("tr", has=page.locator("code", has_text="t0030"))
    expect(keyless).to_contain_text("no key")
    expect(keyless.locator("input")).to_have_count(0)  # shown with the reason, not selectable
    user.click(page.get_by_role("button", name="Select all matching"))
    expect(page.locator("[data-count]")).to_contain_text("29 selected")
    user.choose(page.get_by_label("Sink (where files go)"), "Lake")
    page.get_by_label("Folder", exact=True).fill("shop/{table}")
    user.click(page.get_by_label("CSV.gz"))
    page.get_by_label("Every", exact=True).fill("15")
    screenshot(page, "tables-wizard")
    user.click(page.get_by_role("button", name="Review"))

    expect(page.get_by_role("heading", level=1)).to_contain_text("29 tables of Shop to Lake")
    expect(page.locator("ol.fire-times time")).to_have_count(5)
    enable = page.get_by_label("Enable change tracking on the 9 tables without it, before creating")
    expect(enable).to_be_checked()
    screenshot(page, "tables-wizard-review")
    user.click(page.get_by_role("button", name="Create"))
    expect(page.get_by_role("status")).to_contain_text("Created pipeline SyncShop syncing 29 table(s).")
    expect(page.get_by_role("status")).to_contain_text("Change tracking enabled on 9 table(s).")
    expect(page.locator(".facts")).to_contain_text("Started")

    user.click(page.get_by_role("button", name="Run now"))
    expect(page).to_have_url(re.compile(r"/monitor/runs/"))
    wait_for_success(portal, "SyncShop")
    print(f"\ntables wizard: {TABLES} tables, {user.clicks} clicks, {user.loads} page loads")  # noqa: T201

    started = portal.query("SELECT runtime_state FROM syncjobs_trigger WHERE name = 'SyncShop_Schedule'")
    assert started == [("Started",)]
    for name in names[:-1]:
        parts = list((out / "shop" / name).rglob("part-*.csv.gz"))
        assert parts, f"no files for {name}"
    assert not (out / "shop" / "t0030").exists()
    assert user.clicks < CLICK_BUDGET, user.clicks

    # Afterwards (not counted): every keyed table is tracked now; a row's own button shows its statements first.
    page.goto("/tables/change-tracking/?source=Shop")
    expect(page.locator('[data-grid] tr[data-tracked="1"]')).to_have_count(TABLES - 1)
    screenshot(page, "tables-change-tracking")
    page.locator("tr", has=page.locator("code", has_text="t0005")).get_by_role("button", name="Disable…").click()
    expect(page.locator("pre.sql")).to_contain_text("DROP TRIGGER IF EXISTS")
    screenshot(page, "tables-change-tracking-confirm")


TIMED_CLICK = """(selector) => {
  const started = performance.now();
  document.querySelector(selector).click();
  return performance.now() - started;
}"""
TIMED_FILTER = """([selector, value]) => {
  const field = document.querySelector(selector);
  field.value = value;
  const started = performance.now();
  field.dispatchEvent(new Event("change", { bubbles: true }));
  return performance.now() - started;
}"""


def test_the_grid_stays_responsive_with_2000_tables(page: Page, portal: Portal, tmp_path):
    source = portal.files / "big.sqlite3"
    make_sqlite_source(source, 2000, keyless=["t0007"])
    folder = tmp_path / "factory" / "linkedService"
    folder.mkdir(parents=True)
    linked = {"name": "Big", "properties": {"type": "Sqlite", "typeProperties": {"database": str(source)}}}
    (folder / "Big.json").write_text(json.dumps(linked))
    portal.manage("import_factory", str(tmp_path / "factory"))

    page.goto("/tables/add/?source=Big")
    expect(page.locator("[data-grid] tbody tr")).to_have_count(2000)
    timing = json.loads(page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])"))
    select_all = page.evaluate(TIMED_CLICK, '[data-select="matching"]')
    expect(page.locator("[data-count]")).to_contain_text("1999 selected")
    keyless_only = page.evaluate(TIMED_FILTER, ['[data-filter="key"]', "0"])
    expect(page.locator("[data-count]")).to_contain_text("1 of 2000 shown")
    page.get_by_label("Has key").select_option("")
    page.get_by_label("Search").fill("t19")
    expect(page.locator("[data-count]")).to_contain_text("100 of 2000 shown")  # t1900..t1999
    print(  # noqa: T201
        f"\n2,000-table grid: first byte {timing['responseStart']:.0f} ms (a cold dev server), "
        f"ready {timing['domContentLoadedEventEnd']:.0f} ms, "
        f"select all matching {select_all:.0f} ms, a filter {keyless_only:.0f} ms"
    )
