"""What the emulated change tracking of PostgreSQL and SQLite snapshots has in common."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any


class EmulatedTrackingSnapshot:
    """Restore identity and ``CHANGE_TRACKING_CURRENT_VERSION()`` over the portal's side tables.

    A subclass sets ``_tracking`` (its ``*_tracking`` module of SQL builders) and ``_null_version`` (a
    typed NULL in its dialect), and provides ``tracking_installed`` and ``rows``.
    """

    _tracking: ModuleType
    _null_version: str

    tracking_installed: Callable[[], bool]
    rows: Callable[..., list[tuple[Any, ...]]]

    def database_identity(self, version: int) -> str:
        """``<database id>:<nonce of the newest commit at or below version>``; differs after a restore."""
        if not self.tracking_installed():
            return ""
        database_id, nonce = self.rows(self._tracking.identity_sql(), (version,))[0]
        return f"{database_id}:{0 if version <= 0 else nonce or 'expired'}"

    def current_version_sql(self) -> str:
        """CHANGE_TRACKING_CURRENT_VERSION() in SQL (NULL before tracking is installed, as on SQL Server)."""
        return self._tracking.current_version_sql() if self.tracking_installed() else self._null_version
