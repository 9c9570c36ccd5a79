"""Authoring without JSON in real Chromium: activities added from the palette, a dependency picked by activity
and condition, moved, run and removed; a dataset parameter set in its form; and the unsaved-changes guard
(the browser's "Leave site?" dialog) on a dirty editor, gone once it is saved."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_walk import nav
from tests.fixtures.portal import Portal

pytestmark = pytest.mark.browser

PIPELINE = "/author/pipelines/FullCopyPipeline/"


def add_wait(page: Page, name: str, after: str, condition: str = "Succeeded") -> None:
    page.get_by_role("link", name="Add activity").click()
    page.get_by_role("link", name="Wait", exact=True).click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Runs after").select_option(after)
    page.get_by_label("When that activity").select_option(condition)
    page.get_by_role("button", name="Add activity").click()
    expect(page.get_by_role("status")).to_contain_text(f"Activity {name} added.")


def leave_by(page: Page, section: str) -> None:
    """Click a rail link without waiting for a navigation that a dismissed "Leave site?" dialog stops."""
    with page.expect_event("dialog"):
        page.get_by_role("navigation", name="Main").get_by_role("link", name=section).click(no_wait_after=True)


def order(page: Page) -> list[str]:
    return page.locator("table.activity-forms > tbody > tr[data-activity]").evaluate_all(
        "rows => rows.map(r => r.dataset.activity)"
    )


def test_activities_and_a_dependency_are_added_without_json_and_run(page: Page, portal: Portal):
    nav(page, "Author")
    page.get_by_role("link", name="FullCopyPipeline").click()
    page.get_by_role("link", name="Add activity").click()
    palette = page.get_by_role("navigation", name="Activity palette")
    for label in ("Copy data", "Change-tracking copy", "Lookup", "Script", "Stored procedure", "ForEach"):
        expect(palette).to_contain_text(label)
    screenshot(page, "author-palette")
    page.get_by_role("link", name="Wait", exact=True).click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Wait1")
    expect(page.get_by_label("Runs after")).to_have_value("FullCopyActivity")
    expect(page.get_by_label("Wait (seconds)")).to_have_value("1")
    page.get_by_label("Wait (seconds)").fill("2")
    page.get_by_label("Name", exact=True).fill("Settle")
    page.get_by_label("When that activity").select_option("Completed")
    screenshot(page, "author-new-activity")
    page.get_by_role("button", name="Add activity").click()
    expect(page.get_by_role("status")).to_contain_text("Activity Settle added.")
    expect(page.locator(".graph .edge.Completed")).to_have_count(1)

    add_wait(page, "Announce", "—")
    row = page.locator("tr[data-activity-detail='Announce']")
    row.get_by_text("Dependencies of Announce").click()
    row.get_by_label("Announce runs after").first.select_option("Settle")
    row.get_by_label("Succeeded").first.check()
    row.get_by_label("Failed").first.check()
    screenshot(page, "author-depends")
    row.get_by_role("button", name="Save dependencies").click()
    expect(page.get_by_role("status")).to_contain_text("Dependencies of Announce saved.")
    expect(page.locator("tr[data-activity='Announce'] > td").nth(3)).to_contain_text("Settle (Succeeded, Failed)")

    # A loop is refused with a message on the form, and nothing is saved.
    row = page.locator("tr[data-activity-detail='Settle']")
    row.get_by_text("Dependencies of Settle").click()
    row.get_by_label("Settle runs after").nth(1).select_option("Announce")
    row.get_by_label("Succeeded").nth(1).check()
    row.get_by_role("button", name="Save dependencies").click()
    expect(page.get_by_role("alert").filter(has_text="that would make a loop")).to_contain_text(
        "Settle -> Announce -> Settle"
    )
    page.goto(PIPELINE)

    page.get_by_role("button", name="Move Announce up").click()
    expect(page.get_by_role("status")).to_contain_text("Activity Announce moved up.")
    assert order(page) == ["FullCopyActivity", "Announce", "Settle"]

    page.get_by_role("button", name="Trigger now").click()
    page.get_by_role("dialog").get_by_role("button", name="OK").click()
    expect(page).to_have_url(re.compile(r"/monitor/runs/[0-9a-f-]+/$"))
    expect(page.locator("#live .badge").first).to_have_text("Succeeded", timeout=30_000)
    expect(page.locator(".gantt-bar.succeeded")).to_have_count(3)

    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto(PIPELINE)
    page.get_by_text("Edit Settle").click()
    page.get_by_text("Dependencies of Settle").click()
    screenshot(page, "author-pipeline-1024")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024  # no sideways scrolling at 1024 px
    page.get_by_role("button", name="Remove Settle").click()
    expect(page.locator(".dependents")).to_have_text("Announce depends on Settle")
    screenshot(page, "author-remove-confirm")
    page.get_by_role("button", name="Remove Settle and its 1 dependency").click()
    expect(page.get_by_role("status")).to_contain_text("Activity Settle removed.")
    assert order(page) == ["FullCopyActivity", "Announce"]
    stored = json.loads(portal.query("SELECT definition FROM syncjobs_pipeline WHERE name = 'FullCopyPipeline'")[0][0])
    announce = stored["properties"]["activities"][1]
    assert announce["name"] == "Announce" and announce["type"] == "Wait" and announce["dependsOn"] == []


def test_a_dataset_parameter_is_set_in_the_form(page: Page, portal: Portal):
    nav(page, "Author")
    page.get_by_role("link", name="SinkDataset").click()
    page.get_by_label("Parameter 1 name").fill("prefix")
    page.get_by_label("Parameter 1 default value").fill("day")
    page.get_by_label("File name").fill("@concat(dataset().prefix, '.csv')")
    screenshot(page, "author-dataset-parameters")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Dataset SinkDataset saved.")
    expect(page.get_by_label("Parameter 1 name")).to_have_value("prefix")
    stored = json.loads(portal.query("SELECT definition FROM syncjobs_dataset WHERE name = 'SinkDataset'")[0][0])
    assert stored["properties"]["parameters"] == {"prefix": {"type": "String", "defaultValue": "day"}}

    page.get_by_label("File name").fill("@concat(dataset().missing, '.csv')")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert", name="Findings")).to_contain_text("dataset().missing is not declared")


def test_leaving_a_dirty_editor_asks_first_and_a_saved_one_does_not(page: Page, portal: Portal):
    dialogs: list[Dialog] = []

    def stay(dialog: Dialog) -> None:
        dialogs.append(dialog)
        dialog.dismiss()

    page.goto(PIPELINE)
    page.on("dialog", stay)
    editor = page.get_by_label("Pipeline JSON")
    editor.click()
    page.keyboard.press("End")
    page.keyboard.type(" ")
    leave_by(page, "Monitor")
    assert [d.type for d in dialogs] == ["beforeunload"]
    expect(page).to_have_url(re.compile(re.escape(PIPELINE) + "$"))  # dismissed: still here, the edit kept
    screenshot(page, "author-unsaved-guard")

    page.remove_listener("dialog", stay)
    page.once("dialog", lambda dialog: dialog.accept())
    nav(page, "Monitor")
    expect(page).to_have_url(re.compile(r"/monitor/"))

    # A dataset's form: dirty, then saved, then leaving asks nothing.
    page.goto("/author/datasets/SinkDataset/")
    page.on("dialog", stay)
    page.get_by_label("Folder path").click()
    page.keyboard.type("x")
    leave_by(page, "Author")
    assert len(dialogs) == 2
    expect(page).to_have_url(re.compile(r"/author/datasets/SinkDataset/$"))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Dataset SinkDataset saved.")
    nav(page, "Author")
    expect(page).to_have_url(re.compile(r"/author/$"))
    assert len(dialogs) == 2
