"""Which tables are synced: every (source table, sink) a pipeline's ChangeTrackingCopy names, wizard-made or not.

A ChangeTrackingCopy copies ``typeProperties.tables`` of its input dataset's linked service (or the input
dataset's own table) into its output dataset; the watermark key is the one the engine computes
(``engine/pipeline/activities/changetracking_copy.py``): the sink dataset's name and its folder. Each
such table gets its :class:`Watermark` (created empty when missing) and a :class:`SyncedTable`, kept
current whenever a pipeline, dataset or trigger is saved or deleted (``refresh``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from syncjobs.adf.pipelines import iter_activities
from syncjobs.engine import bindings
from syncjobs.engine.errors import EngineError
from syncjobs.engine.types import TableName
from syncjobs.models import Dataset, LinkedService, Pipeline, SyncedTable, TableBinding, Trigger, Watermark
from syncjobs.services import table_outcomes
from syncjobs.services.triggers import TriggerError, next_fire_times
from syncjobs.services.verification import resolved_dataset

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NamedTable:
    """One table an activity copies: where from, where to, and who copies it."""

    linked_service: LinkedService
    table: TableName
    sink_key: str
    sink_dataset: str
    pipeline: Pipeline
    activity_name: str


def named_tables(pipeline: Pipeline, datasets: dict[str, Dataset]) -> list[NamedTable]:
    """The tables ``pipeline``'s ChangeTrackingCopy activities copy (those it names by expression are left out)."""
    found = []
    for _, activity in iter_activities(pipeline.properties.get("activities")):
        if activity.get("type") != "ChangeTrackingCopy":
            continue
        source = datasets.get(_reference(activity.get("inputs")).lower())
        sink = datasets.get(_reference(activity.get("outputs")).lower())
        if source is None or sink is None:
            continue
        try:
            root = bindings.folder_for(resolved_dataset(sink.definition))
            tables = _tables(activity.get("typeProperties") or {}, source)
        except (AttributeError, EngineError, KeyError, TypeError, ValueError) as exc:  # a definition runs may refuse
            logger.info("tables of %s/%s not read: %s", pipeline.name, activity.get("name"), exc)
            continue
        key = f"{sink.name}:{root}"
        found += [
            NamedTable(source.linked_service, t, key, sink.name, pipeline, str(activity.get("name"))) for t in tables
        ]
    return found


def _reference(references: Any) -> str:
    first = references[0] if isinstance(references, list) and references else {}
    name = first.get("referenceName") if isinstance(first, dict) else None
    return name.strip() if isinstance(name, str) else ""


def _tables(tp: dict[str, Any], source: Dataset) -> list[TableName]:
    listed = tp.get("tables")
    if isinstance(listed, list) and listed:
        return [TableName(str(t["table"]), str(t["schema"]) if t.get("schema") else None) for t in listed]
    if listed:  # an expression: known only when a run resolves it
        return []
    return [bindings.table_name_for(resolved_dataset(source.definition))]


def refresh(pipelines: list[Pipeline] | None = None) -> int:
    """Make the synced tables match what ``pipelines`` (None: every pipeline) name now; return how many they name.

    Tables no pipeline names any more keep their row (and history) but leave the list.
    """
    datasets = {d.name.lower(): d for d in Dataset.objects.select_related("linked_service")}
    scope = list(Pipeline.objects.all()) if pipelines is None else pipelines
    named = [t for p in scope for t in named_tables(p, datasets)]
    with transaction.atomic():
        known = _watermarks(named)
        tables: dict[int, tuple[Watermark, NamedTable]] = {}
        for item in named:
            watermark = known[_key(item)]
            tables.setdefault(watermark.pk, (watermark, item))
        _store(tables)
        _bind(scope, [(known[_key(n)].pk, n) for n in named])
    refresh_schedules()
    return len(tables)


