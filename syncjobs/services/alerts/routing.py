"""Changing channels and rules (Admins), audited; secrets are written, never read back.

A channel's URL or signing secret left blank on a change keeps the stored one, as linked services'
masked secrets do; a new value replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from syncjobs.access import Actor
from syncjobs.models import AlertChannel, AlertRule, AuditEntry
from syncjobs.services import audit


@dataclass(frozen=True)
class ChannelChange:
    """What a channel form gives: shown settings, and secrets (blank: keep the stored one)."""

    name: str
    kind: str
    enabled: bool = True
    recipients: list[str] = field(default_factory=list)
    url: str = ""
    signing_secret: str = ""
    apprise_urls: str = ""


_SECRETS_OF: dict[str, tuple[str, ...]] = {
    AlertChannel.Kind.EMAIL.value: (),
    AlertChannel.Kind.WEBHOOK.value: ("url", "signing_secret"),
    AlertChannel.Kind.APPRISE.value: ("urls",),
}


def save_channel(channel: AlertChannel | None, change: ChannelChange, actor: Actor) -> AlertChannel:
    """Create or change a channel; audited with the names of the secrets that changed (never their values)."""
    created = channel is None
    channel = channel or AlertChannel(kind=change.kind)
    stored = channel.secrets()
    given = {"url": change.url, "signing_secret": change.signing_secret, "urls": change.apprise_urls}
    secrets = {**stored, **{k: v.strip() for k, v in given.items() if v.strip()}}
    secrets = {k: v for k, v in secrets.items() if k in _SECRETS_OF[change.kind]}  # a kind changed: old ones go
    channel.name, channel.kind, channel.enabled = change.name, change.kind, change.enabled
    channel.config = {"recipients": change.recipients} if change.kind == AlertChannel.Kind.EMAIL else {}
    channel.set_secrets(secrets)
    with transaction.atomic():
        channel.save()
        changed = sorted(k for k in secrets.keys() | stored.keys() if secrets.get(k) != stored.get(k))
        action = AuditEntry.Action.CREATE if created else AuditEntry.Action.CHANGE
        audit.record(actor, action, "alertChannel", channel.name, channelKind=channel.kind, secretsChanged=changed)
    return channel


def delete_channel(channel: AlertChannel, actor: Actor) -> None:
    """Delete a channel (its delivery log goes with it)."""
    with transaction.atomic():
        audit.record(actor, AuditEntry.Action.DELETE, "alertChannel", channel.name, channelKind=channel.kind)
        channel.delete()


def save_rule(rule: AlertRule, channels: list[AlertChannel], actor: Actor) -> AlertRule:
    """Create or change a rule and the channels it sends to."""
    created = rule.pk is None
    with transaction.atomic():
        rule.save()
        rule.channels.set(channels)
        action = AuditEntry.Action.CREATE if created else AuditEntry.Action.CHANGE
        audit.record(
            actor,
            action,
            "alertRule",
            rule.name,
            kinds=list(rule.event_kinds),
            scope=rule.scope,
            channels=[c.name for c in channels],
        )
    return rule


def delete_rule(rule: AlertRule, actor: Actor) -> None:
    """Delete a rule."""
    with transaction.atomic():
        audit.record(actor, AuditEntry.Action.DELETE, "alertRule", rule.name)
        rule.delete()
