"""ADF's DelimitedText, written with PostgreSQL's CSV quoting rules so COPY's bytes match the row path."""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from operator import methodcaller
from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.types import Batch

QUOTED_KINDS = ("string",)  # the kinds quoteAllText quotes (sources/postgres_copy.py has the same)
LEVELS = {"optimal": 6, "fastest": 1}
BOMS = {
    "utf-16": ("utf-16-le", codecs.BOM_UTF16_LE),
    "unicode": ("utf-16-le", codecs.BOM_UTF16_LE),
    "utf-16be": ("utf-16-be", codecs.BOM_UTF16_BE),
    "unicodefffe": ("utf-16-be", codecs.BOM_UTF16_BE),
    "utf-32": ("utf-32-le", codecs.BOM_UTF32_LE),
    "utf-32be": ("utf-32-be", codecs.BOM_UTF32_BE),
}


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
    compression_level: int = 6  # zlib level: ADF's "Optimal" is .NET's, i.e. zlib's default 6; "Fastest" is 1
    file_extension: str | None = None  # DelimitedTextWriteSettings.fileExtension

    @classmethod
    def from_adf(
        cls, type_properties: dict[str, Any], write_settings: dict[str, Any] | None = None
    ) -> DelimitedTextOptions:
        """The options of a DelimitedText dataset's typeProperties and a copy sink's formatSettings."""
        tp = type_properties or {}
        codec = str(tp.get("compressionCodec") or "none").lower()
        if codec not in ("none", "gzip"):
            raise TerminalError("bad_format_option", f"compressionCodec {codec!r} is not supported (none or gzip)")
        level = str(tp.get("compressionLevel") or "Optimal")
        if level.lower() not in LEVELS:
            raise TerminalError("bad_format_option", f"compressionLevel {level!r} is not Optimal or Fastest")
        options = cls(
            column_delimiter=_text(tp, "columnDelimiter", ","),
            row_delimiter=_text(tp, "rowDelimiter", "\r\n"),
            quote_char=_text(tp, "quoteChar", '"'),
            escape_char=_text(tp, "escapeChar", "\\"),
            first_row_as_header=_flag(tp.get("firstRowAsHeader", False)),
            null_value=_text(tp, "nullValue", ""),
            encoding=_text(tp, "encodingName", "UTF-8") or "UTF-8",
            compression="gzip" if codec == "gzip" else None,
            compression_level=LEVELS[level.lower()],
        ).with_write_settings(write_settings or {})
        options.check()
        return options

    def with_write_settings(self, settings: dict[str, Any] | None) -> DelimitedTextOptions:
        """These options with a copy sink's DelimitedTextWriteSettings (quoteAllText, fileExtension)."""
        settings = settings or {}
        return replace(
            self,
            quote_all_text=_flag(settings.get("quoteAllText", self.quote_all_text)),
            file_extension=settings.get("fileExtension") or self.file_extension,
        )

    def check(self) -> None:
        """Refuse options that cannot give a readable file, naming the ADF property."""
        if len(self.column_delimiter) != 1:
            raise TerminalError("bad_format_option", "columnDelimiter must be a single character")
        if len(self.row_delimiter) != 1 and self.row_delimiter != "\r\n":
            raise TerminalError("bad_format_option", 'rowDelimiter must be a single character or "\\r\\n"')
        if len(self.quote_char) > 1 or len(self.escape_char) > 1:
            raise TerminalError("bad_format_option", "quoteChar and escapeChar must be single characters or empty")
        if self.quote_char and not self.escape_char:
            raise TerminalError(
                "bad_format_option",
                "escapeChar is empty but quoteChar is not: ADF needs both empty, or set escapeChar to the quote",
            )
        if self.column_delimiter in (self.quote_char, self.escape_char) or self.column_delimiter in self.row_delimiter:
            raise TerminalError(
                "bad_format_option", "columnDelimiter must differ from quoteChar, escapeChar and rowDelimiter"
            )
        if any(c in self.null_value for c in (self.column_delimiter, self.quote_char, "\r", "\n") if c):
            raise TerminalError("bad_format_option", "nullValue must not hold the delimiter, the quote or a line break")
        try:
            codec_for(self.encoding)
        except LookupError:
            raise TerminalError(
                "bad_format_option", f"encodingName {self.encoding!r} is not a known encoding"
            ) from None


def codec_for(encoding_name: str) -> tuple[str, bytes]:
    """Python's codec for an ADF encodingName and the byte-order mark a file starts with.

    UTF-8 is written without a mark (ADF's "UTF-8 without BOM" is the same); UTF-16 and UTF-32 start
    with one, as .NET's encoders write them (little-endian unless the name says BE).
    """
    name = encoding_name.strip().lower().replace("_", "-")
    if name in BOMS:
        return BOMS[name]
    if name in ("utf-8 without bom", "utf8 without bom"):
        return "utf-8", b""
    return codecs.lookup(name).name, b""


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


