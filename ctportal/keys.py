"""The portal's keys: refused when public, and created once in the data directory when not given.

Used by ``settings.py`` before Django is set up, so nothing here imports Django models.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# Keys anyone can read: the embedded default of earlier versions and .env.example's placeholder.
PUBLIC_KEYS = ("ctportal-local-development-key-change-me-in-production", "change-me")
# Django's own deploy check (security.W009) asks for this much of a SECRET_KEY.
MIN_LENGTH = 50
MIN_UNIQUE_CHARACTERS = 5


def is_fernet_key(value: str) -> bool:
    """Whether ``value`` is a Fernet key: 32 random bytes, URL-safe base64."""
    try:
        return len(base64.urlsafe_b64decode(value.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def weakness(key: str) -> str:
    """Why ``key`` must not protect a portal ("" when it may)."""
    if key in PUBLIC_KEYS:
        return "is a public example key"
    if key.startswith("django-insecure-"):
        return "is marked insecure"
    if len(key) < MIN_LENGTH or len(set(key)) < MIN_UNIQUE_CHARACTERS:
        return f"is shorter than {MIN_LENGTH} characters or has fewer than {MIN_UNIQUE_CHARACTERS} different ones"
    return ""


def refuse_weak_keys(variable: str, keys: list[str], allow_fernet: bool = False) -> None:
    """Stop the portal with a clear message when any of ``keys`` (from ``variable``) is weak."""
    for position, key in enumerate(keys):
        if allow_fernet and is_fernet_key(key):
            continue
        reason = weakness(key)
        if reason:
            where = variable if len(keys) == 1 else f"{variable} (item {position + 1})"
            raise ImproperlyConfigured(
                f"{where} {reason}: the portal will not start on it outside CTPORTAL_DEBUG. "
                "Unset it to use a random key kept in the data directory, or set a random one "
                "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
            )


def key_file(path: Path, make: Callable[[], str]) -> str:
    """The key kept in ``path``; created once with ``make()`` (mode 0600, atomically), then reused.

    Several processes (web, worker) may start at once: each writes a complete temporary file and
    links it into place, so the first link wins and nobody ever reads a half-written key.
    """
    if not path.exists():
        try:
            _create(path, make())
        except OSError as exc:
            raise ImproperlyConfigured(
                f"cannot create the key file {path} ({exc}): set the key in the environment"
            ) from exc
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise ImproperlyConfigured(f"{path} is readable by other users: chmod 600 it")
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it to have a new key made")
    return key


def _create(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as out:
            out.write(key + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
    finally:
        temporary.unlink()
