"""The local-folder sink (ADF's FileServer), the embedded default: files appear by atomic rename.

Everything below the root is reached through folder descriptors opened with ``O_NOFOLLOW``, one
component at a time: a symbolic link inside the root (to a folder or a file) is refused, never
followed, so no file is written, read, listed or created outside the root, not even a folder. The
root itself may be a link; whoever configures it (the portal) checks where it really points.
Its connector declaration (type names, location, form) is on :class:`FolderSink`.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from syncjobs.engine.connectors import Connector, FieldCheck, FormField, LinkedServiceType, required_text
from syncjobs.engine.errors import TerminalError, TransientError

# A writer's hidden temporary file: ".<name>.<random>.part", next to the final file.
TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.part$")
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class FolderConfig:
    """Where files go: ``root`` is ADF FileServer's ``host`` (a local directory)."""

    root: str


def relative_parts(path: str) -> tuple[str, ...]:
    """Split a sink path (``folder/name``) into its parts; reject absolute paths and ``..`` escapes."""
    text = path.replace("\\", "/")
    if not text or text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise TerminalError("invalid_path", f"path must be relative to the sink's root: {path!r}")
    parts = tuple(part for part in PurePosixPath(text).parts if part != ".")
    if not parts or ".." in parts:
        raise TerminalError("invalid_path", f"path must stay inside the sink's root: {path!r}")
    if "\x00" in text:
        raise TerminalError("invalid_path", f"path holds a NUL character: {path!r}")
    return parts


class FolderWriter:
    """One file being written to a hidden temporary file, renamed into place on commit.

    It owns ``folder_fd`` (the file's folder, opened without following links) and closes it when done.
    """

    def __init__(self, folder_fd: int, name: str, shown_path: str) -> None:
        self.bytes_written = 0
        self._folder_fd, self._name, self._final_path = folder_fd, name, shown_path
        self._temp_name = f".{name}.{secrets.token_hex(6)}.part"
        try:
            fd = os.open(self._temp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FILE_FLAGS, 0o666, dir_fd=folder_fd)
        except OSError as exc:
            os.close(folder_fd)
            raise _folder_error(exc, "cannot create a file in", os.path.dirname(shown_path)) from None
        self._file = os.fdopen(fd, "wb")
        self._done = False

    def write(self, data: bytes) -> None:
        """Append bytes to the temporary file."""
        if self._done:
            raise TerminalError("writer_closed", "this file was already committed or aborted")
        try:
            self._file.write(data)
        except OSError as exc:
            self.abort()
            raise _folder_error(exc, "cannot write", self._final_path) from None
        self.bytes_written += len(data)

    def commit(self) -> str:
        """Flush, fsync and rename the temporary file over the final name; return the final path."""
        self._publish(self._rename, "cannot commit")
        return self._final_path

    def commit_exclusive(self) -> bool:
        """Like ``commit``, but by a hard link that fails (False, nothing replaced) when the name exists."""
        try:
            self._publish(self._link, "cannot create")
        except FileExistsError:
            self.abort()
            return False
        return True

    def _rename(self) -> None:
        # rename() replaces a link at the final name itself; it never writes through it.
        os.replace(self._temp_name, self._name, src_dir_fd=self._folder_fd, dst_dir_fd=self._folder_fd)

    def _link(self) -> None:
        # link() never replaces anything: of two writers of one name, exactly one succeeds.
        os.link(
            self._temp_name, self._name, src_dir_fd=self._folder_fd, dst_dir_fd=self._folder_fd, follow_symlinks=False
        )
        os.unlink(self._temp_name, dir_fd=self._folder_fd)

    def _publish(self, put: Callable[[], None], action: str) -> None:
        """Make the bytes durable, then put the temporary file at the final name (``_rename``/``_link``)."""
        if self._done:
            raise TerminalError("writer_closed", "this file was already committed or aborted")
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            put()
        except FileExistsError:
            raise
        except OSError as exc:
            self.abort()
            raise _folder_error(exc, action, self._final_path) from None
        self._done = True
        _fsync_quietly(self._folder_fd)
        os.close(self._folder_fd)

    def abort(self) -> None:
        """Close and remove the temporary file; safe to call twice."""
        if self._file.closed and self._done:
            return
        self._done = True
        self._file.close()
        try:
            os.unlink(self._temp_name, dir_fd=self._folder_fd)
        except FileNotFoundError:
            pass
        finally:
            os.close(self._folder_fd)


