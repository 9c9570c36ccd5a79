"""Alerts joined to tables, end to end on a real SQLite source with change tracking and a webhook receiver on
loopback: schema changed under *pause* and *continue*; each table's open incidents on the Tables page, its
own page and in /api/tables; its pace (freshness target, retention horizon) set in bulk and honoured by
the Tables page's statuses and by the evaluator; the rail's Alerts link with its count."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from syncjobs.access import SYSTEM, Role
from syncjobs.models import AlertRule, AuditEntry, Incident, SyncedTable
from syncjobs.models.alerts import Severity
from syncjobs.services import table_discovery, table_facts
from syncjobs.services.alerts.evaluate import evaluate
from syncjobs.services.alerts.routing import ChannelChange, save_channel, save_rule
from tests.app.pages import text
from tests.app.tables_world import build_shop
from tests.factories import bearer, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(tmp_path, settings, webhook_receiver):
    settings.CTPORTAL_TASKS_INLINE = True
    settings.CTPORTAL_ALERT_BACKOFF_MS = 10
    world = build_shop(tmp_path)
    channel = save_channel(None, ChannelChange("Hook", "webhook", url=webhook_receiver.url), SYSTEM)
    save_rule(AlertRule(name="Everything", min_severity=Severity.INFO), [channel], SYSTEM)
    return world


def _events(receiver) -> list[tuple[str, str]]:
    return [(r.json["event"], r.json["incident"]["kind"]) for r in receiver.received]


def _add_email(shop) -> None:
    shop.sql("ALTER TABLE items ADD COLUMN email TEXT")
    shop.sql("UPDATE items SET email = 'ann@example.com' WHERE id = 1")


def _row(page: str, table: str) -> str:
    found = re.search(rf'<tr data-table-id="\d+">(?:(?!</tr>).)*?>{table}</a>.*?</tr>', page)
    assert found, f"no row for {table}"
    return found.group(0)


def test_a_column_added_under_pause_opens_an_error_incident_until_an_editor_accepts(shop, webhook_receiver, editor):
    shop.run("ItemsSync")
    evaluate()
    items = shop.table("items")
    assert editor.post("/tables/schema/policy", {"watermark": [items.pk], "policy": "pause"}).status_code == 302
    _add_email(shop)
    for _ in range(2):  # paused twice on the same change: one incident, one notification
        shop.run("ItemsSync")
        evaluate()
    incident = Incident.objects.get(kind="schema_changed")
    assert incident.severity == Severity.ERROR and incident.object_id == str(items.pk)
    assert "email" in incident.reason and "paused until an Editor accepts it" in incident.reason
    assert _events(webhook_receiver) == [("schema_changed", "schema_changed")]

    # Seen on the Tables page (a badge linking to it), the table's page and the API, with the rail's count.
    page = text(editor.get("/tables/"))
    assert f'href="/alerts/incidents/{incident.pk}/"' in _row(page, "items") and "schema changed" in _row(page, "items")
    assert f'href="/alerts/incidents/{incident.pk}/"' not in _row(page, "orders")
    assert re.search(r">Alerts <span [^>]*>1</span>", page)
    detail = text(editor.get(f"/tables/{items.pk}/"))
    assert f"#{incident.pk} schema changed" in detail and "error" in detail
    answer = editor.get(f"/api/tables/{items.pk}", headers=bearer(make_user(Role.VIEWER))).json()
    assert answer["incidents"] == [
        {
            "id": incident.pk,
            "kind": "schema_changed",
            "severity": "error",
            "reason": incident.reason,
            "since": incident.opened_at.isoformat(),
            "url": f"/alerts/incidents/{incident.pk}/",
        }
    ]
    listed = {t["table"]: t for t in editor.get("/api/tables", headers=bearer(make_user(Role.VIEWER))).json()["value"]}
    assert [i["id"] for i in listed["items"]["incidents"]] == [incident.pk] and listed["orders"]["incidents"] == []

    assert editor.post(f"/tables/{items.pk}/schema/accept").status_code == 302
    evaluate()
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    assert _events(webhook_receiver) == [("schema_changed", "schema_changed"), ("resolved", "schema_changed")]
    assert webhook_receiver.received[1].json["reason"] == "an Editor accepted the schema change"
    shop.run("ItemsSync")  # the accepted change is carried: nothing more to say
    evaluate()
    assert len(webhook_receiver.received) == 2 and not Incident.objects.open().exists()
    page = text(editor.get("/tables/"))
    assert "/alerts/incidents/" not in _row(page, "items") and not re.search(r">Alerts <span", page)
    detail = text(editor.get(f"/tables/{items.pk}/"))
    assert f"#{incident.pk} schema changed" in detail and "resolved" in detail  # recent incidents stay listed


def test_a_column_added_under_continue_opens_a_warning_that_the_next_window_resolves(shop, webhook_receiver, editor):
    shop.run("ItemsSync")
    items = shop.table("items")
    assert editor.post("/tables/schema/policy", {"watermark": [items.pk], "policy": "continue"}).status_code == 302
    _add_email(shop)
    shop.run("ItemsSync")
    evaluate()
    incident = Incident.objects.get(kind="schema_changed")
    assert incident.severity == Severity.WARNING and "continued (policy continue)" in incident.reason
    evaluate()
    assert _events(webhook_receiver) == [("schema_changed", "schema_changed")]
    shop.run("ItemsSync")
    evaluate()
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    assert _events(webhook_receiver) == [("schema_changed", "schema_changed"), ("resolved", "schema_changed")]


def _status(client, table: str) -> str:
    return re.search(r'data-status="(\w+)"', _row(text(client.get("/tables/")), table)).group(1)


def test_a_freshness_target_set_in_bulk_makes_page_and_alert_agree(shop, editor, webhook_receiver):
    shop.run("ShopSync")
    evaluate()
    SyncedTable.objects.update(last_success_at=timezone.now() - timedelta(minutes=40))
    # The whole filter (name contains "o": customers, orders, notes), freshness target 60 minutes.
    answer = editor.post(
        "/tables/actions/pace",
        {"scope": "filter", "name": "o", "freshness_minutes": "60", "horizon_hours": "", "next": "/tables/"},
        follow=True,
    )
    assert "pace set on 3 table(s): freshness target 60 min" in text(answer)
    assert {t.table_name: t.freshness_target for t in SyncedTable.objects.all()} == {
        "customers": timedelta(minutes=60),
        "orders": timedelta(minutes=60),
        "notes": timedelta(minutes=60),
        "items": None,
    }
    entry = AuditEntry.objects.get(action="set_pace")
    assert entry.object_name == "3 tables" and entry.detail["freshness_minutes"] == "60"
    # The schedules read again (a trigger saved) keep the target: late 60 minutes after the last success.
    table_discovery.refresh_schedules()
    orders, items = shop.table("orders"), shop.table("items")
    assert orders.late_at == orders.last_success_at + timedelta(minutes=60)
    assert items.late_at == items.last_success_at + timedelta(minutes=15)
    # 40 minutes without a success: not late against a 60-minute target, on the page or for alerts.
    assert _status(editor, "orders") == "on_time" and _status(editor, "items") == "late"
    evaluate()  # items (no target: two 15-minute intervals) is late for alerts too; orders is not
    assert [i.object_name for i in Incident.objects.filter(kind="table_late")] == ["Shop/items -> Lake:shop"]
    # 61 minutes: late on the page and for the alert at once (one rule), reason naming the target.
    SyncedTable.objects.filter(table_name="orders").update(last_success_at=timezone.now() - timedelta(minutes=61))
    editor.post("/tables/actions/pace", {"ids": [shop.table("orders").pk], "freshness_minutes": "60"})
    assert _status(editor, "orders") == "late"
    evaluate()
    late = Incident.objects.get(kind="table_late", object_id=str(shop.table("orders").pk))
    assert "freshness target of 1 h" in late.reason
    detail = text(editor.get(f"/tables/{shop.table('orders').pk}/"))
    assert "freshness target 60 min ·" in detail
    # Back to the default: two 15-minute intervals for the alert; 61 minutes is still late.
    editor.post("/tables/actions/pace", {"ids": [shop.table("orders").pk], "freshness_minutes": "default"})
    assert shop.table("orders").freshness_target is None
    assert "freshness target 30 min (default: 2 schedule intervals" in text(
        editor.get(f"/tables/{shop.table('orders').pk}/")
    )


def test_a_retention_horizon_set_on_a_table_puts_it_at_risk_on_the_page_and_for_alerts(shop, editor):
    shop.run("ShopSync")
    table_facts.schedule_refreshes()  # retention 2 days: 12 hours' default horizon
    evaluate()
    orders = shop.table("orders")
    assert _status(editor, "orders") == "on_time" and not Incident.objects.filter(kind="retention_risk").exists()
    # A horizon of 48 hours on a 2-day retention: at risk at once.
    done = editor.post("/tables/actions/pace", {"ids": [orders.pk], "horizon_hours": "48", "next": "/tables/"})
    assert done.status_code == 302
    assert _status(editor, "orders") == "retention_risk" and _status(editor, "customers") == "on_time"
    evaluate()
    risk = Incident.objects.get(kind="retention_risk")
    assert risk.object_id == str(orders.pk) and risk.severity == Severity.WARNING
    assert "retention horizon 48 h" in text(editor.get(f"/tables/{orders.pk}/"))
    api = editor.get(f"/api/tables/{orders.pk}", headers=bearer(make_user(Role.VIEWER))).json()
    assert api["pace"]["retentionHorizonHours"] == 48 and api["pace"]["retentionHorizonSet"] is True
    assert [i["kind"] for i in api["incidents"]] == ["retention_risk"]
    # The facts and the schedules read again keep the horizon set; back to the default, the risk clears.
    table_facts.schedule_refreshes()
    assert _status(editor, "orders") == "retention_risk"
    table_discovery.refresh_schedules()
    assert _status(editor, "orders") == "retention_risk" and _status(editor, "customers") == "on_time"
    assert shop.table("customers").risk_at == shop.table("customers").last_success_at + timedelta(hours=36)
    editor.post("/tables/actions/pace", {"ids": [orders.pk], "horizon_hours": "default"})
    assert _status(editor, "orders") == "on_time"
    evaluate()
    risk.refresh_from_db()
    assert risk.resolved_at is not None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"freshness_minutes": "", "horizon_hours": ""}, "give a freshness target (minutes) or a retention horizon"),
        ({"freshness_minutes": "0"}, "freshness_minutes: a whole number from 1 to 525600, or 'default'"),
        ({"horizon_hours": "-3"}, "horizon_hours: a whole number from 0 to 8760, or 'default'"),
        ({"horizon_hours": "soon"}, "horizon_hours: a whole number from 0 to 8760, or 'default'"),
    ],
)
def test_a_bad_pace_is_a_clear_400(shop, editor, data, message):
    answer = editor.post("/tables/actions/pace", {"ids": [shop.table("orders").pk], **data})
    assert answer.status_code == 400 and message in answer.content.decode()
    assert shop.table("orders").freshness_target is None


def test_an_operator_cannot_set_the_pace_and_sees_no_pace_form(shop, operator):
    assert 'name="freshness_minutes"' not in text(operator.get("/tables/"))
    answer = operator.post("/tables/actions/pace", {"ids": [shop.table("orders").pk], "freshness_minutes": "5"})
    assert answer.status_code == 403 and shop.table("orders").freshness_target is None
