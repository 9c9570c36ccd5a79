"""SQL Server's change-tracking functions inside queries, for sources that emulate change tracking.

An operator's query (the tutorial's lookup and copy queries) may call
``CHANGE_TRACKING_CURRENT_VERSION()``, ``CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID('t'))`` and
``CHANGETABLE(CHANGES t, <version>)``. :func:`rewrite` replaces each call, outside string literals,
quoted names and comments, with the SQL its source's :class:`ChangeTrackingDialect` gives, so the
query runs unchanged on PostgreSQL and SQLite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.types import TableName


class ChangeTrackingDialect(Protocol):
    """What a source substitutes for each T-SQL change-tracking function."""

    def current_version_sql(self) -> str:
        """An SQL expression giving the current version."""
        ...

    def min_valid_version_sql(self, table: TableName) -> str:
        """An SQL expression giving the table's minimum valid version."""
        ...

    def changetable_sql(self, table: TableName, after_sql: str) -> str:
        """A parenthesized subquery of net changes after ``after_sql`` (an SQL expression)."""
        ...


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "string", "quoted", "punct", "space", "comment", "other"
    text: str
    start: int


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<string>N?'(?:[^']|'')*'?)
  | (?P<quoted>"(?:[^"]|"")*"?|\[(?:[^\]]|\]\])*\]?|`[^`]*`?)
  | (?P<word>[A-Za-z_\u00c0-\uffff][\w$#@\u00c0-\uffff]*)
  | (?P<punct>[(),.])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokens(sql: str) -> list[_Token]:
    return [_Token(m.lastgroup or "other", m.group(), m.start()) for m in _TOKEN.finditer(sql)]


class _Cursor:
    """Walks tokens, skipping white space and comments."""

    def __init__(self, sql: str, tokens: list[_Token], index: int) -> None:
        self.sql, self.tokens, self.index = sql, tokens, index

    def peek(self) -> _Token | None:
        i = self.index
        while i < len(self.tokens) and self.tokens[i].kind in ("space", "comment"):
            i += 1
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise self.error("the query ends too early")
        self.index = self.tokens.index(token, self.index) + 1
        return token

    def expect(self, text: str) -> _Token:
        token = self.take()
        if token.text.upper() != text.upper():
            raise self.error(f"expected {text!r} but found {token.text!r}", token)
        return token

    def error(self, message: str, token: _Token | None = None) -> TerminalError:
        position = (token.start if token else len(self.sql)) + 1
        return TerminalError(
            "invalid_query", f"change-tracking function in the query: {message} at position {position}"
        )


def _table_name(cur: _Cursor) -> TableName:
    """Read a possibly qualified, possibly quoted table name."""
    parts = [cur.take()]
    while (nxt := cur.peek()) is not None and nxt.text == ".":
        cur.take()
        parts.append(cur.take())
    for part in parts:
        if part.kind not in ("word", "quoted"):
            raise cur.error(f"expected a table name but found {part.text!r}", part)
    return TableName.parse(".".join(p.text for p in parts))


def _until_close(cur: _Cursor) -> str:
    """The raw SQL up to the parenthesis closing the current call (consumed)."""
    depth, start = 0, cur.index
    while cur.index < len(cur.tokens):
        token = cur.tokens[cur.index]
        cur.index += 1
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            if depth == 0:
                return "".join(t.text for t in cur.tokens[start : cur.index - 1]).strip()
            depth -= 1
    raise cur.error("a parenthesis is not closed")


def _string_literal(cur: _Cursor) -> str:
    token = cur.take()
    if token.kind != "string" or not token.text.endswith("'") or len(token.text) < 2:
        raise cur.error("OBJECT_ID needs a quoted table name like OBJECT_ID('dbo.t')", token)
    body = token.text[2:-1] if token.text[:1] in "Nn" else token.text[1:-1]
    return body.replace("''", "'")


def _current_version(cur: _Cursor, dialect: ChangeTrackingDialect) -> str:
    cur.expect("(")
    cur.expect(")")
    return dialect.current_version_sql()


def _min_valid_version(cur: _Cursor, dialect: ChangeTrackingDialect) -> str:
    cur.expect("(")
    cur.expect("OBJECT_ID")
    cur.expect("(")
    name = _string_literal(cur)
    cur.expect(")")
    cur.expect(")")
    return dialect.min_valid_version_sql(TableName.parse(name))


def _changetable(cur: _Cursor, dialect: ChangeTrackingDialect) -> str:
    cur.expect("(")
    mode = cur.take()
    if mode.text.upper() != "CHANGES":
        raise cur.error(f"only CHANGETABLE(CHANGES ...) is supported here, not {mode.text}", mode)
    table = _table_name(cur)
    cur.expect(",")
    after = _until_close(cur)
    if not after:
        raise cur.error("CHANGETABLE(CHANGES t, version) needs a version")
    return dialect.changetable_sql(table, f"({rewrite(after, dialect)})")


_HANDLERS = {
    "CHANGE_TRACKING_CURRENT_VERSION": _current_version,
    "CHANGE_TRACKING_MIN_VALID_VERSION": _min_valid_version,
    "CHANGETABLE": _changetable,
}


def _after_dot(tokens: list[_Token], i: int) -> bool:
    """The token before ``tokens[i]`` (white space and comments aside) is a ``.``: a qualified name, not a call."""
    j = i - 1
    while j >= 0 and tokens[j].kind in ("space", "comment"):
        j -= 1
    return j >= 0 and tokens[j].text == "."


def rewrite(sql: str, dialect: ChangeTrackingDialect) -> str:
    """Replace the T-SQL change-tracking calls in ``sql`` with the dialect's SQL.

    Raises TerminalError("invalid_query") naming the position of a malformed call.
    """
    tokens = _tokens(sql)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        handler = _HANDLERS.get(token.text.upper()) if token.kind == "word" else None
        if handler is None or _after_dot(tokens, i):
            out.append(token.text)
            i += 1
            continue
        cur = _Cursor(sql, tokens, i + 1)
        nxt = cur.peek()
        if nxt is None or nxt.text != "(":
            out.append(token.text)
            i += 1
            continue
        out.append(handler(cur, dialect))
        i = cur.index
    return "".join(out)
