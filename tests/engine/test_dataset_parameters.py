"""A DatasetReference's parameter values bind to the dataset's declared parameters as ADF binds them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from syncjobs.engine.pipeline.host import RunInfo
from syncjobs.engine.pipeline.state import RunState


def state_with(dataset: dict[str, Any]) -> RunState:
    info = RunInfo(run_id="r1", pipeline_name="P", trigger_time=datetime(2026, 1, 1, tzinfo=UTC))
    snapshot = {"datasets": {dataset["name"]: dataset}}
    return RunState(snapshot=snapshot, info=info, host=None, parameters={}, variables={})  # type: ignore[arg-type]


DATASET = {
    "name": "Src",
    "properties": {
        "parameters": {"table": {"type": "String", "defaultValue": "fallback"}},
        "typeProperties": {"table": "@dataset().table"},
    },
}


def test_a_value_passed_in_another_case_binds_to_the_declared_parameter():
    state = state_with(DATASET)
    bound = state.dataset({"referenceName": "Src", "parameters": {"Table": "orders"}})
    assert bound["properties"]["typeProperties"]["table"] == "orders"


def test_an_absent_value_takes_the_default():
    bound = state_with(DATASET).dataset({"referenceName": "Src"})
    assert bound["properties"]["typeProperties"]["table"] == "fallback"
