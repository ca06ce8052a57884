"""Helpers for the transient and hot-spot tests (issue 9)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))


def load(path):
    """A case file (study "transient" or "hotspot")."""
    from femsim.case import load_case

    return load_case(path)


@pytest.fixture(scope="session")
def hotspot_case():
    return load(ROOT / "cases" / "hotspot_large_mesa.toml")


@pytest.fixture(scope="session")
def transient_case():
    return load(ROOT / "cases" / "transient_mesa_pulses.toml")


def with_geometry(case, **changes):
    """A copy of ``case`` with geometry parameters replaced (SI)."""
    g = case.geometry.model_copy(update=changes)
    return case.model_copy(update={"geometry": g})


def fitted_order(h, err):
    """Slope of log(err) against log(h), least squares."""
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])
