"""A ScheduleTrigger's recurrence, checked field by field: at save, and again before each firing.

ADF's schedule: ``frequency`` Minute, Hour, Day, Week or Month; ``interval`` a positive integer;
``startTime`` (and optional ``endTime``) ISO 8601; ``schedule`` (not with Minute) of ``minutes`` 0-59 and
``hours`` 0-23 as arrays of integers, ``weekDays`` (Week) as day names, ``monthDays`` (Month) as 1..31 or
-31..-1 counted from the month's end. The portal schedules in UTC only and has no ``monthlyOccurrences``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from syncjobs.adf.findings import Checker

FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
UTC_NAMES = ("UTC", "Coordinated Universal Time", "Etc/UTC", "GMT")
MAX_INTERVAL = 10_000  # the portal's bound: every 10,000 months is already longer than the calendar allows
_LISTS = {
    "minutes": ("Hour", "Day", "Week", "Month"),
    "hours": ("Day", "Week", "Month"),
    "weekDays": ("Week",),
    "monthDays": ("Month",),
}


def check_recurrence(check: Checker, rec: dict[str, Any], path: str) -> None:
    """Add findings for a ScheduleTrigger's ``recurrence`` at ``path``."""
    check.choice(rec, "frequency", path, FREQUENCIES, required=True)
    if rec.get("interval") is None:
        check.add(f"{path}.interval", "required")
    check.integer(rec, "interval", path, minimum=1, maximum=MAX_INTERVAL)
    start = _moment(check, rec, "startTime", path, required=True)
    end = _moment(check, rec, "endTime", path, required=False)
    if start and end and end <= start:
        check.add(f"{path}.endTime", "must be after startTime")
    zone = rec.get("timeZone", "UTC")
    if zone not in UTC_NAMES:
        check.add(f"{path}.timeZone", f"only UTC is supported: use UTC (got {str(zone)[:40]!r})")
    schedule = check.obj(rec.get("schedule"), f"{path}.schedule", required=False)
    if schedule:
        _schedule(check, schedule, f"{path}.schedule", rec.get("frequency"))


def _moment(check: Checker, rec: dict[str, Any], key: str, path: str, *, required: bool) -> datetime | None:
    text = check.text(rec, key, path, required=required)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        check.add(f"{path}.{key}", f"must be an ISO 8601 date and time (got {text[:40]!r})")
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _schedule(check: Checker, schedule: dict[str, Any], path: str, frequency: Any) -> None:
    if schedule.get("monthlyOccurrences"):
        check.add(f"{path}.monthlyOccurrences", "is not supported here; use monthDays")
    for key, frequencies in _LISTS.items():
        if key in schedule and frequency in FREQUENCIES and frequency not in frequencies:
            check.add(f"{path}.{key}", f"needs frequency {' or '.join(frequencies)} (the recurrence is {frequency})")
    _integers(check, schedule, "minutes", path, range(60))
    _integers(check, schedule, "hours", path, range(24))
    _integers(check, schedule, "monthDays", path, [*range(-31, 0), *range(1, 32)])
    days = check.items(schedule.get("weekDays"), f"{path}.weekDays")
    for i, day in enumerate(days):
        if day not in WEEKDAYS:
            check.add(f"{path}.weekDays[{i}]", f"must be one of {', '.join(WEEKDAYS)} (got {str(day)[:20]!r})")


def _integers(check: Checker, schedule: dict[str, Any], key: str, path: str, allowed: Any) -> None:
    values = check.items(schedule.get(key), f"{path}.{key}")
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
            low, high = min(allowed), max(allowed)
            extra = " except 0" if key == "monthDays" else ""
            check.add(f"{path}.{key}[{i}]", f"must be an integer from {low} to {high}{extra} (got {str(value)[:20]!r})")
