"""Factory objects stored as ADF JSON: linked services, datasets, pipelines and triggers."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from syncjobs.adf.confinement import HostLimits, check_confined, confinement_findings, host_limits
from syncjobs.adf.findings import DefinitionError, Finding, KnownObjects, raise_for_errors
from syncjobs.adf.masking import TARGET_ID, mask_secrets, reveal_secrets, secret_target
from syncjobs.adf.pipelines import pipeline_references
from syncjobs.adf.secure_parameters import (
    mask_parameter_defaults,
    mask_trigger_parameters,
    secure_parameter_names,
    trigger_parameter_id,
)
from syncjobs.adf.validation import validate_definition
from syncjobs.secrets import EncryptedTokenField, decrypt_mapping, encrypt_mapping

_ARM_TYPES = {
    "linkedService": "Microsoft.DataFactory/factories/linkedservices",
    "dataset": "Microsoft.DataFactory/factories/datasets",
    "pipeline": "Microsoft.DataFactory/factories/pipelines",
    "trigger": "Microsoft.DataFactory/factories/triggers",
}


def known_objects() -> KnownObjects:
    """Every stored object a definition may reference."""
    known = KnownObjects()
    for name, kind in LinkedService.objects.values_list("name", "type"):
        known.linked_services[name.lower()] = kind
    for name, kind, ls_name, definition in Dataset.objects.values_list(
        "name", "type", "linked_service__name", "definition"
    ):
        known.datasets[name.lower()] = (kind, ls_name)
        declared = (definition.get("properties") or {}).get("parameters") if isinstance(definition, dict) else None
        known.dataset_parameters[name.lower()] = declared if isinstance(declared, dict) else {}
    known.pipelines.update(name.lower() for name in Pipeline.objects.values_list("name", flat=True))
    return known


class Definition(models.Model):
    """An object kept as its ADF JSON (``{"name", "properties"}``), validated on every save."""

    KIND: ClassVar[str] = ""

    name = models.CharField(max_length=260)
    definition = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = models.Manager()  # Django's own default, declared so code over any kind can name it

    class Meta:
        abstract = True
        ordering = ["name"]
        # ADF names ignore case: "SourceDataset" and "sourcedataset" are one object.
        constraints = [models.UniqueConstraint(Lower("name"), name="%(app_label)s_%(class)s_name_ci")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Validate, then save: an invalid definition is never stored.

        ``set_definition`` runs again here (it is idempotent), so however ``definition`` was
        assigned, derived fields follow it and no secret is ever saved inside the JSON.
        """
        self.set_definition(self.definition)
        self.validate_definition()
        super().save(*args, **kwargs)

    @property
    def properties(self) -> dict[str, Any]:
        """The definition's ``properties`` object."""
        props = self.definition.get("properties")
        return props if isinstance(props, dict) else {}

    def set_definition(self, definition: dict[str, Any]) -> list[Finding]:
        """Take a new ADF definition (not yet saved); return warnings about it."""
        self.definition = {"name": definition.get("name"), "properties": copy.deepcopy(definition.get("properties"))}
        self.name = definition.get("name") or ""
        return []

    def validate_definition(self, known: KnownObjects | None = None) -> list[Finding]:
        """Check the definition and its references; raise :class:`DefinitionError` on any error."""
        findings = validate_definition(self.KIND, self.definition, known if known is not None else known_objects())
        if self.definition.get("name") != self.name:
            findings.append(Finding("name", f"must equal the object's name {self.name!r}"))
        others = type(self).objects.filter(name__iexact=self.name).exclude(pk=self.pk)
        if self.name and others.exists():
            findings.append(
                Finding("name", f"a {self.KIND} named {others[0].name!r} already exists (names ignore case)")
            )
        return raise_for_errors(findings)

    def clean(self) -> None:
        """Django's hook (admin, forms): findings become a ValidationError."""
        self.set_definition(self.definition)
        try:
            self.validate_definition()
        except DefinitionError as exc:
            raise ValidationError([str(f) for f in exc.findings]) from exc

    def to_adf(self) -> dict[str, Any]:
        """The object as ADF serves and exports it (secrets masked)."""
        return {"name": self.name, "type": _ARM_TYPES[self.KIND], "properties": copy.deepcopy(self.properties)}


