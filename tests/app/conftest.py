"""App test set-up: a whole installed portal, the ADF JSON test data, and the seeded tutorial."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from tests.factories import ADF_DATA
from tests.fixtures.portal import Portal


@pytest.fixture
def portal(tmp_path):
    """A whole portal installed in ``tmp_path`` with the tutorial seeded (no worker, no web server yet)."""
    installed = Portal(tmp_path)
    installed.manage("migrate", "--noinput")
    installed.manage("seed_tutorial")
    yield installed
    installed.stop()


@pytest.fixture
def studio_folder() -> Path:
    """The tutorial's objects as ADF Studio saves them."""
    return ADF_DATA / "studio"


@pytest.fixture
def powershell_folder() -> Path:
    """The tutorial's objects as the PowerShell edition publishes them (legacy form)."""
    return ADF_DATA / "published-powershell"


@pytest.fixture
def seeded(tmp_path: Path, settings: Any) -> Path:
    """The tutorial seeded into ``tmp_path``, runs carried out inline."""
    settings.CTPORTAL_TASKS_INLINE = True
    call_command("seed_tutorial", "--dir", str(tmp_path))
    return tmp_path
