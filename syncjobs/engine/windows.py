"""Change windows: where a window's files go, and what the portal keeps of a window being written.

Layout, per source table and sink (``root`` is the sink dataset's container/folder)::

    <root>/<schema>.<table>/g0003/00000000000000001234-00000000000000001301/part-00000-c0007.csv
                                                                          /_manifest.json

``g0003`` is the generation: a new one at every full copy or reinitialization. The folder below it is
the window, ``from``-``to`` versions zero-padded to 20 digits (a full window is ``0``-baseline). Parts
are numbered, split at ``maxRowsPerFile``, and tagged with the claim (``c0007``, the fencing token of
the run that wrote them), so a run that lost its claim can never overwrite another run's file; the
manifest (``manifests.py``), written last, names the parts that make the window.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from syncjobs.engine.keyset import KeyRange
from syncjobs.engine.schema_drift import TableSchema
from syncjobs.engine.types import TableName, Watermark

MANIFEST_NAME = "_manifest.json"
DEFAULT_MAX_ROWS_PER_FILE = 1_000_000  # about 190 MB of CSV for the bench table's rows
FULL_MODES = ("full", "reinitialized")
_GENERATION = re.compile(r"^g(\d{4,})$")


def table_folder(root: str, table: TableName) -> str:
    """``<root>/<schema>.<table>``: every generation of one table's windows.

    Always one folder under the root: ``/`` and ``\\`` in a name become ``_``, and so do the dots of a
    table called ``.`` or ``..`` (a sink refuses those, or would write into the root itself).
    """
    name = f"{table.schema}.{table.name}" if table.schema else table.name
    name = name.replace("/", "_").replace("\\", "_")
    name = "_" * len(name) if name in (".", "..") else name
    return "/".join(p for p in (root.strip("/"), name) if p)


def window_prefix(root: str, table: TableName, generation: int, from_version: int, to_version: int) -> str:
    """The folder of one window: ``<root>/<schema>.<table>/g0003/<from>-<to>``."""
    return f"{table_folder(root, table)}/g{generation:04d}/{from_version:020d}-{to_version:020d}"


def part_name(index: int, claim: int, extension: str) -> str:
    """``part-00000-c0007.csv``: the part's number, then the claim that wrote it."""
    return f"part-{index:05d}-c{claim:04d}{extension}"