def _watermarks(named: list[NamedTable]) -> dict[tuple[int, str, str, str], Watermark]:
    """The watermark of every named table, the missing ones created empty (version None: a full copy next)."""

    def stored() -> dict[tuple[int, str, str, str], Watermark]:
        found = Watermark.objects.filter(linked_service__in={n.linked_service.pk for n in named})
        return {(w.linked_service_id, w.source_schema, w.source_table, w.sink_key): w for w in found}

    known = stored()
    missing = {_key(n): n for n in named if _key(n) not in known}
    if not missing:
        return known
    # Created in bulk (ignoring any a run created meanwhile), as Watermark.objects.for_target would one by one.
    Watermark.objects.bulk_create(
        [
            Watermark(
                linked_service=n.linked_service,
                source_schema=n.table.schema or "",
                source_table=n.table.name,
                sink_key=n.sink_key,
            )
            for n in missing.values()
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    return stored()


def _key(item: NamedTable) -> tuple[int, str, str, str]:
    return (item.linked_service.pk, item.table.schema or "", item.table.name, item.sink_key)


def forget(pipeline_ids: set[int]) -> None:
    """A pipeline is gone: tables only it named leave the list (its bindings went with it)."""
    TableBinding.objects.filter(pipeline_id__in=pipeline_ids).delete()
    SyncedTable.objects.filter(is_named=True, bindings__isnull=True).update(is_named=False)


def _store(tables: dict[int, tuple[Watermark, NamedTable]]) -> None:
    existing = set(SyncedTable.objects.filter(pk__in=tables).values_list("pk", flat=True))
    SyncedTable.objects.bulk_create(
        [
            SyncedTable(
                watermark=watermark,
                source_name=item.linked_service.name,
                schema_name=item.table.schema or "",
                table_name=item.table.name,
                sink_dataset=item.sink_dataset,
            )
            for pk, (watermark, item) in tables.items()
            if pk not in existing
        ],
        batch_size=500,
    )
    SyncedTable.objects.filter(pk__in=existing, is_named=False).update(is_named=True)


def _bind(scope: list[Pipeline], named: list[tuple[int, NamedTable]]) -> None:
    """The bindings of the pipelines in ``scope`` become exactly ``named``'s."""
    wanted = {(pk, n.pipeline.pk, n.activity_name) for pk, n in named}
    have = {
        (b.synced_table_id, b.pipeline_id, b.activity_name): b.pk
        for b in TableBinding.objects.filter(pipeline__in=[p.pk for p in scope])
    }
    TableBinding.objects.filter(pk__in=[pk for key, pk in have.items() if key not in wanted]).delete()
    TableBinding.objects.bulk_create(
        [TableBinding(synced_table_id=t, pipeline_id=p, activity_name=a) for t, p, a in wanted - set(have)],
        batch_size=500,
    )
    SyncedTable.objects.filter(is_named=True, bindings__isnull=True).update(is_named=False)


def refresh_schedules(now: datetime | None = None) -> None:
    """Each table's schedule (the shortest interval of its pipelines' started schedule triggers) and next run;
    when it turns Late follows (last success, or when it was first named, plus one interval)."""
    now = now or timezone.now()
    per_pipeline = _pipeline_schedules(now)
    SyncedTable.objects.update(schedule_seconds=None, next_run_at=None, late_at=None)
    # Longest first, so a table named by several pipelines ends with the shortest interval.
    for name, (seconds, next_run) in sorted(per_pipeline.items(), key=lambda item: -item[1][0]):
        tables = SyncedTable.objects.filter(bindings__pipeline__name__iexact=name)
        tables.update(schedule_seconds=seconds, next_run_at=next_run)
        by_schedule = tables.filter(freshness_target__isnull=True)
        by_schedule.update(late_at=Coalesce("last_success_at", "created_at") + timedelta(seconds=seconds))
    # A freshness target set on the table wins over the schedule (``table_outcomes.late_after``).
    targeted = SyncedTable.objects.filter(freshness_target__isnull=False)
    targeted.update(late_at=Coalesce("last_success_at", "created_at") + F("freshness_target"))
    table_outcomes.refresh_risk()  # the default horizon counts two schedule intervals


def _pipeline_schedules(now: datetime) -> dict[str, tuple[int, datetime]]:
    """Pipeline name (lower case) → (interval in seconds, next fire) over its started schedule triggers."""
    found: dict[str, tuple[int, datetime]] = {}
    for trigger in Trigger.objects.filter(type="ScheduleTrigger", runtime_state=Trigger.RuntimeState.STARTED):
        try:
            times = next_fire_times(trigger.definition, now, 2)
        except TriggerError:
            continue
        if len(times) < 2:
            continue
        seconds = int((times[1] - times[0]).total_seconds())
        for entry in trigger.properties.get("pipelines") or []:
            name = str(((entry or {}).get("pipelineReference") or {}).get("referenceName") or "").lower()
            if name and (name not in found or seconds < found[name][0]):
                found[name] = (seconds, min(times[0], found.get(name, (0, times[0]))[1]))
    return found
