"""Study runners: case -> problem -> solver -> `StudyResult`.

A study never writes plots (postprocess does) and never touches the results directory
layout beyond handing datasets to `femsim.results.ResultDir`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import xarray as xr

#: study kind -> module with `run(case, out) -> StudyResult`
STUDIES = {"lumped": "femsim.studies.lumped", "fem": "femsim.studies.fem", "rf": "femsim.studies.rf",
           "transient": "femsim.studies.transient", "hotspot": "femsim.studies.transient"}


@dataclass
class StudyResult:
    """What a study produced: curve datasets by file stem, key figures for summary.json."""

    datasets: dict[str, xr.Dataset] = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    status: str = "complete"
    message: str = ""


def runner(kind: str):
    return importlib.import_module(STUDIES[kind]).run


def prepare(case):
    """The study's set-up up to its first solve, with every check a run makes before it
    (`femsim check` calls this); None for studies whose case validation is all of it."""
    if case.study in ("fem", "transient", "hotspot"):
        from .fem import prepare as prepare_fem

        if case.study != "fem":
            from ..case.transient import check_case
            check_case(case)
        return prepare_fem(case, calibrate=False)
    return None
