"""Sinks: one suite over the folder sink and Azure Blob (on a real Azurite), then each sink's own cases."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from syncjobs.engine.connectors import connector_for
from syncjobs.engine.errors import EngineError, TerminalError, TransientError
from syncjobs.engine.secret import Secret
from syncjobs.engine.sinks import Sink
from syncjobs.engine.sinks.azureblob import AzureBlobConfig, AzureBlobSink
from syncjobs.engine.sinks.folder import FolderConfig, FolderSink
from tests.fixtures.azurite import fresh_container_name

KIB = 1024
SMALL_BLOCK = 64 * KIB
ONE_MB = os.urandom(1024 * KIB)


def azurite_config(azurite, **options) -> AzureBlobConfig:
    """A config for the session's Azurite with small blocks so a test file spans many of them."""
    options = {"block_size": SMALL_BLOCK, "retries": 1, **options}
    return AzureBlobConfig.from_connection_string(azurite.connection_string, **options)


def write_in_chunks(writer, data: bytes, chunk: int = 10_000) -> None:
    """Write like a format does: many small chunks that do not line up with blocks."""
    for start in range(0, len(data), chunk):
        writer.write(data[start : start + chunk])


@pytest.fixture(params=["folder", "azurite"])
def sink(request, tmp_path):
    """Each sink, rooted in a fresh folder or container; paths are ``folder/name`` for both."""
    if request.param == "folder":
        made = FolderSink(FolderConfig(root=str(tmp_path)))
    else:
        azurite = request.getfixturevalue("azurite")
        made = AzureBlobSink(azurite_config(azurite, container=request.getfixturevalue("blob_container")))
    yield made
    made.close()


# --- every sink ---------------------------------------------------------------------------------


def test_sinks_implement_the_protocol_and_are_registered(sink):
    assert isinstance(sink, Sink)
    assert connector_for("FileServer") is FolderSink
    assert connector_for("AzureBlobStorage") is AzureBlobSink


def test_a_committed_file_holds_exactly_the_written_bytes(sink):
    writer = sink.open("out/data.bin")
    write_in_chunks(writer, ONE_MB)
    shown = writer.commit()
    assert shown.endswith("out/data.bin")
    assert writer.bytes_written == len(ONE_MB)
    assert sink.read("out/data.bin") == ONE_MB
    assert sink.list() == ["out/data.bin"]


def test_nothing_is_listed_before_commit(sink):
    writer = sink.open("out/pending.csv")
    write_in_chunks(writer, ONE_MB[: 3 * SMALL_BLOCK + 5])
    assert sink.list() == []
    writer.commit()
    assert sink.list() == ["out/pending.csv"]


def test_an_aborted_file_leaves_nothing(sink):
    writer = sink.open("out/aborted.csv")
    write_in_chunks(writer, ONE_MB)
    writer.abort()
    writer.abort()
    assert sink.list() == []


def test_an_exception_half_way_leaves_nothing_visible(sink):
    def copy() -> None:
        writer = sink.open("out/broken.csv")
        try:
            write_in_chunks(writer, ONE_MB)
            raise RuntimeError("the source went away")
        except BaseException:
            writer.abort()
            raise

    with pytest.raises(RuntimeError):
        copy()
    assert sink.list() == []
    with pytest.raises(TerminalError) as raised:
        sink.read("out/broken.csv")
    assert raised.value.reason == "not_found"


def test_a_second_commit_of_the_same_path_replaces_the_file(sink):
    first = sink.open("out/table.csv")
    first.write(b"old,old\n" * 20_000)
    first.commit()
    second = sink.open("out/table.csv")
    second.write(b"new\n")
    assert sink.read("out/table.csv") == b"old,old\n" * 20_000
    second.commit()
    assert sink.read("out/table.csv") == b"new\n"
    assert sink.list() == ["out/table.csv"]


