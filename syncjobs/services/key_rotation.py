"""Re-encrypting every stored secret under the first field encryption key."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models

from syncjobs.secrets import SecretUnreadableError, encrypted_fields, is_under_first_key, reencrypt


@dataclass
class FieldRotation:
    """What rotation did to one encrypted column."""

    label: str  # "syncjobs.LinkedService.encrypted_secrets"
    reencrypted: int = 0
    current: int = 0  # already under the first key
    unreadable: list[object] = field(default_factory=list)  # primary keys no configured key decrypts


def rotate_encryption_keys() -> list[FieldRotation]:
    """Re-encrypt every token in every encrypted column under the first key; one result per column.

    Each row is updated only if its token is still the one read, so a secret saved meanwhile is kept.
    """
    return [_rotate_field(model, name) for model, name in encrypted_fields()]


def _rotate_field(model: type[models.Model], name: str) -> FieldRotation:
    result = FieldRotation(f"{model._meta.label}.{name}")
    rows = model._default_manager.exclude(**{name: ""}).values_list("pk", name)
    for pk, token in rows.iterator(chunk_size=500):
        if is_under_first_key(token):
            result.current += 1
            continue
        try:
            new_token = reencrypt(token)
        except SecretUnreadableError:
            result.unreadable.append(pk)
            continue
        result.reencrypted += model._default_manager.filter(pk=pk, **{name: token}).update(**{name: new_token})
    return result
