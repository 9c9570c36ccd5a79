"""Triggers and object management in real Chromium: a schedule trigger made with the form (its next five fire
times seen before saving), started, and the pipeline it starts renamed while the trigger follows."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_walk import create_pipeline, nav
from tests.fixtures.portal import Portal

pytestmark = pytest.mark.browser

LOAD = {
    "name": "LoadOrders",
    "properties": {
        "parameters": {"label": {"type": "String"}, "batch": {"type": "Int", "defaultValue": 100}},
        "activities": [{"name": "Pause", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}],
    },
}


def test_a_trigger_made_in_the_form_follows_its_pipeline_through_a_rename(page: Page, portal: Portal):
    create_pipeline(page, LOAD)
    nav(page, "Manage")
    page.get_by_role("link", name="New schedule trigger").click()
    page.get_by_label("Name", exact=True).fill("EveryQuarterHour")
    page.get_by_label("Every").select_option("Minute")
    page.get_by_label("Interval").fill("15")
    page.get_by_label("Start time (UTC)").fill("2026-01-01T00:05")
    block = page.locator(".pipeline-block", has_text="LoadOrders")
    expect(block.get_by_label("label (String)")).to_be_hidden()  # parameters show once the pipeline is ticked
    block.get_by_label("LoadOrders").check()
    block.get_by_label("label (String)").fill("@trigger().scheduledTime")
    expect(block.get_by_label("batch (Int)")).to_have_attribute("type", "number")

    page.get_by_role("button", name="Preview").click()
    times = page.locator("#fire-times time")
    expect(times).to_have_count(5)
    shown = [times.nth(i).get_attribute("datetime") for i in range(5)]
    minutes = [int(re.search(r"T\d\d:(\d\d)", t).group(1)) for t in shown]
    assert all(m % 15 == 5 for m in minutes), shown  # every 15 minutes from :05
    screenshot(page, "10-trigger-preview")
    assert portal.query("SELECT count(*) FROM syncjobs_trigger") == [(0,)]  # a preview saves nothing

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Trigger EveryQuarterHour saved.")
    expect(page.locator("#fire-times time")).to_have_count(5)
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("status")).to_contain_text("Trigger EveryQuarterHour is Started.")
    row = page.locator("tr", has_text="EveryQuarterHour")
    expect(row.locator(".badge")).to_have_text("Started")
    screenshot(page, "11-trigger-started")

    nav(page, "Author")
    page.get_by_role("link", name="LoadOrders").click()
    expect(page.locator(".used-by")).to_contain_text("trigger EveryQuarterHour")
    page.get_by_role("link", name="Rename, clone or delete").click()
    expect(page.get_by_role("table")).to_contain_text("properties.pipelines[0].pipelineReference.referenceName")
    screenshot(page, "12-pipeline-actions")
    page.get_by_label("New name").first.fill("LoadAllOrders")
    page.get_by_role("button", name="Rename", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(
        "Pipeline LoadOrders renamed to LoadAllOrders. References updated in trigger EveryQuarterHour."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Pipeline LoadAllOrders")

    nav(page, "Manage")
    row = page.locator("tr", has_text="EveryQuarterHour")
    expect(row).to_contain_text("LoadAllOrders")
    expect(row.locator(".badge")).to_have_text("Started")
    row.get_by_role("link", name="EveryQuarterHour").click()
    block = page.locator(".pipeline-block", has_text="LoadAllOrders")
    expect(block.get_by_label("LoadAllOrders")).to_be_checked()
    expect(block.get_by_label("label (String)")).to_have_value("@trigger().scheduledTime")
    screenshot(page, "13-trigger-after-rename")
    [(definition, state)] = portal.query("SELECT definition, runtime_state FROM syncjobs_trigger")
    entry = (json.loads(definition) if isinstance(definition, str) else definition)["properties"]["pipelines"][0]
    assert entry["pipelineReference"]["referenceName"] == "LoadAllOrders" and state == "Started"
    assert entry["parameters"] == {"label": "@trigger().scheduledTime"}
