"""Schedule triggers authored in the browser (Manage → triggers): the form, Preview's next five fire times,
validation on the field at fault, typed parameters, and what each role may do."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from syncjobs.models import AuditEntry, PipelineRun, Trigger
from syncjobs.secrets import MASK
from syncjobs.services.definitions import export_definition, save_definition
from syncjobs.services.triggers import fire_due_triggers, next_fire_times
from tests.factories import make_pipeline

pytestmark = pytest.mark.django_db

PARAMETERS = {
    "window": {"type": "String"},
    "count": {"type": "Int", "defaultValue": 3},
    "ratio": {"type": "Float", "defaultValue": 0.5},
    "full": {"type": "Bool", "defaultValue": False},
    "tables": {"type": "Array", "defaultValue": []},
    "token": {"type": "SecureString"},
}


def words(response) -> str:
    """What the page says: its text without tags, whitespace collapsed."""
    assert response.status_code == 200, response.content[:500]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def form(**changes: Any) -> dict[str, Any]:
    data = {
        "name": "Nightly",
        "frequency": "Day",
        "interval": "1",
        "start_time": "2026-01-01T06:00",
        "pipelines": ["Load"],
        "action": "save",
    }
    return {**data, **changes}


def keys(client, pipeline: str = "Load") -> dict[str, str]:
    """Parameter name -> its input's name on the new-trigger form."""
    found = client.get("/manage/triggers/new/").context["form"]._parameters[pipeline.lower()]
    return {name: key for name, key, _ in found}


def errors(response, field: str) -> str:
    assert response.status_code == 200
    return " ".join(response.context["form"].errors.get(field, []))


def test_an_editor_creates_a_trigger_saved_as_adf_json_and_audited(editor):
    make_pipeline("Load")
    data = form(hours="6, 18", minutes="30", description="twice a day")
    response = editor.post("/manage/triggers/new/", data)
    assert response.status_code == 302 and response["Location"] == "/manage/triggers/Nightly/"
    trigger = Trigger.objects.get(name="Nightly")
    assert export_definition(trigger) == {
        "name": "Nightly",
        "type": "Microsoft.DataFactory/factories/triggers",
        "properties": {
            "type": "ScheduleTrigger",
            "description": "twice a day",
            "typeProperties": {
                "recurrence": {
                    "frequency": "Day",
                    "interval": 1,
                    "startTime": "2026-01-01T06:00:00Z",
                    "timeZone": "UTC",
                    "schedule": {"minutes": [30], "hours": [6, 18]},
                }
            },
            "pipelines": [{"pipelineReference": {"referenceName": "Load", "type": "PipelineReference"}}],
            "runtimeState": "Stopped",
        },
    }
    entry = AuditEntry.objects.get(action="create", object_kind="trigger")
    assert entry.object_name == "Nightly" and entry.actor == editor.user.username and entry.role == "Editor"
    page = words(editor.get("/manage/triggers/Nightly/"))
    assert "Trigger Nightly saved." in page and "Next five fire times (UTC)" in page


def test_preview_shows_the_next_five_fire_times_and_saves_nothing(editor):
    make_pipeline("Load")
    response = editor.post("/manage/triggers/new/", form(frequency="Hour", interval="4", action="preview"))
    times = re.findall(r'<time datetime="([^"]+)">', response.content.decode())
    expected = next_fire_times(response.context["form"].definition(), timezone.now())
    assert len(times) == 5 and times == [t.isoformat() for t in expected]
    first = datetime.fromisoformat(times[0])
    assert first.hour % 4 == 2 and timedelta(0) < first - timezone.now() <= timedelta(hours=4)  # 06:00 + 4k hours
    assert not Trigger.objects.exists() and not AuditEntry.objects.filter(object_kind="trigger").exists()
    assert 'value="Nightly"' in response.content.decode()  # the form keeps what was typed


