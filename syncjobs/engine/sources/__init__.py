"""Sources: where rows come from.

A source is one module (``sqlite.py``, ``postgres.py``, ``sqlserver.py``) holding a frozen
``<Name>Config`` and a ``<Name>Source`` that implements :class:`Source` and declares itself as a
``connectors.Connector`` (its ADF type names, form, dialect and capabilities). Drivers are imported in
that module only; ``connectors.REGISTRY`` lists the module, which is imported when first needed.

Reading always happens inside a :class:`Snapshot`: one read-only transaction in which every query
sees the same committed state (snapshot isolation on SQL Server when the database allows it, REPEATABLE
READ on PostgreSQL, a WAL read transaction on SQLite). Sources never store a watermark: the caller
passes one in and gets the new one back.

Change tracking: SQL Server has its own. PostgreSQL and SQLite get the same behaviour from triggers
and side tables that ``enable_change_tracking`` installs: a database-wide version that grows in
commit order, net changes with SQL Server's meaning, a per-table minimum valid version raised by
``cleanup_change_tracking``, and ``CHANGE_TRACKING_CURRENT_VERSION()``,
``CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID('t'))`` and ``CHANGETABLE(CHANGES t, v)`` usable inside
queries (see ``tsql_functions.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from syncjobs.engine.dialects import Dialect
from syncjobs.engine.keyset import KeyRange, KeyValues
from syncjobs.engine.types import (
    SYS_CHANGE_OPERATION,
    SYS_CHANGE_VERSION,
    Batch,
    ChangeWindow,
    Column,
    Table,
    TableName,
)


@dataclass(frozen=True)
class FullTable:
    """Every row of a table, or with ``keys`` the rows whose primary key lies in that range (a full
    copy's part). ``with_change_columns`` appends SYS_CHANGE_VERSION and SYS_CHANGE_OPERATION as NULL,
    so a full copy has the same columns as a delta. Rows come in no particular order."""

    table: Table
    with_change_columns: bool = False
    keys: KeyRange | None = None


@dataclass(frozen=True)
class Changes:
    """The net changes of a table in a window, joined to the table with an outer join so deletes
    come through (key columns set, other columns NULL). Rows are ordered by primary key.

    ``change_columns`` are appended after the table's columns, any of SYS_CHANGE_VERSION,
    SYS_CHANGE_OPERATION, SYS_CHANGE_CREATION_VERSION and SYS_CHANGE_COLUMNS (the changed columns'
    names joined by commas; NULL for inserts, deletes, and when column tracking is off).
    """

    table: Table
    window: ChangeWindow
    change_columns: tuple[str, ...] = (SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION)


@dataclass(frozen=True)
class Query:
    """An operator's SELECT; the T-SQL change-tracking functions work inside it on every source."""

    sql: str
    parameters: Sequence[Any] = field(default_factory=tuple)


RowSet = FullTable | Changes | Query


class Snapshot(Protocol):
    """One consistent, read-only view of the source."""

    def describe(self, name: TableName) -> Table:
        """Return the table's columns, key and change-tracking state (raises ``table_not_found``)."""
        ...

    def current_version(self) -> int:
        """CHANGE_TRACKING_CURRENT_VERSION() as this snapshot sees it."""
        ...

    def min_valid_version(self, table: Table) -> int:
        """CHANGE_TRACKING_MIN_VALID_VERSION for this table (raises ``change_tracking_disabled``)."""
        ...

    def database_identity(self, version: int) -> str:
        """The database's identity as of ``version``; it differs after a restore or re-creation."""
        ...

    def key_boundary(self, table: Table, keys: KeyRange, offset: int) -> KeyValues | None:
        """The primary key ``offset`` rows into ``keys`` in key order, or None when fewer rows are there.

        A full copy's part is ``[start, boundary)``: exactly ``offset`` rows in this snapshot.
        """
        ...

    def read(self, rows: RowSet, *, batch_rows: int = 10_000, text_values: bool = False) -> Iterator[Batch]:
        """Stream ``rows`` in batches of at most ``batch_rows`` and about ``batching.BATCH_BYTES``.

        ``batching.fetch_batches`` sizes a cursor's fetches that way: wide rows come in fewer per batch.

        ``text_values`` asks for every value in the source's own text form (what the source itself
        would export as CSV); a source that has no text form of its own ignores it.
        """
        ...

    def export_delimited(self, rows: RowSet, options: Any) -> Generator[bytes, None, int]:
        """Let the database write DelimitedText itself (only when ``supports_native_csv``).

        ``options`` is a ``formats.delimited.DelimitedTextOptions``; the bytes are UTF-8, header
        included when asked, uncompressed, and identical to what the row path writes.
        """
        ...


class CsvExportingSnapshot(Snapshot, Protocol):
    """The snapshot of a source that ``supports_native_csv``: the database writes CSV itself."""

    def csv_export_possible(self, options: Any) -> bool:
        """Whether ``export_delimited`` writes DelimitedText with these options byte for byte."""
        ...

    def export_typed_csv(
        self, rows: RowSet, kinds: Collection[str]
    ) -> tuple[tuple[Column, ...], Iterator[bytes]] | None:
        """Plain CSV that Parquet parses in C++, and its columns; None when a column's kind is not in ``kinds``.

        Comma, doubled quotes, NULL as an unquoted empty field, "\\n" row ends, timestamptz as UTC.
        """
        ...


@runtime_checkable
class Source(Protocol):
    """A database that rows are copied from."""

    supports_change_tracking: bool
    """Change tracking is available (native on SQL Server, emulated on PostgreSQL and SQLite)."""
    supports_native_csv: bool
    """The database can write DelimitedText itself (PostgreSQL's COPY ... TO STDOUT)."""
    supports_text_values: bool
    """``read(text_values=True)`` gives the database's own text form of each value."""
    dialect: Dialect
    """How the database spells the statements the portal writes for it (previews, checks, procedures)."""

    def test_connection(self) -> None:
        """Connect and run a trivial query; raise an EngineError whose reason says what failed."""
        ...

    def catalogue(self) -> list[Table]:
        """Every user table, with columns, keys, change-tracking state and a row-count estimate."""
        ...

    def snapshot(self) -> AbstractContextManager[Snapshot]:
        """Open a read-only snapshot; leaving the block ends the transaction."""
        ...

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a statement in its own committed transaction; return the rows of its last result set."""
        ...

    def change_tracking_statements(
        self, name: TableName, *, track_columns: bool = True, retention_days: int = 2
    ) -> list[str]:
        """The statements that enable change tracking on the database and the table, for the operator to read."""
        ...

    def enable_change_tracking(self, name: TableName, *, track_columns: bool = True, retention_days: int = 2) -> None:
        """Turn change tracking on for the table (and the database if needed)."""
        ...

    def disable_change_tracking(self, name: TableName) -> None:
        """Turn change tracking off for the table and drop what it kept."""
        ...

    def cleanup_change_tracking(self) -> int:
        """Purge change information older than the retention; return how many entries went."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