def generation_of(folder_name: str) -> int | None:
    """The generation a folder ``g0003`` holds, or None for another name."""
    found = _GENERATION.match(folder_name)
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class PartWritten:
    """A committed part file: where, its size, its rows per operation, and (full copies) its key range."""

    index: int
    path: str  # as the sink takes it: <prefix>/part-...
    rows: int
    bytes: int
    checksum: str  # "sha256:<hex>" of the bytes as stored
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The part as JSON."""
        return {
            "index": self.index,
            "path": self.path,
            "rows": self.rows,
            "bytes": self.bytes,
            "checksum": self.checksum,
            "counts": dict(self.counts),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartWritten:
        """The part ``to_json`` wrote."""
        return cls(
            int(data["index"]),
            str(data["path"]),
            int(data["rows"]),
            int(data["bytes"]),
            str(data["checksum"]),
            dict(data.get("counts") or {}),
        )


@dataclass(frozen=True)
class RangeState:
    """One key range of a full window: planned, then done (``part`` None when it held no rows)."""

    keys: KeyRange
    done: bool = False
    part: PartWritten | None = None

    def to_json(self) -> dict[str, Any]:
        """The range as JSON."""
        return {**self.keys.to_json(), "done": self.done, "part": self.part.to_json() if self.part else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RangeState:
        """The range ``to_json`` wrote."""
        part = PartWritten.from_json(data["part"]) if data.get("part") else None
        return cls(KeyRange.from_json(data), bool(data.get("done")), part)


@dataclass(frozen=True)
class PendingWindow:
    """A window being written, recorded in the portal before any file is.

    ``from_version`` is the manifest's ``from`` (the previous manifest's ``to``; 0 for a full window);
    a delta reads the changes after ``read_after`` (the watermark: later than ``from_version`` when
    quiet runs moved the watermark without a window). A full window's ``ranges`` are its key ranges in
    key order, each planned then done, so a rerun reads only what is not done.
    """

    generation: int
    mode: str
    reason_code: str
    reason: str
    from_version: int
    to_version: int
    prefix: str
    database_identity: str
    previous_version: int | None
    read_after: int | None = None
    ranges: tuple[RangeState, ...] = ()
    complete: bool = False  # a full window: every key range is planned (the last one reaches the end)
    schema_fingerprint: str = ""  # the table's schema it is written under (schema_drift.fingerprint)

    @property
    def is_full(self) -> bool:
        """A full or reinitializing window: its parts replace the table."""
        return self.mode in FULL_MODES

    @property
    def parts(self) -> tuple[PartWritten, ...]:
        """The parts committed so far, in key order."""
        return tuple(r.part for r in self.ranges if r.part is not None)

    def with_ranges(self, ranges: Sequence[RangeState], complete: bool | None = None) -> PendingWindow:
        """This window with its ranges replaced."""
        return replace(self, ranges=tuple(ranges), complete=self.complete if complete is None else complete)

    def to_json(self) -> dict[str, Any]:
        """The window as JSON (kept in the portal's watermark)."""
        return {
            "generation": self.generation,
            "mode": self.mode,
            "reasonCode": self.reason_code,
            "reason": self.reason,
            "fromVersion": self.from_version,
            "toVersion": self.to_version,
            "prefix": self.prefix,
            "databaseIdentity": self.database_identity,
            "previousVersion": self.previous_version,
            "readAfter": self.read_after,
            "ranges": [r.to_json() for r in self.ranges],
            "complete": self.complete,
            "schemaFingerprint": self.schema_fingerprint,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingWindow:
        """The window ``to_json`` wrote."""
        return cls(
            generation=int(data["generation"]),
            mode=str(data["mode"]),
            reason_code=str(data.get("reasonCode", "")),
            reason=str(data.get("reason", "")),
            from_version=int(data["fromVersion"]),
            to_version=int(data["toVersion"]),
            prefix=str(data["prefix"]),
            database_identity=str(data.get("databaseIdentity", "")),
            previous_version=data.get("previousVersion"),
            read_after=data.get("readAfter"),
            ranges=tuple(RangeState.from_json(r) for r in data.get("ranges") or ()),
            complete=bool(data.get("complete")),
            schema_fingerprint=str(data.get("schemaFingerprint") or ""),
        )


@dataclass(frozen=True)
class SyncState:
    """What the portal keeps per source table and sink, as a copy starts.

    ``chain_version`` is the last manifest's ``to`` in this generation: the next window's ``from``,
    so the chain of manifests stays continuous even when quiet runs moved the watermark on alone.
    ``claim`` is the fencing token of the claim this run holds (it tags the part files).
    ``schema`` is the table's schema in the last manifest (None: not known), ``schema_policy`` the
    table's drift policy ("" for the activity's default) and ``schema_accepted`` a schema an Editor
    accepted after a pause (``schema_drift.py``).
    """

    watermark: Watermark | None = None
    generation: int = 0
    chain_version: int | None = None
    pending: PendingWindow | None = None
    claim: int = 0
    schema: TableSchema | None = None
    schema_policy: str = ""
    schema_accepted: TableSchema | None = None


class WindowJournal(Protocol):
    """Where a copy records its window as it goes (the portal, through the run's claim)."""

    def record(self, window: PendingWindow) -> None:
        """Store the window being written (before any file, then as ranges are planned and done).

        Raises ``TerminalError("claim_lost")`` when the run no longer holds the watermark.
        """
        ...

    def check_claim(self) -> None:
        """Raise ``TerminalError("claim_lost")`` unless the run still holds the watermark."""
        ...


class LocalJournal:
    """A journal in memory, for copies run without a portal (tests, the bench): nothing is fenced."""

    def __init__(self) -> None:
        self.window: PendingWindow | None = None
        self.records = 0

    def record(self, window: PendingWindow) -> None:
        """Keep the window."""
        self.window = window
        self.records += 1

    def check_claim(self) -> None:
        """Always held."""