_RENDERERS: dict[type, Callable[[Any], str]] = {
    str: str,
    int: int.__repr__,
    float: float.__repr__,
    bool: lambda v: "True" if v else "False",
    Decimal: lambda v: format(v, "f"),
    datetime: lambda v: v.isoformat(sep=" "),
    date: date.isoformat,
    time: time.isoformat,
}


_COLUMN_RENDERERS: dict[type, Callable[[Any], str]] = {
    **_RENDERERS,
    bool: {True: "True", False: "False"}.__getitem__,
    Decimal: methodcaller("__format__", "f"),
    datetime: methodcaller("isoformat", " "),
}
SEPARATOR = "\x00"  # joins a column's texts so one str.replace or regex search covers them all
_NUMBER_CHARACTERS = "0123456789-+.einfa"  # every character repr() of an int or a float can hold


def _could_be_number(text: str) -> bool:
    return bool(text) and all(c in _NUMBER_CHARACTERS for c in text)


def _texts(values: Sequence[Any]) -> Sequence[str]:
    """``_text_of`` for a column of non-NULL values; one C-level ``map`` when they share one type."""
    kinds = set(map(type, values))
    if len(kinds) != 1:
        return list(map(_text_of, values))
    kind = kinds.pop()
    if kind is str:
        return values
    return list(map(_COLUMN_RENDERERS.get(kind, _text_of), values))


def _text_of(value: Any) -> str:
    """``render`` by the value's exact type (a dict look-up instead of a chain of isinstance calls)."""
    return _RENDERERS.get(type(value), render)(value)


