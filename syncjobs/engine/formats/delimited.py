"""ADF's DelimitedText, written with PostgreSQL's CSV quoting rules so COPY's bytes match the row path."""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.types import Batch

QUOTED_KINDS = ("string",)


@dataclass(frozen=True)
class DelimitedTextOptions:
    """ADF's DelimitedText dataset options, with ADF's write defaults."""

    column_delimiter: str = ","
    row_delimiter: str = "\r\n"
    quote_char: str = '"'
    escape_char: str = "\\"
    first_row_as_header: bool = False
    quote_all_text: bool = True
    null_value: str = ""
    encoding: str = "UTF-8"
    compression: str | None = None
    file_extension: str | None = None  # DelimitedTextWriteSettings.fileExtension

    @classmethod
    def from_adf(
        cls, type_properties: dict[str, Any], write_settings: dict[str, Any] | None = None
    ) -> DelimitedTextOptions:
        """The options of a DelimitedText dataset's typeProperties and a copy sink's formatSettings."""
        tp, ws = type_properties or {}, write_settings or {}
        codec = str(tp.get("compressionCodec") or "none").lower()
        if codec not in ("none", "gzip"):
            raise TerminalError("bad_format_option", f"compressionCodec {codec!r} is not supported (none or gzip)")
        options = cls(
            column_delimiter=_text(tp, "columnDelimiter", ","),
            row_delimiter=_text(tp, "rowDelimiter", "\r\n"),
            quote_char=_text(tp, "quoteChar", '"'),
            escape_char=_text(tp, "escapeChar", "\\"),
            first_row_as_header=_flag(tp.get("firstRowAsHeader", False)),
            quote_all_text=_flag(ws.get("quoteAllText", True)),
            null_value=_text(tp, "nullValue", ""),
            encoding=_text(tp, "encodingName", "UTF-8") or "UTF-8",
            compression="gzip" if codec == "gzip" else None,
            file_extension=ws.get("fileExtension") or None,
        )
        options.check()
        return options

    def check(self) -> None:
        """Refuse options that cannot give a readable file."""
        if not self.column_delimiter or len(self.column_delimiter) > 1:
            raise TerminalError("bad_format_option", "columnDelimiter must be a single character")
        if len(self.quote_char) > 1 or len(self.escape_char) > 1:
            raise TerminalError("bad_format_option", "quoteChar and escapeChar must be single characters or empty")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise TerminalError(
                "bad_format_option", f"encodingName {self.encoding!r} is not a known encoding"
            ) from None


def _text(tp: dict[str, Any], key: str, default: str) -> str:
    value = tp.get(key, default)
    return default if value is None else str(value)


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def render(value: Any) -> str:
    """A typed value's text: fixed-point decimals, ISO dates, 0x-hex binary, True/False."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date | time):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex().upper()
    return str(value)


class DelimitedTextFormat:
    """DelimitedText: header, quoting and escaping as PostgreSQL's COPY ... CSV writes them."""

    wants_text_values = True

    def __init__(self, options: DelimitedTextOptions | None = None) -> None:
        self.options = options or DelimitedTextOptions()
        base = self.options.file_extension or ".csv"
        self.extension = base + ".gz" if self.options.compression == "gzip" else base

    def native_options(self) -> DelimitedTextOptions:
        """PostgreSQL can write these bytes itself."""
        return self.options

    def _field(self, text: str, force: bool) -> str:
        o = self.options
        if not o.quote_char:
            return text
        needs = force or text == o.null_value or any(c in text for c in (o.column_delimiter, o.quote_char, "\r", "\n"))
        if not needs:
            return text
        esc = o.escape_char or o.quote_char
        body = "".join(esc + c if c in (o.quote_char, esc) else c for c in text)
        return o.quote_char + body + o.quote_char

    def _rows(self, batches: Iterable[Batch]) -> Iterator[bytes]:
        o, header_done = self.options, not self.options.first_row_as_header
        for batch in batches:
            force = [o.quote_all_text and c.kind in QUOTED_KINDS for c in batch.columns]
            out = []
            if not header_done:
                out.append(o.column_delimiter.join(self._field(c.name, False) for c in batch.columns))
                header_done = True
            for row in batch.rows:
                out.append(
                    o.column_delimiter.join(
                        o.null_value if v is None else self._field(render(v), f)
                        for v, f in zip(row, force, strict=True)
                    )
                )
            if out:
                yield (o.row_delimiter.join(out) + o.row_delimiter).encode("utf-8")

    def encode(self, batches: Iterable[Batch]) -> Iterator[bytes]:
        """Batches to file bytes, one chunk per batch."""
        return self.finish(self._rows(batches))

    def finish(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Re-encode and compress UTF-8 chunks as the options say."""
        codec = self.options.encoding.lower().replace("_", "-")
        gz = zlib.compressobj(6, zlib.DEFLATED, 31) if self.options.compression == "gzip" else None
        for chunk in chunks:
            data = chunk if codec in ("utf-8", "utf8") else chunk.decode("utf-8").encode(codec)
            data = gz.compress(data) if gz else data
            if data:
                yield data
        if gz:
            yield gz.flush()
