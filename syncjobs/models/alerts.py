"""Alerts: incidents (one open per condition and object), the events they raise, the channels and rules
that route events, and the log of every delivery attempt.

An incident is opened, updated while its condition lasts and resolved when it clears
(``services/alerts/evaluate.py``). Only *events* are delivered: the opening, a repeat worth saying
(a table still failing N failures later) and the resolution, so a condition evaluated every minute
notifies once, not every minute.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from syncjobs.secrets import EncryptedTokenField, decrypt_mapping, encrypt_mapping


class Severity(models.IntegerChoices):
    """How bad it is; rules pick events at or above a severity."""

    INFO = 10, "info"
    WARNING = 20, "warning"
    ERROR = 30, "error"
    CRITICAL = 40, "critical"


class Condition(models.TextChoices):
    """What an incident is about (an event's kind is one of these, or ``resolved``)."""

    RUN_FAILED = "run_failed", "run failed"
    RUN_LONG = "run_long", "run longer than expected"
    TRIGGER_FAILING = "trigger_failing", "trigger failing"
    TABLE_FAILING = "table_failing", "table failing"
    TABLE_LATE = "table_late", "table late"
    RETENTION_RISK = "retention_risk", "retention risk"
    REINITIALIZED = "reinitialized", "reinitialized"
    SCHEMA_CHANGED = "schema_changed", "schema changed"


RESOLVED = "resolved"
EVENT_KINDS = [*Condition.values, RESOLVED]


class ObjectType(models.TextChoices):
    """What an incident is on."""

    PIPELINE = "pipeline"
    RUN = "run"
    TRIGGER = "trigger"
    TABLE = "table"
    LINKED_SERVICE = "linkedService"


class IncidentQuerySet(models.QuerySet):
    """Incidents by state."""

    def open(self) -> IncidentQuerySet:
        """Not resolved yet."""
        return self.filter(resolved_at__isnull=True)

    def resolved(self) -> IncidentQuerySet:
        """Resolved."""
        return self.filter(resolved_at__isnull=False)

    def matching(
        self, *, state: str = "", severity: int | None = None, kind: str = "", obj: str = ""
    ) -> IncidentQuerySet:
        """Filter by state (open, resolved, acknowledged, muted), minimum severity, kind and object (any part)."""
        rows = self
        if state == "open":
            rows = rows.open()
        elif state == "resolved":
            rows = rows.resolved()
        elif state == "acknowledged":
            rows = rows.open().filter(acknowledged_at__isnull=False)
        elif state == "muted":
            rows = rows.open().filter(muted_until__gt=timezone.now())
        if severity:
            rows = rows.filter(severity__gte=severity)
        if kind:
            rows = rows.filter(kind=kind)
        if obj:
            rows = rows.filter(Q(object_name__icontains=obj) | Q(object_type__iexact=obj))
        return rows.order_by(models.F("resolved_at").desc(nulls_first=True), "-updated_at", "-pk")


class Incident(models.Model):
    """One condition on one object, from the moment it was seen until it cleared."""

    kind = models.CharField(max_length=30, choices=Condition.choices)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    object_type = models.CharField(max_length=20, choices=ObjectType.choices)
    object_id = models.CharField(max_length=300)  # stable: a pipeline's or trigger's name, a run id, a watermark id
    object_name = models.CharField(max_length=400)  # as shown
    pipeline_name = models.CharField(max_length=260, blank=True, default="")  # for rules scoped to a pipeline
    reason = models.TextField()
    link = models.CharField(max_length=500, blank=True, default="")
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    muted_until = models.DateTimeField(null=True, blank=True)
    count = models.PositiveIntegerField(default=1)  # occurrences seen while open (failed runs, failures...)
    last_seen = models.CharField(max_length=100, blank=True, default="")  # the newest occurrence counted (its id)
    notified_count = models.PositiveIntegerField(default=1)  # ``count`` when an event was last raised

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "object_type", "object_id"],
                condition=Q(resolved_at__isnull=True),
                name="syncjobs_incident_one_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.object_type} {self.object_name}"

    @property
    def is_open(self) -> bool:
        """Not resolved."""
        return self.resolved_at is None

    @property
    def is_muted(self) -> bool:
        """Muted for now: its events are logged but not sent."""
        return self.muted_until is not None and self.muted_until > timezone.now()

    def as_dict(self) -> dict[str, Any]:
        """The incident as the API returns it."""
        return {
            "id": self.pk,
            "kind": self.kind,
            "severity": self.get_severity_display(),
            "objectType": self.object_type,
            "objectId": self.object_id,
            "objectName": self.object_name,
            "pipelineName": self.pipeline_name,
            "reason": self.reason,
            "link": self.link,
            "state": "open" if self.is_open else "resolved",
            "count": self.count,
            "openedAt": self.opened_at.isoformat(),
            "updatedAt": self.updated_at.isoformat(),
            "resolvedAt": self.resolved_at.isoformat() if self.resolved_at else None,
            "acknowledgedBy": self.acknowledged_by.get_username() if self.acknowledged_by else None,
            "acknowledgedAt": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
            "mutedUntil": self.muted_until.isoformat() if self.is_muted and self.muted_until else None,
        }


