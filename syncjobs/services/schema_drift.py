"""Schema drift in the portal: what a copy needs to know, the table's schema history, accept and policy.

The engine decides (``engine/schema_drift.py``); this module keeps its decisions: each change a copy
met becomes one :class:`SchemaChange` row (a paused table meeting the same change again adds none),
an Editor accepts a paused change, and the policy is set per table or in bulk. Both are audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from syncjobs.access import Actor
from syncjobs.engine.schema_drift import TableSchema, check_policy
from syncjobs.engine.types import CopyResult
from syncjobs.models import PipelineRun, SchemaChange, Watermark, WatermarkWindow
from syncjobs.services import audit


class SchemaDriftError(ValueError):
    """A request about schema drift that cannot be carried out (shown to the user as is)."""


def sync_state_fields(watermark: Watermark) -> dict[str, Any]:
    """The schema part of the engine's ``SyncState`` for ``watermark``."""
    return {
        "schema": TableSchema.from_json(watermark.schema) if watermark.schema else None,
        "schema_policy": watermark.schema_policy,
        "schema_accepted": TableSchema.from_json(watermark.schema_accepted) if watermark.schema_accepted else None,
    }


def record_copy(
    watermark: Watermark, result: CopyResult, window: WatermarkWindow | None, run: PipelineRun | None
) -> SchemaChange | None:
    """Keep the schema change ``result`` met (if any) in the table's history; the window that carried it, if one.

    The same change met again (a paused table run again, a quiet window then one with files, a paused
    change carried once accepted or once the policy no longer pauses) updates the newest row instead of
    adding one.
    """
    change = result.schema_change
    if change is None:
        return None
    newest = watermark.schema_changes.first()
    if newest is not None and newest.same_change(change) and not _carried(newest):
        if result.paused and newest.is_waiting:
            return newest  # paused again on the change it waits on
        if not result.paused:  # carried now: after an accept, a quiet window, or the policy changed from pause
            if newest.is_waiting:  # nobody accepted it: the policy was changed, so the new one is what happened
                newest.policy, newest.outcome = change.get("policy") or "", change.get("outcome") or ""
            newest.window = window
            newest.save(update_fields=["window", "policy", "outcome"])
            return newest
    return SchemaChange.objects.create(
        watermark=watermark,
        window=window,
        pipeline_run=run,
        kind=change.get("kind") or "",
        diff=change,
        policy=change.get("policy") or "",
        outcome=change.get("outcome") or "",
    )


def _carried(change: SchemaChange) -> bool:
    """A window with files carried the change (so the table's schema moved on past it)."""
    return change.window is not None and bool(change.window.manifest)


def waiting_change(watermark: Watermark) -> SchemaChange | None:
    """The change the table is paused on, or None when it is not paused."""
    return watermark.schema_changes.waiting().first()


def waiting_summaries(watermark_ids: Iterable[int]) -> dict[int, str]:
    """``{table id: the change in words}`` of those tables paused on a schema change (one query)."""
    waiting = SchemaChange.objects.filter(watermark_id__in=list(watermark_ids)).waiting()
    return {
        watermark_id: str((diff or {}).get("summary", ""))
        for watermark_id, diff in waiting.values_list("watermark_id", "diff")
    }


def accept(watermark: Watermark, actor: Actor) -> SchemaChange:
    """Accept the change the table is paused on: its next copy takes the new schema (re-syncs for a new key).

    Raises SchemaDriftError when the table is not paused.
    """
    with transaction.atomic():
        change = watermark.schema_changes.select_for_update().waiting().first()
        if change is None:
            raise SchemaDriftError(f"{watermark.table} is not paused on a schema change; nothing to accept")
        change.accepted_by_id = actor.user_id
        change.accepted_at = timezone.now()
        change.save(update_fields=["accepted_by", "accepted_at"])
        Watermark.objects.filter(pk=watermark.pk).update(schema_accepted=change.diff.get("schema"))
        watermark.refresh_from_db()
        audit.record(actor, "change", "table", _table_name(watermark), schemaChangeAccepted=change.summary)
    return change


def forget_for_resync(watermark: Watermark, actor: Actor) -> SchemaChange | None:
    """A Re-sync replaces the table in a new generation, a new baseline: the schema kept from the old one is
    forgotten (else its full copy would meet the same change and pause again) and the change the table is
    paused on, if any, is settled as accepted by ``actor``. Returns that change."""
    with transaction.atomic():
        change = watermark.schema_changes.select_for_update().waiting().first()
        if change is not None:
            change.accepted_by_id, change.accepted_at = actor.user_id, timezone.now()
            change.save(update_fields=["accepted_by", "accepted_at"])
        Watermark.objects.filter(pk=watermark.pk).update(schema=None, schema_accepted=None)
    watermark.schema = watermark.schema_accepted = None
    return change


def set_policy(watermark_ids: Iterable[int], policy: str, actor: Actor) -> int:
    """Set the drift policy of these tables ("" for the activity's default); return how many changed.

    Raises SchemaDriftError for a policy outside ``continue``, ``pause``, ``resync`` or an unknown table.
    """
    try:
        value = check_policy(policy, "the policy") if policy.strip() else ""
    except ValueError as exc:
        raise SchemaDriftError(str(exc)) from None
    ids = sorted(set(watermark_ids))
    watermarks = list(Watermark.objects.filter(pk__in=ids))
    if len(watermarks) != len(ids) or not ids:
        raise SchemaDriftError("choose one or more tables that exist")
    with transaction.atomic():
        for watermark in watermarks:
            if watermark.schema_policy != value:
                audit.record(actor, "change", "table", _table_name(watermark), schemaPolicy=value or "default")
        return Watermark.objects.filter(pk__in=ids).exclude(schema_policy=value).update(schema_policy=value)


def _table_name(watermark: Watermark) -> str:
    return f"{watermark.table} -> {watermark.sink_key}"
