"""Delete, rename and clone any definition, and what uses it: the one place pages and the API ask.

What uses an object is read from the JSON of the others (``adf/references.py``): the datasets, pipelines
and linked services (Key Vault) naming a linked service, the pipelines naming a dataset, the triggers
starting a pipeline. Nothing in use is deleted. A rename changes those references in the same
transaction, and refuses with the list of what stops it: a name ADF would refuse or one already taken,
a run still using the object, or an object that would no longer validate. A clone never carries
secrets: they are entered again on the clone.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import ProtectedError

from syncjobs.access import SYSTEM, Actor
from syncjobs.adf.findings import WARNING, DefinitionError, Finding, raise_for_errors
from syncjobs.adf.references import names, references, rename_references
from syncjobs.adf.validation import validate_name
from syncjobs.models import AuditEntry, Definition, PipelineRun, Watermark
from syncjobs.services import audit
from syncjobs.services.definitions import MODELS, delete_definition, follow_tables

LABELS = {"linkedService": "linked service", "dataset": "dataset", "pipeline": "pipeline", "trigger": "trigger"}
# Which kinds of object may reference each kind.
USERS = {
    "linkedService": ("linkedService", "dataset", "pipeline"),
    "dataset": ("pipeline",),
    "pipeline": ("trigger",),
    "trigger": (),
}
# Where a run's frozen definition keeps the objects it uses by name (a rename under it would break it).
_SNAPSHOT_SECTIONS = {"linkedService": "linkedServices", "dataset": "datasets"}
CLONE_SUFFIX = "_copy"


@dataclass(frozen=True)
class Usage:
    """An object that references another: its kind and name, and the JSON paths of the references."""

    kind: str
    name: str
    paths: tuple[str, ...]
    pk: int = field(compare=False)

    @property
    def label(self) -> str:
        """``dataset Customers``."""
        return f"{LABELS[self.kind]} {self.name}"


class ObjectInUseError(ValueError):
    """An object cannot be deleted: ``usages`` reference it."""

    def __init__(self, instance: Definition, usages: list[Usage]) -> None:
        self.usages = usages
        super().__init__(f"{instance.name} is used by {describe(usages)}; change or delete them first")


def describe(usages: Iterable[Usage]) -> str:
    """``dataset(s) A, B; pipeline(s) P``: the users grouped by kind."""
    by_kind: dict[str, list[str]] = {}
    for usage in usages:
        by_kind.setdefault(usage.kind, []).append(usage.name)
    return "; ".join(f"{LABELS[kind]}(s) {', '.join(found)}" for kind, found in by_kind.items())


def used_by(instance: Definition) -> list[Usage]:
    """Every object whose JSON references ``instance`` by name, by kind then name."""
    found = []
    for kind in USERS[instance.KIND]:
        for other in MODELS[kind].objects.order_by("name").only("pk", "name", "definition"):
            if kind == instance.KIND and other.pk == instance.pk:
                continue
            paths = tuple(r.path for r in references(kind, other.definition) if names(r, instance.KIND, instance.name))
            if paths:
                found.append(Usage(kind, other.name, paths, other.pk))
    return found


def delete_object(instance: Definition, *, actor: Actor = SYSTEM) -> None:
    """Delete ``instance`` (audited); :class:`ObjectInUseError` while anything uses it."""
    with transaction.atomic():
        usages = used_by(instance)
        if usages:
            raise ObjectInUseError(instance, usages)
        try:
            delete_definition(instance, actor=actor)
        except ProtectedError as exc:  # a dataset saved since the look
            found = [Usage("dataset", str(o), (), o.pk) for o in exc.protected_objects]
            raise ObjectInUseError(instance, found) from None


def rename_object(instance: Definition, new_name: str, *, actor: Actor = SYSTEM) -> list[Usage]:
    """Rename ``instance`` and every reference to it, in one transaction; return the objects updated.

    A dataset's watermarks follow it (their sink key starts with its name), so a sync carries on from
    where it was instead of copying everything again. Raises :class:`DefinitionError` with every reason
    it cannot (nothing is changed then).
    """
    with transaction.atomic():
        instance = type(instance).objects.select_for_update().get(pk=instance.pk)
        old = instance.name
        raise_for_errors([*_name_findings(instance, new_name), *_busy_runs(instance)])
        usages = used_by(instance)
        instance.set_definition({**instance.definition, "name": new_name})
        instance.save()
        audit.record(
            actor, AuditEntry.Action.RENAME, instance.KIND, new_name, renamedFrom=old, updated=[u.label for u in usages]
        )
        problems = [f for usage in usages for f in _follow(usage, instance.KIND, old, new_name, actor)]
        if instance.KIND == "dataset":
            problems += _move_watermarks(old, new_name)
        raise_for_errors(problems)
        follow_tables([instance])
    return usages


def clone_object(instance: Definition, new_name: str, *, actor: Actor = SYSTEM) -> tuple[Definition, list[Finding]]:
    """A copy of ``instance`` named ``new_name`` (a trigger's copy is stopped); return it and its warnings.

    Secrets are not copied (a linked service's, a pipeline's SecureString defaults, the values a trigger
    passes to SecureString parameters): the copy holds ADF's mask, and each warning names a secret to enter.
    """
    with transaction.atomic():
        clone = type(instance)()
        warnings = clone.set_definition({"name": new_name, "properties": copy.deepcopy(instance.properties)})
        clone.save()
        follow_tables([clone])
        cleared = [w.path for w in warnings if w.severity == WARNING]
        audit.record(
            actor,
            AuditEntry.Action.CREATE,
            clone.KIND,
            clone.name,
            clonedFrom=instance.name,
            secretsNotCopied=cleared,
        )
    return clone, warnings


def clone_name(instance: Definition) -> str:
    """``<name>_copy``, or ``<name>_copy2``, ``_copy3``... when that is taken."""
    base = f"{instance.name}{CLONE_SUFFIX}"
    taken = {n.lower() for n in type(instance).objects.filter(name__istartswith=base).values_list("name", flat=True)}
    candidate, number = base, 2
    while candidate.lower() in taken:
        candidate, number = f"{base}{number}", number + 1
    return candidate


def _name_findings(instance: Definition, new_name: str) -> list[Finding]:
    findings = validate_name(instance.KIND, new_name)
    if new_name == instance.name:
        findings.append(Finding("name", "is already its name"))
    clash = type(instance).objects.filter(name__iexact=new_name).exclude(pk=instance.pk).first()
    if clash is not None:
        findings.append(Finding("name", f"a {LABELS[instance.KIND]} named {clash.name!r} already exists"))
    return findings


def _busy_runs(instance: Definition) -> list[Finding]:
    """Active runs whose frozen definition names ``instance``: they look it up by name as they go."""
    section = _SNAPSHOT_SECTIONS.get(instance.KIND)
    if section is None:
        return []
    name = instance.name.lower()
    return [
        Finding("", f"run {run.run_id} of pipeline {run.pipeline_name} is using it; rename it once that run ends")
        for run in PipelineRun.objects.active().only("run_id", "pipeline_name", "definition")
        if any(str(n).lower() == name for n in (run.definition.get(section) or {}))
    ]


def _follow(usage: Usage, kind: str, old: str, new: str, actor: Actor) -> list[Finding]:
    """Point ``usage``'s references at the new name; the findings that stop it from saving."""
    other = MODELS[usage.kind].objects.select_for_update().get(pk=usage.pk)
    before = copy.copy(other)  # set_definition replaces the JSON, so a shallow copy keeps the old one
    other.set_definition(rename_references(usage.kind, other.definition, kind, old, new))
    try:
        other.save()
    except DefinitionError as exc:
        return [f.about(f"{usage.kind}/{usage.name}") for f in exc.findings]
    audit.record_definition(actor, before, other)
    return []


def _move_watermarks(old: str, new: str) -> list[Finding]:
    """Rename the sink key (``<dataset>:<folder>``) of the dataset's watermarks; refuse on a clash."""
    problems = []
    for watermark in Watermark.objects.select_for_update().filter(sink_key__istartswith=f"{old}:"):
        key = f"{new}:{watermark.sink_key[len(old) + 1 :]}"
        same_target = Watermark.objects.filter(
            linked_service_id=watermark.linked_service_id,
            source_schema=watermark.source_schema,
            source_table=watermark.source_table,
            sink_key=key,
        )
        if same_target.exclude(pk=watermark.pk).exists():
            message = f"a watermark of {watermark.table} for {key!r} already exists; delete the stale one first"
            problems.append(Finding("name", message, object="watermark"))
            continue
        Watermark.objects.filter(pk=watermark.pk).update(sink_key=key)
    return problems
