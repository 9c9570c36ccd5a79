"""ADF's expression language: ``@concat('Incremental-', pipeline().RunId, '.csv')`` and friends.

- :func:`evaluate` gives one JSON value's value: ``"@expr"`` is typed (an int stays an int),
  ``"text @{expr}"`` is a string, ``"@@..."`` is a literal ``@``, ``{"value", "type": "Expression"}``
  objects are evaluated, anything else is returned as is.
- :func:`resolve` evaluates every expression inside a JSON value, leaving ``skip_keys`` alone (the
  runner resolves ForEach and IfCondition bodies later, each in its own context).
- :func:`check` and :func:`references` read expressions without running them, for validation.

Errors are :class:`ExpressionError`, with the expression's text and the 0-based position of the
offending token.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from syncjobs.engine.expressions.errors import ExpressionError
from syncjobs.engine.expressions.evaluator import NO_ITEM, ExpressionContext
from syncjobs.engine.expressions.functions import FUNCTION_NAMES
from syncjobs.engine.expressions.parser import Call, Index, Literal, Member, Node, parse
from syncjobs.engine.expressions.templates import evaluate_text, expressions_in, is_expression_object

__all__ = [
    "NO_ITEM",
    "ExpressionContext",
    "ExpressionError",
    "Names",
    "check",
    "evaluate",
    "is_expression",
    "references",
    "resolve",
]


def evaluate(value: Any, context: ExpressionContext) -> Any:
    """One JSON value's value in ``context``."""
    if is_expression_object(value):
        return evaluate_text(value["value"], context)
    if isinstance(value, str):
        return evaluate_text(value, context)
    return value


def resolve(obj: Any, context: ExpressionContext, skip_keys: frozenset[str] = frozenset()) -> Any:
    """A deep copy of ``obj`` with every expression evaluated; keys in ``skip_keys`` are copied untouched."""
    if is_expression_object(obj) or isinstance(obj, str):
        return evaluate(obj, context)
    if isinstance(obj, dict):
        return {k: copy.deepcopy(v) if k in skip_keys else resolve(v, context, skip_keys) for k, v in obj.items()}
    if isinstance(obj, list):
        return [resolve(v, context, skip_keys) for v in obj]
    return obj


def is_expression(value: Any) -> bool:
    """True when ``value`` holds at least one expression."""
    try:
        return next(expressions_in(value), None) is not None
    except ExpressionError:
        return True


def check(value: Any) -> list[ExpressionError]:
    """Syntax errors and unknown functions of every expression inside ``value``, without evaluating."""
    errors: list[ExpressionError] = []
    try:
        texts = list(expressions_in(value))
    except ExpressionError as exc:
        return [exc]
    for text in texts:
        try:
            node = parse(text)
        except ExpressionError as exc:
            errors.append(exc)
            continue
        errors.extend(
            ExpressionError(text, call.position, f"unknown function '{call.name}'")
            for call in _calls(node)
            if call.name not in FUNCTION_NAMES
        )
    return errors


@dataclass
class Names:
    """What expressions refer to by name, for validation."""

    functions: set[str] = field(default_factory=set)
    activities: set[str] = field(default_factory=set)
    variables: set[str] = field(default_factory=set)
    parameters: set[str] = field(default_factory=set)
    dataset_parameters: set[str] = field(default_factory=set)


def references(value: Any) -> Names:
    """The functions, activities, variables and parameters used by the expressions inside ``value``."""
    names = Names()
    try:
        texts = list(expressions_in(value))
    except ExpressionError:  # an unclosed "@{": check() reports it
        return names
    for text in texts:
        try:
            node = parse(text)
        except ExpressionError:
            continue
        _collect(node, names)
    return names


def _collect(node: Node, names: Names) -> None:
    for call in _calls(node):
        names.functions.add(call.name)
        first = call.args[0] if call.args else None
        if isinstance(first, Literal) and isinstance(first.value, str):
            if call.name == "activity":
                names.activities.add(first.value)
            elif call.name == "variables":
                names.variables.add(first.value)
    for access in _accesses(node):
        name, target = _access_name(access), access.target
        if name is None:
            continue
        if (_access_name(target) or "").lower() == "parameters" and _is_call(target.target, "pipeline"):
            names.parameters.add(name)
        if _is_call(target, "dataset"):
            names.dataset_parameters.add(name)


def _access_name(node: Node) -> str | None:
    """The name read by ``x.name`` or ``x['name']``, else None."""
    if isinstance(node, Member):
        return node.name
    if isinstance(node, Index) and isinstance(node.key, Literal) and isinstance(node.key.value, str):
        return node.key.value
    return None


def _is_call(node: Node, name: str) -> bool:
    return isinstance(node, Call) and node.name == name


def _children(node: Node) -> list[Node]:
    if isinstance(node, Call):
        return list(node.args)
    if isinstance(node, Member):
        return [node.target]
    if isinstance(node, Index):
        return [node.target, node.key]
    return []


def _walk(node: Node) -> list[Node]:
    out, stack = [], [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(_children(current))
    return out


def _calls(node: Node) -> list[Call]:
    return [n for n in _walk(node) if isinstance(n, Call)]


def _accesses(node: Node) -> list[Member | Index]:
    return [n for n in _walk(node) if isinstance(n, Member | Index)]
