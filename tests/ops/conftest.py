"""Fixtures of the operations tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ops.sentinel import SentinelSetup


@pytest.fixture
def ha(tmp_path: Path) -> Iterator[SentinelSetup]:
    """A primary, a replica and three sentinels on loopback (``tests/ops/sentinel.py``)."""
    setup = SentinelSetup(tmp_path / "ha")
    setup.start()
    try:
        yield setup
    finally:
        setup.stop()
