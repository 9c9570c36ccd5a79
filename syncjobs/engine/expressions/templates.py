"""Where expressions sit in ADF JSON: ``"@expr"`` values, ``"text @{expr} text"`` interpolation, ``"@@"`` escapes
and ``{"value": "...", "type": "Expression"}`` objects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from syncjobs.engine.expressions.errors import ExpressionError
from syncjobs.engine.expressions.evaluator import Evaluator, ExpressionContext
from syncjobs.engine.expressions.functions import text
from syncjobs.engine.expressions.parser import parse
from syncjobs.engine.limits import EXPRESSION_CHARS, EXPRESSION_TEXT_CHARS

Piece = tuple[str, str]  # ("text", literal) or ("expr", expression text)


def is_expression_object(value: Any) -> bool:
    """``{"value": "...", "type": "Expression"}``."""
    return isinstance(value, dict) and value.get("type") == "Expression" and isinstance(value.get("value"), str)


def pieces(value: str) -> list[Piece] | None:
    """Split a string into literal text and expressions, or None when it holds no expression at all."""
    if value.startswith("@@"):
        return [("text", value[1:])]
    if value.startswith("@") and not value.startswith("@{"):
        return [("expr", value[1:])]
    if "@{" not in value:
        return None
    out: list[Piece] = []
    i = 0
    while i < len(value):
        start = value.find("@{", i)
        if start < 0:
            out.append(("text", value[i:]))
            break
        if start > 0 and value[start - 1] == "@":  # "@@{" is a literal "@{"
            out.append(("text", value[i : start - 1] + "@{"))
            i = start + 2
            continue
        out.append(("text", value[i:start]))
        end = _closing_brace(value, start + 2)
        out.append(("expr", value[start + 2 : end]))
        i = end + 1
    return [p for p in out if p != ("text", "")]


def _closing_brace(value: str, i: int) -> int:
    quoted = False
    while i < len(value):
        c = value[i]
        if c == "'":
            quoted = not quoted
        elif c == "}" and not quoted:
            return i
        i += 1
    raise ExpressionError(value, len(value), "'@{' is not closed by '}'")


def expressions_in(value: Any) -> Iterator[str]:
    """Every expression's text inside a JSON value (strings, expression objects, nested lists and objects)."""
    if is_expression_object(value):
        yield from _expressions_of_text(value["value"], whole=True)
    elif isinstance(value, str):
        yield from _expressions_of_text(value, whole=False)
    elif isinstance(value, dict):
        for item in value.values():
            yield from expressions_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from expressions_in(item)


def _expressions_of_text(value: str, whole: bool) -> Iterator[str]:
    found = pieces(value)
    if found is None and whole:
        # An Expression object whose text has no "@" is taken as literal text, as ADF does.
        return
    for kind, content in found or []:
        if kind == "expr":
            yield content


def evaluate_text(value: str, context: ExpressionContext) -> Any:
    """A string's value: typed for ``@expr``, a string for interpolation, the string itself otherwise."""
    found = pieces(value)
    if found is None:
        return value
    if len(found) == 1 and found[0][0] == "expr" and not value.startswith("@{"):
        return _run(found[0][1], context)
    parts = [content if kind == "text" else text(_run(content, context)) for kind, content in found]
    if sum(len(p) for p in parts) > EXPRESSION_TEXT_CHARS:
        raise ExpressionError(value[:60], 0, f"the interpolated text would pass {EXPRESSION_TEXT_CHARS:,} characters")
    return "".join(parts)


def _run(expression: str, context: ExpressionContext) -> Any:
    if len(expression) > EXPRESSION_CHARS:
        shown = expression[:60] + "..."
        raise ExpressionError(
            shown, 0, f"the expression is {len(expression):,} characters; ADF's limit is {EXPRESSION_CHARS:,}"
        )
    return Evaluator(expression, context).eval(parse(expression))
