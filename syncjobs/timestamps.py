"""Timestamps people and scripts type (API bodies, the Monitor's custom range), read strictly.

``django.utils.dateparse.parse_datetime`` raises ``ValueError`` for a well-formed but impossible date
(``2024-13-45T00:00``), and a date at the edge of the calendar with an offset overflows when the
database adapter converts it to UTC; both used to end in a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime


class TimestampError(ValueError):
    """Text that is not a usable ISO 8601 date and time."""


def parse_timestamp(text: object) -> datetime:
    """An aware UTC datetime from ISO 8601 text (naive text is taken as UTC); raises :class:`TimestampError`."""
    if not isinstance(text, str) or not text.strip():
        raise TimestampError("must be an ISO 8601 date and time, e.g. 2026-01-31T00:00:00Z")
    try:
        value = parse_datetime(text.strip())
    except ValueError as exc:
        raise TimestampError(f"is not a real date and time ({exc})") from None
    if value is None:
        raise TimestampError(f"must be an ISO 8601 date and time, e.g. 2026-01-31T00:00:00Z (got {text[:40]!r})")
    try:
        return timezone.make_aware(value, UTC) if timezone.is_naive(value) else value.astimezone(UTC)
    except OverflowError:
        raise TimestampError("is outside the calendar once taken to UTC") from None