def test_the_times_previewed_are_the_times_it_fires(editor, settings):
    settings.CTPORTAL_TASKS_INLINE = False  # runs stay queued: only the firing is under test
    make_pipeline("Load")
    preview = editor.post("/manage/triggers/new/", form(frequency="Minute", interval="15", action="preview"))
    shown = [datetime.fromisoformat(t) for t in re.findall(r'<time datetime="([^"]+)">', preview.content.decode())]
    assert editor.post("/manage/triggers/new/", form(frequency="Minute", interval="15")).status_code == 302
    trigger = Trigger.objects.get(name="Nightly")
    trigger.start()
    for moment in shown:
        [run] = fire_due_triggers(moment + timedelta(seconds=20))
        assert run.invoked_by_name == "Nightly"
        assert Trigger.objects.get(pk=trigger.pk).last_fired_at == moment
    assert fire_due_triggers(shown[-1] + timedelta(minutes=14)) == []  # nothing in between
    assert PipelineRun.objects.count() == 5


def test_a_trigger_ending_soon_shows_fewer_times_and_says_why(editor):
    make_pipeline("Load")
    start = (timezone.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=2)
    data = form(frequency="Hour", start_time=start.strftime("%Y-%m-%dT%H:%M"), end_time=end.strftime("%Y-%m-%dT%H:%M"))
    page = words(editor.post("/manage/triggers/new/", {**data, "action": "preview"}))
    assert page.count(f"{start:%Y-%m-%d}") >= 3 and "No more after these: the trigger ends" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"hours": "6, 25"}, "hours", "must be an integer from 0 to 23 (got '25')"),
        ({"minutes": "x"}, "minutes", "'x' is not a whole number"),
        ({"week_days": ["Monday"]}, "week_days", "needs frequency Week (the recurrence is Day)"),
        ({"frequency": "Minute", "hours": "1"}, "hours", "needs frequency Day or Week or Month"),
        ({"month_days": "0"}, "month_days", "must be an integer from -31 to 31 except 0"),
        ({"end_time": "2025-01-01T00:00"}, "end_time", "must be after startTime"),
        ({"interval": "0"}, "interval", "greater than or equal to 1"),
        ({"start_time": "2026-13-45T00:00"}, "start_time", "is not a real date and time"),
        ({"pipelines": []}, "pipelines", "choose at least one pipeline"),
        ({"name": "Night.ly"}, "name", "must not contain any of"),
    ],
)
def test_validation_errors_point_at_the_field(editor, changes, field, message):
    make_pipeline("Load")
    for action in ("preview", "save"):
        response = editor.post("/manage/triggers/new/", form(action=action, **changes))
        assert message in errors(response, field), (action, response.context["form"].errors)
        page = response.content.decode()
        label = page.index(f'for="{response.context["form"][field].id_for_label}"') if field != "week_days" else 0
        assert page.index(html.escape(message)) > label  # shown beside its field, below its label
    assert not Trigger.objects.exists()


def test_a_name_taken_and_a_pipeline_gone_point_at_their_fields(editor):
    make_pipeline("Load")
    assert editor.post("/manage/triggers/new/", form()).status_code == 302
    assert "already exists" in errors(editor.post("/manage/triggers/new/", form(name="nightly")), "name")
    save_definition("pipeline", {"name": "Gone", "properties": {"activities": []}})
    trigger = save_definition("trigger", {**export_definition(Trigger.objects.get(name="Nightly")), "name": "Two"})[0]
    props = trigger.properties
    props["pipelines"].append({"pipelineReference": {"referenceName": "Gone", "type": "PipelineReference"}})
    save_definition("trigger", {"name": "Two", "properties": props})
    from syncjobs.models import Pipeline

    Pipeline.objects.filter(name="Gone").delete()
    page = editor.get("/manage/triggers/Two/")
    assert 'value="Gone"' in page.content.decode() and "pipeline 'Gone' does not exist" in words(page)
    response = editor.post("/manage/triggers/Two/", form(name="Two", pipelines=["Load", "Gone"]))
    assert "pipeline 'Gone' does not exist" in errors(response, "pipelines")
    assert editor.post("/manage/triggers/Two/", form(name="Two", pipelines=["Load"])).status_code == 302


