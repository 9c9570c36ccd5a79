"""The settings of a new activity as form fields, by type, and the typeProperties they make.

What a type needs most (a Wait's seconds, an If condition's expression, a Script's SQL...) is a field;
anything else stays in the optional "More settings" JSON, merged under the fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms

from syncjobs.engine import limits

Fields = dict[str, forms.Field]
Builder = Callable[[dict[str, Any]], dict[str, Any]]


def expression(text: str) -> dict[str, str]:
    """ADF's expression object."""
    return {"value": text, "type": "Expression"}


def maybe_expression(text: str) -> Any:
    """Text as written, or an expression object when it is one (``@...`` or with ``@{...}`` inside)."""
    return expression(text) if text.startswith("@") or "@{" in text else text


def _expression_field(label: str, initial: str, help_text: str = "") -> forms.CharField:
    return forms.RegexField(
        label=label,
        regex=r"^@",
        initial=initial,
        help_text=help_text,
        error_messages={"invalid": "an expression starts with @, e.g. @equals(1, 1)"},
    )


def _sql_field(label: str, initial: str = "", *, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=label, initial=initial, required=required, widget=forms.Textarea(attrs={"rows": 4, "class": "sql"})
    )


def _query(data: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    if data.get("query"):
        return {"source": {**source, "query": maybe_expression(data["query"])}}
    return {}


def _wait(variables: list[str]) -> Fields:
    return {
        "wait_seconds": forms.IntegerField(
            label="Wait (seconds)", min_value=0, max_value=limits.WAIT_SECONDS, initial=1
        )
    }


def _set_variable(variables: list[str]) -> Fields:
    name: forms.Field = (
        forms.ChoiceField(label="Variable", choices=[(v, v) for v in variables])
        if variables
        else forms.CharField(label="Variable", help_text="declare it in the pipeline's variables first")
    )
    value = forms.CharField(label="Value", required=False, help_text="text, or an expression: @...")
    return {"variable": name, "value": value}


def _if_condition(variables: list[str]) -> Fields:
    return {"condition": _expression_field("Expression", "@equals(1, 1)", "true runs the True branch")}


def _for_each(variables: list[str]) -> Fields:
    return {
        "items": _expression_field("Items", "@createArray(1, 2)", "an expression giving an array"),
        "sequential": forms.BooleanField(label="Sequential", required=False, initial=True),
        "batch_count": forms.IntegerField(
            label="Batch count",
            min_value=1,
            max_value=limits.FOREACH_BATCH,
            required=False,
            help_text="items at once when not sequential",
        ),
    }


def _script(variables: list[str]) -> Fields:
    kind = forms.ChoiceField(label="Script type", choices=[("Query", "Query (returns rows)"), ("NonQuery", "NonQuery")])
    return {"script_type": kind, "sql": _sql_field("SQL", "SELECT 1 AS ok")}


def _stored_procedure(variables: list[str]) -> Fields:
    return {"procedure": forms.CharField(label="Stored procedure", help_text="schema.name")}


def _lookup(variables: list[str]) -> Fields:
    return {
        "query": _sql_field("Query", required=False),
        "first_row_only": forms.BooleanField(label="First row only", required=False, initial=True),
    }


def _copy(variables: list[str]) -> Fields:
    return {"query": _sql_field("Query", required=False)}


FIELDS: dict[str, Callable[[list[str]], Fields]] = {
    "Wait": _wait,
    "SetVariable": _set_variable,
    "IfCondition": _if_condition,
    "ForEach": _for_each,
    "Script": _script,
    "SqlServerStoredProcedure": _stored_procedure,
    "Lookup": _lookup,
    "Copy": _copy,
}
BUILDERS: dict[str, Builder] = {
    "Wait": lambda d: {"waitTimeInSeconds": d["wait_seconds"]},
    "SetVariable": lambda d: {"variableName": d["variable"], "value": maybe_expression(d.get("value") or "")},
    "IfCondition": lambda d: {"expression": expression(d["condition"])},
    "ForEach": lambda d: {
        "items": expression(d["items"]),
        "isSequential": bool(d.get("sequential")),
        **({"batchCount": d["batch_count"]} if d.get("batch_count") else {}),
    },
    "Script": lambda d: {"scripts": [{"type": d["script_type"], "text": d["sql"]}]},
    "SqlServerStoredProcedure": lambda d: {"storedProcedureName": d["procedure"]},
    "Lookup": lambda d: {"firstRowOnly": bool(d.get("first_row_only")), **_query(d, {})},
    "Copy": lambda d: _query(d, {}),
}
COVERED = {
    "Wait": ("waitTimeInSeconds",),
    "SetVariable": ("variableName", "value"),
    "IfCondition": ("expression",),
    "ForEach": ("items", "isSequential", "batchCount"),
    "Script": ("scripts",),
    "SqlServerStoredProcedure": ("storedProcedureName",),
    "Lookup": ("firstRowOnly",),
}


def setting_fields(activity_type: str, variables: list[str]) -> Fields:
    """The fields of ``activity_type``'s settings (none for a type without any)."""
    make = FIELDS.get(activity_type)
    return make(variables) if make else {}


def settings_from(activity_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The typeProperties the fields make (merged over the "More settings" JSON by the caller)."""
    build = BUILDERS.get(activity_type)
    return build(data) if build else {}


def remaining(activity_type: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The default settings the fields do not cover: what "More settings" starts from."""
    covered = COVERED.get(activity_type, ())
    return {k: v for k, v in settings.items() if k not in covered}


def _text(value: Any) -> Any:
    return value.get("value") if isinstance(value, dict) and value.get("type") == "Expression" else value


READERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "Wait": lambda tp: {"wait_seconds": tp.get("waitTimeInSeconds")},
    "SetVariable": lambda tp: {"variable": tp.get("variableName"), "value": _text(tp.get("value"))},
    "IfCondition": lambda tp: {"condition": _text(tp.get("expression"))},
    "ForEach": lambda tp: {
        "items": _text(tp.get("items")),
        "sequential": tp.get("isSequential"),
        "batch_count": tp.get("batchCount"),
    },
    "Script": lambda tp: {
        "script_type": ((tp.get("scripts") or [{}])[0] or {}).get("type"),
        "sql": ((tp.get("scripts") or [{}])[0] or {}).get("text"),
    },
    "SqlServerStoredProcedure": lambda tp: {"procedure": tp.get("storedProcedureName")},
}


def editable_settings(activity: dict[str, Any], variables: list[str]) -> tuple[Fields, dict[str, Any]]:
    """The setting fields of an existing activity and their values, when the fields can say all it holds.

    Returns no fields when the fields would lose something (a Script with parameters or two scripts, a
    non-expression where an expression goes...): that activity's settings stay JSON.
    """
    kind, tp = str(activity.get("type")), activity.get("typeProperties")
    read = READERS.get(kind)
    if read is None or not isinstance(tp, dict):
        return {}, {}
    try:
        values = read(tp)
        rebuilt = {**remaining(kind, tp), **settings_from(kind, values)}
    except (AttributeError, KeyError, TypeError, IndexError):
        return {}, {}
    if rebuilt != tp:
        return {}, {}
    fields = setting_fields(kind, variables)
    for name, field in fields.items():
        field.required = False  # an emptied field is judged by validation, with the JSON path
        try:
            field.clean(values.get(name))
        except forms.ValidationError:  # e.g. a Wait whose seconds are an expression
            return {}, {}
    return fields, values
