"""Table-level alerts from the Tables service, end to end on a real SQLite source with change tracking:
table failing (once, then again after N more failures), table late, retention risk raised before the
watermark's changes leave the source's retention, and reinitialized after the changes expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from syncjobs.access import SYSTEM
from syncjobs.models import AlertRule, Incident, SyncedTable, WatermarkWindow
from syncjobs.models.alerts import Severity
from syncjobs.services import table_facts
from syncjobs.services.alerts.evaluate import evaluate
from syncjobs.services.alerts.routing import ChannelChange, save_channel, save_rule
from tests.app.tables_world import build_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(tmp_path, settings, webhook_receiver):
    settings.CTPORTAL_TASKS_INLINE = True
    settings.CTPORTAL_ALERT_BACKOFF_MS = 10
    world = build_shop(tmp_path)
    channel = save_channel(None, ChannelChange("Hook", "webhook", url=webhook_receiver.url), SYSTEM)
    save_rule(
        AlertRule(name="Tables", min_severity=Severity.INFO, scope="table", scope_name="items"), [channel], SYSTEM
    )
    save_rule(AlertRule(name="Risk", event_kinds=["retention_risk", "reinitialized"]), [channel], SYSTEM)
    return world


def _events(receiver) -> list[tuple[str, str]]:
    return [(r.json["event"], r.json["incident"]["kind"]) for r in receiver.received]


def test_a_failing_table_notifies_once_then_again_after_n_more_failures_then_resolves(shop, webhook_receiver, settings):
    settings.CTPORTAL_ALERT_TABLE_FAILING_REPEAT = 2
    shop.run("ItemsSync")
    shop.sql("ALTER TABLE items RENAME TO items_gone")
    for _ in range(3):
        shop.run("ItemsSync")
        evaluate()
    incident = Incident.objects.get(kind="table_failing")
    assert (
        incident.count == 3
        and incident.object_name == "Shop/items -> Lake:shop"
        and incident.link.startswith("/tables/")
    )
    assert _events(webhook_receiver) == [("table_failing", "table_failing"), ("table_failing", "table_failing")]
    assert "3 times since it opened" in webhook_receiver.received[1].json["reason"]
    shop.sql("ALTER TABLE items_gone RENAME TO items")
    shop.run("ItemsSync")
    evaluate()
    assert _events(webhook_receiver)[-1] == ("resolved", "table_failing")
    assert Incident.objects.get(kind="table_failing").resolved_at is not None


def test_a_table_without_a_success_for_two_schedule_intervals_is_late(shop, settings):
    shop.run("ItemsSync")
    evaluate()
    assert not Incident.objects.filter(kind="table_late").exists()
    # The last success 20 minutes ago: late on the Tables page (15-minute schedule), not yet for alerts.
    table = SyncedTable.objects.get(table_name="items")
    SyncedTable.objects.filter(pk=table.pk).update(
        last_success_at=timezone.now() - timedelta(minutes=20), late_at=timezone.now() - timedelta(minutes=5)
    )
    evaluate()
    assert not Incident.objects.filter(kind="table_late").exists()
    SyncedTable.objects.filter(pk=table.pk).update(
        last_success_at=timezone.now() - timedelta(minutes=31), late_at=timezone.now() - timedelta(minutes=16)
    )
    evaluate()
    late = Incident.objects.get(kind="table_late")
    assert "freshness target of 30 min" in late.reason
    shop.run("ItemsSync")
    evaluate()
    late.refresh_from_db()
    assert late.resolved_at is not None


def test_retention_risk_is_raised_before_the_changes_expire_and_reinitialized_after(shop, webhook_receiver):
    shop.run("ShopSync")
    evaluate()
    assert not Incident.objects.filter(kind="retention_risk").exists()
    # The source keeps orders' changes 10 minutes: with a 15-minute schedule, they may leave it first.
    shop.sql("UPDATE _ctportal_tables SET retention_seconds = 600 WHERE table_name = 'orders'")
    table_facts.schedule_refreshes()
    evaluate()
    risk = Incident.objects.get(kind="retention_risk")
    assert risk.object_name == "Shop/orders -> Lake:shop" and risk.severity == Severity.WARNING
    assert "leave the source's retention in 0." in risk.reason and "(retention 10 min)" in risk.reason
    assert _events(webhook_receiver) == [("retention_risk", "retention_risk")]
    # Time passes, the changes expire and are cleaned up: the next copy is a full one.
    shop.sql("INSERT INTO orders (note) VALUES ('d')")
    shop.sql("UPDATE orders SET note = 'e' WHERE id = 1")
    past = timezone.now() - timedelta(minutes=20)
    WatermarkWindow.objects.update(created_at=past)
    SyncedTable.objects.update(last_success_at=past)
    source = shop.source()
    try:  # the source's cleanup, run as it would 20 minutes from now
        source.cleanup_change_tracking(now=datetime.now(UTC) + timedelta(minutes=20))
    finally:
        source.close()
    evaluate()
    assert Incident.objects.get(kind="retention_risk").severity == Severity.CRITICAL
    shop.run("ShopSync")
    evaluate()
    reinit = Incident.objects.get(kind="reinitialized")
    assert "older than the table's minimum valid version" in reinit.reason
    assert Incident.objects.get(kind="retention_risk").resolved_at is None  # retention is still 10 minutes
    assert _events(webhook_receiver) == [("retention_risk", "retention_risk"), ("reinitialized", "reinitialized")]
