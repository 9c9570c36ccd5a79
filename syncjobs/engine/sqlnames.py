"""Quoting and splitting of SQL identifiers, so no name is ever pasted into SQL unquoted."""

from __future__ import annotations

from syncjobs.engine.errors import TerminalError

_PAIRS = {"[": "]", '"': '"', "`": "`"}


def quote_ansi(name: str) -> str:
    """Quote for PostgreSQL and SQLite: ``"na""me"``."""
    _check(name)
    return '"' + name.replace('"', '""') + '"'


def quote_tsql(name: str) -> str:
    """Quote for SQL Server: ``[na]]me]`` (what QUOTENAME does)."""
    _check(name)
    return "[" + name.replace("]", "]]") + "]"


def quote_literal(text: str) -> str:
    """A single-quoted SQL string literal: ``'it''s'``."""
    if "\x00" in text:
        raise TerminalError("invalid_name", "a NUL character cannot appear in SQL text")
    return "'" + text.replace("'", "''") + "'"


def _check(name: str) -> None:
    if not name or "\x00" in name:
        raise TerminalError("invalid_name", f"not a valid identifier: {name!r}")


def split_qualified_name(text: str) -> list[str]:
    """Split ``a.b``, ``[a].[b]``, ``"a"."b"`` (quotes undone, doubled closers unescaped)."""
    parts: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _PAIRS:
            close = _PAIRS[ch]
            j, buf = i + 1, []
            while True:
                if j >= n:
                    raise TerminalError("invalid_name", f"unclosed quote in name {text!r}")
                if text[j] == close:
                    if j + 1 < n and text[j + 1] == close:
                        buf.append(close)
                        j += 2
                        continue
                    break
                buf.append(text[j])
                j += 1
            parts.append("".join(buf))
            i = j + 1
        else:
            j = text.find(".", i)
            j = n if j < 0 else j
            parts.append(text[i:j].strip())
            i = j
        if i < n:
            if text[i] != ".":
                raise TerminalError("invalid_name", f"unexpected {text[i]!r} in name {text!r}")
            i += 1
    if not parts or any(p == "" for p in parts):
        raise TerminalError("invalid_name", f"not a valid table name: {text!r}")
    return parts
