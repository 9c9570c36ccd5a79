"""Pipeline parameters and variables, typed as declared."""

from __future__ import annotations

import json
from typing import Any

from syncjobs.engine.errors import TerminalError


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
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            return value if isinstance(value, bool) else _bool(str(value))
        if kind in ("array", "object"):
            parsed = json.loads(value) if isinstance(value, str) else value
            if not isinstance(parsed, list if kind == "array" else dict):
                raise ValueError(f"not an {kind}")
            return parsed
    except (TypeError, ValueError) as exc:
        raise TerminalError("bad_parameters", f"parameter {name} must be {kind}: {value!r} ({exc})") from None
    return value


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