def test_parameters_are_typed_inputs_saved_as_their_types(editor):
    make_pipeline("Load", parameters=PARAMETERS)
    page = editor.get("/manage/triggers/new/").content.decode()
    names = keys(editor)
    assert f'type="number" name="{names["count"]}"' in page and f'type="password" name="{names["token"]}"' in page
    assert f'<select name="{names["full"]}"' in page and f'<textarea name="{names["tables"]}"' in page
    values = {"window": "@trigger().scheduledTime", "count": "7", "ratio": "1.25", "full": "true"}
    values |= {"tables": '["a", "b"]', "token": "s3cret"}
    response = editor.post("/manage/triggers/new/", form(**{names[k]: v for k, v in values.items()}))
    assert response.status_code == 302, response.context["form"].errors
    trigger = Trigger.objects.get(name="Nightly")
    assert trigger.properties["pipelines"][0]["parameters"] == {
        "window": "@trigger().scheduledTime",
        "count": 7,
        "ratio": 1.25,
        "full": True,
        "tables": ["a", "b"],
        "token": MASK,
    }
    assert trigger.pipeline_parameters(0)["token"] == "s3cret"
    edit = editor.get("/manage/triggers/Nightly/")
    assert "s3cret" not in edit.content.decode() and "a value is stored (never shown)" in words(edit)


@pytest.mark.parametrize(
    ("parameter", "value", "message"),
    [
        ("count", "1.5", "Enter a whole number."),
        ("ratio", "nan", "Enter a number."),
        ("tables", '{"a": 1}', "must be a JSON array"),
        ("tables", "[1,", "not JSON"),
        ("window", "", "required (the pipeline has no default value)"),
        ("token", "", "required (the pipeline has no default value)"),
    ],
)
def test_a_bad_parameter_value_is_an_error_on_its_input(editor, parameter, value, message):
    make_pipeline("Load", parameters=PARAMETERS)
    names = keys(editor)
    given = {names["window"]: "w", names["token"]: "t", names[parameter]: value}
    response = editor.post("/manage/triggers/new/", form(**given))
    assert message in errors(response, names[parameter])
    assert not Trigger.objects.exists()


def test_an_empty_secret_keeps_the_stored_one_and_follows_its_pipeline(editor):
    make_pipeline("First", parameters={"token": {"type": "SecureString"}})
    make_pipeline("Load", parameters={"token": {"type": "SecureString"}})
    first, load = keys(editor, "First")["token"], keys(editor, "Load")["token"]
    data = form(pipelines=["First", "Load"], **{first: "one", load: "two"})
    assert editor.post("/manage/triggers/new/", data).status_code == 302
    # Load moves from position 1 to 0 when First is left out; its stored value must go with it.
    assert editor.post("/manage/triggers/Nightly/", form(name="Nightly", pipelines=["Load"])).status_code == 302
    trigger = Trigger.objects.get(name="Nightly")
    assert [e["pipelineReference"]["referenceName"] for e in trigger.properties["pipelines"]] == ["Load"]
    assert trigger.pipeline_parameters(0) == {"token": "two"}


def test_editing_keeps_what_the_form_does_not_show_and_the_state(editor):
    make_pipeline("Load")
    assert editor.post("/manage/triggers/new/", form()).status_code == 302
    trigger = Trigger.objects.get(name="Nightly")
    props = {**trigger.properties, "annotations": ["team-a"]}
    save_definition("trigger", {"name": "Nightly", "properties": props})
    trigger.start()
    page = editor.get("/manage/triggers/Nightly/").content.decode()
    assert 'value="2026-01-01T06:00"' in page and 'value="Day" selected' in page
    assert editor.post("/manage/triggers/Nightly/", form(name="Ignored", frequency="Week")).status_code == 302
    trigger.refresh_from_db()
    assert trigger.name == "Nightly" and trigger.properties["annotations"] == ["team-a"]  # the name is renamed apart
    assert trigger.properties["typeProperties"]["recurrence"]["frequency"] == "Week"
    assert trigger.runtime_state == "Started"
    change = AuditEntry.objects.get(action="change", object_kind="trigger", actor=editor.user.username)
    assert change.detail["changed"] == ["properties.typeProperties.recurrence.frequency"]


