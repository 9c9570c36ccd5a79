"""ADF ScheduleTrigger: when a trigger is due, and firing the due ones.

``@trigger().scheduledTime`` and ``@trigger().startTime`` in a trigger's pipeline parameters are replaced by
plain string substitution at fire time (whole values and ``@{...}`` interpolations); other expressions pass through.
"""

from __future__ import annotations

import calendar
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from syncjobs.access import SYSTEM, Actor
from syncjobs.adf.findings import Checker, Finding
from syncjobs.adf.schedules import WEEKDAYS, check_recurrence
from syncjobs.adf.validation import validate_definition
from syncjobs.models import AuditEntry, Pipeline, PipelineRun, Trigger, known_objects
from syncjobs.services import audit, runs

log = logging.getLogger(__name__)

STEPS = {
    "Minute": timedelta(minutes=1),
    "Hour": timedelta(hours=1),
    "Day": timedelta(days=1),
    "Week": timedelta(weeks=1),
}
MAX_TIMES = 100_000  # due_times lists at most about this many times per call
LOOKBACKS = (timedelta(days=2), timedelta(days=64), timedelta(days=800), None)
# How far ahead the preview looks, growing: a trigger every minute is answered from the first window.
LOOKAHEADS = (timedelta(hours=2), timedelta(days=2), timedelta(days=64), timedelta(days=800), timedelta(days=36_600))
LATEST = datetime(9000, 1, 1, tzinfo=UTC)  # past this the calendar arithmetic would overflow


class TriggerError(ValueError):
    """A recurrence this portal cannot schedule."""


