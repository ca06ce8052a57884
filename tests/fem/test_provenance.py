"""Provenance in summary.json (issue 18): the versions of the packages and native
libraries on the solve path, and the linear solver that actually solved each point."""

import importlib.metadata
import json

import pytest
import scipy.sparse as sp

from femsim.fem import AMGSolver, DirectSolver, ElectroThermalSolver, linalg
from femsim.fem.benchmark_problem import reference_1d, reference_box
from femsim.fem.continuation import natural_sweep
from femsim.provenance import SOLVE_PATH, versions


def test_versions_name_every_package_on_the_solve_path():
    v = versions()
    json.dumps(v)   # goes into summary.json as it is
    for dist in SOLVE_PATH:
        try:
            assert v[dist] == importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            assert v[dist] is None
    for dist in ("numpy", "scipy", "scikit-fem", "fenics-basix", "pyamg", "meshio", "xarray", "netCDF4"):
        assert v[dist], dist
    if linalg.PyPardisoSolver is not None:   # the MKL that PARDISO really runs on, not just the wheel's
        assert v["mkl-runtime"] and v["pypardiso"]
    assert v["netcdf-c"] and v["hdf5"]
    assert any(k.startswith("openblas (") or k == "mkl-runtime" for k in v)


def _laplacian(m=30):
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(m, m))
    return (sp.kron(T, sp.identity(m)) + sp.kron(sp.identity(m), T)).tocsr()


def test_solve_log_names_what_solved_since_the_last_take():
    A = _laplacian()
    ls = DirectSolver("superlu")
    log = linalg.SolveLog(ls)
    assert log.take() == ""
    ls(A, A @ A.diagonal())
    assert log.take() == "superlu"
    assert log.take() == ""                           # nothing solved since
    assert linalg.SolveLog(lambda A, b: b).take() == "<lambda>"   # a plain callable keeps no count


@pytest.mark.parametrize("make, expected", [
    (lambda: DirectSolver("superlu"), ["superlu", "superlu"]),
    (lambda: AMGSolver(), ["amg-gmres", "amg-gmres"]),
    # a GMRES solve that needs more than one iteration fails: the first point falls back to
    # a direct solve, and the rest of the run stays direct
    (lambda: AMGSolver(budget=1, floor=1e-14), None),
])
def test_each_point_records_its_linear_solver(make, expected):
    ls = make()
    s = ElectroThermalSolver(reference_box(6, 6, 4), linear_solve=ls)
    log = linalg.SolveLog(s.system.linear_solve)
    used = []
    for p in natural_sweep(s, "voltage", [0.1, 0.2]):
        used.append(log.take())
        assert p.I == pytest.approx(reference_1d(p.V, nz=4)["I"], rel=1e-10)
    if expected is None:
        direct = ls.direct.name
        assert used[0].endswith(f"{direct} (AMG fallback)")   # (after any GMRES solves that converged)
        assert used[1] == f"{direct} (AMG fallback)"
        assert ls.n_fallback == 1
    else:
        assert used == expected
