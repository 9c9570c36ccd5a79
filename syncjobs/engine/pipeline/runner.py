"""Runs a pipeline: parameters bound, activities in dependency order, retries, timeouts, cancel, outcome.

ADF's rules: an activity runs once every activity it depends on has finished with one of the
conditions it names (``Completed`` is Succeeded or Failed); otherwise it is Skipped. The run succeeds
when every leaf activity (one nothing depends on) succeeded, a skipped leaf being judged by the
activities it depends on. A failure handled by a Failed/Completed path thus leaves the run Succeeded,
which the outcome reports as ``handled_errors`` (also for one handled inside a ForEach or IfCondition
body; an activity that failed and then succeeded on retry is no error at all).
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from dataclasses import replace
from typing import Any

from syncjobs.engine.errors import EngineError, TerminalError
from syncjobs.engine.limits import ACTIVITY_OUTPUT_BYTES
from syncjobs.engine.pipeline.activities import ACTIVITIES
from syncjobs.engine.pipeline.host import PipelineOutcome, RunHost, RunInfo
from syncjobs.engine.pipeline.parameters import bind_parameters, declared_variables
from syncjobs.engine.pipeline.policy import Policy
from syncjobs.engine.pipeline.redaction import RedactingHost, Redactor
from syncjobs.engine.pipeline.state import RunState
from syncjobs.engine.pipeline.step import ActivitiesResult, Step
from syncjobs.engine.pipeline.threads import RunnerThreads

SUCCEEDED, FAILED, SKIPPED, CANCELLED = "Succeeded", "Failed", "Skipped", "Cancelled"
# ADF's policy.secureInput / secureOutput: the monitor records neither (later activities still see the output).
SECURE_INPUT = {"secureInput": True, "message": "hidden: the activity's policy has secureInput"}
SECURE_OUTPUT = {"secureOutput": True, "message": "hidden: the activity's policy has secureOutput"}
# An activity whose expressions read a SecureString parameter (or what was derived from one).
SECRET_INPUT = {"secureInput": True, "message": "hidden: the activity reads a SecureString parameter"}
SECRET_OUTPUT = {"secureOutput": True, "message": "hidden: the activity reads a SecureString parameter"}
logger = logging.getLogger(__name__)


def run_pipeline(snapshot: dict[str, Any], info: RunInfo, host: RunHost) -> PipelineOutcome:
    """Run the frozen pipeline ``snapshot`` (``Pipeline.snapshot()``) and say how it ended.

    SecureString parameter values never reach the host: every record and the outcome's message are
    masked (``redaction.py``), and so is the traceback logged for a failure of the runner itself.
    """
    props = (snapshot.get("pipeline") or {}).get("properties") or {}
    redactor = Redactor(props.get("parameters") or {})
    redactor.add_parameters(info.parameters)
    try:
        outcome = _run(snapshot, props, info, RedactingHost(host, redactor), redactor)
    except Exception as exc:  # the runner's own bug: the run fails, the worker lives on
        logger.error("run %s failed inside the runner:\n%s", info.run_id, redactor.text(traceback.format_exc()))
        outcome = PipelineOutcome(FAILED, f"internal error: {type(exc).__name__}: {exc}")
    return replace(outcome, message=redactor.text(outcome.message))


def _run(
    snapshot: dict[str, Any], props: dict[str, Any], info: RunInfo, host: RunHost, redactor: Redactor
) -> PipelineOutcome:
    try:
        parameters = bind_parameters(props.get("parameters") or {}, info.parameters)
    except TerminalError as exc:
        return PipelineOutcome(FAILED, exc.message)
    redactor.add_parameters(parameters)  # the defaults of those not given
    variables = declared_variables(props.get("variables") or {})
    state = RunState(snapshot, info, host, parameters, variables, redactor=redactor)
    result = run_activities(props.get("activities") or [], state)
    failed_tables = dict(state.failed_tables)
    if result.cancelled:
        return PipelineOutcome(CANCELLED, "Cancelled by request", state.outputs, failed_tables=failed_tables)
    if not result.succeeded:
        return PipelineOutcome(FAILED, _failure_message(result), state.outputs, failed_tables=failed_tables)
    message = tables_failed_message(failed_tables)
    handled = bool(state.handled_failures)
    return PipelineOutcome(SUCCEEDED, message, state.outputs, handled_errors=handled, failed_tables=failed_tables)


def tables_failed_message(failed: dict[str, str], shown: int = 20) -> str:
    """The failed tables in words, each with its error ("" when none failed)."""
    if not failed:
        return ""
    named = "; ".join(f"{table}: {error}" for table, error in list(failed.items())[:shown])
    more = f"; and {len(failed) - shown} more" if len(failed) > shown else ""
    count = f"{len(failed)} table{'s' if len(failed) != 1 else ''}"
    return f"Succeeded with failed tables ({count}): {named}{more}"


def _failure_message(result: ActivitiesResult) -> str:
    failed = [(name, message) for name, message in result.errors.items() if result.statuses.get(name) == FAILED]
    return "; ".join(f"Operation on target {name} failed: {message}" for name, message in failed) or "failed"


def run_activities(activities: list[dict[str, Any]], state: RunState) -> ActivitiesResult:
    """Run ``activities`` (one pipeline level, or a ForEach/IfCondition body) in dependency order.

    Activities with no dependency between them run at the same time, as in ADF, up to
    ``RunInfo.activity_concurrency`` (in threads whose host calls this thread carries out, ``threads.py``).
    An activity that is the only one ready while none runs runs here, on this thread.
    """
    result = ActivitiesResult()
    by_name = {str(a.get("name")): a for a in activities}
    _check_dependencies(by_name)
    pending = list(by_name)
    limit = state.info.activity_concurrency
    with RunnerThreads[str](state.host, limit, "activity") as threads:
        while pending or threads.running:
            ready = [n for n in pending if all(d in result.statuses for d in _dependencies(by_name[n]))]
            if not ready and not threads.running:
                raise TerminalError(
                    "dependency_cycle", f"activities {', '.join(pending)} depend on each other in a cycle"
                )
            if not _start_ready(ready, pending, by_name, state, result, threads):
                break
            if threads.running:
                name, done = threads.next_finished()
                _finished(name, done.result(), result)
            if result.cancelled:
                break
    if result.cancelled:
        return result
    result.succeeded = all(_judge(leaf, by_name, result.statuses) for leaf in _leaves(by_name))
    if result.succeeded:
        state.handled_failures.update(result.errors)
    return result


def _start_ready(
    ready: list[str],
    pending: list[str],
    by_name: dict[str, dict[str, Any]],
    state: RunState,
    result: ActivitiesResult,
    threads: RunnerThreads[str],
) -> bool:
    """Skip, reuse or start the ready activities while there is room; False once the run is cancelled."""
    for name in ready:
        if threads.full:
            return True
        pending.remove(name)
        if state.host.cancel_requested():
            result.cancelled = True
            return False
        activity = by_name[name]
        settled = _skip_or_reuse(activity, state, result)
        if settled:
            result.statuses[name] = settled
        elif threads.running == 0 and len(ready) == 1:
            _finished(name, _run_with_retries(activity, state), result)  # nothing beside it: run it here
        else:
            threads.start(name, _run_with_retries, activity, replace(state, host=threads.host))
        if result.cancelled:
            return False
    return True


def _finished(name: str, ended: tuple[str, str], result: ActivitiesResult) -> None:
    status, message = ended
    result.statuses[name] = status
    if status == FAILED:
        result.errors[name] = message
    if status == CANCELLED:
        result.cancelled = True


def _dependencies(activity: dict[str, Any]) -> list[str]:
    return [str(d.get("activity")) for d in activity.get("dependsOn") or []]


def _check_dependencies(by_name: dict[str, dict[str, Any]]) -> None:
    for name, activity in by_name.items():
        for dep in _dependencies(activity):
            if dep not in by_name:
                raise TerminalError(
                    "bad_dependency", f"activity {name} depends on {dep}, which is not in this pipeline"
                )


def _conditions_met(activity: dict[str, Any], statuses: dict[str, str]) -> bool:
    for dep in activity.get("dependsOn") or []:
        status = statuses[str(dep.get("activity"))]
        conditions = set(dep.get("dependencyConditions") or [SUCCEEDED])
        if "Completed" in conditions:
            conditions |= {SUCCEEDED, FAILED}
        if status not in conditions:
            return False
    return True


def _leaves(by_name: dict[str, dict[str, Any]]) -> list[str]:
    depended = {d for a in by_name.values() for d in _dependencies(a)}
    return [n for n in by_name if n not in depended]


def _judge(name: str, by_name: dict[str, dict[str, Any]], statuses: dict[str, str]) -> bool:
    status = statuses.get(name)
    if status == SKIPPED:
        return all(_judge(parent, by_name, statuses) for parent in _dependencies(by_name[name]))
    return status == SUCCEEDED


def _skip_or_reuse(activity: dict[str, Any], state: RunState, result: ActivitiesResult) -> str:
    """Skipped (its dependency conditions are not met) or Succeeded (its output reused); "" when it must run."""
    name, kind = str(activity.get("name")), str(activity.get("type"))
    if not _conditions_met(activity, result.statuses):
        run_id = state.host.activity_started(name, kind, {}, 0)
        state.host.activity_finished(run_id, SKIPPED, {}, {})
        return SKIPPED
    reused = state.info.reuse_outputs.get(name)  # the host chose what may be reused (RunInfo.reuse_outputs)
    if reused is not None:
        state.outputs[name] = reused
        return SUCCEEDED
    return ""


def _run_with_retries(activity: dict[str, Any], state: RunState) -> tuple[str, str]:
    early_error: TerminalError | None = None
    try:
        policy = Policy.of(activity)
    except TerminalError as exc:
        policy, early_error = Policy(), exc
    message = ""
    for attempt in range(policy.retries + 1):
        if attempt:
            if _interrupted_sleep(state, policy.interval_seconds):
                return CANCELLED, ""
        status, message, retryable = _attempt(activity, state, policy, attempt, early_error)
        if status != FAILED or not retryable:  # a terminal error fails at once: retrying cannot help
            return status, message
    return FAILED, message


def _interrupted_sleep(state: RunState, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if state.host.cancel_requested():
            return True
        time.sleep(min(0.2, max(0.0, end - time.monotonic())))
    return False


def _attempt(
    activity: dict[str, Any], state: RunState, policy: Policy, attempt: int, early_error: EngineError | None
) -> tuple[str, str, bool]:
    """Run the activity once: its status, its error message, and whether a retry may help."""
    name, kind = str(activity.get("name")), str(activity.get("type"))
    host = state.host
    shown_input, input_error = _input(activity, state)
    secure = activity.get("policy") or {}
    reads_secret = state.redactor.reads_secret(activity, state.context())
    if secure.get("secureInput") or reads_secret:
        shown_input = dict(SECURE_INPUT if secure.get("secureInput") else SECRET_INPUT)
    run_id = host.activity_started(name, kind, shown_input, attempt)
    step = Step(activity, state, run_id, time.monotonic() + policy.timeout_seconds, run_activities)
    try:
        if early_error or input_error:
            raise early_error or input_error  # type: ignore[misc]
        implementation = ACTIVITIES.get(kind)
        if implementation is None:
            raise TerminalError("unsupported_activity", f"activity type {kind} is not supported")
        output = implementation(step)
        check_output(name, output)
    except Exception as exc:  # every failure becomes the activity's error, never the worker's
        return _failed(step, exc)
    state.outputs[name] = output
    if reads_secret:
        _remember_secret(activity, state)
    if secure.get("secureOutput") or reads_secret:
        output = dict(SECURE_OUTPUT if secure.get("secureOutput") else SECRET_OUTPUT)
    host.activity_finished(run_id, SUCCEEDED, output, {})
    return SUCCEEDED, "", False


def check_output(name: str, output: Any) -> None:
    """Refuse an output that is not JSON (NaN, infinities) or is larger than ADF's 4 MB."""
    try:
        size = len(json.dumps(output, allow_nan=False, default=str).encode())
    except ValueError:
        raise TerminalError(
            "bad_output", f"activity {name}'s output holds NaN or Infinity, which JSON cannot"
        ) from None
    if size > ACTIVITY_OUTPUT_BYTES:
        limit = ACTIVITY_OUTPUT_BYTES // (1024 * 1024)
        raise TerminalError(
            "output_too_large", f"activity {name}'s output is {size:,} bytes; ADF's limit is {limit} MB"
        )


