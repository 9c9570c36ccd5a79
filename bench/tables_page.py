"""Server time of the Tables page and /api/tables with 10,000 synced tables, against the Monitor page in the same run.

Run as ``python bench/tables_page.py [TABLES]`` (10,000 by default). It uses a scratch portal in a fresh
temporary data directory (SQLite), or the database in CTPORTAL_DATABASE_URL (a scratch PostgreSQL).
The tables are real: 20 pipelines whose ChangeTrackingCopy each lists TABLES/20 tables, saved as an
operator would (the save finds them), with a started 15-minute trigger; their figures are then set to a
mix of every status, with three windows each. Prints JSON: milliseconds (median of 5 after a warm-up)
and each figure's ratio to the Monitor page's.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("CTPORTAL_DATA_DIR", tempfile.mkdtemp(prefix="ctportal-tables-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctportal.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from syncjobs.models import PipelineRun, RunCursor, SyncedTable, Trigger, Watermark, WatermarkWindow  # noqa: E402
from syncjobs.services import table_outcomes  # noqa: E402
from syncjobs.services.definitions import import_definitions  # noqa: E402

PIPELINES = 20


def timed(client: Client, url: str, repeat: int = 5) -> float:
    """Median time of ``url`` in milliseconds, after one warm-up request."""
    assert client.get(url).status_code == 200, url
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    return round(statistics.median(times), 1)


def definitions(tables: int) -> list[tuple[str, dict]]:
    """A source, a folder sink, their datasets, 20 pipelines listing ``tables`` tables, a started trigger."""
    files = Path(settings.CTPORTAL_FILE_ROOTS[0])
    files.mkdir(parents=True, exist_ok=True)
    ref = {"type": "LinkedServiceReference"}
    items: list[tuple[str, dict]] = [
        (
            "linkedService",
            {
                "name": "Erp",
                "properties": {"type": "Sqlite", "typeProperties": {"database": str(files / "erp.sqlite3")}},
            },
        ),
        (
            "linkedService",
            {"name": "Lake", "properties": {"type": "FileServer", "typeProperties": {"host": str(files / "lake")}}},
        ),
        (
            "dataset",
            {
                "name": "ErpTable",
                "properties": {
                    "type": "SqliteTable",
                    "linkedServiceName": {**ref, "referenceName": "Erp"},
                    "typeProperties": {"table": "t0"},
                },
            },
        ),
        (
            "dataset",
            {
                "name": "LakeFiles",
                "properties": {
                    "type": "DelimitedText",
                    "linkedServiceName": {**ref, "referenceName": "Lake"},
                    "typeProperties": {"location": {"type": "FileServerLocation", "folderPath": "erp"}},
                },
            },
        ),
    ]
    per = tables // PIPELINES
    for p in range(PIPELINES):
        listed = [{"schema": f"s{p % 4}", "table": f"t{p * per + i:05d}"} for i in range(per)]
        copy = {
            "name": "CopyTables",
            "type": "ChangeTrackingCopy",
            "typeProperties": {"tables": listed},
            "inputs": [{"referenceName": "ErpTable", "type": "DatasetReference"}],
            "outputs": [{"referenceName": "LakeFiles", "type": "DatasetReference"}],
        }
        items.append(("pipeline", {"name": f"Sync{p:02d}", "properties": {"activities": [copy]}}))
    recurrence = {"frequency": "Minute", "interval": 15, "startTime": "2026-01-01T00:00:00Z", "timeZone": "UTC"}
    pipes = [
        {"pipelineReference": {"referenceName": f"Sync{p:02d}", "type": "PipelineReference"}} for p in range(PIPELINES)
    ]
    trigger = {"type": "ScheduleTrigger", "typeProperties": {"recurrence": recurrence}, "pipelines": pipes}
    items.append(("trigger", {"name": "Every15", "properties": trigger}))
    return items


def set_figures() -> None:
    """A mix of every status, as runs, reads of the source and operators would leave them; 3 windows each."""
    now = timezone.now()
    tables = list(SyncedTable.objects.select_related("watermark").order_by("pk"))
    windows, watermarks = [], []
    for i, table in enumerate(tables):
        kind = i % 20
        success = now - timedelta(minutes=5 + i % 10) if kind != 1 else now - timedelta(hours=3)
        table.last_success_at = table.last_attempt_at = success
        table.last_mode, table.last_rows = "delta", i % 1000
        table.rows_inserted, table.rows_updated, table.rows_deleted = i % 600, i % 300, i % 100
        table.late_at = success + timedelta(minutes=15)
        table.change_tracking = kind != 2
        table.retention_seconds = 600 if kind == 3 else 2 * 86400
        table.risk_at = table_outcomes.risk_at(success, table.retention_seconds, table.schedule_seconds)
        table.source_version, table.source_checked_at = 1000 + i, now
        if kind == 4:
            table.last_attempt_at, table.last_attempt_failed = now, True
            table.last_error_reason, table.last_error_message = "login_failed", "Login failed for user 'sync'."
        table.watermark.version, table.watermark.generation = 990 + i, 1
        table.watermark.paused = kind == 5
        watermarks.append(table.watermark)
        windows += [
            WatermarkWindow(
                watermark=table.watermark,
                mode="delta",
                previous_version=980 + i - 10 * w,
                new_version=990 + i - 10 * w,
                rows=i % 100,
                generation=1,
            )
            for w in range(3)
        ]
    fields = [
        "last_success_at",
        "last_attempt_at",
        "last_mode",
        "last_rows",
        "rows_inserted",
        "rows_updated",
        "rows_deleted",
        "late_at",
        "change_tracking",
        "retention_seconds",
        "risk_at",
        "source_version",
        "source_checked_at",
        "last_attempt_failed",
        "last_error_reason",
        "last_error_message",
    ]
    SyncedTable.objects.bulk_update(tables, fields, batch_size=1000)
    Watermark.objects.bulk_update(watermarks, ["version", "generation", "paused"], batch_size=1000)
    WatermarkWindow.objects.bulk_create(windows, batch_size=2000)
    WatermarkWindow.objects.update(created_at=now - timedelta(hours=1))
    RunCursor.objects.update_or_create(name=table_outcomes.CURSOR, defaults={"at": now})


def monitor_runs(count: int) -> None:
    """The baseline's history: ``count`` finished runs."""
    now = timezone.now()
    PipelineRun.objects.bulk_create(
        [
            PipelineRun(
                pipeline_name=f"Sync{i % PIPELINES:02d}",
                status="Succeeded",
                triggered_at=now - timedelta(minutes=i),
                run_start=now - timedelta(minutes=i),
                run_end=now - timedelta(minutes=i) + timedelta(seconds=4),
                duration_ms=4000,
                last_updated=now - timedelta(hours=2),
            )
            for i in range(count)
        ],
        batch_size=1000,
    )


