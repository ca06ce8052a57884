"""Study runners: case -> problem -> solver -> `StudyResult`.

A study computes and returns data; it writes no file. Its `StudyResult` holds the curve
datasets, key figures and field snapshots, which the runner writes into the results
directory (`femsim.results.ResultDir.write_result`). A bias sweep, whose converged points
must be on disk the moment they converge (Ctrl-C, kill, --resume), sends them while it
runs to the sink the runner gives it (`femsim.results.StudySink`). Plots are drawn by
postprocess, as `femsim.runner.PLOTS` declares for each study kind.
"""

from __future__ import annotations

import importlib

from .result import FieldSnapshot, StudyResult  # noqa: F401  (the studies' return type)

#: study kind -> module with `run(case, sink) -> StudyResult`
STUDIES = {"lumped": "femsim.studies.lumped", "fem": "femsim.studies.fem", "rf": "femsim.studies.rf",
           "transient": "femsim.studies.transient", "hotspot": "femsim.studies.transient"}


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
