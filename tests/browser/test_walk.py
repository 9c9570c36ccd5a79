"""Issue 4's walk in real Chromium: sign in, Manage, Author, Trigger now, watch, inspect, rerun, cancel."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.fixtures.portal import Portal

pytestmark = pytest.mark.browser


def nav(page: Page, section: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=section).click()


def create_linked_service(page: Page, kind_label: str, name: str, fields: dict[str, str]) -> None:
    nav(page, "Manage")
    page.get_by_role("link", name=kind_label, exact=True).click()
    page.get_by_label("Name", exact=True).fill(name)
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connection successful.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text(f"Linked service {name} saved.")


def test_the_operator_walk(page: Page, portal: Portal):
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("admin")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Admin")
    screenshot(page, "01-monitor-empty")

    source_db = str(portal.files / "tutorial" / "source.sqlite3")
    out = portal.files / "browser-out"
    out.mkdir()
    create_linked_service(page, "SQLite", "ShopDb", {"Database file": source_db})
    create_linked_service(page, "Folder (file system)", "Exports", {"Folder": str(out)})
    nav(page, "Manage")
    expect(page.locator("table").first).to_contain_text("ShopDb")
    screenshot(page, "02-manage")

    # A failing test says what failed.
    page.get_by_role("link", name="PostgreSQL").click()
    page.get_by_label("Server", exact=True).fill("127.0.0.1")
    page.get_by_label("Port", exact=True).fill("1")
    page.get_by_label("Database", exact=True).fill("x")
    page.get_by_label("User name", exact=True).fill("postgres")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("The connection was refused")

    # Author: a table dataset picked from the live catalogue, a file dataset, a pipeline.
    nav(page, "Author")
    page.get_by_role("link", name="New dataset").click()
    page.get_by_label("Name", exact=True).fill("People")
    page.get_by_label("Linked service").select_option("ShopDb")
    page.get_by_role("button", name="Browse tables").click()
    page.locator("tr", has_text="data_source_table").get_by_role("button", name="Use").click()
    expect(page.locator("#catalogue")).to_contain_text("eeee")
    screenshot(page, "03-dataset-preview")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Dataset People saved.")

    nav(page, "Author")
    page.get_by_role("link", name="New dataset").click()
    page.get_by_label("Name", exact=True).fill("PeopleCsv")
    page.get_by_label("Linked service").select_option("Exports")
    page.get_by_label("Folder path").fill("people")
    page.get_by_label("File name").fill("@concat('people-', pipeline().RunId, '.csv')")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Dataset PeopleCsv saved.")

    copy = {
        "name": "CopyPeople",
        "properties": {
            "activities": [
                {
                    "name": "CopyAll",
                    "type": "Copy",
                    "typeProperties": {"source": {"type": "SqliteSource"}, "sink": {"type": "DelimitedTextSink"}},
                    "inputs": [{"referenceName": "People", "type": "DatasetReference"}],
                    "outputs": [{"referenceName": "PeopleCsv", "type": "DatasetReference"}],
                }
            ]
        },
    }
    create_pipeline(page, copy)
    expect(page.get_by_role("img", name="Activity graph of CopyPeople")).to_contain_text("CopyAll")
    screenshot(page, "04-pipeline")

    # Trigger now, then watch the monitor list update without reloading.
    page.get_by_role("button", name="Trigger now").click()
    page.get_by_role("dialog").get_by_role("button", name="OK").click()
    expect(page).to_have_url(re.compile(r"/monitor/runs/[0-9a-f-]+/$"))
    run_url = page.url
    page.get_by_role("link", name="All pipeline runs").click()
    page.evaluate("window.__noReload = true")
    row = page.locator("#runs tbody tr").first
    expect(row.locator(".badge")).to_have_text("Succeeded", timeout=30_000)
    assert page.evaluate("window.__noReload") is True  # the page was never reloaded
    row.locator("details.menu > summary").click()  # the row's actions sit in its menu
    expect(row.get_by_role("button", name="Rerun", exact=True)).to_be_visible()  # the actions followed the status
    expect(row.get_by_role("button", name="Cancel")).to_be_hidden()
    screenshot(page, "05-monitor-runs")

    page.goto(run_url)
    expect(page.locator(".gantt-bar.succeeded")).to_have_count(1)
    expect(page.locator(".copy")).to_contain_text("5 rows read, 5 rows written")
    expect(page.locator(".copy .file")).to_contain_text("people/people-")
    files = list((out / "people").glob("people-*.csv"))
    assert len(files) == 1 and files[0].read_bytes().startswith(b'1,"aaaa",21\r\n')
    screenshot(page, "06-run")

    page.get_by_role("button", name="Rerun", exact=True).click()
    expect(page.get_by_text("Runs in this group")).to_be_visible()
    expect(page.locator("#live .badge").first).to_have_text("Succeeded", timeout=30_000)


def create_pipeline(page: Page, definition: dict) -> None:
    nav(page, "Author")
    page.get_by_role("link", name="New pipeline").click()
    page.get_by_label("Pipeline JSON").fill(json.dumps(definition))
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_contain_text(f"Pipeline {definition['name']} created.")


def trigger_a_wait(page: Page, name: str, seconds: int) -> None:
    """A pipeline of one Wait, triggered now; returns on its run page once the run is in progress."""
    activity = {"name": "Pause", "type": "Wait", "typeProperties": {"waitTimeInSeconds": seconds}}
    create_pipeline(page, {"name": name, "properties": {"activities": [activity]}})
    page.get_by_role("button", name="Trigger now").click()
    page.get_by_role("dialog").get_by_role("button", name="OK").click()
    expect(page.locator("#live .badge").first).to_have_text("In progress", timeout=30_000)


def test_cancel_really_stops_a_long_run(page: Page, portal: Portal):
    trigger_a_wait(page, "LongWait", 120)
    screenshot(page, "07-run-in-progress")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#live .badge").first).to_have_text("Cancelled", timeout=15_000)
    run_id = page.url.rstrip("/").rsplit("/", 1)[1]
    assert portal.status(run_id) == "Cancelled"
    activity = portal.query("SELECT status FROM syncjobs_activityrun WHERE activity_name = 'Pause'")
    assert activity == [("Cancelled",)]


def test_the_runs_list_follows_a_run_to_its_end_without_a_reload(page: Page, portal: Portal):
    trigger_a_wait(page, "ShortWait", 4)
    page.get_by_role("link", name="All pipeline runs").click()
    page.evaluate("window.__noReload = true")
    row = page.locator("#runs tbody tr").first
    expect(row.locator(".badge")).to_have_text("In progress")
    expect(row.locator(".duration")).to_have_text("—")
    expect(row.locator(".badge")).to_have_text("Succeeded", timeout=30_000)
    expect(row.locator(".duration")).to_have_text(re.compile(r"^\d\.\d s$"))  # the server's formatting
    row.locator("details.menu > summary").click()
    expect(row.get_by_role("button", name="Rerun", exact=True)).to_be_visible()
    assert page.evaluate("window.__noReload") is True
