"""The table inventory (engine/inventory.py) on every source: one query's answer agrees with the catalogue."""

from __future__ import annotations

from syncjobs.engine import inventory as inv
from syncjobs.engine.inventory import TableInfo, inventory


def test_the_inventory_agrees_with_the_catalogue(under_test):
    under_test.run(
        f"CREATE TABLE {under_test.qt('inv_keyed')} (a integer NOT NULL, b integer NOT NULL, note varchar(20), "
        "PRIMARY KEY (b, a))",
        f"CREATE TABLE {under_test.qt('inv_loose')} (a integer, note varchar(20))",
        f"INSERT INTO {under_test.qt('inv_keyed')} (a, b, note) VALUES (1, 1, 'x'), (2, 1, 'y')",
    )
    under_test.source.enable_change_tracking(under_test.table("inv_keyed"), retention_days=3)
    found = {t.name: t for t in inventory(under_test.source)}
    keyed, loose = found[under_test.table("inv_keyed")], found[under_test.table("inv_loose")]
    assert keyed.primary_key == ("b", "a")  # key order, not column order
    assert keyed.change_tracking and keyed.retention_seconds == 3 * 86400 and keyed.retention == "3 days"
    assert not loose.has_key and loose.refusal.startswith("no primary key") and not loose.change_tracking
    assert loose.retention_seconds is None
    if under_test.name == "sqlite":  # dbstat counts a small file's rows; PostgreSQL's estimate waits for ANALYZE
        assert keyed.row_estimate == 2 and loose.row_estimate == 0 and keyed.size_bytes > loose.size_bytes > 0
    catalogue = {t.name: t for t in under_test.source.catalogue()}
    for name in (keyed.name, loose.name):
        assert found[name].primary_key == catalogue[name].primary_key
        assert found[name].change_tracking == catalogue[name].change_tracking
    assert not any(str(name).lower().startswith(("_ctportal", "ctportal_ct")) for name in found)


def test_the_sql_server_query_reads_the_documented_catalogue_views():
    for view in ("sys.tables", "sys.change_tracking_tables", "sys.change_tracking_databases", "sys.indexes"):
        assert view in inv.SQLSERVER_STATS and view in inv.SQLSERVER_PLAIN
    assert "sys.dm_db_partition_stats" in inv.SQLSERVER_STATS and "dm_db" not in inv.SQLSERVER_PLAIN
    assert "retention_period_units_desc" in inv.SQLSERVER_STATS and "is_ms_shipped = 0" in inv.SQLSERVER_STATS
    assert "{rows}" not in inv.SQLSERVER_STATS and "{size}" not in inv.SQLSERVER_PLAIN


class Answers:
    """A snapshot that answers the SQL Server inventory as a login without VIEW DATABASE STATE would."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def rows(self, sql, params=()):
        from syncjobs.engine.errors import TerminalError

        self.asked.append(sql)
        if "dm_db_partition_stats" in sql:
            raise TerminalError("query_failed", "VIEW DATABASE STATE permission denied in database 'shop'")
        return [("dbo", "orders", "id\x1fline", 1, 172800, 12, None), ("dbo", "notes", None, 0, None, 3, None)]


def test_without_view_database_state_the_rows_come_from_sys_partitions():
    snap = Answers()
    orders, notes = inv.sqlserver_inventory(snap)
    assert orders == TableInfo(orders.name, ("id", "line"), True, 172800, 12, None)
    assert str(orders.name) == "dbo.orders" and orders.retention == "2 days"
    assert notes.refusal and notes.row_estimate == 3
    assert len(snap.asked) == 2 and "sys.partitions" in snap.asked[1]
