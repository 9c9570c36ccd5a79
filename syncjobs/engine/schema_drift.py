"""Schema drift: a table's columns and key at copy time against those of its last window's manifest.

Every change-tracking copy describes the table inside its snapshot; :func:`assess` compares that with
the schema the portal kept from the last manifest (``SyncState.schema``) and decides, by the table's
policy, what the copy does:

- ``continue``: the window is written with the table's new columns, and its manifest's
  ``schemaChange`` entry says what changed;
- ``pause``: nothing is written and the watermark stays, until an Editor accepts the change (the
  accepted schema comes back as ``SyncState.schema_accepted``, and the next copy continues);
- ``resync``: a full copy in a new generation.

A changed primary key never continues: under ``continue`` it pauses, and once accepted it re-syncs,
because deltas keyed one way cannot be applied on top of rows keyed another.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from syncjobs.engine.types import Column, CopyResult, Table

CONTINUE, PAUSE, RESYNC = "continue", "pause", "resync"
POLICIES = (CONTINUE, PAUSE, RESYNC)
DEFAULT_POLICY = CONTINUE
CONTINUED, PAUSED, RESYNCED = "continued", "paused", "resynced"
OUTCOME_OF = {CONTINUE: CONTINUED, PAUSE: PAUSED, RESYNC: RESYNCED}
# The kinds of change, most serious first: a change's ``kind`` is the first that applies.
PRIMARY_KEY, DROPPED, RETYPED, ADDED = "primary_key", "dropped", "retyped", "added"
KINDS = (PRIMARY_KEY, DROPPED, RETYPED, ADDED)


@dataclass(frozen=True)
class ColumnShape:
    """What a column is, for drift: its name, kind and the source's own type name."""

    name: str
    kind: str
    source_type: str = ""

    def to_json(self) -> dict[str, str]:
        """As the manifest's ``columns`` spell it."""
        return {"name": self.name, "type": self.kind, "sourceType": self.source_type}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnShape:
        """The column ``to_json`` (or a manifest) wrote."""
        return cls(str(data["name"]), str(data.get("type", "")), str(data.get("sourceType") or ""))

    def describe(self) -> str:
        """``name (source type)``, in words."""
        return f"{self.name} ({self.source_type or self.kind})"


