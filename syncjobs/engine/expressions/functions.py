"""ADF's expression functions that take plain values (the context ones live in ``evaluator.py``)."""

from __future__ import annotations

import base64
import json
import math
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from syncjobs.engine import jsontext
from syncjobs.engine.expressions import datetimes
from syncjobs.engine.limits import EXPRESSION_ARRAY_ITEMS, EXPRESSION_TEXT_CHARS, INTEGER_RANGE

_T = TypeVar("_T")


class FunctionError(Exception):
    """A function refused its arguments; the evaluator adds the expression and position."""


def bounded(value: Any) -> Any:
    """``value`` if it is within the bounds on what an expression may build; FunctionError otherwise.

    Strings hold at most ``EXPRESSION_TEXT_CHARS`` characters, arrays ``EXPRESSION_ARRAY_ITEMS`` items,
    integers 64 bits (as in ADF), and numbers are finite.
    """
    if isinstance(value, str) and len(value) > EXPRESSION_TEXT_CHARS:
        raise FunctionError(f"the result would be {len(value):,} characters; the limit is {EXPRESSION_TEXT_CHARS:,}")
    if isinstance(value, list) and len(value) > EXPRESSION_ARRAY_ITEMS:
        raise FunctionError(f"the result would be {len(value):,} items; the limit is {EXPRESSION_ARRAY_ITEMS:,}")
    if isinstance(value, int) and not isinstance(value, bool) and not INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1]:
        raise FunctionError("integer overflow (integers are 64-bit)")
    if isinstance(value, float) and not math.isfinite(value):
        raise FunctionError("the result is not a finite number")
    return value


def _within_text(sizes: Iterable[int]) -> None:
    """Refuse a string result before building it when its parts already pass the limit."""
    total = 0
    for size in sizes:
        total += size
        if total > EXPRESSION_TEXT_CHARS:
            raise FunctionError(f"the result would pass {EXPRESSION_TEXT_CHARS:,} characters")


def _within_items(count: int) -> None:
    if count > EXPRESSION_ARRAY_ITEMS:
        raise FunctionError(f"the result would be {count:,} items; the limit is {EXPRESSION_ARRAY_ITEMS:,}")


def text(value: Any) -> str:
    """A value as ADF's ``string()`` renders it: JSON for objects and arrays, lower-case booleans."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def _int(value: Any) -> int:
    try:
        return int(value) if not isinstance(value, float) else int(value)
    except (TypeError, ValueError):
        raise FunctionError(f"int() cannot convert {value!r}") from None


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise FunctionError(f"float() cannot convert {value!r}") from None


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise FunctionError(f"bool() cannot convert {value!r}")
    return bool(value)


def _number(value: Any, name: str) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise FunctionError(f"{name}() needs numbers, got {value!r}")


def _arith(name: str, op: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def apply(a: Any, b: Any) -> Any:
        return op(_number(a, name), _number(b, name))

    return apply


def _div(a: Any, b: Any) -> Any:
    """Integer division truncates toward zero as in .NET (``div(-7, 2)`` is -3)."""
    a, b = _number(a, "div"), _number(b, "div")
    if b == 0:
        raise FunctionError("div() by zero")
    if isinstance(a, int) and isinstance(b, int):
        quotient = abs(a) // abs(b)
        return quotient if (a < 0) == (b < 0) else -quotient
    return a / b


def _mod(a: Any, b: Any) -> Any:
    """The remainder takes the dividend's sign as in .NET (``mod(-7, 2)`` is -1)."""
    a, b = _number(a, "mod"), _number(b, "mod")
    if b == 0:
        raise FunctionError("mod() by zero")
    remainder = abs(a) % abs(b)
    return -remainder if a < 0 else remainder


def _length(value: Any) -> int:
    if value is None or not hasattr(value, "__len__"):
        raise FunctionError(f"length() needs a string or an array, got {value!r}")
    return len(value)


def _contains(collection: Any, item: Any) -> bool:
    if isinstance(collection, dict | str | list):
        return item in collection
    raise FunctionError(f"contains() needs a string, an array or an object, got {collection!r}")


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return jsontext.loads(value)
    except jsontext.JsonTextError as exc:
        raise FunctionError(f"json() cannot parse {value[:60]!r}: {exc.message}") from None


