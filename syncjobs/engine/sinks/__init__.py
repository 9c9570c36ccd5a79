"""Sinks: where files go.

Each sink class is also a ``connectors.Connector``, declaring its ADF type names, dataset location and
form; ``connectors.REGISTRY`` lists its module, which is imported when first needed.

A sink is one module (``folder.py``, ``azureblob.py``) with a frozen ``<Name>Config`` and a
``<Name>Sink`` implementing :class:`Sink`. Sinks stage, then commit: ``open(path)`` returns a
:class:`SinkWriter`; nothing is visible under ``path`` until ``commit()`` returns, and ``abort()`` (or a
crash) leaves nothing visible. Sinks see bytes, never rows: formats make the bytes.
``create_exclusive`` writes a small file whole, only if nothing is there yet: a window's manifest.
Reading back: ``local_path`` turns a path ``commit`` returned into the one ``read``/``read_chunks`` take
(refusing one outside the sink), and ``read_chunks`` streams a file (the portal's downloads and previews).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Protocol, runtime_checkable


class SinkWriter(Protocol):
    """One file being written."""

    bytes_written: int

    def write(self, data: bytes) -> None:
        """Append bytes (may upload in the background; errors surface here or at commit)."""
        ...

    def commit(self) -> str:
        """Make the file visible; return its path as the operator reads it."""
        ...

    def abort(self) -> None:
        """Drop everything written; safe to call twice and after a failed commit."""
        ...


@runtime_checkable
class Sink(Protocol):
    """A store that files are written to."""

    def test_connection(self) -> None:
        """Reach the store (and the container); raise an EngineError whose reason says what failed."""
        ...

    def open(self, path: str, *, block_bytes: int | None = None) -> SinkWriter:
        """Start writing ``path`` (``folder/name``, relative to the sink's root or container).

        ``block_bytes``: a sink that uploads in blocks uses blocks of this size instead of its own
        (the format's ``upload_block_bytes``); other sinks ignore it.
        """
        ...

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """Create ``path`` holding ``data`` unless something is there: True if created, False if it existed.

        Readers see all of ``data`` or nothing, and of two writers racing for one path exactly one wins.
        """
        ...

    def read(self, path: str) -> bytes:
        """Return a committed file's bytes (raises an EngineError with reason ``not_found`` when missing)."""
        ...

    def read_chunks(self, path: str, chunk_bytes: int = 1024 * 1024) -> Iterator[bytes]:
        """Yield a committed file's bytes in chunks of at most ``chunk_bytes`` (``not_found`` when missing).

        The file is opened before the first chunk is asked for, so a missing one raises on the first ``next``.
        """
        ...

    def local_path(self, shown: str) -> str:
        """The path ``open``/``read`` take for ``shown``, a path ``commit`` returned (as run outputs list it).

        Raises ``TerminalError`` (``invalid_path``) when ``shown`` does not lie inside this sink.
        """
        ...

    def delete(self, path: str) -> None:
        """Remove a committed file; a missing one is no error."""
        ...

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Committed file paths under ``prefix``, sorted."""
        ...

    def list_folders(self, prefix: str) -> builtins.list[str]:
        """The names of the folders directly under ``prefix`` (which ends with ``/``), sorted."""
        ...

    def close(self) -> None:
        """Release clients."""
        ...
