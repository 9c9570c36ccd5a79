"""The audit log: who changed, triggered, cancelled, started or stopped what, and when. Never a secret."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditQuerySet(models.QuerySet):
    """Look-ups for the Audit log page and ``GET /api/auditlog``."""

    def matching(
        self,
        *,
        user: str = "",
        action: str = "",
        obj: str = "",
        after: datetime | None = None,
        before: datetime | None = None,
    ) -> AuditQuerySet:
        """Entries by actor name, action, object (kind or name, any part) and time, newest first."""
        rows = self
        if user:
            rows = rows.filter(actor__iexact=user.strip())
        if action:
            rows = rows.filter(action=action.strip())
        if obj:
            rows = rows.filter(models.Q(object_name__icontains=obj) | models.Q(object_kind__iexact=obj))
        if after:
            rows = rows.filter(at__gte=after)
        if before:
            rows = rows.filter(at__lte=before)
        return rows.order_by("-at", "-pk")


class AuditEntry(models.Model):
    """One thing done: by whom (a user, ``cli:<os user>`` or ``system``), as what role, to which object."""

    class Action(models.TextChoices):
        CREATE = "create"
        CHANGE = "change"
        RENAME = "rename"
        DELETE = "delete"
        TRIGGER = "trigger"
        RERUN = "rerun"
        CANCEL = "cancel"
        START = "start"
        STOP = "stop"
        SET_ROLE = "set_role"
        ACTIVATE = "activate"
        DEACTIVATE = "deactivate"
        SET_PASSWORD = "set_password"  # noqa: S105 - an action name
        ISSUE_TOKEN = "issue_token"  # noqa: S105 - an action name
        REVOKE_TOKEN = "revoke_token"  # noqa: S105 - an action name
        ENABLE_CHANGE_TRACKING = "enable_change_tracking"
        DISABLE_CHANGE_TRACKING = "disable_change_tracking"
        ACKNOWLEDGE = "acknowledge"
        MUTE = "mute"
        SEND_TEST = "send_test"
        PAUSE = "pause"
        RESUME = "resume"
        RESYNC = "resync"
        SET_PACE = "set_pace"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    role = models.CharField(max_length=20)
    action = models.CharField(max_length=30, choices=Action.choices)
    object_kind = models.CharField(max_length=40)
    object_name = models.CharField(max_length=400)
    # Names and paths only: never a definition's values, a secret or a SecureString parameter.
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.object_kind} {self.object_name}"

    def as_dict(self) -> dict[str, object]:
        """The entry as the API returns it."""
        return {
            "id": self.pk,
            "at": self.at.isoformat(),
            "user": self.actor,
            "role": self.role,
            "action": self.action,
            "objectKind": self.object_kind,
            "objectName": self.object_name,
            "detail": self.detail,
        }
