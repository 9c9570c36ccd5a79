"""Encryption of secret fields: Fernet tokens under a key derived from the portal's settings.

The key is ``settings.FIELD_ENCRYPTION_KEY`` when set (a Fernet key, or any string, which is then
derived through HKDF), otherwise HKDF over ``settings.SECRET_KEY``. Keys derived from
``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` stay readable after a dedicated key is added, so adding
or rotating a key never strands the secrets already stored; new tokens always use the first key.
"""

from __future__ import annotations

import base64
import binascii
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# What ADF shows in place of a SecureString's value; saving it back means "keep the stored secret".
MASK = "**********"

_HKDF_SALT = b"ctportal.syncjobs.secrets"
_HKDF_INFO = b"ctportal field encryption v1"


class SecretUnreadableError(Exception):
    """A stored secret cannot be decrypted with any configured key (the key changed)."""


def derive_key(material: str) -> bytes:
    """A Fernet key derived from ``material`` (a settings key) with HKDF-SHA256."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(material.encode()))


def _as_fernet_key(value: str) -> bytes:
    try:
        if len(base64.urlsafe_b64decode(value.encode())) == 32:
            return value.encode()
    except (binascii.Error, ValueError):
        pass
    return derive_key(value)


def _keys() -> list[bytes]:
    keys: list[bytes] = []
    dedicated = getattr(settings, "FIELD_ENCRYPTION_KEY", None)
    if dedicated:
        keys.append(_as_fernet_key(dedicated))
    keys.append(derive_key(settings.SECRET_KEY))
    keys.extend(derive_key(old) for old in getattr(settings, "SECRET_KEY_FALLBACKS", []))
    return list(dict.fromkeys(keys))


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in _keys()])


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
