"""A run's output files on its page: previews of the first rows, streamed downloads, who may read them,
and that nothing but the files the activity lists, inside its sink, can be reached."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from syncjobs import tutorial
from syncjobs.models import ActivityRun, Pipeline, PipelineRun
from syncjobs.services.definitions import save_definition
from syncjobs.services.runs import trigger_run
from tests.app.pages import text

pytestmark = pytest.mark.django_db


def file_urls(page: str) -> list[str]:
    """The preview links of a run page."""
    return re.findall(r'<a class="file" href="([^"]+)"', page)


def body(response) -> bytes:
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)


def sync_twice(seeded: Path) -> PipelineRun:
    """IncrementalSync's full window, the tutorial's changes, then its delta window (the run returned)."""
    trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    tutorial.apply_tutorial_changes(seeded / "source.sqlite3")
    return trigger_run(Pipeline.objects.get(name="IncrementalSync"))


def test_an_editor_previews_and_downloads_the_files_a_sync_wrote(editor, seeded):
    run = sync_twice(seeded)
    page = text(editor.get(f"/monitor/runs/{run.run_id}/"))
    assert "1 inserted, 1 updated, 0 deleted" in page and 'mode <strong class="mode">delta</strong>' in page
    assert re.search(r"\d+ rows/s \([\d.]+ KB/s\)", page)
    (url,) = file_urls(editor.get(f"/monitor/runs/{run.run_id}/").content.decode())
    (output,) = ActivityRun.objects.get(pipeline_run=run, parent=None).output["tables"]
    on_disk = (seeded / "output" / output["files"][0]).read_bytes()
    preview = text(editor.get(url))
    assert "2 rows shown" in preview and "<td>update</td>" in preview and "<td>new</td>" in preview
    download = editor.get(url + "download")
    assert download["Content-Disposition"] == f'attachment; filename="{Path(output["files"][0]).name}"'
    assert body(download) == on_disk


def test_viewers_and_operators_see_the_path_but_cannot_open_the_file(viewer, operator, editor, seeded):
    run = sync_twice(seeded)
    (url,) = file_urls(editor.get(f"/monitor/runs/{run.run_id}/").content.decode())
    (output,) = ActivityRun.objects.get(pipeline_run=run, parent=None).output["tables"]
    for client in (viewer, operator):
        page = client.get(f"/monitor/runs/{run.run_id}/").content.decode()
        assert file_urls(page) == [] and f'<code class="file">{output["files"][0]}</code>' in page
        assert client.get(url).status_code == 403 and client.get(url + "download").status_code == 403


def test_a_plain_copy_shows_no_change_tracking_mode(editor, seeded):
    run = trigger_run(Pipeline.objects.get(name="IncrementalCopyPipeline"))
    copy = ActivityRun.objects.get(pipeline_run=run, activity_name="IncrementalCopyActivity", parent=None)
    assert "changeTracking" not in copy.output and "throughput" in copy.output
    page = text(editor.get(f"/monitor/runs/{run.run_id}/"))
    assert "mode full" not in page and '"mode": "full"' not in page and "Copy:</strong> 0 rows read" in page


def test_a_file_is_named_by_its_number_in_the_output_never_by_a_path(editor, seeded):
    run = sync_twice(seeded)
    activity = ActivityRun.objects.get(pipeline_run=run, parent=None)
    base = f"/monitor/runs/{run.run_id}/files/{activity.pk}"
    assert editor.get(f"{base}/1/").status_code == 404  # the activity lists one file
    assert editor.get(f"{base}/-1/").status_code == 404
    assert editor.get(f"{base}/0/?path=/etc/passwd").status_code == 200  # other parameters are ignored
    other = trigger_run(Pipeline.objects.get(name="FullCopyPipeline"))
    assert editor.get(f"/monitor/runs/{other.run_id}/files/{activity.pk}/0/").status_code == 404


@pytest.mark.parametrize("listed", ["/etc/passwd", "{root}/../../outside.csv", "{root}/../sibling/x.csv", "x.csv"])
def test_a_tampered_output_path_outside_the_sink_is_not_served(editor, seeded, listed):
    run = sync_twice(seeded)
    activity = ActivityRun.objects.get(pipeline_run=run, parent=None)
    root = str(seeded / "output")
    (seeded.parent / "outside.csv").write_text("secret\n")
    activity.output["tables"][0]["files"] = [listed.format(root=root)]
    activity.save(update_fields=["output"])
    url = f"/monitor/runs/{run.run_id}/files/{activity.pk}/0/"
    assert editor.get(url).status_code == 404 and editor.get(url + "download").status_code == 404


def test_a_listed_file_outside_the_datasets_folder_is_not_served(editor, seeded):
    run = sync_twice(seeded)
    activity = ActivityRun.objects.get(pipeline_run=run, parent=None)
    elsewhere = seeded / "output" / "elsewhere.csv"
    elsewhere.write_text("not from this dataset\n")
    activity.output["tables"][0]["files"] = [str(elsewhere)]
    activity.save(update_fields=["output"])
    assert editor.get(f"/monitor/runs/{run.run_id}/files/{activity.pk}/0/download").status_code == 404


def blob_objects(azurite, container: str, fmt: dict) -> None:
    """A blob linked service, a file dataset in ``container/exports`` and a Copy of the tutorial's table to it."""
    save_definition(
        "linkedService",
        {
            "name": "Blob",
            "properties": {
                "type": "AzureBlobStorage",
                "typeProperties": {"connectionString": {"type": "SecureString", "value": azurite.connection_string}},
            },
        },
    )
    location = {"type": "AzureBlobStorageLocation", "container": container, "folderPath": "exports"}
    dataset = {"location": location, **fmt.get("typeProperties", {})}
    save_definition(
        "dataset",
        {
            "name": "BlobOut",
            "properties": {
                "type": fmt["type"],
                "linkedServiceName": {"referenceName": "Blob", "type": "LinkedServiceReference"},
                "typeProperties": dataset,
            },
        },
    )
    copy = {
        "name": "ToBlob",
        "type": "Copy",
        "typeProperties": {"source": {"type": "SqliteSource"}, "sink": {"type": f"{fmt['type']}Sink"}},
        "inputs": [{"referenceName": "SourceDataset", "type": "DatasetReference"}],
        "outputs": [{"referenceName": "BlobOut", "type": "DatasetReference"}],
    }
    save_definition("pipeline", {"name": "Export", "properties": {"activities": [copy]}})


