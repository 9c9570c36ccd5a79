"""The local-folder sink (ADF's FileServer), the embedded default: files appear by atomic rename."""

from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from syncjobs.engine.errors import TerminalError, TransientError

# A writer's hidden temporary file: ".<name>.<random>.part", next to the final file.
TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.part$")


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
    """One file being written to a hidden temporary file, renamed into place on commit."""

    def __init__(self, final_path: str) -> None:
        self.bytes_written = 0
        self._final_path = final_path
        folder, name = os.path.split(final_path)
        self._temp_path = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.part")
        try:
            fd = os.open(self._temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise _folder_error(exc, "cannot create a file in", folder) from None
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
        self._publish(os.replace, "cannot commit")
        return self._final_path

    def commit_exclusive(self) -> bool:
        """Like ``commit``, but by a hard link that fails (False, nothing replaced) when the file exists."""
        try:
            self._publish(os.link, "cannot create")
        except FileExistsError:
            return False
        finally:
            self.abort()  # the temporary name goes; a linked file stays
        return True

    def _publish(self, put: Callable[[str, str], None], action: str) -> None:
        """Make the bytes durable, then put the temporary file at the final name (``os.replace``/``os.link``)."""
        if self._done:
            raise TerminalError("writer_closed", "this file was already committed or aborted")
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            put(self._temp_path, self._final_path)
        except FileExistsError:
            raise
        except OSError as exc:
            self.abort()
            raise _folder_error(exc, action, self._final_path) from None
        self._done = True
        _fsync_folder(os.path.dirname(self._final_path))

    def abort(self) -> None:
        """Close and remove the temporary file; safe to call twice."""
        self._done = True
        self._file.close()
        try:
            os.unlink(self._temp_path)
        except FileNotFoundError:
            pass


class FolderSink:
    """Writes files under a local root folder, creating folders as needed."""

    supports_append = False
    """Files are written whole; a second commit of a path replaces the file."""

    def __init__(self, config: FolderConfig) -> None:
        self.config = config
        self._root = os.path.abspath(config.root)

    def test_connection(self) -> None:
        """Check the root exists and a file can be created in it."""
        if not os.path.isdir(self._root):
            raise TerminalError("folder_missing", f"folder {self._root} does not exist")
        FolderWriter(os.path.join(self._root, "connection-test")).abort()

    def open(self, path: str, *, block_bytes: int | None = None) -> FolderWriter:
        """Start writing ``path`` (relative to the root); its folders are created now (no blocks here)."""
        final_path = self._resolve(path)
        folder = os.path.dirname(final_path)
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise _folder_error(exc, "cannot create folder", folder) from None
        self._check_inside_root(folder, path)
        return FolderWriter(final_path)

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """Write ``data`` to a hidden file, then hard-link it to ``path``: link fails when ``path`` exists.

        A link never replaces a file (``rename`` would), and ``path`` appears with all its bytes at once.
        """
        writer = self.open(path)
        writer.write(data)
        return writer.commit_exclusive()

    def delete(self, path: str) -> None:
        """Remove a committed file (missing: nothing happens)."""
        final_path = self._resolve(path)
        self._check_inside_root(os.path.dirname(final_path), path)
        try:
            os.unlink(final_path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _folder_error(exc, "cannot delete", final_path) from None

    def list_folders(self, prefix: str) -> list[str]:
        """The folders directly inside ``prefix`` (a folder path ending with ``/``)."""
        folder = self._resolve(prefix.rstrip("/")) if prefix.strip("/") else self._root
        self._check_inside_root(folder, prefix)
        try:
            return sorted(e.name for e in os.scandir(folder) if e.is_dir(follow_symlinks=False))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def read(self, path: str) -> bytes:
        """Return a committed file's bytes."""
        final_path = self._resolve(path)
        self._check_inside_root(os.path.dirname(final_path), path)
        try:
            with open(final_path, "rb") as file:
                return file.read()
        except OSError as exc:
            raise _folder_error(exc, "cannot read", final_path) from None

    def list(self, prefix: str = "") -> list[str]:
        """Committed files (``folder/name``, slash-separated) whose path starts with ``prefix``, sorted."""
        found = []
        start = self._root
        folder = prefix.rstrip("/") if prefix.endswith("/") else prefix.rpartition("/")[0]
        if folder.strip("/"):  # walk only the prefix's own folder: a sink holds thousands of windows
            start = self._resolve(folder)
            self._check_inside_root(start, prefix)
        for folder, _dirs, names in os.walk(start):
            relative_folder = os.path.relpath(folder, self._root)
            for name in names:
                if TEMP_NAME.match(name):
                    continue
                relative = name if relative_folder == "." else f"{relative_folder}/{name}"
                relative = relative.replace(os.sep, "/")
                if relative.startswith(prefix):
                    found.append(relative)
        return sorted(found)

    def close(self) -> None:
        """Nothing to release: files are closed by their writers."""

    def _resolve(self, path: str) -> str:
        return os.path.join(self._root, *relative_parts(path))

    def _check_inside_root(self, folder: str, path: str) -> None:
        # Symlinked folders under the root must not lead outside it.
        real_root = os.path.realpath(self._root)
        real_folder = os.path.realpath(folder)
        if real_folder != real_root and not real_folder.startswith(real_root + os.sep):
            raise TerminalError("invalid_path", f"path leaves the sink's root through a link: {path!r}")


def _folder_error(exc: OSError, action: str, where: str) -> TerminalError | TransientError:
    """Map an OS error to an engine error with a reason code."""
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


def _fsync_folder(folder: str) -> None:
    """Make the rename durable; some file systems cannot fsync a folder, which is harmless here."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