def test_an_exclusive_create_never_replaces_a_file(sink):
    assert sink.create_exclusive("w/g0001/0-5/_manifest.json", b'{"first": true}') is True
    assert sink.create_exclusive("w/g0001/0-5/_manifest.json", b'{"second": true}') is False
    assert sink.read("w/g0001/0-5/_manifest.json") == b'{"first": true}'
    assert sink.list("w/") == ["w/g0001/0-5/_manifest.json"]


def test_of_two_racing_exclusive_creates_exactly_one_wins(sink):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda i: sink.create_exclusive("race/_manifest.json", b"%d" % i), range(8)))
    assert won.count(True) == 1
    assert sink.read("race/_manifest.json") == b"%d" % won.index(True)


def test_a_deleted_file_is_gone_and_deleting_a_missing_one_is_no_error(sink):
    sink.create_exclusive("d/one.csv", b"1")
    sink.delete("d/one.csv")
    sink.delete("d/one.csv")
    assert sink.list("d/") == []
    with pytest.raises(EngineError) as caught:
        sink.read("d/one.csv")
    assert caught.value.reason == "not_found"


def test_folders_directly_under_a_prefix_are_listed(sink):
    for path in ("t/g0001/a/x.csv", "t/g0002/b/y.csv", "t/g0002/c/z.csv", "t/file.csv", "other/g0009/q.csv"):
        sink.create_exclusive(path, b"x")
    assert sink.list_folders("t/") == ["g0001", "g0002"]
    assert sink.list_folders("nothing/here/") == []


def test_an_empty_file_is_committed_empty(sink):
    writer = sink.open("out/empty.csv")
    writer.commit()
    assert sink.read("out/empty.csv") == b""
    assert sink.list() == ["out/empty.csv"]


def test_nested_folders_are_created_and_listed_by_prefix(sink):
    for path in ["adftutorial/incchgtracking/a.csv", "adftutorial/incchgtracking/deep/b.csv", "other/c.csv"]:
        writer = sink.open(path)
        writer.write(path.encode())
        writer.commit()
    assert sink.list("adftutorial/") == ["adftutorial/incchgtracking/a.csv", "adftutorial/incchgtracking/deep/b.csv"]
    assert sink.read("adftutorial/incchgtracking/deep/b.csv") == b"adftutorial/incchgtracking/deep/b.csv"


def test_names_with_spaces_and_non_ascii_round_trip(sink):
    path = "Données clients/Incrémental 2024 – café ☕.csv"
    writer = sink.open(path)
    writer.write("é,ü\n".encode())
    writer.commit()
    assert sink.list() == [path]
    assert sink.read(path) == "é,ü\n".encode()


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.csv", "out/../../outside.csv", "..", ""])
def test_paths_that_escape_the_root_are_rejected(sink, path):
    with pytest.raises(TerminalError) as raised:
        sink.open(path)
    assert raised.value.reason == "invalid_path"
    assert sink.list() == []


def test_a_writer_refuses_writes_after_commit(sink):
    writer = sink.open("out/once.csv")
    writer.write(b"x")
    writer.commit()
    with pytest.raises(TerminalError) as raised:
        writer.write(b"y")
    assert raised.value.reason == "writer_closed"
    assert sink.read("out/once.csv") == b"x"


def test_test_connection_passes_on_a_reachable_store(sink):
    sink.test_connection()


# --- folder sink ----------------------------------------------------------------------------------


def test_folder_writes_to_a_hidden_temporary_file_beside_the_final_one(tmp_path):
    sink = FolderSink(FolderConfig(root=str(tmp_path)))
    writer = sink.open("out/table.csv")
    writer.write(b"a,b\n")
    hidden = os.listdir(tmp_path / "out")
    assert len(hidden) == 1 and hidden[0].startswith(".table.csv.") and hidden[0].endswith(".part")
    assert writer.commit() == str(tmp_path / "out" / "table.csv")
    assert os.listdir(tmp_path / "out") == ["table.csv"]
    assert (tmp_path / "out" / "table.csv").read_bytes() == b"a,b\n"