def test_a_viewer_reads_a_trigger_and_its_fire_times_but_cannot_change_it(viewer, operator, editor):
    make_pipeline("Load")
    assert editor.post("/manage/triggers/new/", form()).status_code == 302
    page = viewer.get("/manage/triggers/Nightly/")
    assert "Next five fire times (UTC)" in words(page) and len(re.findall(r"<time ", page.content.decode())) == 5
    assert 'value="save"' not in page.content.decode() and 'value="start"' not in page.content.decode()
    assert viewer.get("/manage/triggers/new/").status_code == 403
    for client in (viewer, operator):
        assert client.post("/manage/triggers/Nightly/", form(frequency="Week")).status_code == 403
        assert client.post("/manage/triggers/new/", form(name="Other")).status_code == 403
    assert 'value="start"' in operator.get("/manage/triggers/Nightly/").content.decode()  # Operators start and stop
    assert Trigger.objects.get().properties["typeProperties"]["recurrence"]["frequency"] == "Day"


def test_the_manage_page_offers_the_form_instead_of_the_api(editor, viewer):
    make_pipeline("Load")
    assert "through the API" not in words(viewer.get("/manage/"))
    assert "New schedule trigger" not in words(viewer.get("/manage/"))
    page = editor.get("/manage/").content.decode()
    assert 'href="/manage/triggers/new/">New schedule trigger' in page
    editor.post("/manage/triggers/new/", form())
    assert '<a href="/manage/triggers/Nightly/">Nightly</a>' in editor.get("/manage/").content.decode()


def test_a_malformed_stored_trigger_opens_with_its_problem_shown(editor):
    make_pipeline("Load")
    assert editor.post("/manage/triggers/new/", form()).status_code == 302
    trigger = Trigger.objects.get(name="Nightly")
    definition = trigger.definition
    definition["properties"]["typeProperties"]["recurrence"]["schedule"] = {"minutes": 5}  # no list: stored long ago
    Trigger.objects.filter(pk=trigger.pk).update(definition=definition)
    page = words(editor.get("/manage/triggers/Nightly/"))
    assert "schedule.minutes must be an array" in page


def test_other_trigger_types_are_shown_as_json(viewer):
    make_pipeline("Load")
    recurrence = {"frequency": "Hour", "interval": 1, "startTime": "2026-01-01T00:00:00Z"}
    tumbling = {
        "type": "TumblingWindowTrigger",
        "typeProperties": recurrence,
        "pipeline": {"pipelineReference": {"referenceName": "Load", "type": "PipelineReference"}},
    }
    save_definition("trigger", {"name": "Windows", "properties": tumbling})
    page = words(viewer.get("/manage/triggers/Windows/"))
    assert "Only schedule triggers are edited here" in page and "TumblingWindowTrigger" in page


def test_the_times_are_utc_whatever_the_browser(editor):
    make_pipeline("Load")
    response = editor.post("/manage/triggers/new/", form(start_time="2026-01-01T06:00:00+02:00", action="preview"))
    assert response.context["form"].definition()["properties"]["typeProperties"]["recurrence"]["startTime"] == (
        "2026-01-01T04:00:00Z"
    )
    first = datetime.fromisoformat(re.findall(r'<time datetime="([^"]+)">', response.content.decode())[0])
    assert first.utcoffset() == timedelta(0) and first.astimezone(UTC).hour == 4
