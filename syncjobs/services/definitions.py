"""Definitions saved, deleted, imported and exported: one at a time, or as a folder in ADF's repository layout.

A folder holds ``linkedService/NAME.json``, ``dataset/NAME.json``, ``pipeline/NAME.json`` and
``trigger/NAME.json``; loose ``*.json`` files beside them (a published-tutorial folder) are sorted by
what they contain. Every object is read, normalized and validated before anything is written, so
references resolve whatever the file order, and a folder imports whole or not at all.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from syncjobs.access import SYSTEM, Actor
from syncjobs.adf.findings import INFO, DefinitionError, Finding
from syncjobs.adf.legacy import normalize
from syncjobs.adf.validation import KINDS, validate_definition
from syncjobs.engine import jsontext
from syncjobs.models import AuditEntry, Dataset, Definition, LinkedService, Pipeline, Trigger, known_objects
from syncjobs.services import audit

MODELS: dict[str, type[Definition]] = {
    "linkedService": LinkedService,
    "dataset": Dataset,
    "pipeline": Pipeline,
    "trigger": Trigger,
}
_ARM_KINDS = {"linkedservices": "linkedService", "datasets": "dataset", "pipelines": "pipeline", "triggers": "trigger"}


@dataclass
class ImportResult:
    """What an import did: objects created and updated (``kind/name``), and its notes and warnings."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    objects: list[Definition] = field(default_factory=list)


def detect_kind(definition: dict[str, Any]) -> str | None:
    """The kind of a loose definition: from its ARM ``type``, else from what its properties hold."""
    arm = str(definition.get("type", "")).lower()
    if arm.startswith("microsoft.datafactory/factories/"):
        return _ARM_KINDS.get(arm.rsplit("/", 1)[-1])
    props = definition.get("properties")
    if not isinstance(props, dict):
        return None
    if "activities" in props:
        return "pipeline"
    if str(props.get("type", "")).endswith("Trigger"):
        return "trigger"
    if "linkedServiceName" in props:
        return "dataset"
    return "linkedService" if props.get("type") else None


def read_folder(folder: Path) -> list[tuple[str, dict[str, Any], str]]:
    """``(kind, definition, file)`` for every definition in ``folder``; unreadable files raise."""
    items: list[tuple[str, dict[str, Any], str]] = []
    errors: list[Finding] = []
    files: list[tuple[str | None, Path]] = [(kind, p) for kind in KINDS for p in sorted((folder / kind).glob("*.json"))]
    files += [(None, p) for p in sorted(folder.glob("*.json"))]
    for given, path in files:
        label = str(path.relative_to(folder))
        try:
            data = jsontext.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            errors.append(Finding("", f"not readable JSON: {exc}", object=label))
            continue
        kind = given or (detect_kind(data) if isinstance(data, dict) else None)
        if kind is None:
            errors.append(Finding("", "not a linked service, dataset, pipeline or trigger", object=label))
            continue
        items.append((kind, data, label))
    if errors:
        raise DefinitionError(errors)
    return items


def import_folder(folder: Path, *, replace: bool = False, actor: Actor = SYSTEM) -> ImportResult:
    """Import every definition in ``folder`` (see the module's docstring)."""
    items = [(kind, data) for kind, data, _ in read_folder(Path(folder))]
    return import_definitions(items, replace=replace, actor=actor)


def save_definition(
    kind: str, definition: dict[str, Any], *, replace: bool = True, actor: Actor = SYSTEM
) -> tuple[Definition, list[Finding]]:
    """Create or (with ``replace``) update one object from ADF JSON; return it and its warnings."""
    result = import_definitions([(kind, definition)], replace=replace, actor=actor)
    return result.objects[0], result.findings


def import_definitions(
    items: Iterable[tuple[str, dict[str, Any]]], *, replace: bool = False, actor: Actor = SYSTEM
) -> ImportResult:
    """Normalize, validate and save a batch of definitions as one transaction, each change in the audit log.

    Without ``replace``, an object whose name already exists is an error; with it, it is updated.
    Raises :class:`DefinitionError` with every finding of every object; nothing is saved then.
    """
    with transaction.atomic():
        batch, findings = _prepare(list(items), replace=replace)
        result = ImportResult(findings=findings)
        for kind, definition in batch:
            _save(kind, definition, result, actor)
        follow_tables(result.objects)
        return result


