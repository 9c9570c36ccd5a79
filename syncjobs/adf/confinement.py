"""The host is off limits: where file-based linked services may point, and what no linked service may reach.

A connector's file or folder field (``FormField`` kind ``file`` or ``folder`` in ``engine/connectors.py``:
a ``Sqlite`` database file, a ``FileServer`` folder) must resolve (symbolic links followed, as the
operating system would) inside one of the file roots the administrator configures
(``settings.CTPORTAL_FILE_ROOTS``). Inside the roots, the portal's own database (and its ``-wal``,
``-shm``, ``-journal`` files), its data directory, its code, Python environments, secret files named by
``CTPORTAL_*_FILE`` variables and key or certificate files of other linked services stay refused; a
root placed inside one of those folders on purpose (the default ``files/`` in the data directory) is
the one exception. A folder may not contain any of them either (files are written under it). A
database linked service pointing at the portal's own PostgreSQL database is refused as well.

The same check runs at save (findings at the field), at Test connection and at run
(:func:`check_confined` raises the engine's ``TerminalError`` before anything is opened).
"""

from __future__ import annotations

import ipaddress
import os
import site
import socket
import sys
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from syncjobs.adf.findings import Finding
from syncjobs.engine import connectors
from syncjobs.engine.errors import TerminalError

TP = "properties.typeProperties"
# Keys of other linked services that name files holding their secrets (client keys, certificates).
_SECRET_FILE_KEYS = ("key", "cert", "passfile", "credential", "wallet")


@dataclass(frozen=True)
class Zone:
    """A real path no linked service may reach, and what it is (for the message)."""

    path: str
    what: str


@dataclass(frozen=True)
class HostLimits:
    """The allowed roots and the refused zones, all as real paths."""

    roots: tuple[str, ...]
    zones: tuple[Zone, ...]


def host_limits(other_linked_services: Iterable[dict[str, Any]] = ()) -> HostLimits:
    """The limits from the settings, with the secret files of ``other_linked_services``."""
    roots = tuple(dict.fromkeys(_real(str(p)) for p in settings.CTPORTAL_FILE_ROOTS if str(p).strip()))
    # The most precise first, for the message: a file, then the folders around it.
    zones = [*_portal_files(), *_secret_file_zones(other_linked_services), *_python_zones(), *_portal_folders()]
    return HostLimits(roots, tuple(zones))


def confinement_findings(definition: dict[str, Any], limits: HostLimits) -> list[Finding]:
    """Findings (errors) when the linked service reaches outside the roots or into the portal."""
    props = definition.get("properties") or {}
    kind = str(props.get("type", ""))
    tp = props.get("typeProperties") or {}
    if not isinstance(tp, dict):
        return []
    connector = connectors.connector_for(kind)
    if connector is None:
        return []
    findings = []
    for field in connector.path_fields():
        problem = path_problem(tp.get(field.key), limits, folder=field.kind == "folder")
        findings += [Finding(f"{TP}.{field.key}", problem)] if problem else []
    if _is_postgres(kind) and is_portal_postgres(tp):
        findings.append(Finding(f"{TP}.database", "is the portal's own database; a linked service may not point at it"))
    return findings


def check_confined(definition: dict[str, Any], limits: HostLimits) -> None:
    """Raise ``TerminalError`` (``path_not_allowed`` / ``portal_database``) when the linked service is refused."""
    kind = str((definition.get("properties") or {}).get("type", ""))
    for finding in confinement_findings(definition, limits):
        reason = "portal_database" if _is_postgres(kind) else "path_not_allowed"
        name = definition.get("name") or "?"
        raise TerminalError(reason, f"linked service {name}: {finding.path}: {finding.message}")