def _range(start: Any, count: Any) -> list[int]:
    """``count`` integers from ``start``; the count is checked before anything is built."""
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (start, count)):
        raise FunctionError(f"range() needs integers, got {start!r} and {count!r}")
    if count < 0:
        raise FunctionError(f"range() count must not be negative, got {count}")
    _within_items(count)
    bounded(start + count)
    return list(range(start, start + count))


def _concat(*values: Any) -> str:
    parts = [text(v) for v in values]
    _within_text(len(p) for p in parts)
    return "".join(parts)


def _join(items: Any, separator: Any) -> str:
    if not isinstance(items, list) or not isinstance(separator, str):
        raise FunctionError("join() needs an array and a string")
    parts = [text(x) for x in items]
    _within_text([len(separator) * max(len(parts) - 1, 0), *(len(p) for p in parts)])
    return separator.join(parts)


def _replace(value: Any, old: Any, new: Any) -> str:
    source, old, new = str(value), str(old), str(new)
    if old == "":
        raise FunctionError("replace() needs a non-empty string to replace")
    _within_text([len(source), source.count(old) * max(len(new) - len(old), 0)])
    return source.replace(old, new)


def _split(value: Any, separator: Any) -> list[str]:
    source, separator = str(value), str(separator)
    if separator == "":
        raise FunctionError("split() needs a non-empty separator")
    _within_items(source.count(separator) + 1)
    return source.split(separator)


def _key(value: Any) -> Any:
    """A hashable stand-in for any JSON value (so set operations stay linear)."""
    try:
        hash(value)
    except TypeError:
        return ("json", json.dumps(value, sort_keys=True, default=str))
    return (type(value) is bool, value)


def _substring(value: str, start: int, length: int | None = None) -> str:
    if start < 0 or start > len(value) or (length is not None and (length < 0 or start + length > len(value))):
        raise FunctionError(f"substring() range {start}..{length} is outside a string of length {len(value)}")
    return value[start:] if length is None else value[start : start + length]


def _union(*collections: Any) -> Any:
    if all(isinstance(c, dict) for c in collections):
        merged: dict[str, Any] = {}
        for c in collections:
            merged.update(c)
        return merged
    out: list[Any] = []
    seen: set[Any] = set()
    for c in collections:
        for x in c:
            if _key(x) not in seen:
                seen.add(_key(x))
                out.append(x)
    return out


def _timestamp(fn: Callable[..., _T]) -> Callable[..., _T]:
    def wrapped(*args: Any) -> _T:
        try:
            return fn(*args)
        except ValueError as exc:
            raise FunctionError(str(exc)) from None

    return wrapped


def _format(ts: str, fmt: str = "o") -> str:
    value, ticks = datetimes.parse_timestamp(ts)
    return datetimes.format_timestamp(value, fmt, ticks)


def _utcnow(fmt: str = "o") -> str:
    return datetimes.format_timestamp(datetimes.now(), fmt)


_UNITS = {"second": "seconds", "minute": "minutes", "hour": "hours", "day": "days", "week": "weeks"}


def _shift_by(ts: str, interval: float, unit: str, fmt: str | None = None, sign: int = 1) -> str:
    name = _UNITS.get(str(unit).lower().rstrip("s"))
    if name is None:
        raise FunctionError(f"time unit {unit!r} is not one of Second, Minute, Hour, Day, Week")
    return datetimes.shift(ts, fmt, **{name: sign * _number(interval, "addToTime")})


def _start_of(part: str) -> Callable[..., str]:
    def start(ts: str, fmt: str | None = None) -> str:
        value, _ = datetimes.parse_timestamp(ts)
        if part == "month":
            value = value.replace(day=1)
        value = value.replace(minute=0, second=0, microsecond=0)
        if part != "hour":
            value = value.replace(hour=0)
        return datetimes.format_timestamp(value, fmt or "o")

    return _timestamp(start)


def _part(read: Callable[[Any], int]) -> Callable[[str], int]:
    return _timestamp(lambda ts: read(datetimes.parse_timestamp(ts)[0]))


def _ticks(ts: str) -> int:
    value, extra = datetimes.parse_timestamp(ts)
    since = value - datetimes.DOTNET_EPOCH
    return (since.days * 86_400 + since.seconds) * 10_000_000 + since.microseconds * 10 + extra


