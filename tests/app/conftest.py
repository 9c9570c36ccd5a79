"""App test set-up: paths to the ADF JSON test data and plain factory functions for definitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from syncjobs.adf.repository import save_definition
from syncjobs.models import Dataset, LinkedService, Pipeline, PipelineRun
from tests.fixtures.portal import Portal

ADF_DATA = Path(__file__).resolve().parent.parent / "data" / "adf"


@pytest.fixture
def portal(tmp_path):
    """A whole portal installed in ``tmp_path`` with the tutorial seeded (no worker, no web server yet)."""
    installed = Portal(tmp_path)
    installed.manage("migrate", "--noinput")
    installed.manage("seed_tutorial")
    yield installed
    installed.stop()


@pytest.fixture
def studio_folder() -> Path:
    """The tutorial's objects as ADF Studio saves them."""
    return ADF_DATA / "studio"


@pytest.fixture
def powershell_folder() -> Path:
    """The tutorial's objects as the PowerShell edition publishes them (legacy form)."""
    return ADF_DATA / "published-powershell"


@pytest.fixture
def inline(settings: Any) -> None:
    """Runs execute inside the request that triggers them (``CTPORTAL_TASKS_INLINE``)."""
    settings.CTPORTAL_TASKS_INLINE = True


@pytest.fixture
def seeded(tmp_path: Path, settings: Any) -> Path:
    """The tutorial seeded into ``tmp_path``, runs carried out inline."""
    settings.CTPORTAL_TASKS_INLINE = True
    call_command("seed_tutorial", "--dir", str(tmp_path))
    return tmp_path


def in_file_root(*parts: str) -> str:
    """A path inside the tests' file root (pytest's base temporary folder)."""
    return str(Path(settings.CTPORTAL_FILE_ROOTS[0]).joinpath(*parts))


def make_linked_service(name: str = "SourceDb", **type_properties: Any) -> LinkedService:
    """A Sqlite linked service, or any type with ``type=...`` and its type properties."""
    kind = type_properties.pop("type", "Sqlite")
    type_properties = type_properties or {"database": in_file_root("ctportal-test.sqlite3")}
    return save_definition(
        "linkedService", {"name": name, "properties": {"type": kind, "typeProperties": type_properties}}
    )[0]


def make_dataset(name: str = "SourceTable", linked_service: str = "SourceDb", **properties: Any) -> Dataset:
    """A SqliteTable dataset on ``linked_service`` unless ``properties`` say otherwise."""
    props = {"type": "SqliteTable", "typeProperties": {"table": "data_source_table"}, **properties}
    props["linkedServiceName"] = {"referenceName": linked_service, "type": "LinkedServiceReference"}
    return save_definition("dataset", {"name": name, "properties": props})[0]


def make_pipeline(
    name: str = "WaitPipeline", activities: list[dict[str, Any]] | None = None, **properties: Any
) -> Pipeline:
    """A pipeline (one Wait activity unless ``activities`` are given)."""
    activities = (
        activities
        if activities is not None
        else [{"name": "Pause", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}]
    )
    return save_definition("pipeline", {"name": name, "properties": {"activities": activities, **properties}})[0]


def make_run(pipeline: Pipeline | None = None, **overrides: Any) -> PipelineRun:
    """A queued run of ``pipeline`` (a new Wait pipeline by default)."""
    pipeline = pipeline or make_pipeline()
    fields = {"pipeline": pipeline, "pipeline_name": pipeline.name, "definition": pipeline.snapshot(), **overrides}
    return PipelineRun.objects.create(**fields)
