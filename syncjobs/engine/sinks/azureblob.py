"""The Azure Blob Storage sink: blocks are staged in the background, then committed as one blob.

Its connector declaration (type names, location, form) is on :class:`AzureBlobSink`.
"""

from __future__ import annotations

import builtins
import mimetypes
import re
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings, ExponentialRetry

from syncjobs.engine.connectors import Connector, FieldCheck, FormField, LinkedServiceType, secret_value
from syncjobs.engine.errors import EngineError, TerminalError
from syncjobs.engine.secret import Secret
from syncjobs.engine.sinks.azureblob_errors import engine_error

MIB = 1024 * 1024
CONTAINER_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$|^\$root$|^\$web$")


@dataclass(frozen=True)
class AzureBlobConfig:
    """How to reach a storage account: a connection string, an account URL and key, or a SAS URL.

    ``container`` fixes the container; paths are then ``folder/name``. Without it, a path's first
    segment is the container (``container/folder/name``). A container-level ``sas_url`` fixes it too.
    """

    connection_string: Secret = field(default_factory=lambda: Secret(""))
    account_url: str = ""
    account_key: Secret = field(default_factory=lambda: Secret(""))
    sas_url: Secret = field(default_factory=lambda: Secret(""))
    container: str = ""
    create_container: bool = False
    max_concurrency: int = 4
    block_size: int = 4 * MIB  # the SDK's own default: on Azurite 2 MiB blocks took 8% longer for 193 MB
    retries: int = 3
    connect_timeout: float = 20.0
    read_timeout: float = 120.0

    def __post_init__(self) -> None:
        if sum(bool(x) for x in (self.connection_string, self.account_url, self.sas_url)) != 1:
            raise TerminalError("invalid_config", "give exactly one of connection string, account URL or SAS URL")
        if self.account_url and not self.account_key:
            raise TerminalError("invalid_config", "an account URL needs an account key")
        if self.max_concurrency < 1 or self.block_size < 1:
            raise TerminalError("invalid_config", "max_concurrency and block_size must be positive")

    @classmethod
    def from_connection_string(cls, connection_string: str | Secret, **options: Any) -> AzureBlobConfig:
        """Build a config from a storage connection string (``UseDevelopmentStorage=true`` is Azurite)."""
        secret = connection_string if isinstance(connection_string, Secret) else Secret(connection_string)
        return cls(connection_string=secret, **options)

    @property
    def endpoint(self) -> str:
        """The account or container URL, safe to show (no key, no SAS signature)."""
        if self.account_url:
            return self.account_url
        if self.sas_url:
            return without_signature(self.sas_url.reveal())
        settings = dict(
            part.split("=", 1) for part in self.connection_string.reveal().split(";") if "=" in part.strip()
        )
        settings = {key.strip().lower(): value for key, value in settings.items()}
        if settings.get("usedevelopmentstorage", "").lower() == "true":
            return "http://127.0.0.1:10000/devstoreaccount1"
        if "blobendpoint" in settings:
            return without_signature(settings["blobendpoint"])
        suffix = settings.get("endpointsuffix", "core.windows.net")
        return f"{settings.get('defaultendpointsprotocol', 'https')}://{settings.get('accountname', '?')}.blob.{suffix}"


def _config(tp: dict[str, Any], quick: bool = False) -> AzureBlobConfig:
    """The config of a linked service's typeProperties; ``quick``: no retries and short timeouts (Test connection)."""
    options: dict[str, Any] = {"create_container": True}
    if quick:
        options.update(retries=0, connect_timeout=5.0, read_timeout=10.0)
    if tp.get("connectionString"):
        return AzureBlobConfig.from_connection_string(secret_value(tp["connectionString"]), **options)
    if tp.get("sasUri"):
        return AzureBlobConfig(sas_url=Secret(secret_value(tp["sasUri"])), **options)
    raise TerminalError("bad_linked_service", "AzureBlobStorage needs a connectionString or a sasUri")


