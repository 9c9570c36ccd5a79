"""Pipeline parameters and variables, typed as declared."""

from __future__ import annotations

import math
from typing import Any

from syncjobs.engine import jsontext
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.limits import INTEGER_RANGE


def bind_parameters(declared: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Declared parameters with their defaults, overridden by ``given``; unknown or mistyped ones refused."""
    lowered = {k.lower(): k for k in declared}
    unknown = [k for k in given if k.lower() not in lowered]
    if unknown:
        raise TerminalError("bad_parameters", f"unknown parameter(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec or {}
        supplied = next((v for k, v in given.items() if k.lower() == name.lower()), _MISSING)
        if supplied is _MISSING:
            if "defaultValue" not in spec:
                raise TerminalError("bad_parameters", f"parameter {name} is required (it has no default value)")
            supplied = spec["defaultValue"]
        values[name] = coerce(name, str(spec.get("type", "String")), supplied)
    return values


_MISSING = object()


def coerce(name: str, kind: str, value: Any) -> Any:
    """``value`` as a parameter of ADF type ``kind`` (String, Int, Float, Bool, Array, Object, SecureString)."""
    kind = kind.lower()
    try:
        if value is None or kind in ("string", "securestring"):
            return value if value is None or kind == "securestring" else str(value)
        if kind == "int":
            return _int(value)
        if kind == "float":
            return _float(value)
        if kind == "bool":
            return value if isinstance(value, bool) else _bool(str(value))
        if kind in ("array", "object"):
            parsed = jsontext.loads(value) if isinstance(value, str) else value
            if not isinstance(parsed, list if kind == "array" else dict):
                raise ValueError(f"not an {kind}")
            jsontext.check_value(parsed)
            return parsed
    except (TypeError, ValueError, OverflowError) as exc:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:60] + "..."
        raise TerminalError("bad_parameters", f"parameter {name} must be {kind}: {shown} ({exc})") from None
    return value


def _int(value: Any) -> int:
    """An integer within 64 bits; a float only when it is whole (``int(2.7)`` would silently truncate)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not a whole number")
        value = int(value)
    elif isinstance(value, str) and len(value.strip()) > 20:
        raise ValueError("out of range (64-bit integers only)")
    number = int(value)
    if not INTEGER_RANGE[0] <= number <= INTEGER_RANGE[1]:
        raise ValueError("out of range (64-bit integers only)")
    return number


def _float(value: Any) -> float:
    """A finite number (NaN and infinities cannot be stored, shown or sent as JSON)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _bool(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError("expected true or false")
    return text.lower() == "true"


def declared_variables(declared: dict[str, Any]) -> dict[str, Any]:
    """Variables with their default values (None, or an empty list for arrays, without one)."""
    return {
        name: (spec or {}).get("defaultValue", [] if str((spec or {}).get("type")) == "Array" else None)
        for name, spec in declared.items()
    }
