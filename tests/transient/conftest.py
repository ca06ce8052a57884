"""Fixtures for the transient and hot-spot tests (issue 9); helpers in transient_helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from transient_helpers import ROOT, load  # noqa: E402


@pytest.fixture(scope="session")
def hotspot_case():
    return load(ROOT / "cases" / "hotspot_large_mesa.toml")


@pytest.fixture(scope="session")
def transient_case():
    return load(ROOT / "cases" / "transient_mesa_pulses.toml")
