"""Alerts in real Chromium against a real portal (web server and worker): a webhook channel and a rule set up
in the forms, a failing run, and its incident on the Alerts page, delivered once to a receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_walk import create_pipeline
from tests.fixtures.portal import Portal

pytestmark = pytest.mark.browser

BROKEN = {
    "name": "BrokenReport",
    "properties": {
        "activities": [
            {
                "name": "Report",
                "type": "Script",
                "linkedServiceName": {"referenceName": "TutorialSourceDatabase", "type": "LinkedServiceReference"},
                "typeProperties": {"scripts": [{"type": "Query", "text": "SELECT * FROM no_such_table"}]},
            }
        ]
    },
}


@pytest.fixture
def portal(tmp_path) -> Iterator[Portal]:
    """The seeded portal, allowed to send webhooks to loopback (where the test's receiver listens)."""
    installed = Portal(tmp_path)
    installed.env["CTPORTAL_ALERT_ALLOW_PRIVATE_TARGETS"] = "true"
    installed.manage("migrate", "--noinput")
    installed.manage("seed_tutorial")
    installed.start_worker()
    installed.start_web()
    yield installed
    installed.stop()


def test_a_webhook_channel_and_rule_made_in_the_browser_get_the_incident_once(page: Page, webhook_receiver):
    page.goto("/alerts/")
    expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
    page.get_by_role("navigation", name="Alerts").get_by_role("link", name="Channels").click()
    page.get_by_label("Name", exact=True).fill("Ops hook")
    page.get_by_label("Kind").select_option("webhook")
    page.get_by_label("Webhook URL").fill(webhook_receiver.url)
    page.get_by_label("Signing secret").fill("browser-signing-secret")
    page.get_by_role("button", name="Create channel").click()
    expect(page.get_by_role("status")).to_contain_text("Channel Ops hook created.")
    expect(page.locator("body")).not_to_contain_text("ctportal-token-abc123")  # the URL's token is never shown
    page.get_by_role("button", name="Send test to Ops hook").click()
    expect(page.get_by_role("status")).to_contain_text("Test to Ops hook: sent: HTTP 200: ok")

    page.get_by_role("navigation", name="Alerts").get_by_role("link", name="Rules").click()
    page.get_by_label("Name", exact=True).fill("Failures")
    page.get_by_label("run failed").check()
    page.get_by_label("At least").select_option("error")
    page.get_by_label("Ops hook").check()
    page.get_by_role("button", name="Create rule").click()
    expect(page.get_by_role("status")).to_contain_text("Rule Failures created.")

    create_pipeline(page, BROKEN)
    page.get_by_role("button", name="Trigger now").click()
    page.get_by_role("dialog").get_by_role("button", name="OK").click()
    expect(page.locator("#live .badge").first).to_have_text("Failed", timeout=30_000)

    page.goto("/alerts/")
    page.get_by_role("button", name="Check now").click()
    row = page.locator("tr", has_text="BrokenReport")
    expect(row).to_contain_text("run failed")
    expect(row).to_contain_text("no such table")
    screenshot(page, "alerts")
    page.get_by_role("button", name="Check now").click()  # evaluated again: nothing sent twice
    events = [r.json["event"] for r in webhook_receiver.received]
    assert events == ["test", "run_failed"], events