class DelimitedTextFormat:
    """DelimitedText: header, quoting and escaping as PostgreSQL's COPY ... CSV writes them.

    With a quote character, a value is quoted when quoteAllText forces it (string columns), when it
    holds the delimiter, the quote or a line break, or when it equals nullValue (so NULL and that
    text stay distinguishable); inside quotes the escape character precedes each quote and escape.
    With quoteChar empty (ADF: no quoting), the escape character precedes the delimiter, itself and
    line breaks; with both empty, a value holding the delimiter or a line break is refused
    (``unquotable_value``) rather than written as a corrupt file.
    """

    wants_text_values = True
    upload_block_bytes: int | None = None

    def __init__(self, options: DelimitedTextOptions | None = None) -> None:
        self.options = options or DelimitedTextOptions()
        base = self.options.file_extension or ".csv"
        self.extension = base + ".gz" if self.options.compression == "gzip" else base
        o = self.options
        self._specials = tuple(
            dict.fromkeys(c for c in (o.column_delimiter, o.quote_char, "\r", "\n", *o.row_delimiter) if c)
        )
        self._needs_quotes = re.compile("[" + "".join(re.escape(c) for c in self._specials) + "]").search

    def native_options(self) -> DelimitedTextOptions:
        """PostgreSQL can write these bytes itself."""
        return self.options

    def _field(self, text: str, force: bool, column: str = "") -> str:
        o = self.options
        if not o.quote_char:
            return self._unquoted(text, column)
        if not (force or text == o.null_value or self._needs_quotes(text)):
            return text
        q, esc = o.quote_char, o.escape_char or o.quote_char
        body = text.replace(q, q + q) if esc == q else text.replace(esc, esc + esc).replace(q, esc + q)
        return q + body + q

    def _unquoted(self, text: str, column: str) -> str:
        o = self.options
        if not any(c in text for c in self._specials) and not (o.escape_char and o.escape_char in text):
            return text
        if not o.escape_char:
            raise TerminalError(
                "unquotable_value",
                f"column {column!r} has a value holding the column delimiter or a line break, and quoteChar "
                "and escapeChar are both empty: set a quote character",
            )
        specials = (*self._specials, o.escape_char)
        return "".join(o.escape_char + c if c in specials else c for c in text)

    def _header(self, columns: tuple[Any, ...]) -> str:
        """Names are quoted when empty or holding the delimiter, the quote or a line break (as COPY's header)."""
        o = self.options
        return o.column_delimiter.join(
            self._field(c.name, not c.name or any(s in c.name for s in self._specials), c.name) for c in columns
        )

    def _rows(self, batches: Iterable[Batch]) -> Iterator[bytes]:
        o, header_done = self.options, not self.options.first_row_as_header
        for batch in batches:
            out = []
            if not header_done:
                out.append(self._header(batch.columns))
                header_done = True
            if batch.rows:
                out.extend(self._lines(batch))
            if out:
                yield (o.row_delimiter.join(out) + o.row_delimiter).encode("utf-8")

    def _lines(self, batch: Batch) -> Iterable[str]:
        """A batch's lines, built column by column so that most work runs in C (``map``, ``str`` methods)."""
        o = self.options
        single = len(batch.columns) == 1  # COPY quotes a lone \. so it cannot read as end-of-data
        forced = [o.quote_all_text and c.kind in QUOTED_KINDS for c in batch.columns]
        if not o.quote_char or single:
            cells = [self._cell(force, single, c.name) for force, c in zip(forced, batch.columns, strict=True)]
            join, null = o.column_delimiter.join, o.null_value
            return [
                join([null if v is None else cell(v) for cell, v in zip(cells, row, strict=True)]) for row in batch.rows
            ]
        columns = zip(*batch.rows, strict=True)
        fields = [self._fields(values, force) for values, force in zip(columns, forced, strict=True)]
        return map(o.column_delimiter.join, zip(*fields, strict=True))

    def _fields(self, values: Sequence[Any], force: bool) -> Sequence[str]:
        """One column's fields (quote character set): ``_cell``'s output for every value, NULLs included."""
        if None not in values:
            return self._quoted_as_needed(_texts(values), force)
        present = [v for v in values if v is not None]
        fields = iter(self._quoted_as_needed(_texts(present), force))
        null = self.options.null_value
        return [null if v is None else next(fields) for v in values]

    def _quoted_as_needed(self, texts: Sequence[str], force: bool) -> Sequence[str]:
        o = self.options
        q, esc = o.quote_char, o.escape_char or o.quote_char
        if force:
            whole = SEPARATOR.join(texts)
            if whole.count(SEPARATOR) == len(texts) - 1 and SEPARATOR not in (q, esc):  # none holds it
                body = whole.replace(q, q + q) if esc == q else whole.replace(esc, esc + esc).replace(q, esc + q)
                return (q + body.replace(SEPARATOR, q + SEPARATOR + q) + q).split(SEPARATOR)
        elif not self._needs_quotes(SEPARATOR.join(texts)) and o.null_value not in texts:
            return texts
        cell = self._cell(force, False, "")
        return [cell(t) for t in texts]

    def _cell(self, force: bool, single: bool, column: str) -> Callable[[Any], str]:
        """One column's value-to-field function (the row path's hot loop: one call per value)."""
        o = self.options
        if not o.quote_char or single:
            return lambda v: self._field(_text_of(v), force or (single and v == "\\."), column)
        q, esc = o.quote_char, o.escape_char or o.quote_char
        escaped_esc, escaped_q = esc + esc, (q + q if esc == q else esc + q)

        def quoted(text: str) -> str:
            body = text.replace(q, escaped_q) if esc == q else text.replace(esc, escaped_esc).replace(q, escaped_q)
            return q + body + q

        if force:
            return lambda v: quoted(v if type(v) is str else _text_of(v))
        null, needs = o.null_value, self._needs_quotes
        # An int's or float's text needs quoting only if it could equal nullValue or hold a special
        # character: checked once per format, not once per value.
        numbers_plain = not needs(_NUMBER_CHARACTERS) and not _could_be_number(null)

        def cell(v: Any) -> str:
            kind: Any = type(v)
            if numbers_plain and (kind is int or kind is float):
                number: str = kind.__repr__(v)
                return number
            text = v if kind is str else _text_of(v)
            return quoted(text) if text == null or needs(text) else text

        return cell

    def encode(self, batches: Iterable[Batch]) -> Iterator[bytes]:
        """Batches to file bytes, one chunk per batch."""
        return self.finish(self._rows(batches))

    def finish(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Re-encode and compress UTF-8 chunks as the options say (a chunk may end inside a character)."""
        codec, bom = codec_for(self.options.encoding)
        level = self.options.compression_level
        gz = zlib.compressobj(level, zlib.DEFLATED, 31) if self.options.compression == "gzip" else None
        plain = codec == "utf-8"
        decoder = codecs.getincrementaldecoder("utf-8")()  # both used only when the file is not UTF-8
        encoder = codecs.getincrementalencoder(codec)()
        pending = bom
        for chunk in chunks:
            data = chunk if plain else self._encoded(decoder.decode(chunk), encoder)
            data, pending = pending + data, b""
            data = gz.compress(data) if gz else data
            if data:
                yield data
        tail = pending + (b"" if plain else self._encoded(decoder.decode(b"", final=True), encoder, final=True))
        tail = (gz.compress(tail) + gz.flush()) if gz else tail
        if tail:
            yield tail

    def _encoded(self, text: str, encoder: codecs.IncrementalEncoder, final: bool = False) -> bytes:
        try:
            return encoder.encode(text, final)
        except UnicodeEncodeError as exc:
            bad = exc.object[exc.start : exc.end]
            raise TerminalError(
                "unencodable_value", f"the text {bad!r} cannot be written in encodingName {self.options.encoding!r}"
            ) from None
