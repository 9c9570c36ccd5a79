"""The engine's plain data: tables, columns, batches, change windows, watermarks and copy results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# Logical column kinds. Formats decide how a value is written from its kind, never from the source's
# own type name, so one rule serves every source. ``string`` covers char/varchar/nvarchar/text/xml.
KINDS = (
    "int",  # any exact integer, incl. bit-less SQL Server tinyint..bigint
    "decimal",  # exact numerics and money: Python Decimal
    "float",  # real / float / double precision
    "bool",  # bit / boolean
    "date",
    "time",
    "datetime",  # naive timestamp (datetime2, timestamp without time zone)
    "datetimetz",  # timestamp with offset (datetimeoffset, timestamptz)
    "uuid",  # uniqueidentifier / uuid, kept in the source's text form
    "string",
    "binary",
    "json",  # json / jsonb, written as its text
    "array",  # PostgreSQL arrays, written in the source's text form
)

# The change-tracking columns appended to every change-tracking copy, as in the tutorial's output.
SYS_CHANGE_VERSION = "SYS_CHANGE_VERSION"
SYS_CHANGE_OPERATION = "SYS_CHANGE_OPERATION"
SYS_CHANGE_CREATION_VERSION = "SYS_CHANGE_CREATION_VERSION"
SYS_CHANGE_COLUMNS = "SYS_CHANGE_COLUMNS"


@dataclass(frozen=True)
class Column:
    """One column as the source describes it."""

    name: str
    kind: str  # one of KINDS
    source_type: str = ""  # the source's own type name, e.g. "datetime2(7)", "numeric(18,4)"
    nullable: bool = True
    precision: int | None = None
    scale: int | None = None


@dataclass(frozen=True)
class TableName:
    """A table's name, optionally schema-qualified. Never pasted into SQL unquoted."""

    name: str
    schema: str | None = None

    @classmethod
    def parse(cls, text: str) -> TableName:
        """Parse ``schema.table``, ``[schema].[table]`` or ``"schema"."table"`` (quotes optional)."""
        from syncjobs.engine.sqlnames import split_qualified_name

        parts = split_qualified_name(text)
        if len(parts) == 1:
            return cls(parts[0])
        return cls(parts[-1], parts[-2])

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class Table:
    """A table in a source's catalogue."""

    name: TableName
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    change_tracking: bool = False  # change tracking is on for this table
    track_columns: bool = False  # column tracking (SYS_CHANGE_COLUMNS) is on
    row_estimate: int | None = None

    def column(self, name: str) -> Column:
        """Return the column called ``name`` (exact match)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


@dataclass(frozen=True)
class ChangeWindow:
    """The versions a delta copies: ``after < SYS_CHANGE_VERSION <= upto``."""

    after: int
    upto: int

    def __post_init__(self) -> None:
        if self.upto < self.after:
            raise ValueError(f"empty window: upto {self.upto} < after {self.after}")


@dataclass(frozen=True)
class Batch:
    """A slice of rows: a tuple per row, values in ``columns`` order.

    Values are Python objects (int, Decimal, float, bool, date, datetime, UUID text, str, bytes...),
    or, when the source says ``text_values``, already the source's own text form (str) for every
    non-null value. ``None`` is SQL NULL, and the empty string stays the empty string.
    """

    columns: tuple[Column, ...]
    rows: Sequence[tuple[Any, ...]]
    text_values: bool = False

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Watermark:
    """What a sink has of a table: every change up to and including ``version``.

    ``database_identity`` is the source's identity as of ``version``; if the source later reports a
    different identity for that version, the database was restored or re-created.
    """

    version: int
    database_identity: str = ""


@dataclass(frozen=True)
class FileWritten:
    """A file a sink committed."""

    path: str  # as the sink takes it: container/folder/name, or folder/name under the root
    bytes: int
    rows: int
    checksum: str = ""  # "sha256:<hex>" for a window's parts


@dataclass(frozen=True)
class WindowWritten:
    """The change window a change-tracking copy completed (see ``engine/windows.py``)."""

    generation: int
    prefix: str
    manifest: str  # its manifest's path; "" for a quiet delta, which writes nothing
    from_version: int
    to_version: int
    chain_version: int | None  # the last manifest's ``to`` once this window is stored
    rows: int  # rows in all of the window's parts
    parts_resumed: int = 0  # parts an earlier attempt committed and this one kept
    parts_written: int = 0  # parts this attempt wrote
    from_manifest: bool = False  # an earlier attempt had finished it: nothing was copied again

    def as_output(self) -> dict[str, Any]:
        """The window as an activity run shows it."""
        return {
            "generation": self.generation,
            "prefix": self.prefix,
            "manifest": self.manifest,
            "fromVersion": self.from_version,
            "toVersion": self.to_version,
            "rows": self.rows,
            "partsResumed": self.parts_resumed,
            "partsWritten": self.parts_written,
            "fromManifest": self.from_manifest,
        }


@dataclass(frozen=True)
class CopyResult:
    """What a copy did. ``watermark`` is for the caller to store, only after this returns."""

    mode: str  # "full", "delta" or "reinitialized"
    reason: str  # why this mode, in words; "" for an ordinary delta
    reason_code: str  # "no_watermark", "min_version_expired", "restored", "identity_changed", ""
    previous_version: int | None
    watermark: Watermark | None
    min_valid_version: int | None
    rows_read: int
    rows_written: int
    bytes_written: int
    files: tuple[FileWritten, ...] = ()
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)  # rows per operation: {"I": 1, "U": 1}
    window: WindowWritten | None = None
    schema: dict[str, Any] | None = None  # the table's schema in this window's manifest (schema_drift.TableSchema)
    schema_change: dict[str, Any] | None = None  # the schema drift met (schema_drift.SchemaDrift), if any
    paused: bool = False  # schema drift paused the table: nothing written, the watermark is not to move

    def as_output(self) -> dict[str, Any]:
        """The JSON an activity run shows: ADF's copy output fields plus the change-tracking ones."""
        output = self._copy_output()
        if self.window is not None:
            output["changeTracking"]["window"] = self.window.as_output()
        if self.schema_change is not None:
            output["changeTracking"]["schemaChange"] = self.schema_change
        if self.paused:
            output["changeTracking"]["paused"] = True
        return output

    def _copy_output(self) -> dict[str, Any]:
        return {
            "rowsRead": self.rows_read,
            "rowsCopied": self.rows_written,
            "dataWritten": self.bytes_written,
            "filesWritten": len(self.files),
            "files": [f.path for f in self.files],
            "copyDuration": round(self.seconds, 3),
            "changeTracking": {
                "mode": self.mode,
                "reason": self.reason,
                "reasonCode": self.reason_code,
                "previousVersion": self.previous_version,
                "newVersion": self.watermark.version if self.watermark else None,
                "minValidVersion": self.min_valid_version,
                "operations": dict(self.counts),
            },
        }
