"""SecureString parameters never reach the host: not in input, output, error, the run's message or a log."""

from __future__ import annotations

import base64
import json
import logging
import sqlite3

import pytest

from syncjobs import tutorial
from syncjobs.engine.pipeline.redaction import MASK, Redactor
from tests.engine.test_pipeline_runner import Walk, activity, pipeline

SECRET = 's3cr"et-Pa55/wörd'  # a quote for JSON, a non-ASCII letter for escapes (SQL quotes: the last test)
SECURE = {"secret": {"type": "SecureString"}, "plain": {"type": "String", "defaultValue": "visible-value"}}


@pytest.fixture
def walk(tmp_path) -> Walk:
    """The tutorial's source database and output folder, with its linked services and datasets."""
    (tmp_path / "out").mkdir()
    tutorial.create_source_database(tmp_path / "source.db")
    return Walk(tmp_path / "source.db", tmp_path / "out")


def script(name: str, text: str, kind: str = "Query", after: tuple[str, ...] = ()) -> dict:
    step = activity(name, "Script", after, scripts=[{"type": kind, "text": text}])
    step["linkedServiceName"] = {"referenceName": "TutorialSourceDatabase", "type": "LinkedServiceReference"}
    return step


def lookup(name: str, query: str, after: tuple[str, ...] = ()) -> dict:
    source = {"type": "SqliteSource", "query": query}
    dataset = {"referenceName": "SourceDataset", "type": "DatasetReference"}
    return activity(name, "Lookup", after, source=source, dataset=dataset)


def run_with_secret(walk, *activities, variables=None):
    definition = pipeline(*activities, parameters=SECURE, variables=variables)
    return walk.run(definition, parameters={"secret": SECRET})


def recorded(walk) -> str:
    """Everything the host was handed, as text."""
    return json.dumps(walk.host.runs, ensure_ascii=False)


def obvious_forms(secret: str) -> list[str]:
    return [secret, json.dumps(secret)[1:-1], secret.replace("'", "''"), base64.b64encode(secret.encode()).decode()]


def assert_hidden(text: str, *values: str) -> None:
    for value in values:
        assert value not in text, value


def test_a_script_reading_a_secret_is_recorded_as_secure_input_and_output(walk):
    _, outcome = run_with_secret(walk, script("Echo", "SELECT '@{pipeline().parameters.secret}' AS s"))
    assert outcome.status == "Succeeded", outcome.message
    echo = walk.host.run("Echo")
    assert echo["input"]["secureInput"] is True and echo["output"]["secureOutput"] is True
    assert_hidden(recorded(walk), *obvious_forms(SECRET))


def test_a_value_derived_from_a_secret_is_hidden_and_so_is_what_reads_it_later(walk):
    derived = base64.b64encode(SECRET.encode()).decode()
    _, outcome = run_with_secret(
        walk,
        activity("Encode", "SetVariable", variableName="token", value="@base64(pipeline().parameters.secret)"),
        script(
            "Use",
            "SELECT '@{variables('token')}' AS t, '@{toUpper(variables('token'))}' AS u",
            after=["Encode:Succeeded"],
        ),
        lookup("Read", "SELECT '@{activity('Use').output.resultSets[0].rows[0].u}' AS again", after=["Use:Succeeded"]),
        variables={"token": {"type": "String"}},
    )
    assert outcome.status == "Succeeded", outcome.message
    assert [walk.host.run(n)["output"].get("secureOutput") for n in ("Encode", "Use", "Read")] == [True] * 3
    assert_hidden(recorded(walk), SECRET, derived, derived.upper())


def test_a_failing_query_quoting_a_secret_has_its_error_masked(walk):
    derived = SECRET[::-1].upper()
    text = "SELECT * FROM missing_table WHERE a = '@{pipeline().parameters.secret}' AND b = '@{toUpper(concat('x'"
    text += ", pipeline().parameters.secret))}' AND c = '@{toUpper(substring(pipeline().parameters.secret, 1, 5))}'"
    _, outcome = run_with_secret(walk, script("Broken", text))
    assert outcome.status == "Failed"
    error = walk.host.run("Broken")["error"]
    assert "missing_table" in error["message"]
    assert_hidden(recorded(walk) + outcome.message, *obvious_forms(SECRET), ("x" + SECRET).upper(), SECRET[1:6].upper())
    assert derived not in recorded(walk)