def main(tables: int) -> None:
    call_command("migrate", "--noinput", verbosity=0)
    started = time.perf_counter()
    import_definitions(definitions(tables))
    saved = time.perf_counter() - started
    Trigger.objects.get(name="Every15").start()
    set_figures()
    monitor_runs(2000)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.create_superuser("bench", "", "x"))
    some = SyncedTable.objects.order_by("pk")[tables // 2].pk
    result: dict[str, float | int | str] = {
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "tables": SyncedTable.objects.current().count(),
        "save_20_pipelines_finding_tables_s": round(saved, 2),
        "monitor_ms (baseline)": timed(client, "/monitor/"),
        "tables_page_ms": timed(client, "/tables/"),
        "tables_failing_filter_ms": timed(client, "/tables/?status=failing"),
        "tables_sorted_by_lag_page_100_ms": timed(client, "/tables/?sort=-lag&page=100"),
        "tables_name_search_ms": timed(client, "/tables/?name=t0012&schema=s1"),
        "table_detail_ms": timed(client, f"/tables/{some}/"),
        "api_tables_top_100_ms": timed(client, "/api/tables?top=100"),
        "api_tables_top_1000_ms": timed(client, "/api/tables?top=1000"),
        "api_table_ms": timed(client, f"/api/tables/{some}"),
    }
    baseline = float(result["monitor_ms (baseline)"])
    for key in [k for k in result if k.endswith("_ms")]:
        result[key.replace("_ms", "_x_monitor")] = round(float(result[key]) / baseline, 2)
    result |= tick_catch_up(200)
    print(json.dumps(result, indent=1))


def tick_catch_up(count: int) -> dict[str, float]:
    """What a tick of ``count`` tables costs the next reader: recording their new windows."""
    now = timezone.now()
    fresh = [
        WatermarkWindow(watermark_id=pk, mode="delta", previous_version=1, new_version=2, rows=5, generation=1)
        for pk in SyncedTable.objects.order_by("pk").values_list("pk", flat=True)[:count]
    ]
    WatermarkWindow.objects.bulk_create(fresh)
    started = time.perf_counter()
    table_outcomes.catch_up(now + timedelta(seconds=1))
    return {f"catch_up_{count}_windows_ms": round((time.perf_counter() - started) * 1000, 1)}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
