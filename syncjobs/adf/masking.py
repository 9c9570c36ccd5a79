"""Secrets in linked-service JSON: split them out behind ADF's mask, and put them back for a run.

A secret is the value of a ``{"type": "SecureString", "value": ...}`` object, a plain string under a
secret-named key (``password``, ``accountKey``...; it becomes a SecureString), a ``Password``/``Pwd``/
``AccountKey``/``SharedAccessSignature`` part of a ``connectionString``, or the ``sig`` of a ``sasUri``.
Each is stored under an id: its JSON path, plus ``#part`` for a piece of a string. A value equal to
the mask means "keep what is stored", which makes secrets write-only.

Stored secrets are bound to the target they were entered for (:func:`secret_target`: the type,
server or host, port, database, user, TLS settings, and the rest of a connection string or SAS URI).
A definition whose target differs gets none of them back for a mask: the secret must be entered again,
so a changed server never receives a password typed for another.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from syncjobs.adf.findings import WARNING, Finding, is_expression
from syncjobs.engine import connectors
from syncjobs.secrets import MASK

_STRING_SECRET_PARTS = {"password", "pwd", "accountkey", "sharedaccesssignature"}
# ADF's secret keys of any linked service; each connector adds its own (``FormField`` kind "secret").
_ADF_SECRET_FIELDS = frozenset({"accountKey", "sasToken", "servicePrincipalKey", "servicePrincipalCredential"})
_SAS_SIG = re.compile(r"([?&]sig=)([^&#]*)", re.IGNORECASE)
# What a secret is entered for: where it is sent and as whom (lower-cased typeProperties keys).
_TARGET_FIELDS = {
    "server",
    "host",
    "port",
    "database",
    "username",
    "user",
    "userid",
    "uid",
    "authenticationtype",
    "accountname",
    "serviceendpoint",
    "url",
    "baseurl",
    "endpoint",
    "tenant",
    "serviceprincipalid",
    "sslmode",
    "encrypt",
    "trustservercertificate",
    "hostnameincertificate",
    "connectionstring",
    "sasuri",
}
# Values that say nothing more than leaving the field out (forms send every field, API clients may not).
_DEFAULTS = {
    "port": {"1433", "5432"},
    "encrypt": {"mandatory"},
    "trustservercertificate": {"False", "false"},
    "authenticationtype": {"SQL"},
    "sslmode": {"2"},
}
TARGET_ID = "@target"  # where the target is kept among the stored secrets (no JSON path starts with "@")
CLEARED = "cleared: the linked service now points elsewhere ({changed} changed) and this secret was entered for "
CLEARED += "where it pointed before; enter it again"

Replace = Callable[[str, str], str]


class SecretTaker:
    """Takes secrets out of a definition one at a time; each call returns the mask to put in the value's place.

    A value equal to the mask takes the ``stored`` secret of the same id (unless ``keep`` is false: the
    target changed, and ``changed`` says how); ``secrets`` and ``findings`` (warnings) collect the result.
    """

    def __init__(self, stored: dict[str, str], *, keep: bool = True, changed: str = "") -> None:
        self.stored, self.keep, self.changed = stored, keep, changed
        self.secrets: dict[str, str] = {}
        self.findings: list[Finding] = []

    def __call__(self, secret_id: str, value: Any) -> str:
        if value != MASK:
            self.secrets[secret_id] = "" if value is None else str(value)
        elif self.keep and secret_id in self.stored:
            self.secrets[secret_id] = self.stored[secret_id]
        elif secret_id in self.stored:
            self.findings.append(Finding(secret_id, CLEARED.format(changed=self.changed), WARNING))
        else:
            message = "secret not set: the value is the mask and nothing is stored; enter it before running"
            self.findings.append(Finding(secret_id, message, WARNING))
        return MASK


def mask_secrets(
    definition: dict[str, Any], stored: dict[str, str], bound_to: str | None = None
) -> tuple[dict[str, Any], dict[str, str], list[Finding]]:
    """Split secrets out of ``definition``.

    Returns the definition with every secret masked, the secrets to store (a masked value takes the
    ``stored`` one, only when the definition's :func:`secret_target` is still ``bound_to``), and
    warnings for masked values that have nothing (any longer) stored behind them.
    """
    changed = _changed_fields(bound_to, secret_target(_masked(definition))) if bound_to is not None else ""
    take = SecretTaker(stored, keep=not changed, changed=changed)
    masked = copy.deepcopy(definition)
    _walk(masked.get("properties"), "properties", take, coerce=True)
    return masked, take.secrets, take.findings


def secret_target(definition: dict[str, Any]) -> str:
    """What the secrets of a masked definition are entered for, as canonical JSON (see the module).

    A connection string, when there is one, is the whole target (the separate fields are not used then);
    a field left at its default counts as left out.
    """
    props: dict[str, Any] = definition["properties"] if isinstance(definition.get("properties"), dict) else {}
    tp: dict[str, Any] = props["typeProperties"] if isinstance(props.get("typeProperties"), dict) else {}
    fields = {}
    for key, value in tp.items():
        text = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value).strip()
        if key.lower() in _TARGET_FIELDS and text and text not in _DEFAULTS.get(key.lower(), ()):
            fields[key.lower()] = text
    if isinstance(tp.get("connectionString"), str) and tp["connectionString"].strip():
        fields = {"connectionstring": fields.get("connectionstring", "")}
    return json.dumps({"type": props.get("type"), **fields}, sort_keys=True)


def _masked(definition: dict[str, Any]) -> dict[str, Any]:
    masked = copy.deepcopy(definition)
    _walk(masked.get("properties"), "properties", lambda _id, _value: MASK, coerce=True)
    return masked


def _changed_fields(before: str, after: str) -> str:
    """The target fields that differ, for the message ("" when none)."""
    old, new = json.loads(before), json.loads(after)
    return ", ".join(sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k)))


def reveal_secrets(definition: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    """A copy of a masked definition with the stored secrets put back (for the engine only).

    A mask with nothing behind it becomes empty: the mask itself is never sent anywhere as a password.
    """

    def put_back(secret_id: str, value: str) -> str:
        return secrets.get(secret_id, "") if value == MASK else value

    revealed = copy.deepcopy(definition)
    _walk(revealed.get("properties"), "properties", put_back, coerce=False)
    return revealed


def _walk(node: Any, path: str, replace: Replace, *, coerce: bool) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _walk(item, f"{path}[{i}]", replace, coerce=coerce)
        return
    if not isinstance(node, dict):
        return
    for key, value in list(node.items()):
        here = f"{path}.{key}"
        if isinstance(value, dict) and value.get("type") == "SecureString":
            value["value"] = replace(here, str(value.get("value", "")))
        elif isinstance(value, str) and key in _secret_fields() and coerce and not is_expression(value):
            node[key] = {"type": "SecureString", "value": replace(here, value)}
        elif isinstance(value, str) and key.lower() == "connectionstring":
            node[key] = _replace_parts(value, here, replace)
        elif isinstance(value, str) and key.lower() == "sasuri":
            node[key] = _replace_signature(value, here, replace)
        else:
            _walk(value, here, replace, coerce=coerce)


@cache
def _secret_fields() -> frozenset[str]:
    """Keys whose plain string values are secrets (they become SecureStrings)."""
    return _ADF_SECRET_FIELDS.union(*(c.secret_fields() for c in connectors.connectors()))


def _replace_signature(uri: str, path: str, replace: Replace) -> str:
    return _SAS_SIG.sub(lambda m: m.group(1) + replace(f"{path}#sig", m.group(2)), uri)


def _replace_parts(text: str, path: str, replace: Replace) -> str:
    pieces = []
    last = 0
    for key, start, end in connection_string_parts(text):
        part = key.lower().replace(" ", "")
        if part in _STRING_SECRET_PARTS:
            pieces.append(text[last:start])
            pieces.append(replace(f"{path}#{part}", text[start:end]))
            last = end
    pieces.append(text[last:])
    return "".join(pieces)


def connection_string_parts(text: str) -> Iterator[tuple[str, int, int]]:
    """``(key, value_start, value_end)`` for each ``key=value`` of a ``;``-separated connection string.

    Values may be quoted with ``'``, ``"`` or ``{}`` (ADO.NET and ODBC), so a quoted password can hold
    a ``;``; an unquoted value runs to the next ``;`` and may itself hold ``=`` (base64 keys, SAS tokens).
    """
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t;":
            i += 1
        eq = text.find("=", i)
        if i >= n or eq < 0:
            return
        key = text[i:eq].strip()
        start = eq + 1
        while start < n and text[start] in " \t":
            start += 1
        if start < n and text[start] in "{'\"":
            close = text.find("}" if text[start] == "{" else text[start], start + 1)
            end = n if close < 0 else close + 1
        else:
            semi = text.find(";", start)
            end = n if semi < 0 else semi
            while end > start and text[end - 1] in " \t":
                end -= 1
        yield key, start, end
        semi = text.find(";", end)
        i = n if semi < 0 else semi + 1
