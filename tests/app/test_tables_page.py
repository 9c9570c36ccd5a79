"""The Tables page and a table's page: every synced table with a status made by real state, and the actions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from syncjobs.models import AuditEntry, PipelineRun, SchemaChange, SyncedTable, Trigger, WatermarkWindow
from syncjobs.services import table_facts
from syncjobs.services.definitions import save_definition
from tests.app.pages import text
from tests.app.tables_world import build_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(tmp_path, settings):
    settings.CTPORTAL_TASKS_INLINE = True
    return build_shop(tmp_path)


def row(page: str, table: str) -> str:
    """The text of one table's row on the Tables page."""
    found = re.search(rf'<tr data-table-id="\d+">(?:(?!</tr>).)*?>{table}</a>.*?</tr>', page)
    assert found, f"no row for {table}"
    return found.group(0)


def status_of(page: str, table: str) -> str:
    return re.search(r'data-status="(\w+)"', row(page, table)).group(1)


def test_every_table_a_change_tracking_copy_names_is_listed_once(shop, viewer):
    page = text(viewer.get("/tables/"))
    assert [SyncedTable.objects.get(pk=int(i)).table_name for i in re.findall(r'data-table-id="(\d+)"', page)] == [
        "customers",
        "items",
        "notes",
        "orders",
    ]
    assert "Shop → Lake:shop" in row(page, "orders") and "every 15 min" not in page
    assert "Page 1 of 1 · 4 tables" in page
    second = {
        "name": "CustomersAgain",
        "properties": {"activities": [{**_copy_customers(), "name": "Again"}]},
    }
    save_definition("pipeline", second)
    assert SyncedTable.objects.count() == 4 and shop.table("customers").bindings.count() == 2
    detail = text(viewer.get(f"/tables/{shop.table('customers').pk}/"))
    assert "CustomersAgain</a>/Again" in detail and "ShopSync</a>/CopyShop" in detail


def _copy_customers() -> dict:
    return {
        "type": "ChangeTrackingCopy",
        "typeProperties": {"tables": [{"table": "customers"}]},
        "inputs": [{"referenceName": "Customers", "type": "DatasetReference"}],
        "outputs": [{"referenceName": "Lake", "type": "DatasetReference"}],
    }


def test_a_deleted_pipeline_takes_its_tables_off_the_list(shop, editor):
    trigger = Trigger.objects.get(name="Every15").definition
    trigger["properties"]["pipelines"] = trigger["properties"]["pipelines"][:2]  # NotesSync no longer triggered
    save_definition("trigger", trigger)
    deleted = editor.post("/author/pipelines/NotesSync/actions/", {"action": "delete", "delete-confirm": "on"})
    assert deleted.status_code == 302
    assert not SyncedTable.objects.current().filter(table_name="notes").exists()
    assert "notes" not in text(editor.get("/tables/"))


def test_statuses_on_time_not_synced_failing_and_paused(shop, operator):
    shop.run("ShopSync")
    shop.run("ItemsSync")
    shop.sql("DROP TABLE items")
    failed = shop.run("ItemsSync")
    failed.refresh_from_db()
    assert failed.status == "Failed"
    page = text(operator.get("/tables/"))
    assert status_of(page, "customers") == "on_time" and status_of(page, "orders") == "on_time"
    assert status_of(page, "notes") == "not_synced"
    assert status_of(page, "items") == "failing"
    items = shop.table("items")
    assert items.last_error_reason and items.last_error_reason in row(page, "items")
    assert '3 <span class="muted">full</span>' in row(page, "customers")  # the full window: 3 rows
    operator.post("/tables/actions/pause", {"ids": [shop.table("orders").pk], "next": "/tables/"})
    page = text(operator.get("/tables/?status=paused"))
    assert re.findall(r'data-table-id="(\d+)"', page) == [str(shop.table("orders").pk)]
    assert "Paused</span> 1" in page and "Failing</span> 1" in page and "On time</span> 1" in page
    assert AuditEntry.objects.filter(action="pause", object_name="Shop/orders").exists()


def test_a_table_with_no_success_within_its_schedule_is_late(shop, viewer):
    shop.run("ShopSync")
    # The last success was two hours ago (the trigger fires every 15 minutes).
    WatermarkWindow.objects.update(created_at=WatermarkWindow.objects.first().created_at - timedelta(hours=2))
    page = text(viewer.get("/tables/"))
    assert status_of(page, "customers") == "late" and "2 h ago" in row(page, "customers")