@dataclass(frozen=True)
class TableSchema:
    """A table's columns (in order) and primary key, as one window was written."""

    columns: tuple[ColumnShape, ...]
    primary_key: tuple[str, ...] = ()

    @classmethod
    def of(cls, table: Table) -> TableSchema:
        """The schema of a described table."""
        return cls(tuple(_shape(c) for c in table.columns), tuple(table.primary_key))

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> TableSchema:
        """The table's schema as a manifest records it (the change-tracking columns left out)."""
        columns = [c for c in manifest.get("columns") or () if not str(c.get("name", "")).startswith("SYS_CHANGE_")]
        return cls(tuple(ColumnShape.from_json(c) for c in columns), tuple(manifest.get("keyColumns") or ()))

    def to_json(self) -> dict[str, Any]:
        """The schema as JSON (kept on the portal's watermark)."""
        return {"columns": [c.to_json() for c in self.columns], "primaryKey": list(self.primary_key)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableSchema:
        """The schema ``to_json`` wrote."""
        return cls(
            tuple(ColumnShape.from_json(c) for c in data.get("columns") or ()), tuple(data.get("primaryKey") or ())
        )

    def by_name(self) -> dict[str, ColumnShape]:
        """Columns by name, in table order."""
        return {c.name: c for c in self.columns}


def _shape(column: Column) -> ColumnShape:
    return ColumnShape(column.name, column.kind, column.source_type)


@dataclass(frozen=True)
class Retyped:
    """A column whose kind or source type changed."""

    before: ColumnShape
    after: ColumnShape

    def to_json(self) -> dict[str, Any]:
        """The retyped column as JSON."""
        return {"name": self.after.name, "before": self.before.to_json(), "after": self.after.to_json()}


@dataclass(frozen=True)
class SchemaDiff:
    """What changed between two schemas: columns added, dropped, retyped, and the primary key."""

    added: tuple[ColumnShape, ...] = ()
    dropped: tuple[ColumnShape, ...] = ()
    retyped: tuple[Retyped, ...] = ()
    key_before: tuple[str, ...] = ()
    key_after: tuple[str, ...] = ()

    @property
    def key_changed(self) -> bool:
        """The primary key is not the same columns in the same order."""
        return self.key_before != self.key_after

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of change present, most serious first."""
        present = {
            PRIMARY_KEY: self.key_changed,
            DROPPED: bool(self.dropped),
            RETYPED: bool(self.retyped),
            ADDED: bool(self.added),
        }
        return tuple(k for k in KINDS if present[k])

    @property
    def kind(self) -> str:
        """The most serious kind of change ("" when nothing changed)."""
        return (self.kinds or ("",))[0]

    def __bool__(self) -> bool:
        return bool(self.kinds)

    def summary(self) -> str:
        """The change in words: ``added c (text); retyped n: integer -> bigint``."""
        parts = []
        if self.key_changed:
            parts.append(f"primary key ({', '.join(self.key_before)}) -> ({', '.join(self.key_after)})")
        parts += [f"dropped {c.describe()}" for c in self.dropped]
        parts += [
            f"retyped {r.after.name}: {r.before.source_type or r.before.kind} -> {r.after.source_type or r.after.kind}"
            for r in self.retyped
        ]
        parts += [f"added {c.describe()}" for c in self.added]
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The diff as JSON (on the manifest, the window and the table's schema history)."""
        return {
            "kinds": list(self.kinds),
            "added": [c.to_json() for c in self.added],
            "dropped": [c.to_json() for c in self.dropped],
            "retyped": [r.to_json() for r in self.retyped],
            "primaryKey": {"before": list(self.key_before), "after": list(self.key_after)}
            if self.key_changed
            else None,
            "summary": self.summary(),
        }


def compare(before: TableSchema, after: TableSchema) -> SchemaDiff:
    """What changed from ``before`` to ``after`` (column order alone is not a change)."""
    old, new = before.by_name(), after.by_name()
    return SchemaDiff(
        added=tuple(c for name, c in new.items() if name not in old),
        dropped=tuple(c for name, c in old.items() if name not in new),
        retyped=tuple(
            Retyped(old[name], c)
            for name, c in new.items()
            if name in old and (old[name].kind, old[name].source_type) != (c.kind, c.source_type)
        ),
        key_before=before.primary_key,
        key_after=after.primary_key,
    )


@dataclass(frozen=True)
class SchemaDrift:
    """A schema change a copy met, and what it does about it.

    ``outcome`` is ``continued``, ``paused`` or ``resynced``; ``accepted`` when an Editor accepted
    this very change after it paused the table.
    """

    diff: SchemaDiff
    policy: str
    outcome: str
    schema: TableSchema  # the table's schema now
    accepted: bool = False
    reasons: tuple[str, ...] = ()

    @property
    def paused(self) -> bool:
        """The table stops here: nothing written, the watermark stays."""
        return self.outcome == PAUSED

    @property
    def resyncs(self) -> bool:
        """The copy is a full one in a new generation."""
        return self.outcome == RESYNCED

    def reason(self) -> str:
        """Why the copy does what it does, in words."""
        return "; ".join(("schema changed: " + self.diff.summary(), *self.reasons))

    def to_json(self) -> dict[str, Any]:
        """The manifest's ``schemaChange`` entry (and the activity output's)."""
        return {
            **self.diff.to_json(),
            "kind": self.diff.kind,
            "policy": self.policy,
            "outcome": self.outcome,
            "accepted": self.accepted,
            "reason": self.reason(),
            "schema": self.schema.to_json(),
        }


def check_policy(policy: str, where: str = "schemaDriftPolicy") -> str:
    """The policy, lower-cased, or ValueError naming the allowed ones."""
    value = (policy or "").strip().lower()
    if value not in POLICIES:
        raise ValueError(f"{where} must be one of {', '.join(POLICIES)}, not {policy!r}")
    return value


def assess(
    previous: TableSchema | None,
    table: Table,
    policy: str,
    accepted: TableSchema | None = None,
) -> SchemaDrift | None:
    """What a copy does about the table's schema against ``previous`` (None: nothing changed or nothing known).

    Args:
        previous: the schema of the last window's manifest; policy: the table's (``continue``,
        ``pause``, ``resync``); accepted: the schema an Editor accepted after a pause.
    """
    if previous is None:
        return None
    current = TableSchema.of(table)
    diff = compare(previous, current)
    if not diff:
        return None
    policy = check_policy(policy)
    if accepted is not None and accepted == current:
        outcome = RESYNCED if diff.key_changed or policy == RESYNC else CONTINUED
        return SchemaDrift(diff, policy, outcome, current, accepted=True, reasons=("accepted after a pause",))
    if diff.key_changed and policy == CONTINUE:
        reason = "a changed primary key never continues: the table is paused until an Editor accepts a re-sync"
        return SchemaDrift(diff, policy, PAUSED, current, reasons=(reason,))
    return SchemaDrift(diff, policy, OUTCOME_OF[policy], current)


def fingerprint(table: Table) -> str:
    """A hash of the table's schema (columns and key): a window written under one is resumed only under it."""
    text = json.dumps(TableSchema.of(table).to_json(), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def paused_result(drift: SchemaDrift, previous_version: int | None, min_valid: int, seconds: float) -> CopyResult:
    """The result of a copy schema drift paused: nothing read or written, no watermark to store."""
    return CopyResult(
        mode="paused",
        reason=drift.reason(),
        reason_code="schema_changed",
        previous_version=previous_version,
        watermark=None,
        min_valid_version=min_valid,
        rows_read=0,
        rows_written=0,
        bytes_written=0,
        seconds=seconds,
        schema_change=drift.to_json(),
        paused=True,
    )
