"""Tokens and a recursive-descent parser for ADF's expression language.

Grammar: ``expr := primary ( '.' name | '?.' name | '[' expr ']' )*`` and
``primary := literal | name '(' [expr (',' expr)*] ')'``. Literals: ``'text'`` (``''`` escapes a
quote), integers, decimals, ``true``, ``false``, ``null``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncjobs.engine.expressions.errors import ExpressionError
from syncjobs.engine.expressions.functions import FUNCTION_NAMES

_CANONICAL = {name.lower(): name for name in sorted(FUNCTION_NAMES)}
MAX_NESTING = 100  # calls and indexes inside one another; far past any real expression, well short of the stack


@dataclass(frozen=True)
class Literal:
    value: Any
    position: int


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]
    position: int


@dataclass(frozen=True)
class Member:
    target: Any
    name: str
    position: int
    safe: bool = False


@dataclass(frozen=True)
class Index:
    target: Any
    key: Any
    position: int
    safe: bool = False


Node = Literal | Call | Member | Index
_PUNCTUATION = "(),.[]?"


@dataclass(frozen=True)
class Token:
    kind: str  # "name", "string", "number", or the punctuation itself
    value: Any
    position: int


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens; raises ExpressionError on a stray character or open string."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "'":
            i = _string(text, i, tokens)
        elif c.isdigit() or (c == "-" and i + 1 < n and text[i + 1].isdigit()):
            i = _number(text, i, tokens)
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] in "_$"):
                j += 1
            tokens.append(Token("name", text[i:j], i))
            i = j
        elif c == "?" and text[i : i + 2] in ("?.", "?["):
            tokens.append(Token("?", "?", i))
            i += 1
        elif c in _PUNCTUATION and c != "?":
            tokens.append(Token(c, c, i))
            i += 1
        else:
            raise ExpressionError(text, i, f"unexpected character {c!r}")
    tokens.append(Token("end", None, n))
    return tokens


def _string(text: str, start: int, tokens: list[Token]) -> int:
    i, parts = start + 1, []
    while i < len(text):
        if text[i] == "'":
            if text[i + 1 : i + 2] == "'":
                parts.append("'")
                i += 2
                continue
            tokens.append(Token("string", "".join(parts), start))
            return i + 1
        parts.append(text[i])
        i += 1
    raise ExpressionError(text, start, "string not closed (a quote is missing)")


def _number(text: str, start: int, tokens: list[Token]) -> int:
    j = start + 1
    while j < len(text) and (text[j].isdigit() or text[j] == "."):
        j += 1
    raw = text[start:j]
    try:
        value: Any = float(raw) if "." in raw else int(raw)
    except ValueError:
        raise ExpressionError(text, start, f"bad number {raw!r}") from None
    tokens.append(Token("number", value, start))
    return j


class Parser:
    """Parses one expression's text into a tree of Literal, Call, Member and Index nodes."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def parse(self) -> Node:
        if self.tokens[0].kind == "end":
            raise ExpressionError(self.text, 0, "empty expression")
        node = self.expression()
        if self.peek().kind != "end":
            raise ExpressionError(self.text, self.peek().position, f"unexpected {self.peek().value!r}")
        return node

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self, kind: str) -> Token:
        token = self.peek()
        if token.kind != kind:
            found = "the end" if token.kind == "end" else repr(token.value)
            raise ExpressionError(self.text, token.position, f"expected {kind!r} but found {found}")
        self.i += 1
        return token

    def expression(self) -> Node:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExpressionError(self.text, self.peek().position, f"nested deeper than {MAX_NESTING} levels")
        try:
            return self._postfix(self.primary())
        finally:
            self.depth -= 1

    def _postfix(self, node: Node) -> Node:
        for _ in range(MAX_NESTING + 1):
            token = self.peek()
            safe = token.kind == "?"
            if safe:
                self.i += 1
                token = self.peek()
            if token.kind == ".":
                self.i += 1
                name = self.take("name")
                node = Member(node, name.value, name.position, safe)
            elif token.kind == "[":
                self.i += 1
                key = self.expression()
                self.take("]")
                node = Index(node, key, token.position, safe)
            else:
                return node
        raise ExpressionError(
            self.text, self.peek().position, f"more than {MAX_NESTING} properties or indexes in a row"
        )

    def primary(self) -> Node:
        token = self.peek()
        if token.kind in ("string", "number"):
            self.i += 1
            return Literal(token.value, token.position)
        if token.kind != "name":
            found = "the end" if token.kind == "end" else repr(token.value)
            raise ExpressionError(self.text, token.position, f"expected a value or a function but found {found}")
        self.i += 1
        keyword = {"true": True, "false": False, "null": None}
        if token.value in keyword and self.peek().kind != "(":
            return Literal(keyword[token.value], token.position)
        if self.peek().kind != "(":
            raise ExpressionError(self.text, token.position, f"'{token.value}' must be called: {token.value}(...)")
        self.i += 1
        args: list[Node] = []
        if self.peek().kind != ")":
            args.append(self.expression())
            while self.peek().kind == ",":
                self.i += 1
                args.append(self.expression())
        self.take(")")
        # ADF's function names ignore case (the published tutorial writes @CONCAT).
        return Call(_CANONICAL.get(token.value.lower(), token.value), tuple(args), token.position)


def parse(text: str) -> Node:
    """Parse an expression's text (without the leading ``@``)."""
    return Parser(text).parse()
