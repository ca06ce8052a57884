"""Helpers shared by the transient and hot-spot tests (a module of its own: "conftest" is
ambiguous when several test directories are collected together)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def load(path):
    """A case file (study "transient" or "hotspot")."""
    from femsim.case import load_case

    return load_case(path)


def with_geometry(case, **changes):
    """A copy of ``case`` with geometry parameters replaced (SI)."""
    g = case.geometry.model_copy(update=changes)
    return case.model_copy(update={"geometry": g})


def fitted_order(h, err):
    """Slope of log(err) against log(h), least squares."""
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])