class LinkedService(Definition):
    """A connection to a data store; its secrets live encrypted in ``encrypted_secrets``, never in JSON."""

    KIND = "linkedService"

    type = models.CharField(max_length=100)
    encrypted_secrets = EncryptedTokenField(blank=True, default="", editable=False)

    class Meta(Definition.Meta):
        pass

    def secrets(self) -> dict[str, str]:
        """The stored secrets by id (JSON path, ``#part`` for a piece of a string)."""
        stored = decrypt_mapping(self.encrypted_secrets)
        stored.pop(TARGET_ID, None)
        return stored

    def split_secrets(self, definition: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[Finding]]:
        """``mask_secrets`` of ``definition`` against the stored secrets, which a mask gets back only while
        the definition still points where they were entered for (else: cleared, with a warning)."""
        stored = decrypt_mapping(self.encrypted_secrets)
        bound_to = stored.pop(TARGET_ID, None) or (secret_target(self.definition) if self.properties else None)
        return mask_secrets(definition, stored, bound_to)

    def set_definition(self, definition: dict[str, Any]) -> list[Finding]:
        """Take a new definition: secrets move out (encrypted, bound to the target they are entered for);
        a masked secret keeps the stored one unless the target changed."""
        masked, secrets, warnings = self.split_secrets(definition)
        super().set_definition(masked)
        self.type = str(self.properties.get("type", ""))
        self.encrypted_secrets = encrypt_mapping({**secrets, TARGET_ID: secret_target(masked)} if secrets else {})
        return warnings

    def validate_definition(self, known: KnownObjects | None = None) -> list[Finding]:
        """Check the definition, and that it points nowhere on the host a linked service may not reach."""
        confined = confinement_findings(self.definition, self.host_limits())
        try:
            findings = super().validate_definition(known)
        except DefinitionError as exc:
            raise DefinitionError([*exc.findings, *confined]) from None
        return raise_for_errors([*findings, *confined])

    def host_limits(self) -> HostLimits:
        """What this linked service may reach on the host (other linked services' secret files refused)."""
        return host_limits(LinkedService.objects.exclude(pk=self.pk).values_list("definition", flat=True))

    def revealed_definition(self) -> dict[str, Any]:
        """The definition with its secrets in place, for building an engine config; never show it.

        Checked again at every use (the file roots, links on disk or the portal's database may have
        changed since it was saved): raises ``TerminalError`` (``path_not_allowed``, ``portal_database``).
        """
        check_confined(self.definition, self.host_limits())
        return reveal_secrets(self.definition, self.secrets())


class Dataset(Definition):
    """A named table or file location on a linked service."""

    KIND = "dataset"

    type = models.CharField(max_length=100)
    # ADF refuses to delete a linked service that a dataset still uses.
    linked_service = models.ForeignKey(LinkedService, on_delete=models.PROTECT, related_name="datasets")

    class Meta(Definition.Meta):
        pass

    def set_definition(self, definition: dict[str, Any]) -> list[Finding]:
        """Take a new definition and point ``linked_service`` at the one it names."""
        super().set_definition(definition)
        self.type = str(self.properties.get("type", ""))
        ref = self.properties.get("linkedServiceName")
        ref = ref.get("referenceName") if isinstance(ref, dict) else None
        found = LinkedService.objects.filter(name__iexact=ref.strip()).first() if isinstance(ref, str) else None
        if found is not None:
            self.linked_service = found
        return []

    def validate_definition(self, known: KnownObjects | None = None) -> list[Finding]:
        """Check the definition; the linked service must exist in the database."""
        known = known if known is not None else known_objects()
        findings = super().validate_definition(known)
        if self.linked_service_id is None:
            raise DefinitionError(
                [Finding("properties.linkedServiceName.referenceName", "the linked service does not exist")]
            )
        return findings