CSV_GZ = {
    "type": "DelimitedText",
    "typeProperties": {"columnDelimiter": ",", "firstRowAsHeader": True, "compressionCodec": "gzip"},
}
PARQUET = {"type": "Parquet", "typeProperties": {}}


@pytest.mark.parametrize("fmt", [CSV_GZ, PARQUET], ids=["csv.gz", "parquet"])
def test_a_blob_file_previews_and_downloads_byte_for_byte(editor, seeded, azurite, blob_container, fmt):
    blob_objects(azurite, blob_container, fmt)
    run = trigger_run(Pipeline.objects.get(name="Export"))
    run.refresh_from_db()
    assert run.status == "Succeeded", run.message
    (shown,) = ActivityRun.objects.get(pipeline_run=run, parent=None).output["files"]
    assert shown.startswith(f"{blob_container}/exports/")
    with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        blob = service.get_blob_client(blob_container, shown.split("/", 1)[1]).download_blob().readall()
    (url,) = file_urls(editor.get(f"/monitor/runs/{run.run_id}/").content.decode())
    assert body(editor.get(url + "download")) == blob
    preview = text(editor.get(url))
    assert '<th scope="col">PersonID</th>' in preview and "<td>eeee</td>" in preview and "5 rows shown" in preview
    if fmt is CSV_GZ:
        assert gzip.decompress(blob).startswith(b"PersonID,Name,Age")


def test_a_blob_in_another_container_is_not_served(editor, seeded, azurite, blob_container):
    blob_objects(azurite, blob_container, CSV_GZ)
    run = trigger_run(Pipeline.objects.get(name="Export"))
    activity = ActivityRun.objects.get(pipeline_run=run, parent=None)
    activity.output["files"] = ["other-container/exports/x.csv.gz"]
    activity.save(update_fields=["output"])
    assert editor.get(f"/monitor/runs/{run.run_id}/files/{activity.pk}/0/download").status_code == 404


def test_a_link_in_the_sink_pointing_outside_is_not_followed(editor, seeded):
    run = sync_twice(seeded)
    activity = ActivityRun.objects.get(pipeline_run=run, parent=None)
    listed = Path(activity.output["tables"][0]["files"][0])
    listed = listed if listed.is_absolute() else seeded / "output" / listed
    (seeded.parent / "outside.csv").write_text("secret,row\n")
    link = listed.parent / "link.csv"
    link.symlink_to(seeded.parent / "outside.csv")
    activity.output["tables"][0]["files"] = [str(link)]
    activity.save(update_fields=["output"])
    url = f"/monitor/runs/{run.run_id}/files/{activity.pk}/0/"
    assert editor.get(url).status_code == 404 and editor.get(url + "download").status_code == 404


@pytest.mark.parametrize("name", ['a"\r\nSet-Cookie: x=1.csv', "tab\tle\n.csv", "données.csv"])
def test_a_file_name_with_quotes_or_newlines_downloads_with_a_safe_header(editor, seeded, name):
    run = sync_twice(seeded)
    activity = ActivityRun.objects.get(pipeline_run=run, parent=None)
    listed = Path(activity.output["tables"][0]["files"][0])
    listed = listed if listed.is_absolute() else seeded / "output" / listed
    odd = listed.parent / name
    odd.write_bytes(b"id\n1\n")
    activity.output["tables"][0]["files"] = [str(odd)]
    activity.save(update_fields=["output"])
    download = editor.get(f"/monitor/runs/{run.run_id}/files/{activity.pk}/0/download")
    assert body(download) == b"id\n1\n"
    header = download["Content-Disposition"]
    assert header.startswith("attachment; filename") and "\n" not in header and "\r" not in header
    assert "Set-Cookie" not in download.headers or "x=1" not in download.headers["Set-Cookie"]