def _remember_secret(activity: dict[str, Any], state: RunState) -> None:
    """What read a secret passes it on: ``activity('X')``, and a variable it set, read a secret from now on."""
    redactor = state.redactor
    redactor.activities.add(str(activity.get("name", "")).lower())
    if activity.get("type") in ("SetVariable", "AppendVariable"):
        redactor.variables.add(str((activity.get("typeProperties") or {}).get("variableName", "")).lower())


def _input(activity: dict[str, Any], state: RunState) -> tuple[dict[str, Any], EngineError | None]:
    """What the monitor shows as the activity's input: its typeProperties, evaluated where possible."""
    raw = activity.get("typeProperties") or {}
    skip = frozenset({"activities", "ifTrueActivities", "ifFalseActivities"})
    try:
        shown = state.resolve(raw, skip)
        check_output(str(activity.get("name")), shown)
    except EngineError as exc:
        return ({} if exc.reason in ("output_too_large", "bad_output") else raw), exc
    return shown, None


def _failed(step: Step, exc: Exception) -> tuple[str, str, bool]:
    """Record the failure; retryable when the error is transient (connection lost, timeout, throttled,
    deadlock...), or not the engine's own (it may be); a terminal one (no primary key, login failed...) is not."""
    host = step.state.host
    if step.stop_reason == "cancelled":
        host.activity_finished(step.activity_run_id, CANCELLED, {}, _error(step, "Cancelled", "cancelled by request"))
        return CANCELLED, "", False
    if step.stop_reason == "timeout":
        message = f"activity {step.name} timed out (policy timeout reached); nothing it wrote was committed"
        host.activity_finished(step.activity_run_id, FAILED, {}, _error(step, "ActivityTimeout", message))
        return FAILED, message, True
    details = ""
    if isinstance(exc, EngineError):
        code, message, failure, details = exc.reason, exc.message, "UserError", exc.detail or ""
    else:
        code, message, failure = "InternalError", f"{type(exc).__name__}: {exc}", "SystemError"
    host.activity_finished(step.activity_run_id, FAILED, {}, _error(step, code, message, failure, details))
    return FAILED, message, not isinstance(exc, EngineError) or exc.transient


def _error(step: Step, code: str, message: str, failure: str = "UserError", details: str = "") -> dict[str, Any]:
    return {"errorCode": code, "message": message, "failureType": failure, "target": step.name, "details": details}
