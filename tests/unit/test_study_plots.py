"""Each study kind declares the plots postprocess draws of its result (femsim.runner.PLOTS)."""

from femsim import runner
from femsim.studies import STUDIES


def test_every_study_kind_declares_its_plots():
    assert set(runner.PLOTS) == set(STUDIES)
    assert all(draws and all(callable(d) for d in draws) for draws in runner.PLOTS.values())
