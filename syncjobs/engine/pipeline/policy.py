"""An activity's ``policy``: retries, the interval between them, and the timeout."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.limits import RETRIES, RETRY_INTERVAL_SECONDS, TIMEOUT_SECONDS

DEFAULT_TIMEOUT_SECONDS = 12 * 3600  # ADF's default: 0.12:00:00
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class Policy:
    """How many attempts, how far apart, and how long each may take."""

    retries: int = 0
    interval_seconds: float = 30.0
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def of(cls, activity: dict[str, Any]) -> Policy:
        """The policy of an activity (ADF's defaults where absent)."""
        policy = activity.get("policy") or {}
        try:
            found = cls(
                retries=int(policy.get("retry", 0) or 0),
                interval_seconds=float(policy.get("retryIntervalInSeconds", 30) or 0),
                timeout_seconds=timespan_seconds(policy.get("timeout")),
            )
        except (TypeError, ValueError, OverflowError, AttributeError) as exc:
            raise TerminalError("bad_policy", f"activity {activity.get('name')}: bad policy ({exc})") from None
        found.check(str(activity.get("name")))
        return found

    def check(self, name: str) -> None:
        """Refuse bounds a save would have refused (for definitions stored before those checks)."""
        problems = []
        if not 0 <= self.retries <= RETRIES:
            problems.append(f"retry must be 0 to {RETRIES}")
        if not 0 <= self.interval_seconds <= RETRY_INTERVAL_SECONDS[1]:
            problems.append(f"retryIntervalInSeconds must be at most {RETRY_INTERVAL_SECONDS[1]}")
        if self.timeout_seconds > TIMEOUT_SECONDS:
            problems.append("timeout must be at most 7.00:00:00 (ADF's limit)")
        if problems:
            raise TerminalError("bad_policy", f"activity {name}: {'; '.join(problems)}")


def timespan_seconds(text: Any) -> float:
    """``d.hh:mm:ss`` in seconds; ADF's default when absent."""
    if text in (None, ""):
        return DEFAULT_TIMEOUT_SECONDS
    match = _TIMESPAN.match(str(text).strip())
    if not match:
        raise ValueError(f"timeout {text!r} is not d.hh:mm:ss")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds
