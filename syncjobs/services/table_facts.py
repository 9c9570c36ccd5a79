"""Facts read from a source for its synced tables: change tracking on or off, its retention, the current version.

Read per source now and then (a schedule every 15 minutes, the Tables page's *Read source facts*), never on
a page load: a source may be slow or far away, and 10,000 tables must not mean 10,000 connections.
Tracking and retention come from the source's inventory (``engine/inventory.py``, the Add tables grid's
one catalogue query per database), so both read them the same way on every dialect.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from syncjobs.engine import bindings
from syncjobs.engine.errors import EngineError
from syncjobs.engine.inventory import TableInfo, inventory
from syncjobs.engine.types import TableName
from syncjobs.models import LinkedService, SyncedTable
from syncjobs.services.table_outcomes import risk_lead

logger = logging.getLogger(__name__)


def schedule_refreshes(linked_service_ids: set[int] | None = None) -> int:
    """One facts refresh task per source with synced tables (only ``linked_service_ids`` when given); how many."""
    sources = set(SyncedTable.objects.current().order_by().values_list("watermark__linked_service", flat=True))
    for pk in sorted(sources if linked_service_ids is None else sources & linked_service_ids):
        async_task("syncjobs.tasks.refresh_table_facts_task", pk, sync=settings.CTPORTAL_TASKS_INLINE)
    return len(sources if linked_service_ids is None else sources & linked_service_ids)


def refresh_source_facts(linked_service_id: int) -> int:
    """Read the facts of every synced table of one source and store them; how many tables were read.

    An unreachable source is noted on its tables (``source_error``) and tried again next time.
    """
    linked = LinkedService.objects.filter(pk=linked_service_id).first()
    tables = list(
        SyncedTable.objects.filter(watermark__linked_service_id=linked_service_id).select_related("watermark")
    )
    if linked is None or not tables:
        return 0
    now = timezone.now()
    try:
        facts = read_facts(linked, [t.watermark.table for t in tables])
    except EngineError as exc:
        SyncedTable.objects.filter(pk__in=[t.pk for t in tables]).update(
            source_error=exc.message, source_checked_at=now
        )
        return 0
    groups: dict[tuple[int | None, int | None, Any], list[int]] = defaultdict(list)
    for table in tables:
        tracked, retention, version = facts.get(str(table.watermark.table).lower(), (None, None, None))
        table.change_tracking, table.retention_seconds, table.source_version = tracked, retention, version
        table.source_checked_at, table.source_error = now, ""
        groups[(retention, table.schedule_seconds, table.retention_horizon)].append(table.pk)
    fields = ["change_tracking", "retention_seconds", "source_version", "source_checked_at", "source_error"]
    SyncedTable.objects.bulk_update(tables, fields, batch_size=1000)
    for (retention, schedule, horizon), ids in groups.items():
        # From the stored last success, in SQL: a window recorded meanwhile is not undone.
        lead = risk_lead(retention, schedule, horizon)
        risky = F("last_success_at") + lead if lead is not None else None
        SyncedTable.objects.filter(pk__in=ids).update(risk_at=risky)
    return len(tables)


def read_facts(linked: LinkedService, names: list[TableName]) -> dict[str, tuple[bool | None, int | None, int | None]]:
    """``schema.table`` (lower case) → (change tracking on, retention seconds, current version).

    A table the inventory does not list (gone) is ``None`` for both: the run says why.
    """
    source = bindings.source_for(linked.revealed_definition())
    try:
        listed = _by_name(inventory(source))
        with source.snapshot() as snapshot:
            current = snapshot.current_version()
    finally:
        source.close()
    found: dict[str, tuple[bool | None, int | None, int | None]] = {}
    for name in names:
        info = listed.get(str(name).lower()) or listed.get(name.name.lower())
        tracked = info.change_tracking if info is not None else None
        found[str(name).lower()] = (tracked, info.retention_seconds if info is not None and tracked else None, current)
    return found


def _by_name(tables: list[TableInfo]) -> dict[str, TableInfo]:
    """The inventory by ``schema.table`` and, where only one schema has it, by the bare name (lower case)."""
    by_name = {str(t.name).lower(): t for t in tables}
    bare: dict[str, list[TableInfo]] = defaultdict(list)
    for table in tables:
        bare[table.name.name.lower()].append(table)
    by_name.update({name: found[0] for name, found in bare.items() if len(found) == 1 and name not in by_name})
    return by_name
