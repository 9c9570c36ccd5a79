"""The scale suite's figures, printed at the end of the session."""

from __future__ import annotations

import pytest

FIGURES: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Wall times of the ticks measured."""
    if FIGURES:
        terminalreporter.section("runs at scale")
        for figure in FIGURES:
            terminalreporter.write_line(figure)
