"""Sweep scale-out: BLAS/OpenMP threads capped per worker (threadpoolctl), and the Dask
path on a real distributed.LocalCluster giving what the local process pool gives."""

import json
from pathlib import Path

import numpy as np
import pytest

import femsim.sweep as sweep_mod
from femsim.sweep import blas_threads, sweep, thread_cap

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "cases" / "fig5_threshold.toml"
PARAMS = ["hA=2uW/K,5uW/K,8uW/K"]


def _tiny(tmp_path) -> Path:
    """fig5 with one bath temperature and no plots: a member runs in about a second."""
    text = CASE.read_text().replace('T_bath = ["20 K", "40 K", "60 K"]', 'T_bath = "20 K"')
    assert text != CASE.read_text()
    p = tmp_path / "tiny.toml"
    p.write_text(text + "\n[outputs]\nplots = false\n")
    return p


def test_cores_are_shared_out_among_concurrent_members():
    assert blas_threads(2, cores=8) == 4
    assert blas_threads(3, cores=8) == 2
    assert blas_threads(4, cores=2) == 1     # never zero
    assert blas_threads(1, cores=6) == 6


def test_thread_cap_limits_every_loaded_library_and_restores_it():
    with thread_cap(None) as before:
        base = before()
    assert any(k.startswith("openblas") or k.startswith("mkl") for k in base)
    for n in (1, 3):
        with thread_cap(n) as report:
            inside = report()
        assert inside and set(inside.values()) == {n}, inside
    with thread_cap(None) as after:
        assert {k: v for k, v in after().items() if k in base} == base


def test_local_pool_members_run_with_their_share_of_the_cores(tmp_path, monkeypatch):
    # 6 cores, 2 workers: 3 threads per member, unlike any library default here (1, 2 or
    # the core count), so the report shows the cap was applied in the worker process
    monkeypatch.setattr(sweep_mod, "_cores", lambda: 6)
    outcome = sweep(_tiny(tmp_path), PARAMS, tmp_path / "sw", workers=2)
    assert outcome.status == "complete"
    book = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    for m in book["members"]:
        assert m["blas_threads"] and set(m["blas_threads"].values()) == {3}, m


def test_dask_local_cluster_gives_the_local_pool_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    case = _tiny(tmp_path)
    local = sweep(case, PARAMS, tmp_path / "pool", workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster:
        remote = sweep(case, PARAMS, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert local.status == remote.status == "complete"
    a, b = local.dataset, remote.dataset
    assert set(a.data_vars) == set(b.data_vars) and len(a.data_vars) > 3
    for v in a.data_vars:
        assert a[v].dims == b[v].dims
        if a[v].dtype.kind == "f":
            assert np.array_equal(a[v].values, b[v].values, equal_nan=True), v
        else:
            assert (a[v].values == b[v].values).all(), v
    book = json.loads((tmp_path / "dask" / "sweep.json").read_text())
    assert book["scheduler"] == cluster.scheduler_address
    # two single-threaded workers on this machine: each task gets its share of the cores
    expected = blas_threads(2, sweep_mod._cores())
    for m in book["members"]:
        assert set(m["blas_threads"].values()) == {expected}, m
