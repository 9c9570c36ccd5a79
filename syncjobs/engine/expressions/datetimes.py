"""Timestamps as ADF handles them: ISO 8601 strings in, .NET custom format strings out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

DOTNET_EPOCH = datetime(1, 1, 1, tzinfo=UTC)  # ticks() counts 100 ns from here
ROUND_TRIP = "yyyy-MM-ddTHH:mm:ss.fffffffK"
_STANDARD = {"o": ROUND_TRIP, "O": ROUND_TRIP, "s": "yyyy-MM-ddTHH:mm:ss", "u": "yyyy-MM-dd HH:mm:ssZ"}
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_TOKEN = re.compile(r"yyyy|yy|MMMM|MMM|MM|M|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|f{1,7}|F{1,7}|tt|K|zzz|'[^']*'|\\.")


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def parse_timestamp(text: str) -> tuple[datetime, int]:
    """An ISO 8601 timestamp and its 100-nanosecond ticks beyond microseconds (for 7-digit output)."""
    match = _ISO.match(str(text).strip())
    if not match:
        raise ValueError(f"'{text}' is not an ISO 8601 timestamp")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    digits = (fraction or "").ljust(7, "0")
    tz = UTC
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        hours, minutes = int(zone[1:3]), int(zone[-2:])
        tz = UTC if (hours, minutes) == (0, 0) else _offset(sign * (hours * 60 + minutes))
    value = datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), int(digits[:6]), tz
    )
    return value.astimezone(UTC), int(digits[6])


def _offset(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


def format_timestamp(value: datetime, fmt: str = "o", ticks: int = 0) -> str:
    """Format like .NET's ``DateTime.ToString(fmt)`` for a UTC time (what ADF's functions return)."""
    pattern = _STANDARD.get(fmt, fmt)
    fraction = f"{value.microsecond:06d}{ticks}"
    out = []
    last = 0
    for match in _TOKEN.finditer(pattern):
        out.append(pattern[last : match.start()])
        out.append(_render(match.group(0), value, fraction))
        last = match.end()
    out.append(pattern[last:])
    return "".join(out)


def _render(token: str, value: datetime, fraction: str) -> str:
    simple = {
        "yyyy": f"{value.year:04d}",
        "yy": f"{value.year % 100:02d}",
        "MMMM": value.strftime("%B"),
        "MMM": value.strftime("%b"),
        "MM": f"{value.month:02d}",
        "M": str(value.month),
        "dddd": value.strftime("%A"),
        "ddd": value.strftime("%a"),
        "dd": f"{value.day:02d}",
        "d": str(value.day),
        "HH": f"{value.hour:02d}",
        "H": str(value.hour),
        "hh": f"{(value.hour % 12) or 12:02d}",
        "h": str((value.hour % 12) or 12),
        "mm": f"{value.minute:02d}",
        "m": str(value.minute),
        "ss": f"{value.second:02d}",
        "s": str(value.second),
        "tt": "AM" if value.hour < 12 else "PM",
        "K": "Z",
        "zzz": "+00:00",
    }
    if token in simple:
        return simple[token]
    if token[0] == "f":
        return fraction[: len(token)]
    if token[0] == "F":
        return fraction[: len(token)].rstrip("0")
    if token.startswith("'"):
        return token[1:-1]
    return token[1:]  # a backslash-escaped character


def shift(text: str, fmt: str | None, **delta: float) -> str:
    """The timestamp moved by ``delta`` (days, hours, minutes, seconds), formatted as ADF does."""
    value, ticks = parse_timestamp(text)
    return format_timestamp(value + timedelta(**delta), fmt or "o", ticks)