def _intersection(*collections: Any) -> Any:
    if all(isinstance(c, dict) for c in collections):
        return {k: v for k, v in collections[0].items() if all(k in c and c[k] == v for c in collections[1:])}
    others = [{_key(x) for x in c} for c in collections[1:]]
    out, seen = [], set()
    for x in collections[0]:
        if _key(x) not in seen and all(_key(x) in keys for keys in others):
            seen.add(_key(x))
            out.append(x)
    return out


def _adder(unit: str) -> Callable[..., str]:
    def add(ts: str, amount: float, fmt: str | None = None) -> str:
        return datetimes.shift(ts, fmt, **{unit: _number(amount, "add" + unit.title())})

    return _timestamp(add)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "concat": _concat,
    "string": text,
    "int": _int,
    "float": _float,
    "bool": _bool,
    "add": _arith("add", lambda a, b: a + b),
    "sub": _arith("sub", lambda a, b: a - b),
    "mul": _arith("mul", lambda a, b: a * b),
    "div": _div,
    "mod": _mod,
    "min": lambda *a: min(a[0] if len(a) == 1 else a),
    "max": lambda *a: max(a[0] if len(a) == 1 else a),
    "range": _range,
    "equals": lambda a, b: a == b,
    "not": lambda a: not _bool(a),
    "greater": lambda a, b: a > b,
    "greaterOrEquals": lambda a, b: a >= b,
    "less": lambda a, b: a < b,
    "lessOrEquals": lambda a, b: a <= b,
    "empty": lambda a: a is None or len(a) == 0,
    "length": _length,
    "contains": _contains,
    "startsWith": lambda s, p: str(s).lower().startswith(str(p).lower()),
    "endsWith": lambda s, p: str(s).lower().endswith(str(p).lower()),
    "substring": _substring,
    "indexOf": lambda s, p: str(s).lower().find(str(p).lower()),
    "lastIndexOf": lambda s, p: str(s).lower().rfind(str(p).lower()),
    "split": _split,
    "join": _join,
    "trim": lambda s: str(s).strip(),
    "toUpper": lambda s: str(s).upper(),
    "toLower": lambda s: str(s).lower(),
    "replace": _replace,
    "json": _json,
    "createArray": lambda *a: list(a),
    "first": lambda c: c[0] if len(c) else None,
    "last": lambda c: c[-1] if len(c) else None,
    "skip": lambda c, n: c[n:],
    "take": lambda c, n: c[:n],
    "union": _union,
    "utcnow": _timestamp(_utcnow),
    "utcNow": _timestamp(_utcnow),
    "formatDateTime": _timestamp(_format),
    "addDays": _adder("days"),
    "addHours": _adder("hours"),
    "addMinutes": _adder("minutes"),
    "addSeconds": _adder("seconds"),
    "addToTime": _timestamp(_shift_by),
    "subtractFromTime": _timestamp(lambda ts, n, unit, fmt=None: _shift_by(ts, n, unit, fmt, -1)),
    "getPastTime": _timestamp(lambda n, unit, fmt=None: _shift_by(_utcnow(), n, unit, fmt, -1)),
    "getFutureTime": _timestamp(lambda n, unit, fmt=None: _shift_by(_utcnow(), n, unit, fmt)),
    "startOfDay": _start_of("day"),
    "startOfHour": _start_of("hour"),
    "startOfMonth": _start_of("month"),
    "dayOfWeek": _part(lambda d: (d.weekday() + 1) % 7),  # .NET: Sunday is 0
    "dayOfMonth": _part(lambda d: d.day),
    "dayOfYear": _part(lambda d: d.timetuple().tm_yday),
    "ticks": _timestamp(_ticks),
    "intersection": _intersection,
    "array": lambda v: [v],
    "uriComponent": lambda s: urllib.parse.quote(text(s), safe=""),
    "uriComponentToString": lambda s: urllib.parse.unquote(text(s)),
    "guid": lambda fmt="D": str(uuid.uuid4()) if fmt.upper() == "D" else uuid.uuid4().hex,
    "base64": lambda s: base64.b64encode(text(s).encode()).decode(),
    "base64ToString": lambda s: base64.b64decode(s).decode(),
}
LAZY = ("if", "and", "or", "coalesce")
"""Functions whose arguments are evaluated only as needed (``if`` never evaluates the branch it skips)."""
CONTEXT = ("pipeline", "activity", "variables", "item", "dataset", "linkedService")
"""Functions that read the run's context."""
FUNCTION_NAMES = frozenset(FUNCTIONS) | frozenset(LAZY) | frozenset(CONTEXT)