class Pipeline(Definition):
    """Activities run in dependency order; SecureString parameters' default values live encrypted apart."""

    KIND = "pipeline"

    encrypted_secrets = EncryptedTokenField(blank=True, default="", editable=False)

    class Meta(Definition.Meta):
        pass

    def set_definition(self, definition: dict[str, Any]) -> list[Finding]:
        """Take a new definition: SecureString defaults move out (encrypted); a masked one keeps the stored one."""
        masked, secrets, warnings = mask_parameter_defaults(definition, decrypt_mapping(self.encrypted_secrets))
        super().set_definition(masked)
        self.encrypted_secrets = encrypt_mapping(secrets)
        return warnings

    def secret_defaults(self) -> dict[str, str]:
        """The default values of SecureString parameters, by parameter name (for a run; never show them)."""
        stored = decrypt_mapping(self.encrypted_secrets)
        prefix, suffix = "properties.parameters.", ".defaultValue"
        return {key.removeprefix(prefix).removesuffix(suffix): value for key, value in stored.items()}

    def snapshot(self) -> dict[str, Any]:
        """The pipeline with the datasets and linked services it references, secrets masked.

        A run freezes this at trigger time, so later edits never change what a run did.
        """
        refs = pipeline_references(self.definition)
        datasets = [
            d
            for d in Dataset.objects.select_related("linked_service")
            if d.name.lower() in {n.lower() for n in refs.datasets}
        ]
        ls_names = {n.lower() for n in refs.linked_services} | {d.linked_service.name.lower() for d in datasets}
        linked = [ls for ls in LinkedService.objects.all() if ls.name.lower() in ls_names]
        return {
            "pipeline": copy.deepcopy(self.definition),
            "datasets": {d.name: copy.deepcopy(d.definition) for d in datasets},
            "linkedServices": {ls.name: copy.deepcopy(ls.definition) for ls in linked},
        }


class Trigger(Definition):
    """Starts pipelines on a schedule; ``runtime_state`` is kept apart from the JSON, as ADF does, and the values
    it passes to SecureString parameters are kept encrypted apart from it."""

    KIND = "trigger"

    class RuntimeState(models.TextChoices):
        STARTED = "Started"
        STOPPED = "Stopped"

    type = models.CharField(max_length=100)
    runtime_state = models.CharField(max_length=10, choices=RuntimeState.choices, default=RuntimeState.STOPPED)
    last_fired_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Why the last attempt to fire failed (empty once it fires again): shown on the Manage page.
    fire_error = models.TextField(blank=True, default="", editable=False)
    fire_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    encrypted_secrets = EncryptedTokenField(blank=True, default="", editable=False)

    class Meta(Definition.Meta):
        pass

    def set_definition(self, definition: dict[str, Any]) -> list[Finding]:
        """Take a new definition; a ``runtimeState`` in it is ignored (read-only, as in ADF: use start/stop).

        Values for the SecureString parameters of the pipelines it starts move out (encrypted).
        """
        stored = decrypt_mapping(self.encrypted_secrets)
        masked, secrets, warnings = mask_trigger_parameters(definition, stored, _secure_parameters_of)
        super().set_definition(masked)
        self.encrypted_secrets = encrypt_mapping(secrets)
        self.type = str(self.properties.get("type", ""))
        self.properties.pop("runtimeState", None)
        return warnings

    def pipeline_parameters(self, index: int) -> dict[str, Any]:
        """The parameters it passes to its ``index``-th pipeline, SecureString values in place (for a run only)."""
        entry = (self.properties.get("pipelines") or [])[index]
        stored = decrypt_mapping(self.encrypted_secrets)
        parameters = dict(entry.get("parameters") or {})
        return {k: stored.get(trigger_parameter_id(index, k), v) for k, v in parameters.items()}

    def start(self) -> None:
        """Start firing."""
        self.runtime_state = self.RuntimeState.STARTED
        self.save(update_fields=["runtime_state", "updated"])

    def stop(self) -> None:
        """Stop firing."""
        self.runtime_state = self.RuntimeState.STOPPED
        self.save(update_fields=["runtime_state", "updated"])

    def record_fire_error(self, message: str) -> None:
        """Remember why firing failed (the other triggers fire regardless)."""
        self.fire_error, self.fire_error_at = message[:2000], timezone.now()
        Trigger.objects.filter(pk=self.pk).update(fire_error=self.fire_error, fire_error_at=self.fire_error_at)

    def clear_fire_error(self) -> None:
        """It fired: forget the last failure."""
        if self.fire_error:
            self.fire_error, self.fire_error_at = "", None
            Trigger.objects.filter(pk=self.pk).update(fire_error="", fire_error_at=None)

    def to_adf(self) -> dict[str, Any]:
        """The trigger as ADF serves it, ``runtimeState`` included."""
        data = super().to_adf()
        data["properties"]["runtimeState"] = self.runtime_state
        return data


def _secure_parameters_of(pipeline_name: str) -> set[str]:
    found = Pipeline.objects.filter(name__iexact=pipeline_name.strip()).first()
    return secure_parameter_names(found.definition) if found else set()
