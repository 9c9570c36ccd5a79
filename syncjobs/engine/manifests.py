"""A window's manifest: written last and created exclusively, it is what makes a window exist.

``<prefix>/_manifest.json`` names the window's files (with rows, bytes and a SHA-256 each), its
versions, mode and reason, rows per operation, the columns with their kinds and a schema hash, the run
and the time. Readers follow manifests only: a file no manifest names was left by an attempt that
died and is never read (the next attempt removes it once its own manifest is in place). A sink
creates the manifest only if none is there (``If-None-Match: *`` on a blob, a hard link on a folder),
so a window has one manifest, ever, however many attempts raced to write it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from syncjobs.engine.errors import EngineError, TerminalError
from syncjobs.engine.sinks import Sink
from syncjobs.engine.types import SYS_CHANGE_COLUMNS, SYS_CHANGE_CREATION_VERSION, Column, Table, TableName
from syncjobs.engine.windows import MANIFEST_NAME, PartWritten, PendingWindow, generation_of, table_folder

MANIFEST_VERSION = 1
OPERATIONS = ("I", "U", "D")
CHANGE_COLUMN_KINDS = {SYS_CHANGE_CREATION_VERSION: "int", SYS_CHANGE_COLUMNS: "string"}
FULL_NOTE = (
    "these parts replace the table; the next delta window may repeat changes already in them, "
    "so apply deltas as upserts (I and U) and deletes (D) and the result is exact"
)


def manifest_path(prefix: str) -> str:
    """Where a window's manifest lives."""
    return f"{prefix}/{MANIFEST_NAME}"


def schema_hash(columns: Sequence[Column]) -> str:
    """A hash of the columns' names, kinds and source types, in order: equal hashes, equal schemas."""
    text = json.dumps([[c.name, c.kind, c.source_type] for c in columns], separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def output_columns(table: Table, change_columns: Sequence[str]) -> tuple[Column, ...]:
    """The columns every file of the sync has: the table's, then the change-tracking ones."""
    kinds = {"SYS_CHANGE_VERSION": "int", "SYS_CHANGE_OPERATION": "string", **CHANGE_COLUMN_KINDS}
    return table.columns + tuple(Column(name, kinds[name]) for name in change_columns)


def build_manifest(
    window: PendingWindow,
    table: Table,
    columns: Sequence[Column],
    parts: Sequence[PartWritten],
    *,
    run_id: str = "",
    schema_change: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of a window whose ``parts`` are all committed (``schema_change``: the drift it carries)."""
    counts = {op: sum(p.counts.get(op, 0) for p in parts) for op in OPERATIONS}
    manifest = {
        "manifestVersion": MANIFEST_VERSION,
        "table": {"schema": table.name.schema, "name": table.name.name},
        "generation": window.generation,
        "mode": window.mode,
        "reasonCode": window.reason_code,
        "reason": window.reason,
        "fromVersion": window.from_version,
        "toVersion": window.to_version,
        "databaseIdentity": window.database_identity,
        "replacesTable": window.is_full,
        "files": [_file_entry(window.prefix, part) for part in sorted(parts, key=lambda p: p.index)],
        "rows": sum(p.rows for p in parts),
        "operations": counts,
        "keyColumns": list(table.primary_key),
        "columns": [{"name": c.name, "type": c.kind, "sourceType": c.source_type} for c in columns],
        "schemaHash": schema_hash(columns),
        "runId": run_id,
        "createdAt": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
    }
    if window.is_full:
        manifest["note"] = FULL_NOTE
    if schema_change is not None:
        manifest["schemaChange"] = schema_change
    return manifest


def _file_entry(prefix: str, part: PartWritten) -> dict[str, Any]:
    return {
        "name": part.path.removeprefix(prefix + "/"),
        "rows": part.rows,
        "bytes": part.bytes,
        "checksum": part.checksum,
        "operations": {op: part.counts.get(op, 0) for op in OPERATIONS},
    }


def file_paths(manifest: dict[str, Any], prefix: str) -> list[str]:
    """The sink paths of the files a manifest names."""
    return [f"{prefix}/{entry['name']}" for entry in manifest.get("files") or ()]


def read_manifest(sink: Sink, prefix: str) -> dict[str, Any] | None:
    """The window's manifest, or None when it has none (yet)."""
    try:
        data = sink.read(manifest_path(prefix))
    except EngineError as exc:
        if exc.reason == "not_found":
            return None
        raise
    try:
        manifest: dict[str, Any] = json.loads(data)
        return manifest
    except ValueError:
        raise TerminalError("bad_manifest", f"{manifest_path(prefix)} is not valid JSON") from None


def write_manifest(sink: Sink, window: PendingWindow, manifest: dict[str, Any]) -> dict[str, Any]:
    """Create the manifest unless one exists; return the one in effect (another attempt's if it won)."""
    data = json.dumps(manifest, indent=2).encode()
    if sink.create_exclusive(manifest_path(window.prefix), data):
        return manifest
    existing = read_manifest(sink, window.prefix)
    if existing is None or not belongs_to(existing, window):
        raise TerminalError(
            "manifest_conflict", f"{manifest_path(window.prefix)} exists but does not describe this window"
        )
    return existing


def belongs_to(manifest: dict[str, Any], window: PendingWindow) -> bool:
    """Whether a manifest describes ``window`` (same generation and versions)."""
    return (manifest.get("generation"), manifest.get("fromVersion"), manifest.get("toVersion")) == (
        window.generation,
        window.from_version,
        window.to_version,
    )


def remove_unnamed(sink: Sink, prefix: str, manifest: dict[str, Any]) -> list[str]:
    """Delete the files under ``prefix`` the manifest does not name (left by attempts that died)."""
    named = {*file_paths(manifest, prefix), manifest_path(prefix)}
    removed = [path for path in sink.list(prefix + "/") if path not in named]
    for path in removed:
        sink.delete(path)
    return removed


def next_generation(sink: Sink, root: str, table: TableName, known: int) -> int:
    """One past the highest generation the portal knows or the sink holds (a reset portal never reuses one)."""
    found = [generation_of(name) for name in sink.list_folders(table_folder(root, table) + "/")]
    return max([known, *(g for g in found if g is not None)]) + 1
