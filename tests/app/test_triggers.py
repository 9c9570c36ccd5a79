"""Schedule triggers: fire times of every recurrence, firing due triggers once per fire time, the command."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django_q.models import Schedule
from django_q.tasks import async_task

from syncjobs.models import PipelineRun, RunStatus, Trigger
from syncjobs.services.definitions import save_definition
from syncjobs.services.schedules import FIRE_TRIGGERS
from syncjobs.services.triggers import TriggerError, due_times, fire_due_triggers, fire_trigger, latest_due_time
from tests.factories import make_pipeline


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def schedule(frequency: str, interval: int = 1, start: str = "2026-01-01T00:00:00Z", **more) -> dict:
    recurrence = {"frequency": frequency, "interval": interval, "startTime": start, "timeZone": "UTC", **more}
    return {"name": "T", "properties": {"type": "ScheduleTrigger", "typeProperties": {"recurrence": recurrence}}}


def iso(times: list[datetime]) -> list[str]:
    return [t.strftime("%Y-%m-%d %H:%M %a") for t in times]


def test_minutes_every_interval_from_the_start_time_excluding_after_including_upto():
    times = due_times(schedule("Minute", 15, "2026-01-01T00:05:00Z"), at("2026-01-01T00:20"), at("2026-01-01T01:05"))
    assert iso(times) == [f"2026-01-01 {t} Thu" for t in ("00:35", "00:50", "01:05")]


def test_nothing_before_the_start_time_and_nothing_after_the_end_time():
    trigger = schedule("Hour", 1, "2026-01-01T10:30:00Z", endTime="2026-01-01T12:30:00Z")
    times = due_times(trigger, at("2025-12-31T00:00"), at("2026-01-02T00:00"))
    assert iso(times) == ["2026-01-01 10:30 Thu", "2026-01-01 11:30 Thu", "2026-01-01 12:30 Thu"]
    assert due_times(trigger, at("2026-01-01T12:30"), at("2026-01-05T00:00")) == []


def test_hours_with_an_interval_and_schedule_minutes():
    trigger = schedule("Hour", 2, "2026-01-01T00:00:00Z", schedule={"minutes": [0, 30]})
    times = due_times(trigger, at("2026-01-01T01:00"), at("2026-01-01T05:00"))
    assert iso(times) == [f"2026-01-01 {t} Thu" for t in ("02:00", "02:30", "04:00", "04:30")]


def test_days_every_other_day_at_the_start_time_of_day():
    times = due_times(schedule("Day", 2, "2026-01-01T06:15:00Z"), at("2026-01-01T07:00"), at("2026-01-07T00:00"))
    assert iso(times) == ["2026-01-03 06:15 Sat", "2026-01-05 06:15 Mon"]


def test_days_at_scheduled_hours_and_minutes():
    trigger = schedule("Day", 1, schedule={"hours": [9, 17], "minutes": [0, 45]})
    times = due_times(trigger, at("2026-01-02T00:00"), at("2026-01-02T23:59"))
    assert iso(times) == [f"2026-01-02 {t} Fri" for t in ("09:00", "09:45", "17:00", "17:45")]


def test_weeks_on_the_scheduled_week_days_every_other_week():
    trigger = schedule("Week", 2, "2026-01-05T08:00:00Z", schedule={"weekDays": ["Monday", "Friday"], "hours": [8]})
    times = due_times(trigger, at("2026-01-04T00:00"), at("2026-01-31T00:00"))
    assert iso(times) == [
        "2026-01-05 08:00 Mon",
        "2026-01-09 08:00 Fri",
        "2026-01-19 08:00 Mon",
        "2026-01-23 08:00 Fri",
    ]


def test_week_without_schedule_fires_on_the_start_weekday():
    times = due_times(schedule("Week", 1, "2026-01-06T12:00:00Z"), at("2026-01-06T12:00"), at("2026-01-21T00:00"))
    assert iso(times) == ["2026-01-13 12:00 Tue", "2026-01-20 12:00 Tue"]


def test_months_on_month_days_including_the_last_day():
    trigger = schedule("Month", 1, schedule={"monthDays": [1, -1], "hours": [3], "minutes": [0]})
    times = due_times(trigger, at("2026-01-15T00:00"), at("2026-03-02T00:00"))
    assert iso(times) == [
        "2026-01-31 03:00 Sat",
        "2026-02-01 03:00 Sun",
        "2026-02-28 03:00 Sat",
        "2026-03-01 03:00 Sun",
    ]


def test_months_without_schedule_keep_the_day_clamped_to_short_months():
    times = due_times(schedule("Month", 1, "2026-01-31T10:00:00Z"), at("2026-01-01T00:00"), at("2026-04-01T00:00"))
    assert iso(times) == ["2026-01-31 10:00 Sat", "2026-02-28 10:00 Sat", "2026-03-31 10:00 Tue"]


def test_other_time_zones_and_trigger_types_are_refused_plainly():
    with pytest.raises(TriggerError, match="use UTC"):
        due_times(schedule("Day", timeZone="W. Europe Standard Time"), at("2026-01-01T00:00"), at("2026-01-02T00:00"))
    with pytest.raises(TriggerError, match="Only ScheduleTrigger"):
        due_times({"properties": {"type": "TumblingWindowTrigger"}}, at("2026-01-01T00:00"), at("2026-01-02T00:00"))


def make_trigger(pipeline: str, parameters: dict | None = None, **recurrence) -> Trigger:
    props = schedule(**recurrence)["properties"]
    props["pipelines"] = [
        {"pipelineReference": {"referenceName": pipeline, "type": "PipelineReference"}, "parameters": parameters or {}}
    ]
    trigger = save_definition("trigger", {"name": "EveryFiveMinutes", "properties": props})[0]
    trigger.start()
    return trigger


@pytest.mark.django_db
def test_a_due_trigger_fires_once_per_fire_time_with_trigger_times_as_parameters():
    make_pipeline(parameters={"windowEnd": {"type": "String"}, "label": {"type": "String"}})
    trigger = make_trigger(
        "WaitPipeline",
        {"windowEnd": "@trigger().scheduledTime", "label": "run at @{trigger().scheduledTime}"},
        frequency="Minute",
        interval=5,
        start="2026-01-01T00:00:00Z",
    )
    Trigger.objects.filter(pk=trigger.pk).update(last_fired_at=at("2026-01-01T00:00"))
    assert fire_due_triggers(at("2026-01-01T00:04:59")) == []
    runs = fire_due_triggers(at("2026-01-01T00:05:30"))
    assert fire_due_triggers(at("2026-01-01T00:05:40")) == []  # same fire time: no second run
    assert len(runs) == 1
    run = PipelineRun.objects.get()
    assert (run.invoked_by_type, run.invoked_by_name) == ("ScheduleTrigger", "EveryFiveMinutes")
    assert run.parameters == {"windowEnd": "2026-01-01T00:05:00Z", "label": "run at 2026-01-01T00:05:00Z"}
    trigger.refresh_from_db()
    assert trigger.last_fired_at == at("2026-01-01T00:05")


@pytest.mark.django_db
def test_windows_missed_during_downtime_fire_once_for_the_latest_time_and_stopped_triggers_never():
    make_pipeline()
    trigger = make_trigger("WaitPipeline", frequency="Minute", interval=1, start="2026-01-01T00:00:00Z")
    Trigger.objects.filter(pk=trigger.pk).update(last_fired_at=at("2026-01-01T00:00"))
    assert len(fire_due_triggers(at("2026-01-01T03:00:10"))) == 1
    trigger.refresh_from_db()
    assert trigger.last_fired_at == at("2026-01-01T03:00")
    trigger.stop()
    assert fire_due_triggers(at("2026-01-01T04:00")) == []
    assert PipelineRun.objects.count() == 1


@pytest.mark.django_db
def test_the_tutorial_pipeline_really_runs_on_schedule(settings, tmp_path: Path):
    settings.CTPORTAL_TASKS_INLINE = True
    call_command("seed_tutorial", "--dir", str(tmp_path))
    trigger = make_trigger("FullCopyPipeline", frequency="Hour", interval=1, start="2026-01-01T00:00:00Z")
    Trigger.objects.filter(pk=trigger.pk).update(last_fired_at=at("2026-01-01T00:00"))
    [run] = fire_due_triggers(at("2026-01-01T01:00:05"))
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.message
    [written] = (tmp_path / "output").rglob("*.csv")
    assert written.name == f"Incremental-{run.run_id}.csv"
    assert written.read_bytes().splitlines()[0] == b'1,"aaaa",21'
    assert len(written.read_bytes().splitlines()) == 5


@pytest.mark.django_db
def test_a_just_started_trigger_waits_for_its_next_fire_time():
    make_pipeline()
    trigger = make_trigger("WaitPipeline", frequency="Day", interval=1, start="2020-01-01T00:00:00Z")
    Trigger.objects.filter(pk=trigger.pk).update(updated=at("2026-01-01T12:00"))  # started then
    assert fire_due_triggers(at("2026-01-01T23:59")) == []
    assert len(fire_due_triggers(at("2026-01-02T00:00:01"))) == 1


@pytest.mark.django_db
def test_the_command_starts_stops_and_lists(capsys):
    make_pipeline()
    make_trigger("WaitPipeline", frequency="Day")
    call_command("triggers", "stop", "EveryFiveMinutes")
    assert Trigger.objects.get().runtime_state == "Stopped"
    call_command("triggers", "start", "EveryFiveMinutes")
    call_command("triggers", "list")
    assert "EveryFiveMinutes\tScheduleTrigger\tStarted\tlast fired never" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No trigger"):
        call_command("triggers", "start", "Nope")


@pytest.mark.django_db
def test_firing_is_scheduled_every_minute_on_the_worker():
    found = Schedule.objects.get(name=FIRE_TRIGGERS)
    assert (found.func, found.schedule_type, found.minutes) == ("syncjobs.tasks.fire_due_triggers_task", "I", 1)


@pytest.mark.django_db
def test_two_firers_holding_the_same_trigger_start_one_run():
    make_pipeline()
    trigger = make_trigger("WaitPipeline", frequency="Minute", interval=1, start="2026-01-01T00:00:00Z")
    Trigger.objects.filter(pk=trigger.pk).update(last_fired_at=at("2026-01-01T00:00"))
    first, second = Trigger.objects.get(), Trigger.objects.get()  # two workers read the same row
    assert len(fire_trigger(first, at("2026-01-01T00:01:00"))[0]) == 1
    assert fire_trigger(second, at("2026-01-01T00:01:00")) == ([], [])
    assert PipelineRun.objects.count() == 1


@pytest.mark.django_db
def test_the_worker_task_fires_due_triggers(settings):
    settings.CTPORTAL_TASKS_INLINE = True
    make_pipeline()
    trigger = make_trigger("WaitPipeline", frequency="Minute", interval=1, start="2026-01-01T00:00:00Z")
    Trigger.objects.filter(pk=trigger.pk).update(last_fired_at=at("2026-01-01T00:00"))
    assert async_task(Schedule.objects.get(name=FIRE_TRIGGERS).func, sync=True)
    assert PipelineRun.objects.get().status == RunStatus.SUCCEEDED


def test_the_latest_due_time_after_a_year_of_downtime_is_found():
    trigger = schedule("Minute", 1, "2025-01-01T00:00:00Z")
    assert latest_due_time(trigger, at("2025-01-01T00:00"), at("2026-01-01T00:00:30")) == at("2026-01-01T00:00")
    assert latest_due_time(schedule("Month", 12), at("2026-01-01T00:00"), at("2026-12-31T00:00")) is None
    assert latest_due_time(schedule("Month", 12), at("2024-01-01T00:00"), at("2026-12-31T00:00")) == at("2026-01-01")


@pytest.mark.django_db
def test_a_trigger_whose_pipeline_refuses_its_parameters_starts_nothing_and_says_why(caplog):
    make_pipeline(parameters={"days": {"type": "Int"}})
    trigger = make_trigger("WaitPipeline", frequency="Minute", interval=1, start="2026-01-01T00:00:00Z")
    Trigger.objects.filter(pk=trigger.pk).update(last_fired_at=at("2026-01-01T00:00"))
    assert fire_due_triggers(at("2026-01-01T00:01:00")) == []
    assert "refused its parameters" in caplog.text and "days is required" in caplog.text
    assert PipelineRun.objects.count() == 0


@pytest.mark.django_db
def test_a_malformed_trigger_fails_alone_with_its_reason_on_the_manage_page(client, django_user_model):
    make_pipeline()
    good = make_trigger("WaitPipeline", frequency="Minute", interval=5, start="2026-01-01T00:00:00Z")
    props = {**schedule("Hour", 1)["properties"], "pipelines": good.properties["pipelines"]}
    broken = save_definition("trigger", {"name": "Broken", "properties": props})[0]
    broken.start()
    # Stored before validation existed: "minutes" a number where ADF wants a list (update() skips validation).
    definition = broken.definition
    definition["properties"]["typeProperties"]["recurrence"]["schedule"] = {"minutes": 5}
    Trigger.objects.filter(pk=broken.pk).update(definition=definition, last_fired_at=at("2026-01-01T00:00"))
    Trigger.objects.filter(pk=good.pk).update(last_fired_at=at("2026-01-01T00:00"))
    [run] = fire_due_triggers(at("2026-01-01T01:00:30"))
    assert run.invoked_by_name == "EveryFiveMinutes"
    broken.refresh_from_db()
    assert "schedule.minutes: must be an array" in broken.fire_error
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-12345678"))
    page = client.get("/manage/").content.decode()
    assert "Broken" in page and "schedule.minutes: must be an array" in page
    good.refresh_from_db()
    assert good.fire_error == "" and good.last_fired_at == at("2026-01-01T01:00")
