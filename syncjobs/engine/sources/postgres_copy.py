"""PostgreSQL's COPY ... TO STDOUT as DelimitedText: the COPY options, the header row, and "\\r\\n" row ends."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from syncjobs.engine.sqlnames import quote_ansi, quote_literal

QUOTED_KINDS = ("string",)  # the kinds DelimitedText's quoteAllText quotes


def csv_export_possible(options: Any) -> bool:
    """COPY takes one-byte ASCII delimiter, quote and escape, and ends rows with "\\n" (or "\\r\\n" after us)."""
    one = (options.column_delimiter, options.quote_char, options.escape_char)
    if any(len(c) != 1 or not c.isascii() or c in "\r\n" for c in one):
        return False
    if options.column_delimiter in (options.quote_char, options.escape_char):
        return False
    null = options.null_value
    return options.row_delimiter in ("\n", "\r\n") and not any(
        ch in null for ch in ("\r", "\n", options.column_delimiter, options.quote_char)
    )


def copy_options(options: Any, force_quote: Sequence[str]) -> str:
    """The WITH (...) options of COPY ... TO STDOUT for DelimitedText options."""
    parts = [
        "FORMAT csv",
        f"DELIMITER {quote_literal(options.column_delimiter)}",
        f"QUOTE {quote_literal(options.quote_char)}",
        f"ESCAPE {quote_literal(options.escape_char)}",
        f"NULL {quote_literal(options.null_value)}",
    ]
    if force_quote:
        parts.append(f"FORCE_QUOTE ({', '.join(quote_ansi(n) for n in force_quote)})")
    return ", ".join(parts)


def header_line(names: Sequence[str], options: Any) -> str:
    """The header row: a name is quoted when it holds the delimiter, the quote or a line break (as COPY does)."""
    quote, escape = options.quote_char, options.escape_char
    specials = (options.column_delimiter, quote, "\r", "\n")

    def cell(name: str) -> str:
        if name and not any(s in name for s in specials if s):
            return name
        return quote + "".join(escape + ch if ch in (quote, escape) else ch for ch in name) + quote

    return options.column_delimiter.join(cell(n) for n in names) + options.row_delimiter


class RowEnds:
    """Turns COPY's "\\n" row ends into "\\r\\n", leaving line breaks inside quoted values alone.

    Fast path: when no quoted value in the complete lines of a chunk holds a line break (one regex
    match decides), ``bytes.replace`` is exact for them. A chunk that fails the check goes through an
    exact scan that carries its state (inside a quoted value, after an escape) into the next chunk.
    """

    def __init__(self, quote: str, escape: str) -> None:
        self._q, self._e = quote.encode(), escape.encode()
        q, e = re.escape(self._q), re.escape(self._e)
        # Pairing quotes from the start (escaped ones removed), some quoted value holds a line break.
        self._quoted_break = re.compile(rb"(?:[^%s]*+%s[^%s\n]*+%s)*+[^%s]*+%s[^%s\n]*+\n" % ((q,) * 7))
        self._special = re.compile(rb"[%s\n]" % q if self._q == self._e else rb"[%s%s\n]" % (q, e))
        self._carry = b""
        self._inside = False
        self._escaped = False

    def _plain(self, head: bytes) -> bool:
        """No line break inside a quoted value: one anchored, possessive (so linear) regex match."""
        if self._q not in head:
            return True
        if self._q != self._e and self._e in head:
            head = head.replace(self._e + self._e, b"").replace(self._e + self._q, b"")
        return self._quoted_break.match(head) is None

    def feed(self, chunk: bytes) -> bytes:
        """Convert one chunk; a trailing partial line may be held back until the next."""
        buf, self._carry = self._carry + chunk, b""
        if not (self._inside or self._escaped):
            end = buf.rfind(b"\n") + 1
            head = buf[:end]
            if self._plain(head):
                self._carry = buf[end:]
                return head.replace(b"\n", b"\r\n")
        return self._exact(buf)

    def _exact(self, buf: bytes) -> bytes:
        out, i, n = [], 0, len(buf)
        if self._escaped and n:
            out.append(buf[:1])
            i, self._escaped = 1, False
        while i < n:
            m = self._special.search(buf, i)
            if m is None:
                out.append(buf[i:])
                break
            j = m.start()
            ch = buf[j : j + 1]
            out.append(buf[i:j])
            i = j + 1
            if ch == b"\n":
                out.append(b"\n" if self._inside else b"\r\n")
            elif ch == self._q:  # with quote == escape, a doubled quote toggles twice
                out.append(ch)
                self._inside = not self._inside
            elif self._inside:  # an escape inside a quoted value: the next byte is taken as it is
                out.append(buf[j : j + 2])
                i = j + 2
                self._escaped = i > n
            else:
                out.append(ch)
        return b"".join(out)

    def close(self) -> bytes:
        """What is left at the end of the export."""
        rest, self._carry = self._carry, b""
        return self._exact(rest) if rest else b""
