"""Encryption of secret fields: Fernet tokens under keys from the environment, and their registry.

``settings.FIELD_ENCRYPTION_KEYS`` is a list (each a Fernet key, or any string, which is then derived
through HKDF): the first encrypts, all decrypt. Unset, it is one random key kept in the data
directory, so the database file alone never reads the secrets. Keys derived from ``SECRET_KEY``, its
fallbacks and the public keys of earlier versions (which derived the encryption key from
``SECRET_KEY``) still decrypt, and only decrypt: ``manage.py rotate_encryption_keys`` moves every
stored token, in every :class:`EncryptedTokenField`, under the first key.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.apps import apps
from django.conf import settings
from django.db import models

from ctportal.keys import PUBLIC_KEYS, is_fernet_key

# What ADF shows in place of a SecureString's value; saving it back means "keep the stored secret".
MASK = "**********"

_HKDF_SALT = b"ctportal.syncjobs.secrets"
_HKDF_INFO = b"ctportal field encryption v1"


class SecretUnreadableError(Exception):
    """A stored secret cannot be decrypted with any configured key (the key changed)."""


class EncryptedTokenField(models.TextField):
    """A column holding a token made by :func:`encrypt`; rotation re-encrypts every such column.

    Declare every encrypted column with it: :func:`encrypted_fields` is the registry. Migrations see
    a plain ``TextField`` (the column is one), so adopting it changes no schema.
    """

    def deconstruct(self) -> tuple:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.TextField", args, kwargs


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) that stores encrypted tokens."""
    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedTokenField)
    ]


def derive_key(material: str) -> bytes:
    """A Fernet key derived from ``material`` (a settings key) with HKDF-SHA256."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(material.encode()))


def _as_fernet_key(value: str) -> bytes:
    return value.encode() if is_fernet_key(value) else derive_key(value)


@lru_cache(maxsize=8)
def _multi_fernet(field_keys: tuple[str, ...], legacy: tuple[str, ...]) -> MultiFernet:
    keys = [_as_fernet_key(key) for key in field_keys] + [derive_key(key) for key in legacy]
    return MultiFernet([Fernet(key) for key in dict.fromkeys(keys)])


def _fernet() -> MultiFernet:
    legacy = (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS, *PUBLIC_KEYS)
    return _multi_fernet(tuple(settings.FIELD_ENCRYPTION_KEYS), legacy)


def is_under_first_key(token: str) -> bool:
    """Whether ``token`` is encrypted under the first key (rotation leaves it alone)."""
    try:
        Fernet(_as_fernet_key(settings.FIELD_ENCRYPTION_KEYS[0])).decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeError):
        return False
    return True


def reencrypt(token: str) -> str:
    """``token`` encrypted again under the first key; :class:`SecretUnreadableError` if no key reads it."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError) as exc:
        raise SecretUnreadableError("a stored secret cannot be decrypted with any configured key") from exc


def encrypt(plaintext: str) -> str:
    """Encrypt a string; the token is ASCII and safe to store in a text column."""
    return _fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """Decrypt a token made by :func:`encrypt`; raise :class:`SecretUnreadableError` if no key fits."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise SecretUnreadableError("a stored secret cannot be decrypted: was the encryption key changed?") from exc


def encrypt_mapping(values: dict[str, str]) -> str:
    """Encrypt a mapping of secrets as one token ("" for no secrets)."""
    return encrypt(json.dumps(values, sort_keys=True)) if values else ""


def decrypt_mapping(token: str) -> dict[str, str]:
    """Decrypt a token made by :func:`encrypt_mapping`."""
    return json.loads(decrypt(token)) if token else {}
