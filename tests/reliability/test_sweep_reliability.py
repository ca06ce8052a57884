"""`femsim sweep` reliability (issue 17): the safe reader and quantity guard of `run`,
--workers checked, errors that cross process boundaries intact, a failing member
recorded while the others finish, SIGINT that stops the pool and writes the gathered
sweep, and Dask's clear failures."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from femsim.cli import main
from femsim.errors import MISSING, CaseError, ConvergenceError, OutOfRangeError
from femsim.results import read_dataset
from femsim.sweep import _check_shared, sweep
from femsim.geometries import GeometryError

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "cases" / "fig5_threshold.toml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}


def _sweep_cli(args, capsys) -> tuple[int, str]:
    try:
        code = main(["-q", "sweep", *map(str, args)])
    except SystemExit as e:   # argparse
        code = e.code
    return code, capsys.readouterr().err.strip()


# ------------------------------------------------------------------ errors between processes

@pytest.mark.parametrize("err", [CaseError("fem.thermal.cooling", [0.0], "a heat path", "c.toml"),
                                 CaseError("geometry", MISSING, "a table"),
                                 ConvergenceError("no convergence", bias=1e-3, history=[1.0, 0.5]),
                                 OutOfRangeError("T = 500 K outside 4 K .. 300 K"),
                                 GeometryError("file", "m.msh", "a mesh file")])
def test_errors_survive_a_pickle_round_trip(err):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err) and vars(back).keys() == vars(err).keys()
    if isinstance(err, CaseError):
        assert (back.path, back.expected, back.source) == (err.path, err.expected, err.source)
        assert (back.value is MISSING) == (err.value is MISSING)
    if isinstance(err, ConvergenceError):
        assert (back.bias, back.history) == (err.bias, err.history)


# ------------------------------------------------------------------ reading the case, parameters, workers

def test_sweep_reads_the_case_with_the_safe_reader(tmp_path, capsys):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    (tmp_path / "syntax.toml").write_text('schema_version = 1\nstudy = "lumped\n')
    (tmp_path / "latin1.toml").write_bytes('title = "café"\n'.encode("latin-1"))
    for case, fragment in ((fifo, "regular file"), ("/dev/zero", "regular file"),
                           (tmp_path / "syntax.toml", "line 2"), (tmp_path / "latin1.toml", "UTF-8")):
        code, err = _sweep_cli([case, "--param", "T_bath=4K,5K", "--out", tmp_path / "o"], capsys)
        assert code == 2 and len(err.splitlines()) == 1 and fragment in err, (case, err)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("spec, fragment", [("T_bath=9**9**9 K", "small exponents"),
                                            ("T_bath=9**9**9K:10K:3", "small exponents"),
                                            ("T_bath=4K:5K:100000000000", "at most 10000"),
                                            ("T_bath=nan K", "--param")])
def test_parameters_go_through_the_quantity_guard(tmp_path, capsys, spec, fragment):
    code, err = _sweep_cli([CASE, "--param", spec, "--out", tmp_path / "o"], capsys)
    assert code == 2 and fragment in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("workers", ["-1", "0", "two"])
def test_workers_must_be_a_positive_integer(tmp_path, capsys, workers):
    code, err = _sweep_cli([CASE, "--param", "T_bath=4K,5K", "--workers", workers, "--out", tmp_path / "o"], capsys)
    assert code == 2 and "expected a positive integer" in err
    with pytest.raises(CaseError, match="positive integer"):
        sweep(CASE, ["T_bath=4K,5K"], tmp_path / "o", workers=0)
    assert not (tmp_path / "o").exists()


def test_a_grid_with_invalid_members_is_refused_whole_before_anything_runs(tmp_path):
    with pytest.raises(CaseError) as e:
        sweep(CASE, ["T_bath=20K,-5K,-7K"], tmp_path / "o", workers=1)
    assert "2 of 3 members are invalid; nothing was run" in str(e.value) and "-5 K" in str(e.value)
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ failing members, interrupts

def _tiny_lumped(tmp_path) -> Path:
    """A lumped case that runs in about a second (few points, no plots)."""
    text = CASE.read_text().replace('T_bath = ["20 K", "40 K", "60 K"]', 'T_bath = "20 K"')
    p = tmp_path / "tiny.toml"
    p.write_text(text + "\n[outputs]\nplots = false\n")
    return p


def test_a_member_failing_in_a_worker_is_recorded_and_the_others_finish(tmp_path, monkeypatch):
    """A CaseError raised inside a pool worker (as a meshing or well-posedness error is)
    used to break the pool: the good member was killed and no sweep.json written."""
    import femsim.studies.lumped as study

    real = study.run

    def run(case, out=None):
        if case.lumped.hA > 5e-6:
            raise CaseError("fem.thermal.cooling", [0.0], "a heat path to the bath (test)")
        return real(case, out)

    monkeypatch.setattr(study, "run", run)   # the forked workers inherit it
    outcome = sweep(_tiny_lumped(tmp_path), ["hA=2uW/K,8uW/K"], tmp_path / "sw", workers=2)
    assert outcome.status == "partial" and outcome.exit_code == 1
    book = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    statuses = {tuple(m["index"]): (m["status"], m["message"]) for m in book["members"]}
    assert statuses[(0,)] == ("complete", None)
    assert statuses[(1,)][0] == "invalid" and "fem.thermal.cooling" in statuses[(1,)][1]
    ds = read_dataset(tmp_path / "sw" / "sweep.nc")
    assert list(ds["status"].values) == ["complete", "invalid"] and "heat path" in str(ds["message"].values[1])
    assert float(ds["T_mean"].isel(lumped_hA=0).max()) > 20.0
    assert bool(ds["T_mean"].isel(lumped_hA=1).isnull().all())


def test_sigint_stops_the_pool_and_writes_the_gathered_sweep(tmp_path):
    """A real `femsim sweep` process: SIGINT after the first member finished stops the
    rest promptly (exit 130) and sweep.json records every member's state."""
    case = _tiny_lumped(tmp_path)
    out = tmp_path / "sw"
    p = subprocess.Popen([sys.executable, "-m", "femsim.cli", "-q", "sweep", str(case), "--param",
                          "hA=2uW/K:8uW/K:40", "--workers", "2", "--out", str(out)],
                         env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        # a member is done once its report is written (its summary says "complete" already
        # before the plots, which a Ctrl-C may still interrupt)
        while not any(json.loads(s.read_text()).get("status") == "complete"
                      for s in out.glob("member_*/summary.json")
                      if s.stat().st_size and (s.parent / "report.md").is_file()):
            assert p.poll() is None and time.monotonic() < deadline, p.communicate()
            time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    book = json.loads((out / "sweep.json").read_text())
    states = [m["status"] for m in book["members"]]
    assert book["status"] == "interrupted" and "complete" in states and states.count("not run") >= 30, states
    assert (out / "sweep.nc").exists()


# ------------------------------------------------------------------ Dask

def test_an_unreachable_scheduler_is_one_line_and_leaves_nothing(tmp_path, capsys):
    pytest.importorskip("distributed")
    code, err = _sweep_cli([CASE, "--param", "hA=2uW/K,4uW/K", "--scheduler", "tcp://127.0.0.1:1",
                            "--out", tmp_path / "o"], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "--scheduler" in err and "no connection within" in err
    assert not (tmp_path / "o").exists()


def test_workers_that_cannot_see_the_results_directory_are_refused(tmp_path):
    class Client:   # the two calls _check_shared makes of a distributed.Client
        class scheduler:
            address = "tcp://x:8786"

        def run(self, fn, path, token):
            return {"tcp://a:1": fn(path, token), "tcp://b:2": fn(str(tmp_path / "elsewhere"), token)}

    with pytest.raises(CaseError) as e:
        _check_shared(Client(), tmp_path)
    assert e.value.path == "--out" and "1 of 2 workers cannot" in str(e.value) and "tcp://b:2" in str(e.value)
    assert not list(tmp_path.iterdir())   # the probe file is removed


@pytest.mark.slow
def test_dask_cluster_resolves_a_relative_out_on_the_client(tmp_path):
    """A scheduler and a worker in another working directory: a relative --out lands in
    the client's directory, and the members run on the worker."""
    pytest.importorskip("distributed")
    exe = Path(sys.executable).with_name("dask")
    wdir = tmp_path / "worker_cwd"
    wdir.mkdir()
    procs = [subprocess.Popen([str(exe), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(tmp_path / "s.json")], cwd=tmp_path, env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "s.json").exists():
            assert time.monotonic() < deadline
            time.sleep(0.2)
        procs.append(subprocess.Popen([str(exe), "worker", "--scheduler-file", str(tmp_path / "s.json"),
                                       "--nworkers", "1", "--nthreads", "1", "--no-dashboard"], cwd=wdir, env=ENV,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        address = json.loads((tmp_path / "s.json").read_text())["address"]
        case = _tiny_lumped(tmp_path)
        time.sleep(3)
        r = subprocess.run([sys.executable, "-m", "femsim.cli", "-q", "sweep", str(case), "--param", "hA=2uW/K,4uW/K",
                            "--scheduler", address, "--out", "rel_out"], cwd=tmp_path, env=ENV,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        book = json.loads((tmp_path / "rel_out" / "sweep.json").read_text())
        assert [m["status"] for m in book["members"]] == ["complete", "complete"]
        assert not (wdir / "rel_out").exists()
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
