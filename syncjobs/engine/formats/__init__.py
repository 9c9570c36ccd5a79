"""Formats: batches in, bytes out.

``delimited.py`` (ADF's DelimitedText) and ``parquet.py`` implement :class:`Format`. A format that a
source can produce natively (DelimitedText from PostgreSQL's COPY) exposes ``native_options`` and
``finish``; the row path and the native path then share ``finish`` (encoding, compression) and must
give the same bytes for the same data and options.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol


class Format(Protocol):
    """A file format."""

    extension: str
    """The usual file extension, with its dot (".csv", ".csv.gz", ".parquet")."""
    wants_text_values: bool
    """Ask sources for their own text form of values (CSV) rather than typed values (Parquet)."""

    def encode(self, batches: Iterable[Any]) -> Iterator[bytes]:
        """Turn a stream of ``types.Batch`` into the file's bytes, in chunks."""
        ...

    def native_options(self) -> Any | None:
        """Options a source may use to write this format itself, or None when it cannot."""
        ...

    def finish(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Apply encoding and compression to natively produced UTF-8 bytes."""
        ...


def format_for_dataset(
    dataset_type: str, type_properties: dict[str, Any], write_settings: dict[str, Any] | None = None
) -> Format:
    """The format of a file dataset: ``DelimitedText`` or ``Parquet``, with its ADF options."""
    from syncjobs.engine.errors import TerminalError

    if dataset_type == "DelimitedText":
        from syncjobs.engine.formats.delimited import DelimitedTextFormat, DelimitedTextOptions

        return DelimitedTextFormat(DelimitedTextOptions.from_adf(type_properties, write_settings))
    if dataset_type == "Parquet":
        from syncjobs.engine.formats.parquet import ParquetFormat

        return ParquetFormat.from_adf(type_properties)
    raise TerminalError(
        "unsupported_format", f"dataset type {dataset_type!r} is not a file format (DelimitedText or Parquet)"
    )
