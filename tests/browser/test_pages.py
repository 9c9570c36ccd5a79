"""Issue 16's pages in real Chromium: Home, a dense Monitor with 120 runs, a run page with a 10 KB error,
every page at 1024 px without sideways scrolling, and a file previewed and downloaded."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import screenshot
from tests.fixtures.portal import ADMIN_PASSWORD, Portal

pytestmark = pytest.mark.browser

SEED_RUNS = """
from datetime import timedelta
import uuid
from django.utils import timezone
from syncjobs.models import Pipeline, PipelineRun
pipeline = Pipeline.objects.get(name="IncrementalSync")
snapshot = pipeline.snapshot()
now = timezone.now()
def run(minutes, **fields):
    at = now - timedelta(minutes=minutes)
    fields = {"status": "Succeeded", "triggered_at": at, "run_start": at, "run_end": at + timedelta(seconds=3),
              "duration_ms": 3000, **fields}
    return PipelineRun.objects.create(pipeline=pipeline, pipeline_name=pipeline.name, definition=snapshot, **fields)
for i in range(118):
    failed = i % 9 == 4
    run(5 * i + 10, status="Failed" if failed else "Succeeded",
        message="Login failed for user 'sync': the password is wrong" if failed else "")
group = uuid.uuid4()
run(3, status="Failed", run_group_id=group, is_latest=False, message="the source was unreachable")
run(2, run_group_id=group, invoked_by_name="Rerun", invoked_by_type="Rerun")
"""

LONG_ERROR = """
from syncjobs.models import ActivityRun, Pipeline, PipelineRun
from django.utils import timezone
pipeline = Pipeline.objects.get(name="IncrementalCopyPipeline")
sql = "SELECT " + ",".join(f"column_with_a_long_name_{i}" for i in range(400)) + " FROM t"
message = "Operation on target IncrementalCopyActivity failed: " + "ErrorCode=SqlOperationFailed," * 350
run = PipelineRun.objects.create(pipeline=pipeline, pipeline_name=pipeline.name, definition=pipeline.snapshot(),
                                 status="Failed", run_start=timezone.now(), run_end=timezone.now(), message=message)
ActivityRun.objects.create(pipeline_run=run, activity_name="IncrementalCopyActivity", activity_type="Copy",
                           status="Failed", input={"source": {"sqlReaderQuery": sql}},
                           error={"message": message + "x" * 3000, "errorCode": "2200"})
