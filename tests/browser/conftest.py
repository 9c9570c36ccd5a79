"""Browser tests: Debian's Chromium driven by Playwright (never a downloaded browser) against a real portal."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.fixtures.portal import ADMIN_PASSWORD, Portal

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium from /usr/bin/chromium; fails, never skips, when it is missing."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium and chromium-driver (./dev setup does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def portal(tmp_path) -> Iterator[Portal]:
    """A seeded portal with its web server and worker running."""
    installed = Portal(tmp_path)
    installed.manage("migrate", "--noinput")
    installed.manage("seed_tutorial")
    installed.start_worker()
    installed.start_web()
    yield installed
    installed.stop()


@pytest.fixture
def page(browser: Browser, portal: Portal) -> Iterator[Page]:
    """A signed-in page at laptop size."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=portal.url)
    context.set_default_timeout(15_000)
    opened = context.new_page()
    opened.goto("/monitor/")
    opened.get_by_label("User name").fill("admin")
    opened.get_by_label("Password").fill(ADMIN_PASSWORD)
    opened.get_by_role("button", name="Sign in").click()
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> None:
    """Save a screenshot as a test artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
