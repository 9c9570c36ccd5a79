"""Import and export: folders in ADF's repository layout, one object at a time, and the commands."""

from __future__ import annotations

import json
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from syncjobs.adf.findings import DefinitionError
from syncjobs.models import Dataset, LinkedService, Pipeline, Trigger
from syncjobs.services.definitions import MODELS, export_definition, export_folder, import_folder, save_definition
from tests.factories import in_file_root

pytestmark = pytest.mark.django_db

PASSWORD = "Tr1cky;pass"


def _all_definitions() -> dict[str, dict]:
    return {f"{kind}/{o.name}": o.definition for kind, model in MODELS.items() for o in model.objects.all()}


def _delete_everything() -> None:
    for model in (Trigger, Pipeline, Dataset, LinkedService):
        model.objects.all().delete()


@pytest.mark.parametrize("edition", ["studio", "published-powershell"])
def test_export_then_import_gives_equal_definitions(edition: str, tmp_path: Path) -> None:
    import_folder(Path(__file__).resolve().parent.parent / "data" / "adf" / edition)
    before = _all_definitions()
    export_folder(tmp_path)
    _delete_everything()
    result = import_folder(tmp_path)
    assert _all_definitions() == before
    assert len(result.created) == len(before)
    assert not [f for f in result.findings if f.severity == "info"]  # the export is already in the current form


def test_export_writes_adf_repository_layout(studio_folder: Path, tmp_path: Path) -> None:
    import_folder(studio_folder)
    export_folder(tmp_path)
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.json"))
    assert "dataset/SinkDataset.json" in files and "pipeline/IncrementalCopyPipeline.json" in files
    assert {f.split("/")[0] for f in files} == {"linkedService", "dataset", "pipeline"}
    written = json.loads((tmp_path / "dataset" / "SinkDataset.json").read_text())
    assert written["type"] == "Microsoft.DataFactory/factories/datasets" and written["name"] == "SinkDataset"


def test_export_never_writes_a_secret(tmp_path: Path) -> None:
    save_definition(
        "linkedService",
        {
            "name": "Sql",
            "properties": {
                "type": "SqlServer",
                "typeProperties": {
                    "server": "db",
                    "database": "d",
                    "userName": "u",
                    "password": {"type": "SecureString", "value": PASSWORD},
                },
            },
        },
    )
    save_definition(
        "linkedService",
        {
            "name": "Blob",
            "properties": {
                "type": "AzureBlobStorage",
                "typeProperties": {"connectionString": "AccountName=a;AccountKey=S2V5S2V5;"},
            },
        },
    )
    export_folder(tmp_path)
    text = " ".join(p.read_text() for p in tmp_path.rglob("*.json"))
    assert PASSWORD not in text and "S2V5S2V5" not in text
    assert text.count("**********") == 2


def test_an_export_reimported_over_itself_keeps_the_secrets(tmp_path: Path) -> None:
    ls, _ = save_definition(
        "linkedService",
        {
            "name": "Sql",
            "properties": {
                "type": "SqlServer",
                "typeProperties": {
                    "server": "db",
                    "database": "d",
                    "userName": "u",
                    "password": {"type": "SecureString", "value": PASSWORD},
                },
            },
        },
    )
    export_folder(tmp_path)
    import_folder(tmp_path, replace=True)
    assert LinkedService.objects.get(pk=ls.pk).secrets() == {"properties.typeProperties.password": PASSWORD}


def test_references_resolve_whatever_the_file_order(studio_folder: Path, tmp_path: Path) -> None:
    # Loose files whose names sort pipelines first and linked services last.
    for i, path in enumerate(sorted(studio_folder.glob("*.json"), key=lambda p: "Pipeline" not in p.name)):
        shutil.copy(path, tmp_path / f"{i:02d}.json")
    assert len(import_folder(tmp_path).created) == 8


def test_a_folder_with_one_bad_object_imports_nothing(studio_folder: Path, tmp_path: Path) -> None:
    shutil.copytree(studio_folder, tmp_path / "f")
    sink = json.loads((tmp_path / "f" / "SinkDataset.json").read_text())
    del sink["properties"]["typeProperties"]["location"]["container"]
    (tmp_path / "f" / "SinkDataset.json").write_text(json.dumps(sink))
    with pytest.raises(DefinitionError) as exc:
        import_folder(tmp_path / "f")
    assert [str(f) for f in exc.value.findings] == [
        "dataset/SinkDataset: properties.typeProperties.location.container: required"
    ]
    assert not LinkedService.objects.exists()


def test_importing_an_existing_object_needs_replace(studio_folder: Path) -> None:
    import_folder(studio_folder)
    with pytest.raises(DefinitionError, match="already exists"):
        import_folder(studio_folder)
    result = import_folder(studio_folder, replace=True)
    assert len(result.updated) == 8 and result.created == []


def test_one_object_saves_and_exports_in_adf_shape() -> None:
    definition = {
        "name": "Local",
        "properties": {"type": "FileServer", "typeProperties": {"host": in_file_root("out")}},
    }
    saved, _ = save_definition("linkedService", definition)
    assert export_definition(saved) == {**definition, "type": "Microsoft.DataFactory/factories/linkedservices"}


def test_a_trigger_imports_stopped_and_exports_its_runtime_state(tmp_path: Path) -> None:
    save_definition(
        "pipeline",
        {
            "name": "P",
            "properties": {"activities": [{"name": "W", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}]},
        },
    )
    recurrence = {"frequency": "Hour", "interval": 1, "startTime": "2024-01-01T00:00:00Z", "timeZone": "UTC"}
    trigger = {
        "name": "Hourly",
        "properties": {
            "type": "ScheduleTrigger",
            "runtimeState": "Started",
            "typeProperties": {"recurrence": recurrence},
            "pipelines": [{"pipelineReference": {"referenceName": "P", "type": "PipelineReference"}, "parameters": {}}],
        },
    }
    saved, _ = save_definition("trigger", trigger)
    assert saved.runtime_state == "Stopped"
    saved.start()
    assert export_definition(Trigger.objects.get(pk=saved.pk))["properties"]["runtimeState"] == "Started"


def test_the_commands_export_and_import_a_factory(studio_folder: Path, tmp_path: Path) -> None:
    out = StringIO()
    call_command("import_factory", str(studio_folder), stdout=out)
    assert "Imported 8 new and 0 updated" in out.getvalue()
    call_command("export_factory", str(tmp_path / "export"), stdout=StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("import_factory", str(tmp_path / "export"), stdout=StringIO())
    out = StringIO()
    call_command("import_factory", str(tmp_path / "export"), "--replace", stdout=out)
    assert "Imported 0 new and 8 updated" in out.getvalue()
