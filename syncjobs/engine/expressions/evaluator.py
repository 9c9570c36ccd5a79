"""Evaluates a parsed expression against a run's context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from syncjobs.engine.expressions.errors import ExpressionError
from syncjobs.engine.expressions.functions import FUNCTIONS, FunctionError, bounded
from syncjobs.engine.expressions.parser import Call, Index, Literal, Member, Node

NO_ITEM = object()
"""``ExpressionContext.item`` outside a ForEach."""


@dataclass
class ExpressionContext:
    """What ``pipeline()``, ``activity()``, ``variables()``, ``item()``, ``dataset()`` and ``linkedService()`` see."""

    pipeline: dict[str, Any] = field(default_factory=dict)
    activity_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    item: Any = NO_ITEM
    dataset: dict[str, Any] | None = None
    linked_service: dict[str, Any] | None = None


def lookup(container: Any, key: Any) -> tuple[bool, Any]:
    """``container[key]``; object properties match case-insensitively as in ADF."""
    if isinstance(container, dict):
        if key in container:
            return True, container[key]
        lowered = str(key).lower()
        for name, value in container.items():
            if str(name).lower() == lowered:
                return True, value
        return False, None
    if isinstance(container, list | str) and isinstance(key, int) and not isinstance(key, bool):
        return (True, container[key]) if -len(container) <= key < len(container) else (False, None)
    return False, None


class Evaluator:
    """Evaluates the nodes of one expression text."""

    def __init__(self, text: str, context: ExpressionContext) -> None:
        self.text = text
        self.context = context

    def fail(self, position: int, message: str) -> ExpressionError:
        return ExpressionError(self.text, position, message)

    def eval(self, node: Node) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Member | Index):
            return self._access(node)
        return self._call(node)

    def _access(self, node: Member | Index) -> Any:
        target = self.eval(node.target)
        key = node.name if isinstance(node, Member) else self.eval(node.key)
        if target is None and node.safe:
            return None
        found, value = lookup(target, key)
        if found:
            return value
        if node.safe:
            return None
        what = "null" if target is None else type(target).__name__
        if isinstance(target, dict):
            known = ", ".join(list(target)[:10]) or "none"
            return self._missing(node, f"property '{key}' does not exist (properties: {known})")
        return self._missing(node, f"cannot read '{key}' of a {what} value")

    def _missing(self, node: Member | Index, message: str) -> Any:
        raise self.fail(node.position, message)

    def _call(self, node: Call) -> Any:
        special = _SPECIAL.get(node.name)
        if special is not None:
            return special(self, node)
        fn = FUNCTIONS.get(node.name)
        if fn is None:
            raise self.fail(node.position, f"unknown function '{node.name}'")
        args = [self.eval(arg) for arg in node.args]
        try:
            return bounded(fn(*args))
        except FunctionError as exc:
            raise self.fail(node.position, f"{node.name}(): {exc}") from None
        except (TypeError, ValueError, IndexError, AttributeError, KeyError, ArithmeticError, RecursionError) as exc:
            raise self.fail(node.position, f"{node.name}() cannot take these arguments ({exc})") from None

    def arity(self, node: Call, low: int, high: int) -> None:
        if not low <= len(node.args) <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            raise self.fail(node.position, f"{node.name}() takes {wanted} arguments, got {len(node.args)}")


def _pipeline(ev: Evaluator, node: Call) -> Any:
    ev.arity(node, 0, 0)
    return ev.context.pipeline


def _activity(ev: Evaluator, node: Call) -> Any:
    ev.arity(node, 1, 1)
    name = ev.eval(node.args[0])
    found, output = lookup(ev.context.activity_outputs, name)
    if not found:
        ran = ", ".join(ev.context.activity_outputs) or "none yet"
        raise ev.fail(node.position, f"activity '{name}' has no output here (activities that ran: {ran})")
    return {"output": output}


def _variables(ev: Evaluator, node: Call) -> Any:
    ev.arity(node, 1, 1)
    name = ev.eval(node.args[0])
    found, value = lookup(ev.context.variables, name)
    if not found:
        raise ev.fail(node.position, f"variable '{name}' is not declared")
    return value


def _item(ev: Evaluator, node: Call) -> Any:
    ev.arity(node, 0, 0)
    if ev.context.item is NO_ITEM:
        raise ev.fail(node.position, "item() is only available inside a ForEach")
    return ev.context.item


def _scoped(label: str, read: Callable[[ExpressionContext], dict[str, Any] | None]) -> Callable[[Evaluator, Call], Any]:
    def get(ev: Evaluator, node: Call) -> Any:
        ev.arity(node, 0, 0)
        value = read(ev.context)
        if value is None:
            raise ev.fail(node.position, f"{label}() is only available inside a {label}'s definition")
        return value

    return get


def _if(ev: Evaluator, node: Call) -> Any:
    ev.arity(node, 3, 3)
    return ev.eval(node.args[1]) if _truth(ev, node, ev.eval(node.args[0])) else ev.eval(node.args[2])


def _and(ev: Evaluator, node: Call) -> bool:
    ev.arity(node, 2, 99)
    return all(_truth(ev, node, ev.eval(arg)) for arg in node.args)


def _or(ev: Evaluator, node: Call) -> bool:
    ev.arity(node, 2, 99)
    return any(_truth(ev, node, ev.eval(arg)) for arg in node.args)


def _coalesce(ev: Evaluator, node: Call) -> Any:
    for arg in node.args:
        value = ev.eval(arg)
        if value is not None:
            return value
    return None


def _truth(ev: Evaluator, node: Call, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ev.fail(node.position, f"{node.name}() needs a boolean, got {value!r}")


_SPECIAL: dict[str, Callable[[Evaluator, Call], Any]] = {
    "pipeline": _pipeline,
    "activity": _activity,
    "variables": _variables,
    "item": _item,
    "dataset": _scoped("dataset", lambda c: c.dataset),
    "linkedService": _scoped("linkedService", lambda c: c.linked_service),
    "if": _if,
    "and": _and,
    "or": _or,
    "coalesce": _coalesce,
}
