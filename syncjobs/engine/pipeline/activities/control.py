"""Control flow: SetVariable, Wait and IfCondition (ForEach is in foreach.py)."""

from __future__ import annotations

from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.expressions import evaluate
from syncjobs.engine.limits import WAIT_SECONDS
from syncjobs.engine.pipeline.state import find
from syncjobs.engine.pipeline.step import Step, StoppedError


def run_set_variable(step: Step) -> dict[str, Any]:
    """Set a declared variable; output ``{"name", "value"}``."""
    tp = step.type_properties()
    name = str(tp.get("variableName", ""))
    variables = step.state.variables
    declared = next((k for k in variables if k.lower() == name.lower()), None)
    if declared is None:
        raise TerminalError("bad_activity", f"variable {name!r} is not declared in the pipeline")
    variables[declared] = tp.get("value")
    return {"name": declared, "value": variables[declared]}


def run_wait(step: Step) -> dict[str, Any]:
    """Wait ``waitTimeInSeconds``, stopping at once on cancel."""
    raw = step.type_properties().get("waitTimeInSeconds", 1)
    try:
        seconds = float(raw)
    except (TypeError, ValueError, OverflowError):
        seconds = -1.0
    if not 0 <= seconds <= WAIT_SECONDS:
        raise TerminalError("bad_activity", f"Wait {step.name}: waitTimeInSeconds must be 0 to {WAIT_SECONDS:,}")
    step.sleep(seconds)
    return {"waitTimeInSeconds": seconds}


def run_if_condition(step: Step) -> dict[str, Any]:
    """Run ``ifTrueActivities`` or ``ifFalseActivities``; fails when the branch fails."""
    tp = step.activity.get("typeProperties") or {}
    value = evaluate(tp.get("expression"), step.state.context())
    if not isinstance(value, bool):
        raise TerminalError("expression_error", f"the condition must be true or false, got {value!r}")
    branch = tp.get("ifTrueActivities" if value else "ifFalseActivities") or []
    _run_body(step, branch, step.state)
    return {"expression": value}


def _run_body(step: Step, activities: list[dict[str, Any]], state: Any) -> bool:
    result = step.run_activities(activities, state)
    if result.cancelled:
        step.stop_reason = "cancelled"
        raise StoppedError("cancelled", f"activity {step.name} was cancelled")
    if not result.succeeded:
        failed = next(iter(result.errors.items()), ("?", "failed"))
        raise TerminalError("inner_activity_failed", f"Activity {failed[0]} failed: {failed[1]}")
    for name, status in result.statuses.items():
        if status == "Succeeded" and find(state.outputs, name) is not None:
            step.state.outputs.setdefault(name, state.outputs[name])
    return result.succeeded