def path_problem(value: Any, limits: HostLimits, *, folder: bool = False) -> str:
    """Why ``value`` may not be used as a linked service's file (or, with ``folder``, folder); "" when it may."""
    if value is None or value == "":
        return ""  # "required" is validation's business
    if not isinstance(value, str):  # an expression object: linked services' expressions are not evaluated
        return "must be an absolute path (text) inside the file roots (CTPORTAL_FILE_ROOTS)"
    if "\x00" in value or not os.path.isabs(value):
        return "must be an absolute path inside the file roots (CTPORTAL_FILE_ROOTS)"
    real = _real(value)
    root = next((r for r in limits.roots if _inside(real, r)), None)
    for zone in limits.zones:
        if real == zone.path or _same_file(real, zone.path):
            return f"{real} is {zone.what}; no linked service may reach it"
        if _inside(real, zone.path) and not (root and _strictly_inside(root, zone.path)):
            return f"{real} is inside {zone.what} ({zone.path}); no linked service may reach it"
        if folder and _strictly_inside(zone.path, real):
            return f"{real} contains {zone.what} ({zone.path}); files written there could reach it"
    if root is None:
        return f"{real} is outside the file roots ({', '.join(limits.roots) or 'none configured'}; CTPORTAL_FILE_ROOTS)"
    return ""


def _is_postgres(kind: str) -> bool:
    """A linked service of the PostgreSQL connector, which may reach the portal's own database."""
    from syncjobs.engine.sources.postgres import PostgresSource  # loaded with the connector table already

    return connectors.connector_for(kind) is PostgresSource


def is_portal_postgres(tp: dict[str, Any]) -> bool:
    """True when a PostgreSQL linked service's server, port and database are the portal's own database."""
    portal = settings.DATABASES["default"]
    if "postgresql" not in str(portal.get("ENGINE", "")):
        return False
    # libpq tries each of "host1,host2" (and ports alike) in turn: any of them may be the portal's.
    portal_host = _host_key(str(portal.get("HOST") or ""))
    same_host = any(_host_key(h) == portal_host for h in str(tp.get("server") or "").split(","))
    same_port = any(_port(p) == _port(portal.get("PORT")) for p in str(tp.get("port") or "").split(","))
    same_name = str(tp.get("database") or "").strip().lower() == str(portal.get("NAME") or "").strip().lower()
    return same_host and same_port and same_name


def _host_key(host: str) -> str:
    """Loopback names and addresses, the empty host and Unix sockets all mean "this machine"."""
    host = host.strip().strip("[]").lower()
    if host in ("", "localhost", "localhost.localdomain", "ip6-localhost", socket.gethostname().lower()):
        return "this machine"
    if host.startswith("/") or host.endswith(".localhost"):
        return "this machine"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    return "this machine" if address.is_loopback or address.is_unspecified else str(address)


def _port(value: Any) -> int:
    try:
        return int(value or 5432)
    except (TypeError, ValueError):
        return -1


def _portal_folders() -> list[Zone]:
    return [
        Zone(_real(str(settings.DATA_DIR)), "the portal's data directory"),
        Zone(_real(str(settings.BASE_DIR)), "the portal's code"),
    ]


def _portal_files() -> list[Zone]:
    zones = []
    portal = settings.DATABASES["default"]
    if "sqlite" in str(portal.get("ENGINE", "")) and not str(portal.get("NAME", "")).startswith(("file:", ":")):
        database = _real(str(portal["NAME"]))
        zones += [Zone(database + suffix, "the portal's own database") for suffix in ("", "-wal", "-shm", "-journal")]
    secret_files = [v for k, v in os.environ.items() if k.startswith("CTPORTAL_") and k.endswith("_FILE") and v]
    zones += [Zone(_real(path), "a secret file of the portal") for path in secret_files]
    return zones


def _python_zones() -> list[Zone]:
    """Python environments: a file written there (a ``.pth``) runs in the next interpreter."""
    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, site.getusersitepackages(), *site.getsitepackages()}
    folders |= {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return [Zone(_real(f), "a Python environment") for f in sorted(folders) if f]


def _secret_file_zones(linked_services: Iterable[dict[str, Any]]) -> list[Zone]:
    zones = []
    for definition in linked_services:
        tp = (definition.get("properties") or {}).get("typeProperties") or {}
        for key, value in tp.items() if isinstance(tp, dict) else ():
            if any(word in key.lower() for word in _SECRET_FILE_KEYS) and isinstance(value, str) and value[:1] == "/":
                zones.append(Zone(_real(value), f"a secret file of linked service {definition.get('name')}"))
    return zones


def _real(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _strictly_inside(path: str, folder: str) -> bool:
    return path != folder and _inside(path, folder)


def _same_file(path: str, other: str) -> bool:
    """Also true for a hard link to ``other`` under another name."""
    try:
        return Path(path).samefile(other)
    except OSError:
        return False
