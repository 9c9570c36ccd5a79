"""Home: runs in progress, failures of the last 24 hours, next scheduled runs, and the guide on a fresh portal."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from syncjobs.access import Role
from syncjobs.models import Incident, Pipeline, Trigger, Watermark
from syncjobs.services import overview
from syncjobs.services.alerts.evaluate import evaluate
from tests.app.pages import text
from tests.app.tables_world import build_shop
from tests.factories import PASSWORD, make_pipeline, make_run, make_user

pytestmark = pytest.mark.django_db


def test_a_fresh_portal_guides_to_the_tutorial_and_to_adding_tables(viewer, seeded):
    page = text(viewer.get("/"))
    assert "Getting started" in page and "Trigger now" in page and 'href="/tables/add/"' in page
    assert 'href="/author/pipelines/IncrementalSync/"' in page and 'href="/monitor/"' in page
    assert '<a href="/" aria-current="page">Home</a>' in page
    assert "Nothing is running." in page and "No failures." in page and "No open alerts." in page


def test_home_shows_running_runs_failures_and_the_next_scheduled_runs(operator, seeded):
    make_pipeline("Mine")
    running = make_run(Pipeline.objects.get(name="IncrementalSync"))
    running.mark_in_progress()
    failed = make_run(Pipeline.objects.get(name="FullCopyPipeline"), status="Failed", message="login failed for x")
    make_run(
        Pipeline.objects.get(name="FullCopyPipeline"), status="Failed", triggered_at=timezone.now() - timedelta(days=2)
    )
    recurrence = {"frequency": "Hour", "interval": 1, "startTime": "2026-01-01T00:30:00Z", "timeZone": "UTC"}
    pipelines = [{"pipelineReference": {"referenceName": "Mine", "type": "PipelineReference"}}]
    trigger = Trigger(
        definition={
            "name": "Hourly",
            "properties": {
                "type": "ScheduleTrigger",
                "pipelines": pipelines,
                "typeProperties": {"recurrence": recurrence},
            },
        }
    )
    trigger.save()
    trigger.start()
    page = text(operator.get("/"))
    assert "Getting started" not in page
    assert f'href="/monitor/runs/{running.run_id}/"' in page and 'data-status="InProgress"' in page
    assert 'Failed in the last 24 hours <span class="count bad">1</span>' in page
    assert f'href="/monitor/runs/{failed.run_id}/"' in page and "login failed for x" in page
    (first, *_) = overview.next_scheduled_runs()
    assert first.trigger == "Hourly" and first.at.minute == 30 and first.pipelines == ["Mine"]
    assert f'{first.at:%Y-%m-%d %H:%M:%S} UTC</time> — <a href="/manage/triggers/Hourly/">Hourly</a>: Mine' in page


def test_without_tables_or_incidents_home_says_so(viewer):
    assert overview.tables_by_status() == [] and overview.open_alerts() == []
    page = text(viewer.get("/"))
    assert "No synced tables yet." in page and "No open alerts." in page


def test_home_counts_tables_by_status_and_lists_open_alerts_newest_first(viewer, tmp_path, settings):
    settings.CTPORTAL_TASKS_INLINE = True
    shop = build_shop(tmp_path)
    shop.run("ShopSync")  # customers, orders: on time
    shop.run("ItemsSync")
    shop.sql("DROP TABLE items")
    shop.run("ItemsSync")  # items: failing; notes: not synced yet
    Watermark.objects.filter(pk=shop.table("orders").pk).update(paused=True)
    assert [(str(s), s.label, n) for s, n in overview.tables_by_status()] == [
        ("paused", "Paused", 1),
        ("failing", "Failing", 1),
        ("not_synced", "Not synced yet", 1),
        ("on_time", "On time", 1),
    ]
    evaluate()  # items failing: an incident
    late = Incident.objects.create(
        kind="table_late", severity=2, object_type="table", object_id="1", object_name="Shop/notes", reason="late"
    )
    alerts = overview.open_alerts()
    assert [a["url"] for a in alerts][0] == f"/alerts/incidents/{late.pk}/"  # newest first
    failing = Incident.objects.get(kind="table_failing")
    urls = [a["url"] for a in alerts]  # the failed run of ItemsSync opened one too
    assert f"/alerts/incidents/{failing.pk}/" in urls and len(urls) == Incident.objects.open().count() == 3
    assert [a["since"] for a in alerts] == sorted((a["since"] for a in alerts), reverse=True)
    shown = alerts[urls.index(f"/alerts/incidents/{failing.pk}/")]
    assert "items" in shown["title"] and "table failing" in shown["title"] and shown["since"] == failing.opened_at
    page = text(viewer.get("/"))
    tables = page[page.index("Tables by status") : page.index("Open alerts")]
    failing_row = re.search(r'<li><a href="/tables/\?status=failing">(.*?)</li>', tables).group(1)
    assert 'data-status="failing">Failing</span>' in failing_row and "<strong>1</strong>" in failing_row
    assert 'href="/tables/?status=paused"' in tables and 'href="/tables/?status=on_time"' in tables
    assert "late" not in tables  # no late table: not listed
    alerts_part = page[page.index("Open alerts") :]
    assert alerts_part.index(f"/alerts/incidents/{late.pk}/") < alerts_part.index(f"/alerts/incidents/{failing.pk}/")
    failing.resolved_at = timezone.now()
    failing.save()
    assert f"/alerts/incidents/{failing.pk}/" not in [a["url"] for a in overview.open_alerts()]


def test_signing_in_lands_on_home(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = make_user(Role.VIEWER, password=PASSWORD)
    response = Client().post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