def test_folder_rejects_a_link_that_leads_outside_the_root_and_creates_no_folder_there(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    sink = FolderSink(FolderConfig(root=str(root)))
    for path in ("escape/file.csv", "escape/made/by/copy/file.pth"):
        with pytest.raises(TerminalError) as raised:
            sink.open(path)
        assert raised.value.reason == "invalid_path"
    assert os.listdir(outside) == []


def test_folder_never_writes_or_reads_through_a_file_link(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside.txt"
    root.mkdir()
    outside.write_bytes(b"untouched")
    (root / "data.csv").symlink_to(outside)
    sink = FolderSink(FolderConfig(root=str(root)))
    with pytest.raises(TerminalError) as raised:
        sink.read("data.csv")
    assert raised.value.reason == "invalid_path"
    writer = sink.open("data.csv")
    writer.write(b"new")
    writer.commit()
    assert outside.read_bytes() == b"untouched"
    assert not (root / "data.csv").is_symlink() and sink.read("data.csv") == b"new"


def test_folder_lists_nothing_behind_a_link(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (outside / "secrets").mkdir(parents=True)
    (outside / "secrets" / "id_rsa").write_bytes(b"key")
    (outside / "passwd").write_bytes(b"root:x")
    root.mkdir()
    (root / "etc").symlink_to(outside)
    (root / "passwd").symlink_to(outside / "passwd")
    (root / "mine.csv").write_bytes(b"a")
    assert FolderSink(FolderConfig(root=str(root))).list() == ["mine.csv"]


def test_folder_test_connection_reports_a_missing_folder(tmp_path):
    sink = FolderSink(FolderConfig(root=str(tmp_path / "nowhere")))
    with pytest.raises(TerminalError) as raised:
        sink.test_connection()
    assert raised.value.reason == "folder_missing"


def _reason_as_unprivileged_user(root: Path) -> str:
    """Run ``test_connection`` in a forked child that is not root (root ignores file modes)."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        reason = "passed"
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            FolderSink(FolderConfig(root=str(root))).test_connection()
        except EngineError as exc:
            reason = exc.reason
        finally:
            os.write(write_end, reason.encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        reason = pipe.read().decode()
    os.waitpid(child, 0)
    return reason


def test_folder_test_connection_reports_a_folder_it_cannot_write():
    base = Path(tempfile.mkdtemp(prefix="ctportal-sink-"))  # not under tmp_path: pytest's folder is 0700
    try:
        base.chmod(0o755)
        root = base / "readonly"
        root.mkdir(mode=0o555)
        root.chmod(0o555)
        assert _reason_as_unprivileged_user(root) == "permission_denied"
        assert os.listdir(root) == []
    finally:
        (base / "readonly").chmod(0o755)
        shutil.rmtree(base)


# --- Azure Blob sink on Azurite -----------------------------------------------------------------


def test_blocks_upload_before_commit_yet_no_blob_is_visible(azurite, blob_container):
    sink = AzureBlobSink(azurite_config(azurite, container=blob_container, max_concurrency=2))
    writer = sink.open("out/staged.bin")
    write_in_chunks(writer, ONE_MB)
    blob = BlobServiceClient.from_connection_string(azurite.connection_string).get_blob_client(
        blob_container, "out/staged.bin"
    )
    # With two uploads in flight at most, 16 full blocks mean at least 14 were already staged.
    _committed, uncommitted = blob.get_block_list("uncommitted")
    assert len(uncommitted) >= 14
    assert not blob.exists()
    writer.abort()
    assert sink.list() == []
    sink.close()


def test_a_format_can_ask_for_its_own_block_size(azurite, blob_container):
    sink = AzureBlobSink(azurite_config(azurite, container=blob_container))
    blob = BlobServiceClient.from_connection_string(azurite.connection_string).get_blob_client
    for name, block_bytes, sizes in (("own.bin", None, {SMALL_BLOCK}), ("asked.bin", 256 * KIB, {256 * KIB})):
        writer = sink.open(f"out/{name}", block_bytes=block_bytes)
        write_in_chunks(writer, ONE_MB)
        writer.commit()
        committed, _ = blob(blob_container, f"out/{name}").get_block_list("committed")
        assert {block.size for block in committed} == sizes
        assert sink.read(f"out/{name}") == ONE_MB
    sink.close()


def test_paths_without_a_configured_container_start_with_the_container(azurite, blob_container):
    sink = AzureBlobSink(azurite_config(azurite))
    writer = sink.open(f"{blob_container}/incchgtracking/Incremental-1.txt")
    writer.write(b"1,a\n")
    assert writer.commit() == f"{blob_container}/incchgtracking/Incremental-1.txt"
    assert sink.list(f"{blob_container}/") == [f"{blob_container}/incchgtracking/Incremental-1.txt"]
    assert sink.list(blob_container) == [f"{blob_container}/incchgtracking/Incremental-1.txt"]
    assert sink.read(f"{blob_container}/incchgtracking/Incremental-1.txt") == b"1,a\n"
    sink.test_connection()
    sink.close()


def _sas_token(azurite, container: str) -> str:
    return generate_container_sas(
        azurite.account_name,
        container,
        account_key=azurite.account_key,
        permission=ContainerSasPermissions(read=True, write=True, list=True, create=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )


def _credentials(azurite, container: str, how: str) -> AzureBlobConfig:
    options = {"block_size": SMALL_BLOCK, "retries": 1}
    if how == "connection_string":
        return AzureBlobConfig.from_connection_string(azurite.connection_string, container=container, **options)
    if how == "account_key":
        key = Secret(azurite.account_key)
        return AzureBlobConfig(account_url=azurite.account_url, account_key=key, container=container, **options)
    sas_url = f"{azurite.account_url}/{container}?{_sas_token(azurite, container)}"
    return AzureBlobConfig(sas_url=Secret(sas_url), **options)


@pytest.mark.parametrize("how", ["connection_string", "account_key", "sas_url"])
def test_each_kind_of_credential_writes_to_azurite(azurite, blob_container, how):
    sink = AzureBlobSink(_credentials(azurite, blob_container, how))
    sink.test_connection()
    writer = sink.open("creds/file.csv")
    write_in_chunks(writer, ONE_MB[:200_000])
    assert writer.commit() == f"{blob_container}/creds/file.csv"
    assert sink.read("creds/file.csv") == ONE_MB[:200_000]
    assert sink.list("creds/") == ["creds/file.csv"]
    sink.close()


def test_a_wrong_account_key_is_auth_failed_and_never_shown(azurite, blob_container):
    wrong = "d3Jvbmcta2V5LXRoYXQtaXMtbG9uZy1lbm91Z2gtdG8tbG9vay1yZWFs" * 2
    connection = azurite.connection_string.replace(azurite.account_key, wrong)
    sink = AzureBlobSink(AzureBlobConfig.from_connection_string(connection, container=blob_container, retries=0))
    for attempt in (sink.test_connection, lambda: sink.open("x/y.csv").commit()):
        with pytest.raises(TerminalError) as raised:
            attempt()
        assert raised.value.reason == "auth_failed"
        assert wrong not in f"{raised.value} {raised.value.detail}"


def test_a_sas_signature_never_appears_in_errors(azurite):
    container = fresh_container_name()
    token = _sas_token(azurite, container)
    sink = AzureBlobSink(AzureBlobConfig(sas_url=Secret(f"{azurite.account_url}/{container}?{token}"), retries=0))
    signature = dict(part.split("=", 1) for part in token.split("&"))["sig"]
    with pytest.raises(TerminalError) as raised:
        sink.test_connection()
    assert raised.value.reason == "container_missing"
    assert signature not in f"{raised.value} {raised.value.detail} {sink.config!r} {sink.config.endpoint}"


def test_a_missing_container_is_container_missing_unless_created(azurite):
    container = fresh_container_name()
    sink = AzureBlobSink(azurite_config(azurite, container=container))
    with pytest.raises(TerminalError) as raised:
        sink.test_connection()
    assert raised.value.reason == "container_missing"
    writer = sink.open("a/b.csv")
    writer.write(b"x")
    with pytest.raises(TerminalError) as raised:
        writer.commit()
    assert raised.value.reason == "container_missing"

    creating = AzureBlobSink(azurite_config(azurite, container=container, create_container=True))
    for _ in range(2):  # the second open meets an existing container
        writer = creating.open("a/b.csv")
        writer.write(b"x")
        writer.commit()
    assert creating.read("a/b.csv") == b"x"


def test_azurite_stopping_mid_copy_is_transient_and_leaves_nothing(azurite, blob_container):
    sink = AzureBlobSink(azurite_config(azurite, container=blob_container, retries=0, max_concurrency=2))
    writer = sink.open("outage/file.bin")
    write_in_chunks(writer, ONE_MB[: 6 * SMALL_BLOCK])
    azurite.stop()
    try:
        with pytest.raises(TransientError) as raised:
            write_in_chunks(writer, ONE_MB)
            writer.commit()
        assert raised.value.reason == "refused"
        writer.abort()
    finally:
        azurite.start()
    after = AzureBlobSink(azurite_config(azurite, container=blob_container))
    assert after.list() == []
    with pytest.raises(TerminalError) as missing:
        after.read("outage/file.bin")
    assert missing.value.reason == "not_found"


def test_config_reprs_and_endpoints_show_no_secrets(azurite):
    sas = "https://acct.blob.core.windows.net/box?sv=2024-05-04&sp=rw&sig=SeCrEtSiG%3D"
    configs = [
        AzureBlobConfig.from_connection_string(azurite.connection_string),
        AzureBlobConfig(account_url="https://acct.blob.core.windows.net", account_key=Secret(azurite.account_key)),
        AzureBlobConfig(sas_url=Secret(sas)),
    ]
    for config in configs:
        shown = f"{config!r} {config} {config.endpoint}"
        assert azurite.account_key not in shown and "SeCrEtSiG" not in shown
    assert configs[0].endpoint == azurite.account_url
    assert configs[2].endpoint == "https://acct.blob.core.windows.net/box"


def test_development_storage_means_azurite_on_its_default_port():
    config = AzureBlobConfig.from_connection_string("UseDevelopmentStorage=true")
    assert config.endpoint == "http://127.0.0.1:10000/devstoreaccount1"
    sink = AzureBlobSink(config)
    assert sink._service is not None and sink._service.url.startswith("http://127.0.0.1:10000/devstoreaccount1")


def test_a_config_needs_exactly_one_way_in():
    with pytest.raises(EngineError) as raised:
        AzureBlobConfig()
    assert raised.value.reason == "invalid_config"
    with pytest.raises(EngineError):
        AzureBlobConfig(account_url="https://acct.blob.core.windows.net")


def test_a_committed_file_streams_back_in_chunks_through_the_path_commit_returned(sink):
    writer = sink.open("out/streamed.bin")
    write_in_chunks(writer, ONE_MB)
    path = sink.local_path(writer.commit())
    assert path == "out/streamed.bin"
    chunks = list(sink.read_chunks(path, chunk_bytes=100 * KIB))
    assert b"".join(chunks) == ONE_MB and max(map(len, chunks)) <= 100 * KIB and len(chunks) == 11


def test_reading_a_missing_file_in_chunks_says_not_found(sink):
    with pytest.raises(EngineError) as raised:
        next(iter(sink.read_chunks("out/missing.bin")))
    assert raised.value.reason == "not_found"


@pytest.mark.parametrize("shown", ["/etc/passwd", "../out/x.bin", "", "out/../../x.bin"])
def test_a_path_outside_the_sink_has_no_local_path(sink, shown):
    with pytest.raises(TerminalError) as raised:
        sink.local_path(shown)
    assert raised.value.reason == "invalid_path"


def test_a_blob_in_another_container_has_no_local_path_under_a_fixed_container(azurite, blob_container):
    sink = AzureBlobSink(azurite_config(azurite, container=blob_container))
    assert sink.local_path(f"{blob_container}/out/x.bin") == "out/x.bin"
    with pytest.raises(TerminalError):
        sink.local_path("other-container/out/x.bin")