def without_signature(url: str) -> str:
    """Drop the query (a SAS token, whose ``sig=`` is a secret) from a URL before showing it."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class AzureBlobWriter:
    """One blob being written: full blocks upload in the background while the caller keeps writing.

    Memory stays under ``block_size * (max_concurrency + 1)``: one block filling, at most
    ``max_concurrency`` uploading. Nothing is visible until ``commit`` puts the block list.
    """

    def __init__(self, blob: Any, display_path: str, config: AzureBlobConfig) -> None:
        self.bytes_written = 0
        self._blob = blob
        self._path = display_path
        self._block_size = config.block_size
        self._buffer = bytearray()
        self._block_ids: list[str] = []
        self._prefix = uuid.uuid4().hex  # block ids of two writers of one blob never collide
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self._pool = ThreadPoolExecutor(config.max_concurrency, thread_name_prefix="blob-stage")
        self._futures: list[Future[None]] = []
        self._failure: EngineError | None = None
        self._done = False

    def write(self, data: bytes) -> None:
        """Append bytes; full blocks are staged in the background (a failed upload raises here)."""
        self._check_open()
        view = memoryview(data)
        while view:
            room = self._block_size - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) >= self._block_size:
                self._stage_buffer()
        self.bytes_written += len(data)

    def commit(self) -> str:
        """Stage the last block, wait for every upload, then commit the block list in order."""
        self._check_open()
        if self._buffer:
            self._stage_buffer()
        for future in self._futures:
            future.exception()  # wait; failures are recorded by _stage
        self._pool.shutdown(wait=True)
        if self._failure is not None:
            self._done = True
            raise self._failure
        content_type = mimetypes.guess_type(self._path)[0] or "application/octet-stream"
        try:
            self._blob.commit_block_list(self._block_ids, content_settings=ContentSettings(content_type=content_type))
        except Exception as exc:  # every driver failure becomes an engine error
            self._done = True
            raise engine_error(exc, f"cannot commit {self._path}") from None
        self._done = True
        return self._path

    def abort(self) -> None:
        """Stop further uploads; staged blocks are never committed and expire on their own."""
        self._done = True
        self._buffer = bytearray()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _check_open(self) -> None:
        if self._failure is not None:
            self.abort()
            raise self._failure
        if self._done:
            raise TerminalError("writer_closed", f"{self._path} was already committed or aborted")

    def _stage_buffer(self) -> None:
        block, self._buffer = bytes(self._buffer), bytearray()
        block_id = f"{self._prefix}-{len(self._block_ids):08d}"
        self._block_ids.append(block_id)
        self._slots.acquire()  # the bound on memory: wait while max_concurrency blocks are in flight
        if self._failure is not None:
            self._slots.release()
            self._check_open()
        self._futures.append(self._pool.submit(self._stage, block_id, block))

    def _stage(self, block_id: str, block: bytes) -> None:
        try:
            if self._failure is None and not self._done:
                self._blob.stage_block(block_id, block, length=len(block))
        except Exception as exc:  # recorded here, raised in the caller's thread
            if self._failure is None:
                self._failure = engine_error(exc, f"cannot upload {self._path}")
        finally:
            self._slots.release()


class AzureBlobSink(Connector):
    """Writes blobs to an Azure Storage account (or Azurite)."""

    is_source = False
    linked_service_types = (
        LinkedServiceType("AzureBlobStorage", "Azure Blob Storage", dataset="AzureBlobStorageLocation",
                          write_settings="AzureBlobStorageWriteSettings", has_container=True, legacy=("AzureStorage",),
                          legacy_datasets=("AzureBlob",), legacy_copy=("BlobSink",)),
    )  # fmt: skip
    form = (
        FormField("connectionString", "Connection string",
                  help="account key or SAS; 'UseDevelopmentStorage=true' is Azurite"),
        FormField("sasUri", "Or: SAS URI", help="an account or container URL with a SAS token"),
    )  # fmt: skip

    def __init__(self, config: AzureBlobConfig) -> None:
        self.config = config
        self._service: BlobServiceClient | None = None
        self._fixed: ContainerClient | None = None
        self._created: set[str] = set()
        self._lock = threading.Lock()
        options: dict[str, Any] = {
            "retry_policy": ExponentialRetry(initial_backoff=1, increment_base=3, retry_total=config.retries),
            "connection_timeout": config.connect_timeout,
            "read_timeout": config.read_timeout,
        }
        try:
            if config.connection_string:
                self._service = BlobServiceClient.from_connection_string(config.connection_string.reveal(), **options)
            elif config.account_url:
                self._service = BlobServiceClient(config.account_url, config.account_key.reveal(), **options)
            elif _sas_container(config.sas_url.reveal()):
                self._fixed = ContainerClient.from_container_url(config.sas_url.reveal(), **options)
            else:
                self._service = BlobServiceClient(config.sas_url.reveal(), **options)
        except Exception as exc:  # the SDK raises ValueError on malformed input
            raise engine_error(exc, f"cannot use the storage account {config.endpoint}") from None
        self._default_container = self._fixed.container_name if self._fixed else config.container

    @classmethod
    def from_type_properties(cls, tp: dict[str, Any], *, name: str = "?", quick: bool = False) -> AzureBlobSink:
        """A ``connectionString`` or a ``sasUri``; containers are made as needed. Paths: ``container/folder/name``."""
        return cls(_config(tp, quick))

    @classmethod
    def check_type_properties(cls, tp: dict[str, Any], check: FieldCheck) -> None:
        """A connection string, a SAS URI or a service endpoint is required."""
        if not any(tp.get(k) for k in ("connectionString", "sasUri", "serviceEndpoint")):
            check.add("connectionString", "required (or sasUri, or serviceEndpoint)")

    @classmethod
    def where(cls, tp: dict[str, Any]) -> str:
        """The account or container URL (no key, no SAS signature)."""
        try:
            return _config(tp).endpoint
        except EngineError:
            return "(connection string)"

    def test_connection(self) -> None:
        """List one blob of the container (or one container of the account)."""
        try:
            if self._fixed is not None or self._default_container:
                client = self._container(self._default_container)
                next(iter(client.list_blobs(results_per_page=1).by_page()), None)
            else:
                assert self._service is not None
                next(iter(self._service.list_containers(results_per_page=1).by_page()), None)
        except Exception as exc:
            raise engine_error(exc, f"cannot reach {self.config.endpoint}") from None

    def open(self, path: str, *, block_bytes: int | None = None) -> AzureBlobWriter:
        """Start writing ``path`` (``container/folder/name``, or ``folder/name`` under a fixed container).

        ``block_bytes`` replaces the config's block size for this blob.
        """
        container, name = self._split(path)
        client = self._container(container)
        if self.config.create_container and container not in self._created:
            self._create(client, container)
        config = replace(self.config, block_size=block_bytes) if block_bytes else self.config
        return AzureBlobWriter(client.get_blob_client(name), f"{container}/{name}", config)

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """One Put Blob with ``If-None-Match: *`` (the SDK's ``overwrite=False``): False when the blob exists."""
        container, name = self._split(path)
        client = self._container(container)
        if self.config.create_container and container not in self._created:
            self._create(client, container)
        content = ContentSettings(content_type=mimetypes.guess_type(name)[0] or "application/octet-stream")
        try:
            client.get_blob_client(name).upload_blob(data, overwrite=False, content_settings=content)
        except ResourceExistsError:
            return False
        except Exception as exc:
            raise engine_error(exc, f"cannot create {container}/{name}") from None
        return True

    def delete(self, path: str) -> None:
        """Delete a blob (missing: nothing happens)."""
        container, name = self._split(path)
        try:
            self._container(container).get_blob_client(name).delete_blob()
        except ResourceNotFoundError:
            pass
        except Exception as exc:
            raise engine_error(exc, f"cannot delete {container}/{name}") from None

    def list_folders(self, prefix: str) -> list[str]:
        """The virtual folders directly under ``prefix`` (listed with the ``/`` delimiter)."""
        container, name = self._split(prefix.rstrip("/") + "/_")
        folder = name[: -len("_")]
        try:
            items = self._container(container).walk_blobs(name_starts_with=folder, delimiter="/")
            return sorted(i.name[len(folder) :].rstrip("/") for i in items if i.name.endswith("/"))
        except ResourceNotFoundError:
            return []
        except Exception as exc:
            raise engine_error(exc, f"cannot list {container}/{folder}") from None

    def read(self, path: str) -> bytes:
        """Return a committed blob's bytes."""
        container, name = self._split(path)
        try:
            return self._container(container).get_blob_client(name).download_blob().readall()
        except Exception as exc:
            raise engine_error(exc, f"cannot read {container}/{name}") from None

    def read_chunks(self, path: str, chunk_bytes: int = MIB) -> Iterator[bytes]:
        """Yield a committed blob's bytes, one ranged GET of ``chunk_bytes`` at a time (memory stays bounded)."""
        container, name = self._split(path)
        blob = self._container(container).get_blob_client(name)
        try:
            size = blob.get_blob_properties().size
            for offset in range(0, size, chunk_bytes):
                yield blob.download_blob(offset=offset, length=min(chunk_bytes, size - offset)).readall()
        except Exception as exc:
            raise engine_error(exc, f"cannot read {container}/{name}") from None

    def local_path(self, shown: str) -> str:
        """``shown`` is ``container/folder/name``; under a fixed container, its container segment is dropped."""
        parts, fixed = _blob_parts(shown), self._default_container
        if fixed and (len(parts) < 2 or parts[0] != fixed):
            raise TerminalError("invalid_path", f"{shown!r} is not in the container {fixed}")
        return "/".join(parts[1:] if fixed else parts)

    def list(self, prefix: str = "") -> list[str]:
        """Committed blob paths starting with ``prefix``, in the form ``open`` takes, sorted."""
        if self._default_container:
            return sorted(self._names(self._default_container, prefix, ""))
        container, _, name_prefix = prefix.partition("/")
        if "/" in prefix:
            return sorted(self._names(container, name_prefix, f"{container}/"))
        assert self._service is not None
        try:
            containers = [c.name for c in self._service.list_containers(name_starts_with=container)]
        except Exception as exc:
            raise engine_error(exc, f"cannot list containers of {self.config.endpoint}") from None
        return sorted(path for c in containers for path in self._names(c, "", f"{c}/"))

    def close(self) -> None:
        """Close the HTTP clients."""
        for client in (self._service, self._fixed):
            if client is not None:
                client.close()

    def _names(self, container: str, name_prefix: str, shown_prefix: str) -> builtins.list[str]:
        try:
            blobs = self._container(container).list_blobs(name_starts_with=name_prefix or None)
            return [shown_prefix + blob.name for blob in blobs]
        except Exception as exc:
            raise engine_error(exc, f"cannot list {container}/{name_prefix}") from None

    def _split(self, path: str) -> tuple[str, str]:
        parts = _blob_parts(path)
        if self._default_container:
            return self._default_container, "/".join(parts)
        if len(parts) < 2:
            raise TerminalError("invalid_path", f"path must be container/folder/name: {path!r}")
        return parts[0], "/".join(parts[1:])

    def _container(self, container: str) -> ContainerClient:
        if not CONTAINER_NAME.match(container):
            raise TerminalError("invalid_path", f"not a valid container name: {container!r}")
        if self._fixed is not None:
            return self._fixed
        assert self._service is not None
        return self._service.get_container_client(container)

    def _create(self, client: ContainerClient, container: str) -> None:
        with self._lock:
            try:
                client.create_container()
            except ResourceExistsError:
                pass
            except Exception as exc:
                raise engine_error(exc, f"cannot create container {container}") from None
            self._created.add(container)


def _blob_parts(path: str) -> list[str]:
    """Split a blob path into segments; reject absolute paths, empty segments and ``..``."""
    if not path or path.startswith(("/", "\\")) or "\\" in path or "\x00" in path:
        raise TerminalError("invalid_path", f"path must be relative, with / between folders: {path!r}")
    parts = [part for part in path.split("/") if part != "."]
    if any(part in ("", "..") for part in parts) or len(path.encode()) > 1024:
        raise TerminalError("invalid_path", f"path has an empty or '..' segment, or is too long: {path!r}")
    return parts


def _sas_container(sas_url: str) -> str:
    """The container a SAS URL is scoped to, or "" for an account SAS (Azurite URLs hold the account first)."""
    segments = [s for s in urlsplit(sas_url).path.split("/") if s]
    host = urlsplit(sas_url).hostname or ""
    if re.match(r"^[\d.]+$|^localhost$", host):  # IP-style (emulator) URL: /account/container
        segments = segments[1:]
    return segments[0] if segments else ""