def test_change_tracking_turned_off_on_the_source_shows_once_the_facts_are_read(shop, viewer, operator):
    shop.run("NotesSync")
    source = shop.source()
    try:
        from syncjobs.engine.types import TableName

        source.disable_change_tracking(TableName("notes"))
    finally:
        source.close()
    assert status_of(text(viewer.get("/tables/")), "notes") == "on_time"  # facts are not read on a page load
    done = operator.post("/tables/actions/facts", {"ids": [shop.table("notes").pk]}, follow=True)
    assert "the facts of 1 source(s) are being read" in text(done)
    page = text(viewer.get("/tables/?status=ct_off"))
    assert status_of(page, "notes") == "ct_off" and "Change tracking off</span> 1" in page
    assert shop.table("customers").change_tracking is True and shop.table("customers").retention_seconds == 2 * 86400


def test_a_short_source_retention_puts_the_table_at_retention_risk(shop, viewer):
    shop.run("ShopSync")
    # The source keeps changes for 10 minutes only; the schedule needs two 15-minute intervals to catch up.
    shop.sql("UPDATE _ctportal_tables SET retention_seconds = 600 WHERE table_name = 'orders'")
    table_facts.schedule_refreshes()
    page = text(viewer.get("/tables/"))
    assert status_of(page, "orders") == "retention_risk" and status_of(page, "customers") == "on_time"
    assert re.search(r"0\.\d h left", row(page, "orders"))
    detail = text(viewer.get(f"/tables/{shop.table('orders').pk}/"))
    assert "Retention left" in detail and "retention 0 h" in detail


def test_filters_and_sorting(shop, viewer):
    shop.run("ShopSync")
    page = text(viewer.get("/tables/?name=ord&source=shop"))
    assert re.findall(r"<a href=\"/tables/\d+/\">(\w+)</a>", page) == ["orders"]
    page = text(viewer.get("/tables/?sort=-table"))
    assert re.findall(r"<a href=\"/tables/\d+/\">(\w+)</a>", page) == ["orders", "notes", "items", "customers"]
    page = text(viewer.get("/tables/?sort=status"))  # the most urgent first: not synced before on time
    assert re.findall(r"<a href=\"/tables/\d+/\">(\w+)</a>", page) == ["items", "notes", "customers", "orders"]
    bad = viewer.get("/tables/?status=sideways&sort=nowhere")
    assert bad.status_code == 400 and "status: one of" in bad.content.decode()


def test_sync_now_copies_only_the_chosen_tables(shop, operator):
    orders = shop.table("orders")
    response = operator.post("/tables/actions/sync", {"ids": [orders.pk], "next": "/tables/"})
    assert response.status_code == 302 and response["Location"] == "/tables/"
    run = PipelineRun.objects.get()
    assert run.pipeline_name == "ShopSync" and run.table_filter == ["orders"] and run.status == "Succeeded"
    assert list(WatermarkWindow.objects.values_list("watermark__source_table", flat=True)) == ["orders"]
    page = text(operator.get("/tables/"))
    assert status_of(page, "orders") == "on_time" and status_of(page, "customers") == "not_synced"


def test_bulk_actions_apply_to_the_whole_filter(shop, operator):
    operator.post("/tables/actions/pause", {"scope": "filter", "name": "ers"})  # customers, orders
    assert sorted(SyncedTable.objects.filter(watermark__paused=True).values_list("table_name", flat=True)) == [
        "customers",
        "orders",
    ]
    response = operator.post("/tables/actions/sync", {"scope": "filter", "status": "paused"}, follow=True)
    assert "customers: paused (resume it first)" in text(response) and not PipelineRun.objects.exists()
    operator.post("/tables/actions/resume", {"scope": "filter", "status": "paused"})
    assert not SyncedTable.objects.filter(watermark__paused=True).exists()
    assert AuditEntry.objects.get(action="resume").detail["count"] == 2
    assert operator.post("/tables/actions/sync", {}).status_code == 400
    assert operator.post("/tables/actions/sync", {"ids": ["x"]}).status_code == 400
    assert operator.post("/tables/actions/explode", {"ids": [1]}).status_code == 404