def test_a_secret_read_back_from_the_source_is_masked_where_it_appears(walk):
    with sqlite3.connect(walk.database) as conn:
        conn.execute("CREATE TABLE vault (k TEXT, v TEXT)")
        conn.execute("INSERT INTO vault VALUES ('api', ?)", (f"prefix {SECRET} suffix",))
    _, outcome = run_with_secret(walk, lookup("Vault", "SELECT v FROM vault"))
    assert outcome.status == "Succeeded", outcome.message
    assert walk.host.run("Vault")["output"] == {"firstRow": {"v": f"prefix {MASK} suffix"}}


def test_activities_that_read_no_secret_stay_visible(walk):
    _, outcome = run_with_secret(
        walk,
        lookup("Plain", "SELECT '@{pipeline().parameters.plain}' AS p, '@{pipeline().RunId}' AS r"),
        script("Secret", "SELECT '@{pipeline().parameters.secret}' AS s", after=["Plain:Succeeded"]),
    )
    assert outcome.status == "Succeeded", outcome.message
    plain = walk.host.run("Plain")
    assert plain["output"]["firstRow"]["p"] == "visible-value" and "secureInput" not in plain["input"]


def test_a_secret_reached_through_the_whole_parameters_object_or_a_computed_name_is_hidden(walk):
    _, outcome = run_with_secret(
        walk,
        lookup("Whole", "SELECT '@{string(pipeline().parameters)}' AS p"),
        lookup("Computed", "SELECT '@{base64(pipeline().parameters[concat('sec', 'ret')])}' AS p"),
        lookup("Everything", "SELECT '@{base64(string(pipeline()))}' AS p"),
    )
    assert outcome.status == "Succeeded", outcome.message
    for name in ("Whole", "Computed", "Everything"):
        assert walk.host.run(name)["output"].get("secureOutput") is True, name
    assert_hidden(recorded(walk), *obvious_forms(SECRET))


def test_foreach_items_from_a_secret_hide_what_their_iterations_do(walk):
    inner = activity("Each", "SetVariable", variableName="v", value="@concat('<', base64(item()), '>')")
    each = activity(
        "Loop", "ForEach", items="@createArray(pipeline().parameters.secret)", isSequential=True, activities=[inner]
    )
    _, outcome = run_with_secret(walk, each, variables={"v": {"type": "String"}})
    assert outcome.status == "Succeeded", outcome.message
    assert walk.host.run("Each")["output"].get("secureOutput") is True
    assert_hidden(recorded(walk), *obvious_forms(SECRET))


def test_a_failure_of_the_runner_itself_is_logged_and_reported_without_the_secret(walk, caplog):
    def broken(*_args: object) -> str:
        raise RuntimeError(f"the host broke while holding {SECRET}")

    walk.host.activity_started = broken
    with caplog.at_level(logging.ERROR):
        _, outcome = run_with_secret(walk, activity("Pause", "Wait", waitTimeInSeconds=0))
    assert (
        outcome.status == "Failed" and "RuntimeError" in outcome.message and "failed inside the runner" in caplog.text
    )
    assert_hidden(outcome.message + caplog.text, SECRET)
    assert MASK in outcome.message and MASK in caplog.text


def test_the_redactor_masks_every_obvious_form_and_numbers():
    redactor = Redactor({"s": {"type": "SecureString"}, "n": {"type": "SecureString"}})
    secret = "s3cr'et-Pa55/wörd"
    redactor.add_parameters({"s": secret, "n": 7301, "other": "visible"})
    forms = [*obvious_forms(secret), "s3cr%27et-Pa55%2Fw%C3%B6rd", "s3cr%27et-Pa55%2Fw%C3%B6rd".replace("%2F", "/")]
    assert redactor.redact({"k": " | ".join(forms), "n": 7301, "m": 7302, "o": "visible"}) == {
        "k": " | ".join([MASK] * len(forms)),
        "n": MASK,
        "m": 7302,
        "o": "visible",
    }