print(run.run_id)
"""


def signed_in(browser: Browser, portal: Portal, width: int, height: int, zone: str = "UTC") -> Page:
    """A new page signed in as the admin, at ``width`` × ``height``, in the browser time zone ``zone``."""
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=portal.url, timezone_id=zone)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


@pytest.fixture
def wide(browser: Browser, portal: Portal) -> Iterator[Page]:
    page = signed_in(browser, portal, 1440, 900, zone="Europe/Paris")
    yield page
    page.context.close()


@pytest.fixture
def narrow(browser: Browser, portal: Portal) -> Iterator[Page]:
    page = signed_in(browser, portal, 1024, 768)
    yield page
    page.context.close()


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def rows_in_view(page: Page) -> int:
    """Rows of the runs list wholly inside the window, without scrolling."""
    return page.evaluate(
        """Array.from(document.querySelectorAll('#runs tbody tr[data-run-id]'))
             .filter(r => r.getBoundingClientRect().bottom <= window.innerHeight).length"""
    )


def test_home_gives_an_overview_and_a_guide_on_a_fresh_portal(wide: Page):
    expect(wide.get_by_role("heading", name="Home")).to_be_visible()
    expect(wide.get_by_role("heading", name="Getting started")).to_be_visible()
    expect(wide.get_by_role("link", name="add tables", exact=True)).to_have_attribute("href", "/tables/add/")
    expect(wide.get_by_role("heading", name=re.compile("Runs in progress"))).to_be_visible()
    expect(wide.get_by_role("heading", name=re.compile("Failed in the last 24 hours"))).to_contain_text("0")
    expect(wide.get_by_role("navigation", name="Main").get_by_role("link", name="Home")).to_have_attribute(
        "aria-current", "page"
    )
    screenshot(wide, "pages-01-home")


def test_the_monitor_shows_120_runs_densely_pages_and_labels_its_times(wide: Page, portal: Portal):
    portal.manage("shell", "-c", SEED_RUNS)
    wide.goto("/monitor/?range=all")
    expect(wide.locator("#runs tbody tr[data-run-id]")).to_have_count(50)
    assert rows_in_view(wide) >= 25, rows_in_view(wide)
    heights = wide.evaluate("Array.from(document.querySelectorAll('#runs tbody tr')).map(r => r.offsetHeight)")
    assert max(heights) <= 32, heights  # one line per run: no wrapped dates or ids
    assert page_width(wide) <= 1440
    screenshot(wide, "pages-02-monitor-1440")

    pager = wide.get_by_role("navigation", name="Pages")
    expect(pager).to_contain_text("Page 1 of 3 · 119 runs")
    pager.get_by_role("link", name="Last").click()
    expect(pager).to_contain_text("Page 3 of 3")
    expect(wide.locator("#runs tbody tr[data-run-id]")).to_have_count(19)
    pager.get_by_role("link", name="Previous").click()
    expect(pager).to_contain_text("Page 2 of 3")
    pager.get_by_role("link", name="First").click()
    expect(pager).to_contain_text("Page 1 of 3")
    wide.get_by_label("Per page").select_option("100")
    wide.get_by_role("button", name="Apply").click()
    expect(wide.locator("#runs tbody tr[data-run-id]")).to_have_count(100)
    expect(pager).to_contain_text("Page 1 of 2")

    # Times: UTC as the server renders them, then the browser's zone (Paris: UTC+1 in winter), kept on reload.
    first_start = wide.locator("#runs tbody tr[data-run-id] td.when time").first
    utc_text = first_start.inner_text()
    expect(wide.locator("#runs th [data-tz-label]").first).to_have_text("UTC")
    wide.get_by_role("button", name=re.compile("Browser zone")).click()
    expect(wide.locator("#runs th [data-tz-label]").first).to_have_text("Europe/Paris")
    assert first_start.inner_text() != utc_text
    hours = [int(re.search(r" (\d\d):", t).group(1)) for t in (utc_text, first_start.inner_text())]
    assert (hours[1] - hours[0]) % 24 in (1, 2)
    wide.reload()
    expect(wide.locator("#runs th [data-tz-label]").first).to_have_text("Europe/Paris")
    screenshot(wide, "pages-03-monitor-browser-zone")
    wide.get_by_role("button", name="UTC", exact=True).click()
    expect(wide.locator("#runs th [data-tz-label]").first).to_have_text("UTC")

    # The rerun group expands in place, and folds again.
    toggle = wide.get_by_role("button", name="+1 rerun")
    toggle.click()
    expect(wide.locator("#runs tr.in-group")).to_have_count(1)
    expect(wide.locator("#runs tr.in-group")).to_contain_text("the source was unreachable")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    screenshot(wide, "pages-04-monitor-rerun-group")
    toggle.click()
    expect(wide.locator("#runs tr.in-group")).to_have_count(0)

    # The short run id copies the whole one.
    row = wide.locator("#runs tbody tr[data-run-id]").first
    wide.context.grant_permissions(["clipboard-read", "clipboard-write"])
    row.locator("button.copy-id").click()
    expect(row.locator("button.copy-id")).to_have_class(re.compile("copied"))
    assert wide.evaluate("navigator.clipboard.readText()") == row.get_attribute("data-run-id")

    # The pipeline name leads to that pipeline's runs; the row's menu holds its actions.
    row.locator("details.menu > summary").click()
    expect(row.get_by_role("button", name="Rerun", exact=True)).to_be_visible()
    screenshot(wide, "pages-05-monitor-row-menu")
    row.get_by_role("link", name="IncrementalSync", exact=True).click()
    expect(wide).to_have_url(re.compile(r"/monitor/\?pipeline=IncrementalSync&range=all$"))


def test_new_runs_appear_without_a_reload(wide: Page, portal: Portal):
    wide.goto("/monitor/")
    expect(wide.locator("#runs tbody")).to_contain_text("No runs in this range")
    wide.evaluate("window.__noReload = true")
    portal.manage("shell", "-c", SEED_RUNS.replace("range(118)", "range(0)").replace("minutes=minutes", "seconds=0"))
    expect(wide.locator("#runs tbody tr[data-run-id]")).to_have_count(1, timeout=20_000)  # the rerun replaced its group
    expect(wide.locator("#runs tbody")).to_contain_text("+1 rerun")
    assert wide.evaluate("window.__noReload") is True
    expect(wide.get_by_role("link", name="Refresh")).to_be_visible()


def test_a_run_page_with_a_10_kb_error_fits_1024_px(narrow: Page, portal: Portal):
    run_id = portal.manage("shell", "-c", LONG_ERROR).stdout.strip().splitlines()[-1]
    narrow.goto(f"/monitor/runs/{run_id}/")
    expect(narrow.locator("pre.error.message")).to_be_visible()
    narrow.evaluate("document.querySelectorAll('details.json').forEach(d => d.open = true)")
    assert len(narrow.locator("pre.error.message").inner_text()) >= 10_000
    assert page_width(narrow) <= 1024, page_width(narrow)
    screenshot(narrow, "pages-06-run-10kb-error-1024")


PAGES_AT_1024 = [
    "/",
    "/monitor/?range=all",
    "/monitor/pipelines/IncrementalSync/",
    "/monitor/watermarks/",
    "/manage/",
    "/manage/users/",
    "/manage/tokens/",
    "/manage/audit/",
    "/manage/triggers/new/",
    "/manage/linkedservices/TutorialSourceDatabase/",
    "/author/",
    "/author/pipelines/new/",
    "/author/datasets/new/",
    "/author/pipelines/IncrementalCopyPipeline/",
    "/author/datasets/SinkDataset/",
]


def test_every_page_fits_1024_px(narrow: Page, portal: Portal):
    portal.manage("shell", "-c", SEED_RUNS.replace("range(118)", "range(30)"))
    widths = {}
    for url in PAGES_AT_1024:
        narrow.goto(url)
        widths[url] = page_width(narrow)
        name = re.sub(r"[^a-z]+", "-", url.split("?")[0].lower()).strip("-") or "home"
        screenshot(narrow, f"pages-07-1024-{name}")
    assert {url: width for url, width in widths.items() if width > 1024} == {}


def test_a_file_is_previewed_and_downloaded(wide: Page, portal: Portal):
    wide.goto("/author/pipelines/IncrementalSync/")
    wide.get_by_role("button", name="Trigger now").click()
    wide.get_by_role("dialog").get_by_role("button", name="OK").click()
    expect(wide.locator("#live .badge").first).to_have_text("Succeeded", timeout=30_000)
    link = wide.locator(".copy a.file").first
    shown = link.inner_text()
    wide.evaluate("document.querySelectorAll('details.json').forEach(d => d.open = false)")
    screenshot(wide, "pages-08-run-with-files")
    link.click()
    expect(wide.locator("table.preview tbody tr")).to_have_count(5)
    expect(wide.locator("table.preview")).to_contain_text("eeee")
    screenshot(wide, "pages-09-file-preview")
    with wide.expect_download() as info:
        wide.get_by_role("link", name="Download").click()
    downloaded = info.value
    on_disk = portal.files / "tutorial" / "output" / shown
    assert downloaded.suggested_filename == on_disk.name
    assert open(downloaded.path(), "rb").read() == on_disk.read_bytes()