def test_resync_is_confirmed_then_writes_a_new_generation(shop, editor, operator):
    shop.run("ShopSync")
    orders = shop.table("orders")
    assert operator.get(f"/tables/resync/?ids={orders.pk}").status_code == 403
    confirm = text(editor.get(f"/tables/resync/?ids={orders.pk}&next=/tables/"))
    assert "Re-sync 1 table?" in confirm and "Shop · orders → Lake:shop" in confirm
    response = editor.post("/tables/resync/", {"ids": [orders.pk], "confirm": "yes", "next": "/tables/"})
    assert response.status_code == 302
    orders = shop.table("orders")
    assert orders.watermark.generation == 2 and orders.watermark.version is not None
    assert (shop.lake / "shop" / "orders" / "g0002").is_dir()
    assert shop.table("customers").watermark.generation == 1
    entry = AuditEntry.objects.get(action="resync")
    assert entry.object_name == "Shop/orders" and entry.actor == editor.user.username


def test_verify_keeps_its_verdict_on_the_table(shop, operator, viewer):
    shop.run("ShopSync")
    orders = shop.table("orders")
    operator.post("/tables/actions/verify", {"ids": [orders.pk]})
    assert shop.table("orders").verify_exact is True
    assert "verify: exact" in row(text(viewer.get("/tables/")), "orders")
    assert "exact: source rows 3, sink rows 3" in text(viewer.get(f"/tables/{orders.pk}/"))


def test_a_viewer_sees_no_actions_and_may_not_act(shop, viewer):
    page = text(viewer.get("/tables/"))
    assert "Sync now" not in page and 'name="ids"' not in page
    assert viewer.post("/tables/actions/pause", {"ids": [shop.table("orders").pk]}).status_code == 403
    assert not SyncedTable.objects.filter(watermark__paused=True).exists()


def test_a_tables_page_shows_windows_schema_history_and_charts(shop, viewer):
    shop.run("ShopSync")
    shop.sql("UPDATE customers SET note = 'z' WHERE id = 1")
    shop.sql("DELETE FROM customers WHERE id = 2")
    shop.sql("ALTER TABLE customers ADD COLUMN email TEXT")
    shop.sql("INSERT INTO customers (note, email) VALUES ('d', 'd@example.com')")
    shop.run("ShopSync")
    customers = shop.table("customers")
    page = text(viewer.get(f"/tables/{customers.pk}/"))
    assert "1 / 1 / 1" in page and "all rows" in page  # the delta's I/U/D; a full window replaces the table
    assert "<td>email</td>" in page and "<td>id</td><td>int</td>" in page
    history = page[page.index("Schema history") : page.index("Windows")]
    assert history.count("<tr><td>") == 2 and "<td>5</td><td>email</td>" in history  # email added: 5 columns
    assert page.count('<svg class="chart"') == 2 and page.count(">Time (UTC)</text>") == 2
    assert "Rows per window" in page and "rows</title>" in page and 'class="axis y-axis"' in page
    assert viewer.get("/tables/999999/").status_code == 404


def test_one_failing_table_of_a_run_leaves_the_others_on_time(shop, viewer):
    shop.run("ShopSync")
    shop.sql("DROP TABLE orders")
    run = shop.run("ShopSync")
    run.refresh_from_db()
    assert run.failed_tables == ["orders"]
    page = text(viewer.get("/tables/"))
    assert status_of(page, "orders") == "failing" and status_of(page, "customers") == "on_time"
    orders = shop.table("orders")
    assert orders.last_run_id == run.pk and "orders" in orders.last_error_message


def test_the_portals_schedules_record_outcomes_and_read_source_facts(shop):
    from django_q.models import Schedule
    from django_q.tasks import async_task

    from syncjobs.services.schedules import TABLE_FACTS, TABLE_OUTCOMES, ensure_schedules

    ensure_schedules()
    shop.run("ShopSync")
    assert shop.table("orders").last_success_at is None  # nobody has read the run yet
    async_task(Schedule.objects.get(name=TABLE_OUTCOMES).func, sync=True)
    async_task(Schedule.objects.get(name=TABLE_FACTS).func, sync=True)
    orders = shop.table("orders")
    assert orders.last_success_at is not None and orders.last_rows == 3
    assert orders.change_tracking is True and orders.source_version == orders.watermark.version


def test_a_resync_waiting_for_its_run_shows_reinitializing(shop, editor, settings):
    shop.run("ShopSync")
    settings.CTPORTAL_TASKS_INLINE = False  # the run waits for a worker
    customers = shop.table("customers")
    editor.post("/tables/resync/", {"ids": [customers.pk], "confirm": "yes"})
    page = text(editor.get("/tables/"))
    assert status_of(page, "customers") == "reinitializing" and status_of(page, "orders") == "on_time"
    assert PipelineRun.objects.filter(status="Queued", table_filter=["customers"]).exists()


