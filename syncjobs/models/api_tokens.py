"""API tokens: only a SHA-256 hash is stored, so a database leak gives no usable token."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    """Token look-ups."""

    def authenticate(self, token: str) -> ApiToken | None:
        """The active token matching ``token`` (and note its use), or None."""
        found = self.select_related("user").filter(token_hash=hash_token(token), user__is_active=True).first()
        if found is not None:
            found.last_used = timezone.now()
            found.save(update_fields=["last_used"])
        return found


class ApiToken(models.Model):
    """A bearer token for the REST API, owned by a user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["user", "name"]

    def __str__(self) -> str:
        return f"{self.user} / {self.name}"

    @classmethod
    def issue(cls, user: models.Model, name: str) -> tuple[ApiToken, str]:
        """Create a token; the plain value is returned once and never stored."""
        token = secrets.token_urlsafe(32)
        return cls.objects.create(user=user, name=name, token_hash=hash_token(token)), token
