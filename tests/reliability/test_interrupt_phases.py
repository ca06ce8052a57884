"""Ctrl-C in every phase of a FEM run keeps the curves of every converged point and exits
130; --resume continues exactly, respects every stop condition and, once the sweep has
finished, only redoes the post-processing. The checkpoint is one atomic file.

The interrupt is placed in a phase by making the function of that phase raise
KeyboardInterrupt, which is what Python's SIGINT handler does at that moment (the real
signal, delivered to a subprocess, is tested in test_interrupt.py)."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import femsim.fem
import femsim.studies.fem as study
from femsim import cli

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "tests" / "data" / "tiny_fem_mesa.toml"   # 4 points, the trace stops at T_max_limit


def rows(path):
    with open(path) as f:
        r = list(csv.reader(f))
    return r[0], np.array(r[1:], dtype=float)


def run(out, *extra, quiet=True):
    return cli.main(["-q"] * quiet + ["run", str(CASE), "--out", str(out), *extra])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    assert run(out) == 0
    return out


def status(out):
    return json.loads((out / "summary.json").read_text())["status"]


def assert_same_curves(out, ref):
    h_ref, c_ref = rows(ref / "curves.csv")
    h, c = rows(out / "curves.csv")
    assert h == h_ref and c.shape == c_ref.shape     # as many points: no step past a stop condition
    for k, name in enumerate(h):
        if "balance" in name:                # round-off residuals (~1e-16): small, not equal
            assert np.nanmax(c[:, k]) <= 1e-12, name
            continue
        # a continued trace recomputes its tangents: equal to round-off, not to the bit
        assert np.allclose(c[:, k], c_ref[:, k], rtol=1e-8, atol=0, equal_nan=True), name


def interrupt_on_call(monkeypatch, module, name, when=lambda n, *a, **k: True):
    """``module.name`` raises KeyboardInterrupt on the calls ``when`` picks."""
    real, calls = getattr(module, name), []

    def wrapper(*a, **k):
        calls.append(1)
        if when(len(calls), *a, **k):
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_interrupt_with_only_the_zero_bias_point_keeps_it_and_skips_the_plots(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    interrupt_on_call(monkeypatch, study, "_checkpoint")     # right after the zero-bias point
    assert run(out) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "interrupted" in err
    assert status(out) == "interrupted"
    h, c = rows(out / "curves.csv")
    assert len(c) == 1 and c[0, h.index("I [A]")] == 0.0
    summary = json.loads((out / "summary.json").read_text())
    assert "at least 2" in summary["plots_skipped"] and not list((out / "plots").glob("*.png"))


def test_interrupt_before_the_first_solve_writes_nothing_and_keeps_an_earlier_run(tmp_path, monkeypatch, capsys):
    from femsim.results import ResultDir

    out = tmp_path / "run"
    with ResultDir(out) as earlier:
        earlier.text("curves.csv", "earlier results\n")
    interrupt_on_call(monkeypatch, study, "build_mesh")
    assert run(out, "--overwrite") == 130
    assert "nothing was written" in capsys.readouterr().err
    assert (out / "curves.csv").read_text() == "earlier results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["lumped_comparison", "plots"])
def test_interrupt_after_the_sweep_keeps_the_curves_and_resume_only_postprocesses(
        tmp_path, monkeypatch, capsys, reference, phase):
    out = tmp_path / "run"
    if phase == "lumped_comparison":
        interrupt_on_call(monkeypatch, femsim.fem, "compare_with_lumped")
    else:
        import femsim.postprocess.plots as plots

        interrupt_on_call(monkeypatch, plots, "make_plots")
    assert run(out) == 130
    assert "Traceback" not in capsys.readouterr().err
    assert status(out) == "interrupted"
    _, pts_ref = rows(reference / "points.csv")
    h, c = rows(out / "curves.csv")               # every converged point
    assert len(c) == len(pts_ref)
    assert np.array_equal(c[:, h.index("I [A]")], pts_ref[:, 0])
    monkeypatch.undo()
    assert run(out, "--resume", quiet=False) == 0
    assert "post-processing only" in capsys.readouterr().err
    assert status(out) == "complete"
    assert_same_curves(out, reference)
    assert list((out / "plots").glob("*.png"))


@pytest.mark.slow
def test_kill_after_the_last_point_resume_respects_the_stop_condition(tmp_path, monkeypatch, reference):
    """Killed after the final point's checkpoint, before the sweep could say it had
    finished: --resume must not step past T_max_limit."""
    out = tmp_path / "run"
    interrupt_on_call(monkeypatch, study, "_checkpoint", when=lambda n, *a, finished=False: finished)
    assert run(out) == 130
    monkeypatch.undo()
    assert run(out, "--resume") == 0 and status(out) == "complete"
    assert_same_curves(out, reference)
    limit = 17.0
    h, c = rows(out / "curves.csv")
    assert np.sum(c[:, h.index("T_max [K]")] >= limit) == 1   # one point past the limit ends the trace


@pytest.mark.slow
def test_a_kill_while_the_checkpoint_is_written_resumes_to_the_same_curve(tmp_path, monkeypatch, reference):
    """The checkpoint is one file replaced atomically: a process killed while writing it
    (here: dies half-way through the third) leaves the previous one whole."""
    out = tmp_path / "run"
    real, calls = np.savez, []

    def dies_on_third(f, **arrays):
        calls.append(1)
        if len(calls) == 3:
            f.write(b"PK\x03\x04 half a zip")
            raise SystemExit("killed")          # no bookkeeping at all, as after SIGKILL
        return real(f, **arrays)

    monkeypatch.setattr(study.np, "savez", dies_on_third)
    with pytest.raises(SystemExit):
        run(out)
    monkeypatch.undo()
    assert status(out) == "running"
    assert [p.name for p in (out / "resume").iterdir()] == ["checkpoint.npz"]
    assert run(out, "--resume") == 0 and status(out) == "complete"
    assert_same_curves(out, reference)