def test_a_postgresql_sources_facts_give_each_tables_own_retention(inline, pg_database, tmp_path):
    from syncjobs.engine import bindings
    from syncjobs.engine.types import TableName
    from syncjobs.models import LinkedService
    from tests.factories import make_linked_service
    from tests.fixtures.postgres import pg_connect

    with pg_connect(pg_database) as conn:
        for name in ("brief", "kept", "plain"):
            conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v text)")
    make_linked_service(
        "Pg", type="PostgreSqlV2", server=pg_database.host, port=pg_database.port, database=pg_database.database,
        username=pg_database.username, password={"type": "SecureString", "value": pg_database.password.reveal()},
    )  # fmt: skip
    source = bindings.source_for(LinkedService.objects.get(name="Pg").revealed_definition())
    try:
        source.enable_change_tracking(TableName("brief", "public"), retention_days=1)
        source.enable_change_tracking(TableName("kept", "public"), retention_days=3)
    finally:
        source.close()
    (tmp_path / "lake").mkdir()
    save_definition(
        "linkedService",
        {"name": "Lake", "properties": {"type": "FileServer", "typeProperties": {"host": str(tmp_path / "lake")}}},
    )
    ref = {"type": "LinkedServiceReference"}
    save_definition(
        "dataset",
        {
            "name": "PgTable",
            "properties": {
                "type": "PostgreSqlV2Table",
                "linkedServiceName": {**ref, "referenceName": "Pg"},
                "typeProperties": {"schema": "public", "table": "brief"},
            },
        },
    )
    save_definition(
        "dataset",
        {
            "name": "Files",
            "properties": {
                "type": "DelimitedText",
                "linkedServiceName": {**ref, "referenceName": "Lake"},
                "typeProperties": {"location": {"type": "FileServerLocation", "folderPath": "pg"}},
            },
        },
    )
    copy = {
        "name": "Copy",
        "type": "ChangeTrackingCopy",
        "typeProperties": {"tables": [{"schema": "public", "table": t} for t in ("brief", "kept", "plain")]},
        "inputs": [{"referenceName": "PgTable", "type": "DatasetReference"}],
        "outputs": [{"referenceName": "Files", "type": "DatasetReference"}],
    }
    save_definition("pipeline", {"name": "PgSync", "properties": {"activities": [copy]}})
    assert table_facts.schedule_refreshes() == 1
    facts = {t.table_name: (t.change_tracking, t.retention_seconds) for t in SyncedTable.objects.all()}
    assert facts == {"brief": (True, 86400), "kept": (True, 3 * 86400), "plain": (False, None)}


# --- schema drift on the Tables page ---------------------------------------------------------------------


def test_schema_drift_policy_is_set_in_bulk_over_a_selection_or_the_whole_filter(shop, editor, operator):
    orders, customers = shop.table("orders"), shop.table("customers")
    page = text(editor.get("/tables/"))
    assert "Set schema drift policy" in page and "Set schema drift policy" not in text(operator.get("/tables/"))
    response = editor.post("/tables/actions/policy", {"ids": [orders.pk], "policy": "pause", "next": "/tables/"})
    assert response.status_code == 302 and shop.table("orders").watermark.schema_policy == "pause"
    assert shop.table("customers").watermark.schema_policy == ""
    done = text(
        editor.post("/tables/actions/policy", {"scope": "filter", "name": "ers", "policy": "resync"}, follow=True)
    )
    assert "schema drift policy resync set on 2 of 2 table(s)" in done
    assert {shop.table(n).watermark.schema_policy for n in ("orders", "customers")} == {"resync"}
    assert shop.table("items").watermark.schema_policy == ""
    audited = AuditEntry.objects.filter(detail__schemaPolicy="resync").values_list("object_name", flat=True)
    assert sorted(audited) == sorted([f"{t.watermark.table} -> {t.watermark.sink_key}" for t in (orders, customers)])
    assert operator.post("/tables/actions/policy", {"ids": [orders.pk], "policy": "pause"}).status_code == 403
    bad = editor.post("/tables/actions/policy", {"ids": [orders.pk], "policy": "ignore"})
    assert bad.status_code == 400 and "must be one of continue, pause, resync" in bad.content.decode()