def delete_definition(instance: Definition, *, actor: Actor = SYSTEM) -> None:
    """Delete one object (ProtectedError while a dataset uses a linked service) and note it in the audit log."""
    with transaction.atomic():
        instance.delete()
        audit.record(actor, AuditEntry.Action.DELETE, instance.KIND, instance.name)
        follow_tables([instance])


def follow_tables(changed: list[Definition]) -> None:
    """Keep the synced tables (``table_discovery``) current after pipelines, datasets or triggers changed."""
    from syncjobs.services import table_discovery  # it reads definitions: imported when they change

    kinds = {obj.KIND for obj in changed}
    if "dataset" in kinds or "linkedService" in kinds:
        table_discovery.refresh()
    elif "pipeline" in kinds:
        table_discovery.refresh([p for p in changed if isinstance(p, Pipeline) and p.pk])
    elif "trigger" in kinds:
        table_discovery.refresh_schedules()


def _prepare(
    items: list[tuple[str, dict[str, Any]]], *, replace: bool
) -> tuple[list[tuple[str, dict[str, Any]]], list[Finding]]:
    known = known_objects()
    batch: list[tuple[str, dict[str, Any]]] = []
    findings: list[Finding] = []
    seen: dict[tuple[str, str], str] = {}
    for kind in KINDS:  # datasets before pipelines: legacy SqlSource/BlobSink take their dataset's type
        for item_kind, raw in items:
            if item_kind != kind:
                continue
            definition, notes = normalize(kind, raw, known) if isinstance(raw, dict) else (raw, [])
            label = f"{kind}/{definition.get('name') if isinstance(definition, dict) else '?'}"
            findings += [n.about(label) for n in notes]
            key = (kind, str(definition.get("name", "")).lower()) if isinstance(definition, dict) else (kind, "")
            if key in seen:
                findings.append(Finding("name", f"appears twice in this import (also as {seen[key]!r})", object=label))
            seen[key] = label
            if isinstance(definition, dict):
                known.add(kind, definition)
            batch.append((kind, definition))
    for kind, definition in batch:
        label = f"{kind}/{definition.get('name') if isinstance(definition, dict) else '?'}"
        findings += [f.about(label) for f in validate_definition(kind, definition, known)]
        if not replace and isinstance(definition, dict) and _existing(kind, definition) is not None:
            findings.append(Finding("name", "already exists (import with replace to update it)", object=label))
    if any(f.is_error for f in findings):
        raise DefinitionError(findings)
    batch.sort(key=lambda item: (KINDS.index(item[0]), item[0] == "linkedService" and _uses_linked_service(item[1])))
    return batch, [f for f in findings if not f.is_error]


def _uses_linked_service(definition: dict[str, Any]) -> bool:
    # A Key Vault reference names another linked service, which must be saved first.
    return '"LinkedServiceReference"' in json.dumps(definition.get("properties"))


def _existing(kind: str, definition: dict[str, Any]) -> Definition | None:
    return MODELS[kind].objects.filter(name__iexact=str(definition.get("name", ""))).first()


def _save(kind: str, definition: dict[str, Any], result: ImportResult, actor: Actor) -> None:
    instance = _existing(kind, definition)
    label = f"{kind}/{definition['name']}"
    (result.updated if instance is not None else result.created).append(label)
    before = copy.copy(instance)  # set_definition replaces the fields, so a shallow copy keeps the old ones
    instance = instance if instance is not None else MODELS[kind]()
    if instance.pk and instance.name != definition["name"]:
        result.findings.append(Finding("name", f"renamed from {instance.name!r}", INFO, label))
    result.findings += [w.about(label) for w in instance.set_definition(definition)]
    instance.save()
    audit.record_definition(actor, before, instance)
    result.objects.append(instance)


def export_definition(instance: Definition) -> dict[str, Any]:
    """One object as ADF JSON; secrets show as ADF's mask."""
    return instance.to_adf()


def export_folder(folder: Path) -> list[Path]:
    """Write every object to ``folder`` in ADF's repository layout; return the files written."""
    written = []
    for kind, model in MODELS.items():
        for instance in model.objects.order_by("name"):
            path = Path(folder) / kind / f"{instance.name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                json.dumps(export_definition(instance), indent=4, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            written.append(path)
    return written
