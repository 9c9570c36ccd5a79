"""SecureString values kept out of everything a run hands to its host: activity input, output, error, messages.

The runner knows which pipeline parameters are SecureString. Their values, and the obvious forms of
them (JSON-escaped, SQL-quoted, URL-encoded, base64), are replaced by the mask wherever they appear.
A value derived from a secret by an expression (``@base64(...)``, ``@substring(...)``) cannot be
recognised by its text, so an activity whose expressions read a secret — a SecureString parameter,
or a variable, activity output or ForEach item that came from one — is recorded as secureInput and
secureOutput, and the result of each such expression is hidden from then on as well.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

from syncjobs.engine.expressions import NO_ITEM, ExpressionContext, ExpressionError, evaluate
from syncjobs.engine.expressions.parser import Call, Index, Literal, Member, Node, parse
from syncjobs.engine.expressions.templates import expressions_in
from syncjobs.engine.pipeline.host import RunHost

MASK = "**********"  # what ADF shows for a SecureString
_BODIES = ("activities", "ifTrueActivities", "ifFalseActivities")  # run (and checked) on their own


class Redactor:
    """The secret values of one run, and what was derived from them; shared by all its activities."""

    def __init__(self, declared: dict[str, Any]) -> None:
        """``declared``: the pipeline's parameters as its JSON declares them (names and types)."""
        self.secret_parameters = {
            name.lower()
            for name, spec in declared.items()
            if str((spec or {}).get("type", "")).lower() == "securestring"
        }
        self.variables: set[str] = set()  # set from a secret (lower-cased names)
        self.activities: set[str] = set()  # whose expressions read a secret
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()  # ForEach iterations add from their own threads

    def add_parameters(self, values: dict[str, Any]) -> None:
        """Hide the values of the SecureString parameters among ``values``."""
        self.add([v for k, v in values.items() if k.lower() in self.secret_parameters])

    @property
    def has_secrets(self) -> bool:
        """True when the run has anything to hide."""
        return bool(self._forms)

    def add(self, value: Any) -> None:
        """Hide every string (and number) inside ``value`` from now on, in its obvious forms too."""
        found = {_text(leaf) for leaf in _leaves(value)} - {""}
        with self._lock:
            forms = {form for text in found for form in _forms(text)} - self._forms
            if forms:
                self._forms |= forms
                ordered = sorted(self._forms, key=len, reverse=True)  # the longest form wins where they overlap
                self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def text(self, text: str) -> str:
        """``text`` with every secret masked."""
        return self._pattern.sub(MASK, text) if self._pattern else text

    def redact(self, value: Any) -> Any:
        """A copy of a JSON value with every secret masked (keys included)."""
        if not self._pattern:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.redact(k) if isinstance(k, str) else k: self.redact(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact(v) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool) and self.text(str(value)) != str(value):
            return MASK
        return value

    def contains(self, value: Any) -> bool:
        """True when a secret (or something derived from one) appears inside ``value``."""
        return self._pattern is not None and any(self._pattern.search(_text(leaf)) for leaf in _leaves(value))

    def reads_secret(self, activity: dict[str, Any], context: ExpressionContext) -> bool:
        """True when the activity's expressions read a secret; their results are hidden from then on."""
        if not self.has_secrets:
            return False
        item_is_secret = context.item is not NO_ITEM and self.contains(context.item)
        found = False
        for expression in _expressions_of(activity):
            try:
                node = parse(expression)
            except ExpressionError:
                continue
            if self._reads(node, item_is_secret):
                found = True
                self._add_result(expression, context)
        return found

    def _add_result(self, expression: str, context: ExpressionContext) -> None:
        try:
            self.add(evaluate("@" + expression, context))
        except Exception:  # noqa: BLE001 - an expression that fails here fails again in the activity, which says why
            return

    def _reads(self, node: Node, item_is_secret: bool) -> bool:
        """Whether an expression node can read a secret (a name read through a computed key counts)."""
        if isinstance(node, Member | Index):
            keys, base, computed = _access_chain(node)
            if isinstance(base, Call) and base.name == "pipeline":
                if keys[0] != "parameters":
                    return keys[0] is None  # pipeline().RunId no; pipeline()[a computed name] may be the parameters
                name = keys[1] if len(keys) > 1 else None
                return name is None or name in self.secret_parameters
            return any(self._reads(part, item_is_secret) for part in (base, *computed))
        if not isinstance(node, Call):
            return False
        first = node.args[0].value if node.args and isinstance(node.args[0], Literal) else None
        named = first.lower() if isinstance(first, str) else None
        if node.name == "pipeline":
            return True  # pipeline() as a whole holds the parameters
        if node.name == "variables":
            return bool(self.variables) if named is None else named in self.variables
        if node.name == "activity":
            return bool(self.activities) if named is None else named in self.activities
        if node.name == "item":
            return item_is_secret
        return any(self._reads(arg, item_is_secret) for arg in node.args)


def _access_chain(node: Member | Index) -> tuple[list[str | None], Node, list[Node]]:
    """``pipeline().parameters.x`` -> (["parameters", "x"], pipeline(), []): the names read (a computed
    key is None), the node they are read from, and the computed keys' expressions."""
    keys: list[str | None] = []
    computed: list[Node] = []
    current: Node = node
    while isinstance(current, Member | Index):
        if isinstance(current, Member):
            keys.append(current.name.lower())
        elif isinstance(current.key, Literal):
            keys.append(str(current.key.value).lower())
        else:
            keys.append(None)
            computed.append(current.key)
        current = current.target
    return list(reversed(keys)), current, computed


def _expressions_of(activity: dict[str, Any]) -> list[str]:
    """Every expression of the activity itself (bodies of ForEach and IfCondition are activities of their own)."""
    own = {k: v for k, v in activity.items() if k != "typeProperties"}
    own["typeProperties"] = {k: v for k, v in (activity.get("typeProperties") or {}).items() if k not in _BODIES}
    try:
        return list(expressions_in(own))
    except ExpressionError:
        return []


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in (*_leaves(k), *_leaves(v))]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return [] if value is None or isinstance(value, bool) else [value]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) else json.dumps(value, default=str)


def _forms(secret: str) -> set[str]:
    """The secret as written in JSON, SQL, URLs and base64, as well as itself."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        secret.replace("'", "''"),
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(secret.encode()).decode().rstrip("="),
        base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
    }
    return {form for form in forms if form}


class RedactingHost:
    """A ``RunHost`` that masks secrets in everything recorded (input, output, error); the rest passes through."""

    def __init__(self, host: RunHost, redactor: Redactor) -> None:
        self._host = host
        self._redactor = redactor

    def activity_started(self, name: str, activity_type: str, input: dict[str, Any], attempt: int) -> str:
        """Record the activity's start with its input masked."""
        return self._host.activity_started(name, activity_type, self._redactor.redact(input), attempt)

    def table_started(self, parent_run_id: str, name: str, table: str, input: dict[str, Any]) -> str:
        """Record a table's start with its input masked."""
        return self._host.table_started(parent_run_id, name, table, self._redactor.redact(input))

    def activity_finished(
        self, activity_run_id: str, status: str, output: dict[str, Any], error: dict[str, Any]
    ) -> None:
        """Record the activity's end with its output and error masked."""
        redact = self._redactor.redact
        self._host.activity_finished(activity_run_id, status, redact(output), redact(error))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._host, name)