def test_a_table_paused_on_a_schema_change_shows_paused_with_the_change_then_resync_settles_it(shop, editor, viewer):
    shop.run("ShopSync")
    orders = shop.table("orders")
    editor.post("/tables/actions/policy", {"ids": [orders.pk], "policy": "pause"})
    shop.sql("ALTER TABLE orders ADD COLUMN email TEXT")
    shop.run("ShopSync")
    page = text(viewer.get("/tables/"))
    assert status_of(page, "orders") == "paused" and status_of(page, "customers") == "on_time"
    assert "schema change waiting: added email" in row(page, "orders")
    assert f'href="/tables/{orders.pk}/schema/"' in row(page, "orders")
    assert "Paused</span> 1" in page
    listed = viewer.get("/api/tables", {"name": "orders"}).json()["value"][0]
    assert listed["status"] == "paused" and listed["schemaChangeWaiting"].startswith("added email")
    assert viewer.get(f"/api/tables/{orders.pk}").json()["schemaChangeWaiting"] == listed["schemaChangeWaiting"]
    detail = text(editor.get(f"/tables/{orders.pk}/"))
    assert "Paused on a schema change" in detail and "Added email" in detail and "Accept the change" in detail
    assert f'href="/tables/{orders.pk}/schema/"' in detail and 'value="pause" selected' in detail
    viewer_detail = text(viewer.get(f"/tables/{orders.pk}/"))
    assert "Accept the change" not in viewer_detail and "Schema drift policy: pause" in viewer_detail
    # A Re-sync from the Tables page is a new generation with the new columns: the change no longer waits.
    response = editor.post("/tables/resync/", {"ids": [orders.pk], "confirm": "yes"}, follow=True)
    assert "the schema change it was paused on is settled by the re-sync" in text(response)
    orders = shop.table("orders")
    assert orders.watermark.generation == 2 and orders.watermark.version is not None
    assert [c["name"] for c in orders.watermark.schema["columns"]][-1] == "email"
    assert status_of(text(viewer.get("/tables/")), "orders") == "on_time"
    assert SchemaChange.objects.get().accepted_by == editor.user


def test_a_drift_resync_and_a_tables_resync_both_take_one_new_generation(shop, editor):
    shop.run("ShopSync")
    editor.post("/tables/actions/policy", {"scope": "filter", "name": "orders", "policy": "resync"})
    shop.sql("ALTER TABLE orders ADD COLUMN email TEXT")
    shop.run("ShopSync")  # the drift's re-sync: generation 2
    assert shop.table("orders").watermark.generation == 2
    assert SchemaChange.objects.get().outcome == "resynced"
    editor.post("/tables/resync/", {"ids": [shop.table("orders").pk], "confirm": "yes"})  # and the page's: 3
    orders = shop.table("orders")
    assert orders.watermark.generation == 3 and sorted(p.name for p in (shop.lake / "shop" / "orders").iterdir()) == [
        "g0001",
        "g0002",
        "g0003",
    ]
    assert SchemaChange.objects.count() == 1


def test_bulk_actions_refuse_bad_ids_and_an_operator_over_the_whole_filter(shop, operator):
    for ids in (["9" * 30], ["-" + "9" * 30], ["1e3"], [""], ["1" * 5000]):
        assert operator.post("/tables/actions/pause", {"ids": ids}).status_code == 400, ids[0][:40]
    assert operator.post("/tables/actions/pause", {"ids": [str(i) for i in range(1, 20_000)]}).status_code == 400
    assert not SyncedTable.objects.filter(watermark__paused=True).exists()
    for action, data in (("pace", {"freshness_minutes": "5"}), ("policy", {"policy": "pause"})):
        assert operator.post(f"/tables/actions/{action}", {"scope": "filter", **data}).status_code == 403
    assert operator.post("/tables/resync/", {"scope": "filter", "confirm": "yes"}).status_code == 403
    assert operator.get("/tables/resync/?scope=filter").status_code == 403


@pytest.mark.parametrize(
    "minutes", ["²", "9" * 5000, "-5", "1.5"], ids=["superscript", "5000-digits", "negative", "fraction"]
)
def test_set_pace_refuses_odd_numbers_with_a_400(shop, editor, minutes):
    orders = shop.table("orders")
    response = editor.post("/tables/actions/pace", {"ids": [orders.pk], "freshness_minutes": minutes})
    assert response.status_code == 400 and "freshness_minutes: a whole number" in response.content.decode()
