"""Engine errors: every failure is terminal or transient, with a machine-readable reason code."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every engine error.

    ``reason`` is a short code (``login_failed``, ``timeout``, ``min_version_expired``...) that retry
    policy and the UI read; the message is for people and never holds a secret.
    """

    transient = False

    def __init__(self, reason: str, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message} [{self.reason}]"


class TerminalError(EngineError):
    """Retrying will not help: bad input, missing table, no primary key, denied access."""


class TransientError(EngineError):
    """Retrying may help: connection refused, timeout, deadlock, throttling."""

    transient = True
