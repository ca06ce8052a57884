"""Linear solves: one interface, ``linear_solve(A, b) -> x``.

The nonlinear solver calls a `linear_solve(A, b)` callable (A: scipy CSR, square,
nonsymmetric in general; b: (n,) or (n, k)); anything with that signature can be
plugged in (an AMG-preconditioned GMRES, say). The default, `DirectSolver`, is a
sparse direct solver that keeps the last factorisation:

* MKL PARDISO through pypardiso when importable. The symbolic analysis (fill-reducing
  ordering) is done once per sparsity pattern; a new matrix on the same pattern is only
  refactorised numerically (phase 22); a repeated matrix is only re-solved (phase 33),
  which makes tangent and predictor solves after a Newton step nearly free.
* otherwise SuperLU with the MMD_AT_PLUS_A ordering (the default COLAMD ordering is
  several times slower and fatter on 3D problems, NOTES.md).
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

try:  # pragma: no cover - depends on the installation
    from pypardiso import PyPardisoSolver
except Exception:  # ImportError, or mkl_rt not found
    PyPardisoSolver = None


_MKL_RT = None


def _new_pardiso():
    """A PyPardisoSolver; after the first, skip its recursive glob for mkl_rt (0.1-0.5 s
    per instance) by handing it the library path it found, via its own documented
    PYPARDISO_MKL_RT override (set only for the duration of the constructor)."""
    global _MKL_RT
    if _MKL_RT is None or os.environ.get("PYPARDISO_MKL_RT"):
        ps = PyPardisoSolver()
        _MKL_RT = getattr(ps.libmkl, "_name", None)
        return ps
    os.environ["PYPARDISO_MKL_RT"] = _MKL_RT
    try:
        return PyPardisoSolver()
    finally:
        del os.environ["PYPARDISO_MKL_RT"]


class DirectSolver:
    """Callable ``solver(A, b)`` with factorisation reuse (see module docstring).

    backend: "auto" (pardiso if available), "pardiso" or "superlu".
    The matrix is considered unchanged if its pattern and values are equal to the
    last factorised one (compared element-wise: O(nnz), negligible beside a solve).
    """

    def __init__(self, backend: str = "auto"):
        if backend == "auto":
            backend = "pardiso" if PyPardisoSolver is not None else "superlu"
        if backend == "pardiso" and PyPardisoSolver is None:
            raise ImportError("pypardiso is not importable; use backend='superlu'")
        if backend not in ("pardiso", "superlu"):
            raise ValueError(f"unknown backend {backend!r}")
        self.backend = backend
        self._pardiso = _new_pardiso() if backend == "pardiso" else None
        self._pattern = None  # (indptr, indices) of the analysed pattern
        self._data = None     # values of the factorised matrix
        self._lu = None
        self.n_analyse = self.n_factor = self.n_solve = 0

    def _same_pattern(self, A):
        return (self._pattern is not None and self._pattern[0].shape == A.indptr.shape
                and self._pattern[1].shape == A.indices.shape
                and np.array_equal(self._pattern[0], A.indptr)
                and np.array_equal(self._pattern[1], A.indices))

    def __call__(self, A, b):
        A = sp.csr_matrix(A) if not sp.isspmatrix_csr(A) else A
        if not A.has_sorted_indices:
            A = A.sorted_indices()
        b = np.asarray(b, dtype=float)
        same_pattern = self._same_pattern(A)
        same_values = same_pattern and np.array_equal(self._data, A.data)
        if self.backend == "superlu":
            if not same_values:
                self._lu = splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A")
                self._pattern = (A.indptr.copy(), A.indices.copy())
                self._data = A.data.copy()
                self.n_factor += 1
            self.n_solve += 1
            return self._lu.solve(b)
        ps = self._pardiso
        if not hasattr(ps, "_call_pardiso"):  # pragma: no cover - other pypardiso versions
            # public API only: no separate symbolic phase, but the factorisation is reused
            if not same_values:
                ps.factorize(A)
                self._pattern = (A.indptr.copy(), A.indices.copy())
                self._data = A.data.copy()
                self.n_factor += 1
            self.n_solve += 1
            return ps.solve(A, b).reshape(b.shape)
        # phases 11 / 22 / 33 through pypardiso 0.4's internal call (its public solve()
        # re-analyses the pattern whenever the values change)
        ps._check_A(A)
        bb = ps._check_b(A, b)
        if not same_pattern:
            ps.set_phase(11)
            ps._call_pardiso(A, np.zeros((A.shape[0], 1)))
            self._pattern = (A.indptr.copy(), A.indices.copy())
            self.n_analyse += 1
        if not same_values:
            ps.set_phase(22)
            ps._call_pardiso(A, np.zeros((A.shape[0], 1)))
            self._data = A.data.copy()
            self.n_factor += 1
        ps.set_phase(33)
        x = ps._call_pardiso(A, bb)
        self.n_solve += 1
        return x.reshape(b.shape)

    def free(self):
        """Release the factorisation memory."""
        if self._pardiso is not None:
            self._pardiso.free_memory(everything=True)
        self._lu = None
        self._pattern = self._data = None


_default = None


def default_solver() -> DirectSolver:
    """The shared default DirectSolver (created on first use)."""
    global _default
    if _default is None:
        _default = DirectSolver()
    return _default


def linear_solve(A, b):
    """Solve A x = b with the default direct solver (pardiso or SuperLU/MMD_AT_PLUS_A)."""
    return default_solver()(A, b)
