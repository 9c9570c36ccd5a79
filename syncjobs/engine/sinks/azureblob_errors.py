"""Azure Storage's errors as engine errors: a reason code by HTTP status and error code, secrets scrubbed."""

from __future__ import annotations

import re

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from syncjobs.engine.errors import EngineError, TerminalError, TransientError


def scrub(text: str) -> str:
    """Remove SAS signatures and account keys from a driver message."""
    text = re.sub(r"(?i)(sig=)[^&\s;\"']+", r"\1***", text)
    return re.sub(r"(?i)(AccountKey=)[^;\s\"']+", r"\1***", text)


def engine_error(exc: Exception, action: str) -> EngineError:
    """Map an azure-storage-blob exception to an engine error with a reason code."""
    if isinstance(exc, EngineError):
        return exc
    detail = scrub(str(exc))[:2000]
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        # azure-storage sets error_code on the errors it raises; azure-core's own have none.
        code, status = str(getattr(exc, "error_code", None) or ""), exc.status_code
        if code == "ContainerNotFound":
            return TerminalError("container_missing", f"{action}: the container does not exist", detail=detail)
        if status in (401, 403):
            return TerminalError("auth_failed", f"{action}: access denied ({code or status})", detail=detail)
        if status == 404:
            return TerminalError("not_found", f"{action}: not found ({code or status})", detail=detail)
        if status in (408, 504) or code == "OperationTimedOut":
            return TransientError("timeout", f"{action}: the service timed out ({code or status})", detail=detail)
        if status in (429, 500, 503):
            return TransientError("throttled", f"{action}: the service is busy ({code or status})", detail=detail)
        return TerminalError("storage_error", f"{action}: the service refused ({code or status})", detail=detail)
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        if "timed out" in detail.lower() or "timeout" in type(exc).__name__.lower():
            return TransientError("timeout", f"{action}: the connection timed out", detail=detail)
        return TransientError("refused", f"{action}: cannot reach the storage account", detail=detail)
    if isinstance(exc, ValueError):
        return TerminalError("invalid_config", f"{action}: {scrub(str(exc))}")
    return TerminalError("storage_error", f"{action}: {type(exc).__name__}", detail=detail)
