"""Plain factory functions for tests: definitions and runs (saved as the portal saves them), users of
each role and clients signed in as them. Fixtures built on them live in the conftest files."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import Client

from syncjobs.models import Dataset, LinkedService, Pipeline, PipelineRun
from syncjobs.services.definitions import save_definition

ADF_DATA = Path(__file__).resolve().parent / "data" / "adf"
PASSWORD = "role-test-password-1"
_names = itertools.count(1)


def make_user(role: Any, username: str | None = None, *, active: bool = True, password: str | None = None) -> Any:
    """A user holding ``role`` (a ``syncjobs.access.Role``); inactive with ``active=False``.

    Without ``password`` it has none that works (hashing one costs a quarter second; clients sign in
    with ``signed_in`` instead).
    """
    from django.contrib.auth import get_user_model

    from syncjobs.access import store_role

    name = username or f"{role.label.lower()}{next(_names)}"
    user = get_user_model().objects.create_user(name, password=password, is_active=active)
    store_role(user, role)
    return user


def signed_in(user: Any) -> Client:
    """A client with ``user``'s session (CSRF checks off, as Django's test client has them)."""
    client = Client()
    client.force_login(user)
    client.user = user  # type: ignore[attr-defined]
    return client


def bearer(user: Any) -> dict[str, str]:
    """Headers with a new API token of ``user``."""
    from syncjobs.models import ApiToken

    return {"Authorization": f"Bearer {ApiToken.issue(user, 'tests')[1]}"}


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
