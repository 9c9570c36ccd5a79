"""Home: runs in progress, failures of the last 24 hours, next scheduled runs, and the guide on a fresh portal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from syncjobs.access import Role
from syncjobs.models import Pipeline, Trigger
from syncjobs.services import overview
from tests.app.pages import text
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


def test_tables_and_alerts_wait_for_their_features():
    assert overview.tables_by_status() == [] and overview.open_alerts() == []


def test_signing_in_lands_on_home(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = make_user(Role.VIEWER, password=PASSWORD)
    response = Client().post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