class FolderSink(Connector):
    """Writes files under a local root folder, creating folders as needed (never through a link)."""

    is_source = False
    linked_service_types = (
        LinkedServiceType(
            "FileServer",
            "Folder (file system)",
            dataset="FileServerLocation",
            write_settings="FileServerWriteSettings",
            legacy_datasets=("FileShare",),
            legacy_copy=("FileSystemSink",),
        ),
    )
    form = (FormField("host", "Folder", "folder", required=True, help="absolute path on the worker"),)

    def __init__(self, config: FolderConfig) -> None:
        self.config = config
        self._root = os.path.abspath(config.root)

    @classmethod
    def from_type_properties(cls, tp: dict[str, Any], *, name: str = "?", quick: bool = False) -> FolderSink:
        """The folder ``host`` (the portal checks first that it lies inside the file roots)."""
        return cls(FolderConfig(root=required_text(tp, "host", name)))

    @classmethod
    def check_type_properties(cls, tp: dict[str, Any], check: FieldCheck) -> None:
        """``host`` is required, and should be an absolute path."""
        host = check.text("host")
        if host and not (host.startswith("/") or re.match(r"^[A-Za-z]:[\\/]|^\\\\", host)):
            check.add("host", "should be an absolute folder path", warning=True)

    def test_connection(self) -> None:
        """Check the root exists and a file can be created in it."""
        if not os.path.isdir(self._root):
            raise TerminalError("folder_missing", f"folder {self._root} does not exist")
        FolderWriter(
            self._open_folder((), path=""), "connection-test", os.path.join(self._root, "connection-test")
        ).abort()

    def open(self, path: str, *, block_bytes: int | None = None) -> FolderWriter:
        """Start writing ``path`` (relative to the root); its folders are created now (no blocks here)."""
        parts = relative_parts(path)
        folder_fd = self._open_folder(parts[:-1], path=path, create=True)
        return FolderWriter(folder_fd, parts[-1], os.path.join(self._root, *parts))

    def read(self, path: str) -> bytes:
        """Return a committed file's bytes."""
        parts = relative_parts(path)
        shown = os.path.join(self._root, *parts)
        folder_fd = self._open_folder(parts[:-1], path=path)
        try:
            with os.fdopen(os.open(parts[-1], os.O_RDONLY | _FILE_FLAGS, dir_fd=folder_fd), "rb") as file:
                return file.read()
        except OSError as exc:
            raise _folder_error(exc, "cannot read", shown, path) from None
        finally:
            os.close(folder_fd)

    def read_chunks(self, path: str, chunk_bytes: int = 1024 * 1024) -> Iterator[bytes]:
        """Yield a committed file's bytes in chunks, the file opened without following links."""
        parts = relative_parts(path)
        folder_fd = self._open_folder(parts[:-1], path=path)
        try:
            fd = os.open(parts[-1], os.O_RDONLY | _FILE_FLAGS, dir_fd=folder_fd)
        except OSError as exc:
            raise _folder_error(exc, "cannot read", os.path.join(self._root, *parts), path) from None
        finally:
            os.close(folder_fd)
        with os.fdopen(fd, "rb") as file:
            while chunk := file.read(chunk_bytes):
                yield chunk

    def local_path(self, shown: str) -> str:
        """``shown`` relative to the root: an absolute path under the root (``commit`` returns those), or
        already a relative one (change windows list theirs so)."""
        if not os.path.isabs(shown):
            return "/".join(relative_parts(shown))
        if not os.path.normpath(shown).startswith(self._root.rstrip(os.sep) + os.sep):
            raise TerminalError("invalid_path", f"{shown!r} is not inside the folder {self._root}")
        return "/".join(relative_parts(os.path.relpath(os.path.normpath(shown), self._root)))

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """Write ``data`` to a hidden file, then hard-link it to ``path``: the link fails when ``path`` exists.

        A link never replaces a file (``rename`` would), and ``path`` appears with all its bytes at once.
        """
        writer = self.open(path)
        writer.write(data)
        return writer.commit_exclusive()

    def delete(self, path: str) -> None:
        """Remove a committed file (missing: nothing happens); a link is removed, never followed."""
        parts = relative_parts(path)
        try:
            folder_fd = self._open_folder(parts[:-1], path=path)
        except TerminalError as exc:
            if exc.reason == "not_found":
                return
            raise
        try:
            os.unlink(parts[-1], dir_fd=folder_fd)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _folder_error(exc, "cannot delete", os.path.join(self._root, *parts), path) from None
        finally:
            os.close(folder_fd)

    def list_folders(self, prefix: str) -> list[str]:
        """The folders directly inside ``prefix`` (a folder path ending with ``/``); links are not listed."""
        parts = relative_parts(prefix.rstrip("/")) if prefix.strip("/") else ()
        folder_fd = self._folder_or_none(parts, prefix)
        if folder_fd is None:
            return []
        try:
            return sorted(e.name for e in os.scandir(folder_fd) if e.is_dir(follow_symlinks=False))
        finally:
            os.close(folder_fd)

    def list(self, prefix: str = "") -> list[str]:
        """Committed files (``folder/name``, slash-separated) whose path starts with ``prefix``, sorted.

        Only the prefix's own folder is walked (a sink holds thousands of windows). Links are neither
        listed nor followed, so nothing outside the root ever shows.
        """
        folder = prefix.rstrip("/") if prefix.endswith("/") else prefix.rpartition("/")[0]
        parts = relative_parts(folder) if folder.strip("/") else ()
        folder_fd = self._folder_or_none(parts, prefix)
        if folder_fd is None:
            return []
        try:
            below = "/".join(parts) + "/" if parts else ""
            found = [p for p in _files_below(folder_fd, below) if p.startswith(prefix)]
        finally:
            os.close(folder_fd)
        return sorted(found)

    def _folder_or_none(self, parts: tuple[str, ...], path: str) -> int | None:
        """``_open_folder`` for reading, or None when the folder (or the root) does not exist."""
        if not os.path.isdir(self._root):
            return None
        try:
            return self._open_folder(parts, path=path)
        except TerminalError as exc:
            if exc.reason == "not_found":
                return None
            raise

    def close(self) -> None:
        """Nothing to release: files are closed by their writers."""

    def _open_folder(self, parts: tuple[str, ...], *, path: str, create: bool = False) -> int:
        """A descriptor of ``root/parts``, walked one folder at a time without following links."""
        try:
            if create:
                os.makedirs(self._root, exist_ok=True)
            fd = os.open(self._root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise _folder_error(exc, "cannot open folder", self._root) from None
        for part in parts:
            try:
                if create:
                    with _ignoring(FileExistsError):
                        os.mkdir(part, dir_fd=fd)
                child = os.open(part, _FOLDER_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise _folder_error(exc, "cannot open folder", os.path.join(self._root, *parts), path) from None
            finally:
                os.close(fd)
            fd = child
        return fd


def _files_below(folder_fd: int, prefix: str) -> Iterator[str]:
    """Every regular file under ``folder_fd`` (temporary files and links skipped), as relative paths."""
    for entry in os.scandir(folder_fd):
        if entry.is_symlink() or TEMP_NAME.match(entry.name):
            continue
        relative = f"{prefix}{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            try:
                child = os.open(entry.name, _FOLDER_FLAGS, dir_fd=folder_fd)
            except OSError:
                continue  # replaced by a link meanwhile, or unreadable: not ours to show
            try:
                yield from _files_below(child, relative + "/")
            finally:
                os.close(child)
        elif stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
            yield relative


@contextmanager
def _ignoring(*errors: type[BaseException]) -> Iterator[None]:
    try:
        yield
    except errors:
        pass


def _folder_error(exc: OSError, action: str, where: str, path: str = "") -> TerminalError | TransientError:
    """Map an OS error to an engine error with a reason code."""
    if exc.errno in (errno.ELOOP, errno.ENOTDIR) and path:  # O_NOFOLLOW met a link (or a file stood in the way)
        return TerminalError("invalid_path", f"path leaves the sink's root through a link, or crosses a file: {path!r}")
    if isinstance(exc, PermissionError):
        return TerminalError("permission_denied", f"{action} {where}: permission denied")
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return TerminalError("not_found", f"{action} {where}: not found")
    if isinstance(exc, IsADirectoryError):
        return TerminalError("invalid_path", f"{action} {where}: it is a folder")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # space may be freed, so a retry can succeed
        return TransientError("disk_full", f"{action} {where}: no space left")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return TerminalError("permission_denied", f"{action} {where}: read-only file system")
    return TerminalError("io_error", f"{action} {where}: {exc.strerror or exc}")


def _fsync_quietly(folder_fd: int) -> None:
    """Make the rename durable; some file systems cannot fsync a folder, which is harmless here."""
    try:
        os.fsync(folder_fd)
    except OSError:
        pass