class Event(models.Model):
    """Something worth telling: an incident opened, repeated, or resolved. Channels are sent events."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)  # a Condition value, or "resolved"
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    reason = models.TextField()
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.incident}"

    def as_message(self) -> dict[str, Any]:
        """What a webhook receives (and what e-mail and chat messages are written from)."""
        incident = self.incident
        return {
            "event": self.kind,
            "eventId": self.pk,
            "at": self.at.isoformat(),
            "severity": self.get_severity_display(),
            "reason": self.reason,
            "incident": incident.as_dict(),
        }

    @property
    def title(self) -> str:
        """One line: ``[error] run failed: pipeline Nightly`` or ``[resolved] run failed: ...``."""
        label = RESOLVED if self.kind == RESOLVED else self.get_severity_display()
        incident = self.incident
        return f"[{label}] {incident.get_kind_display()}: {incident.object_type} {incident.object_name}"


class AlertChannel(models.Model):
    """Where events go: an e-mail list, a webhook, or apprise URLs (Slack, Teams, ...).

    ``config`` holds what may be shown (recipients); URLs and signing secrets live encrypted in
    ``encrypted_secrets`` (a webhook or chat URL often carries a token) and never leave the server.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", "e-mail"
        WEBHOOK = "webhook", "webhook"
        APPRISE = "apprise", "apprise (Slack, Teams, ...)"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    config = models.JSONField(default=dict, blank=True)
    encrypted_secrets = EncryptedTokenField(blank=True, default="", editable=False)
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def secrets(self) -> dict[str, str]:
        """The channel's secrets (``url``, ``signing_secret``, ``urls``); never show them."""
        return decrypt_mapping(self.encrypted_secrets)

    def set_secrets(self, values: dict[str, str]) -> None:
        """Store secrets (encrypted); empty values are dropped."""
        self.encrypted_secrets = encrypt_mapping({k: v for k, v in values.items() if v})


class AlertRule(models.Model):
    """Which events go to which channels: by kind, at least a severity, and on which objects."""

    class Scope(models.TextChoices):
        ALL = "all", "everything"
        PIPELINE = "pipeline", "a pipeline"
        TABLE = "table", "a table"

    name = models.CharField(max_length=100, unique=True)
    event_kinds = models.JSONField(default=list, blank=True)  # Condition values; empty: every kind
    min_severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.WARNING)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.ALL)
    scope_name = models.CharField(max_length=400, blank=True, default="")  # the pipeline, or the table's name
    channels = models.ManyToManyField(AlertChannel, related_name="rules")
    enabled = models.BooleanField(default=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def matches(self, incident: Incident) -> bool:
        """Whether this rule sends the events of ``incident`` (its resolution included)."""
        if self.event_kinds and incident.kind not in self.event_kinds:
            return False
        if incident.severity < self.min_severity:
            return False
        if self.scope == self.Scope.PIPELINE:
            return incident.pipeline_name.lower() == self.scope_name.strip().lower()
        if self.scope == self.Scope.TABLE:
            return incident.object_type == ObjectType.TABLE and self.scope_name.strip().lower() in table_names(
                incident.object_name
            )
        return True


def table_names(shown: str) -> set[str]:
    """The names a rule may give a table shown as ``Source/schema.table -> sink``, lower case: that whole,
    ``Source/schema.table``, ``schema.table`` and ``table``."""
    source_table = shown.split(" -> ", 1)[0]
    qualified = source_table.split("/", 1)[-1]
    return {n.lower() for n in (shown, source_table, qualified, qualified.rsplit(".", 1)[-1])}


class Delivery(models.Model):
    """One attempt to send one event to one channel, with the answer it got.

    The (event, channel, attempt) constraint makes each attempt a claim: two evaluator passes at once
    cannot both send attempt 1. A later attempt exists only after the previous one failed.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="deliveries")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    answer = models.TextField(blank=True, default="")  # status code and the start of the body, secrets masked
    at = models.DateTimeField(default=timezone.now, db_index=True)
    due_at = models.DateTimeField(default=timezone.now)  # not before (the backoff)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "channel", "attempt"], name="syncjobs_delivery_attempt"),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.channel} #{self.attempt} {self.status}"


class EvaluationPass(models.Model):
    """The evaluator's bookmark (one row): when its last pass began, so the next one reads what came since."""

    last_pass_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"alerts evaluated at {self.last_pass_at}"