def parse_time(value: str) -> datetime:
    """An ADF date-time string as an aware UTC datetime (naive ones are taken as UTC)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def recurrence_of(definition: dict[str, Any]) -> dict[str, Any]:
    """The checked ``recurrence`` of a ScheduleTrigger definition (full JSON or its properties).

    The same checks as a save (``adf.schedules``), so a trigger stored before they existed fails here
    with the field at fault rather than somewhere inside the arithmetic.
    """
    props = definition.get("properties", definition)
    if props.get("type") != "ScheduleTrigger":
        raise TriggerError(f"Only ScheduleTrigger is supported, not {props.get('type')!r}.")
    path = "properties.typeProperties.recurrence"
    recurrence = (props.get("typeProperties") or {}).get("recurrence")
    check = Checker()
    if not isinstance(recurrence, dict):
        check.add(path, "required, as an object")
    else:
        check_recurrence(check, recurrence, path)
        if "schedule" in recurrence and recurrence.get("frequency") == "Minute":
            check.add(f"{path}.schedule", "needs frequency Hour, Day, Week or Month")
    if check.findings or not isinstance(recurrence, dict):
        raise TriggerError("; ".join(str(f) for f in check.findings))
    return recurrence


def due_times(definition: dict[str, Any], after: datetime, upto: datetime) -> list[datetime]:
    """Fire times of a ScheduleTrigger in ``(after, upto]``, within its startTime/endTime, oldest first."""
    recurrence = recurrence_of(definition)
    start = parse_time(recurrence["startTime"])
    end = parse_time(recurrence["endTime"]) if recurrence.get("endTime") else None
    upto = min(upto, end) if end else upto
    low = max(after, start - timedelta(microseconds=1))
    if upto <= low:
        return []
    schedule = recurrence.get("schedule") or {}
    times = _scheduled(recurrence, start, low, upto) if schedule else _plain(recurrence, start, low, upto)
    return [moment for moment in times if low < moment <= upto and moment >= start]


def next_fire_times(definition: dict[str, Any], after: datetime, count: int = 5) -> list[datetime]:
    """The first ``count`` fire times after ``after``, by the code that fires triggers.

    Fewer when the trigger ends first, or fires fewer times within a century. Raises
    :class:`TriggerError` for a recurrence it cannot schedule.
    """
    start = parse_time(recurrence_of(definition)["startTime"])
    low = max(after, start - timedelta(microseconds=1))
    times: list[datetime] = []
    for window in LOOKAHEADS:
        if low >= LATEST:
            break
        times = due_times(definition, low, min(low + window, LATEST))
        if len(times) >= count:
            break
    return times[:count]


def preview_fire_times(definition: dict[str, Any], count: int = 5) -> tuple[list[datetime], list[Finding]]:
    """The next ``count`` fire times of a trigger definition (saved or not), or the errors that stop it."""
    findings = [f for f in validate_definition("trigger", definition, known_objects()) if f.is_error]
    if findings:
        return [], findings
    try:
        return next_fire_times(definition, timezone.now(), count), []
    except TriggerError as exc:
        return [], [Finding("properties.typeProperties.recurrence", str(exc))]


def _plain(recurrence: dict[str, Any], start: datetime, low: datetime, upto: datetime) -> list[datetime]:
    """Times start + k * interval (months added by calendar for Month)."""
    interval = int(recurrence.get("interval", 1))
    if recurrence["frequency"] == "Month":
        return _months(start, interval, low, upto)
    step = STEPS[recurrence["frequency"]] * interval
    first = max(0, (low - start) // step)
    times: list[datetime] = []
    moment = start + step * first
    while moment <= upto and len(times) < MAX_TIMES:
        times.append(moment)
        moment += step
    return times


def _months(start: datetime, interval: int, low: datetime, upto: datetime) -> list[datetime]:
    """start's day and time every ``interval`` months (clamped to the month's last day)."""
    times: list[datetime] = []
    k = max(0, _month_index(low) - _month_index(start) - interval) // interval
    while True:
        index = _month_index(start) + k * interval
        year, month = divmod(index, 12)
        day = min(start.day, calendar.monthrange(year, month + 1)[1])
        moment = start.replace(year=year, month=month + 1, day=day)
        if moment > upto:
            return times
        times.append(moment)
        k += 1


def _month_index(moment: datetime) -> int:
    return moment.year * 12 + moment.month - 1


def _scheduled(recurrence: dict[str, Any], start: datetime, low: datetime, upto: datetime) -> list[datetime]:
    """Times from ``schedule`` (minutes, hours, weekDays, monthDays) on the days/hours the recurrence allows."""
    schedule = recurrence["schedule"]
    frequency, interval = recurrence["frequency"], int(recurrence.get("interval", 1))
    minutes = sorted(int(m) for m in schedule.get("minutes") or [start.minute])
    if frequency == "Hour":
        return _hourly(start, interval, minutes, low, upto)
    hours = sorted(int(h) for h in schedule.get("hours") or [start.hour])
    days = [
        d
        for d in _days(max(low, start) - timedelta(days=1), upto)
        if _day_allowed(d, start, frequency, interval, schedule)
    ]
    times = [day.replace(hour=h, minute=m) for day in days for h in hours for m in minutes]
    return sorted(times)


def _hourly(start: datetime, interval: int, minutes: list[int], low: datetime, upto: datetime) -> list[datetime]:
    """Every ``interval`` hours from start's hour, at each of ``minutes``."""
    step = timedelta(hours=interval)
    hour = start.replace(minute=0, second=0, microsecond=0)
    hour += step * max(0, (low - hour) // step - 1)
    times: list[datetime] = []
    while hour <= upto and len(times) < MAX_TIMES:
        times.extend(hour.replace(minute=m) for m in minutes)
        hour += step
    return times


def _days(low: datetime, upto: datetime) -> list[datetime]:
    day = low.replace(hour=0, minute=0, second=0, microsecond=0)
    days: list[datetime] = []
    while day <= upto and len(days) < MAX_TIMES:
        days.append(day)
        day += timedelta(days=1)
    return days


def _day_allowed(day: datetime, start: datetime, frequency: str, interval: int, schedule: dict[str, Any]) -> bool:
    """Whether ``day`` is one of the recurrence's days (every ``interval`` days/weeks/months from start)."""
    start_day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    if frequency == "Day":
        return (day - start_day).days % interval == 0
    if frequency == "Week":
        week_start = start_day - timedelta(days=start_day.weekday())
        if ((day - week_start).days // 7) % interval:
            return False
        names = schedule.get("weekDays") or [WEEKDAYS[start.weekday()]]
        return WEEKDAYS[day.weekday()] in names
    if (_month_index(day) - _month_index(start)) % interval:
        return False
    month_days = [int(d) for d in schedule.get("monthDays") or [start.day]]
    last = calendar.monthrange(day.year, day.month)[1]
    return any(day.day == (d if d > 0 else last + 1 + d) for d in month_days)


def set_started(trigger: Trigger, started: bool, *, actor: Actor = SYSTEM) -> None:
    """Start or stop ``trigger``, noted in the audit log."""
    with transaction.atomic():
        trigger.start() if started else trigger.stop()
        action = AuditEntry.Action.START if started else AuditEntry.Action.STOP
        audit.record(actor, action, "trigger", trigger.name)


def fire_due_triggers(now: datetime | None = None) -> list[PipelineRun]:
    """Fire every Started ScheduleTrigger that is due; a window missed during downtime fires once.

    Each trigger fires alone: whatever one does wrong (a malformed recurrence stored before validation
    existed, a pipeline that refuses its parameters, a bug), its reason is stored on it for the Manage
    page and the others fire as usual.
    """
    now = now or timezone.now()
    fired: list[PipelineRun] = []
    for trigger in Trigger.objects.filter(runtime_state=Trigger.RuntimeState.STARTED, type="ScheduleTrigger"):
        try:
            with transaction.atomic():  # a database error in one trigger leaves the others a usable connection
                runs, problems = fire_trigger(trigger, now)
        except Exception as exc:  # noqa: BLE001 - one trigger's failure must not stop the rest
            log.warning("Trigger %s cannot fire: %s", trigger.name, exc, exc_info=not isinstance(exc, TriggerError))
            trigger.record_fire_error(str(exc) if isinstance(exc, TriggerError) else f"{type(exc).__name__}: {exc}")
            continue
        fired.extend(runs)
        if problems:
            trigger.record_fire_error("; ".join(problems))
        elif runs:
            trigger.clear_fire_error()
    return fired


def fire_trigger(trigger: Trigger, now: datetime) -> tuple[list[PipelineRun], list[str]]:
    """Fire ``trigger`` once for its latest due time since it last fired (or was started); claims it first.

    Returns the runs started and what kept any of its pipelines from starting.
    """
    scheduled = latest_due_time(trigger.to_adf(), trigger.last_fired_at or trigger.updated, now)
    if scheduled is None:
        return [], []
    claimed = Trigger.objects.filter(pk=trigger.pk, last_fired_at=trigger.last_fired_at).update(last_fired_at=scheduled)
    if not claimed:
        return [], []
    trigger.last_fired_at = scheduled
    return _start_pipelines(trigger, scheduled, now)


def latest_due_time(definition: dict[str, Any], after: datetime, upto: datetime) -> datetime | None:
    """The latest fire time in ``(after, upto]``, looking back in growing windows (cheap after long downtime)."""
    for lookback in LOOKBACKS:
        low = max(after, upto - lookback) if lookback else after
        due = due_times(definition, low, upto)
        if due:
            return due[-1]
        if low == after:
            return None
    return None


def _start_pipelines(trigger: Trigger, scheduled: datetime, now: datetime) -> tuple[list[PipelineRun], list[str]]:
    started, problems = [], []
    for index, entry in enumerate(trigger.properties.get("pipelines") or []):
        name = (entry.get("pipelineReference") or {}).get("referenceName")
        pipeline = Pipeline.objects.filter(name=name).first()
        if pipeline is None:
            problems.append(f"pipeline {name} does not exist")
            continue
        parameters = trigger_parameters(trigger.pipeline_parameters(index), scheduled, now)
        try:
            started.append(
                runs.trigger_run(pipeline, parameters, invoked_by_type="ScheduleTrigger", invoked_by_name=trigger.name)
            )
        except ValidationError as exc:
            problems.append(f"pipeline {name} refused its parameters: {'; '.join(exc.messages)}")
    for problem in problems:
        log.warning("Trigger %s: %s", trigger.name, problem)
    return started, problems


def trigger_parameters(parameters: dict[str, Any], scheduled: datetime, started: datetime) -> dict[str, Any]:
    """The parameters with ``@trigger().scheduledTime`` / ``@trigger().startTime`` replaced by ISO times."""
    values = {"scheduledTime": _iso(scheduled), "startTime": _iso(started)}
    return {name: _substitute(value, values) for name, value in parameters.items()}


def _substitute(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, dict) and value.get("type") == "Expression":
        value = value.get("value")
    if not isinstance(value, str):
        return value
    for key, text in values.items():
        if value.strip() == f"@trigger().{key}":
            return text
        value = value.replace(f"@{{trigger().{key}}}", text)
    return value


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
