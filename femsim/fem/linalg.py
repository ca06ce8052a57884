"""Linear solvers behind one interface.

Every linear system of the nonlinear solver goes through a *linear solver* object:

    handle = solver.prepare(A, layout)     # factorise / set up a preconditioner
    x = handle.solve(b)                    # b: (n,) or (n, k)
    x = handle.solve(b, A=J)               # solve with another matrix J close to A
                                           # (the exact Jacobian of a tangent solve):
                                           # refinement on the factorisation (direct) or
                                           # GMRES on J with this preconditioner (AMG)
    x = solver(A, b)                       # one-shot, the plain callable interface

A is scipy CSR, square, nonsymmetric in general. ``layout`` (a `Layout`) tells where the
potential rows, the temperature rows and the bias row are; direct solvers ignore it.
Any plain callable ``(A, b) -> x`` still works where a solver is expected.

Choosing (`make_linear_solver`, and the ``linear_solve=`` argument of
ElectroThermalSolver, which takes the same strings as the case file's
``fem.solver.linear``):

* ``"pardiso"``: MKL PARDISO through pypardiso (`DirectSolver`). Symbolic analysis once
  per sparsity pattern, numerical refactorisation for new values (phase 22), re-solves
  (phase 33) for repeated matrices. Iterative refinement inside PARDISO is off: the Newton
  iteration (and the tangent solve's refinement loop) refines against the exact residual.
* ``"superlu"``: scipy SuperLU with the MMD_AT_PLUS_A ordering (COLAMD, the default, is
  several times slower and fatter on 3D problems, NOTES.md); ~7x slower than PARDISO here.
* ``"amg"``: `AMGSolver`, restarted GMRES right-preconditioned by a block lower-triangular
  (Gauss-Seidel) preconditioner: a smoothed-aggregation AMG V-cycle on the potential
  block, the bias unknown eliminated by a bordered (Schur complement) step, then a V-cycle
  on the temperature block with the Joule coupling of the fresh potential correction.
  Strength of connection 'evolution': with the 'symmetric' measure the aligned 1e4
  anisotropy of the reference problem took 140-280 CG iterations, with 'evolution' 13-15.
  The hierarchy is kept across Newton steps and bias points and rebuilt only when GMRES
  needs clearly more iterations than it did right after the last setup.
  GMRES watches its own reduction rate: a solve predicted to need more than ``budget``
  iterations, or stagnating, is stopped within a few dozen iterations; if its residual
  is then above 1e-3 (relative) the solve has failed, the hierarchy rebuilt once, and then the solver falls back to a direct
  solve for the rest of the run, saying so in one line (`AMGSolver._fall_back`).
* ``"auto"`` (default, `make_linear_solver`): PARDISO for small systems and for
  high-contrast ones up to `AUTO_DIRECT_MAX` unknowns, AMG for large, or uniform enough,
  systems (a direct factorisation of a 3D problem grows like n^2 in time and n^(4/3) in
  memory: ~3 s and 0.4 GiB at 5e4 unknowns, out of reach at 1e6); SuperLU when pypardiso
  is missing and pyamg too.

Interruption: factorisations of large systems run on a worker thread (`run_interruptible`)
while the main thread waits in 0.1 s slices, so Ctrl-C is honoured during a C-level
factorisation too; GMRES is Python-level and is interrupted between iterations.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ..errors import ConvergenceError

try:  # pragma: no cover - depends on the installation
    from pypardiso import PyPardisoSolver
except Exception:  # ImportError, or mkl_rt not found
    PyPardisoSolver = None

try:  # pragma: no cover - depends on the installation
    import pyamg
except Exception:
    pyamg = None

LINEAR_SOLVERS = ("auto", "pardiso", "superlu", "amg")
#: an AMG-GMRES solve predicted (from its reduction rate) to need more iterations than this
#: has failed: the measured solves of realistic cases need 15-90 (benchmarks/README.md)
GMRES_BUDGET = 300
#: no direct fallback above this many unknowns (a factorisation needs ~10 GiB at 1e6)
FALLBACK_DIRECT_MAX = 600_000


class LinearSolverStall(ConvergenceError):
    """An iterative solve failed and no direct fallback is possible or allowed (a
    ConvergenceError: the sweep stops there and keeps its converged points)."""
#: "auto" (make_linear_solver): direct up to AUTO_AMG_MIN unknowns; AMG up to AUTO_DIRECT_MAX
#: only when the conductivity spread is at most AUTO_AMG_SPREAD; AMG above (benchmarks/README.md)
AUTO_AMG_MIN = 20_000
AUTO_DIRECT_MAX = 150_000
AUTO_AMG_SPREAD = 1e6
#: GMRES budget of an AMG solver that "auto" chose: the uniform problems it is chosen for
#: need 10-50 iterations a solve; a case that needs more is faster on the direct path
AUTO_GMRES_BUDGET = 100


@dataclass(frozen=True)
class Layout:
    """Block structure of a reduced system: rows [0, n_phi) are potentials (electrode
    potentials included), rows [n_phi, n) temperatures; ``u`` is the bias row (or None)."""

    n: int
    n_phi: int
    u: int | None = None


@dataclass
class BiasRow:
    """The bias row of a (scaled) reduced system: row u = alpha * nat + beta e_u, where nat
    (values ``vals`` at columns ``cols``) is the row of the current into the bias electrode,
    d(I)/dz, whose potential part is the transpose of column u (the potential block with
    row u = nat is symmetric). Iterative solvers use it; direct solvers ignore it."""

    cols: np.ndarray
    vals: np.ndarray
    alpha: float
    beta: float


# -- interruptible calls ------------------------------------------------------------------

#: factorisations of systems at least this large run on the worker thread (below, they
#: take well under a second and Ctrl-C waits for them)
INTERRUPTIBLE_MIN = 20_000


class _Worker:
    """One daemon thread that runs long C-level calls (a PARDISO or SuperLU factorisation),
    so that the main thread can wait for them in short timed joins and Ctrl-C raises
    KeyboardInterrupt there within ~0.1 s: a C call holds off Python's signal handler
    until it returns (80+ s for a 1e5-unknown factorisation on a busy machine), but
    ctypes (pypardiso) and SuperLU release the GIL while they compute.

    One thread for all calls, not one per call: MKL/OpenMP keep per-thread state. After an
    interrupt the thread is abandoned (it finishes its call in the background and exits;
    the result is dropped) and the next call starts a new worker."""

    def __init__(self):
        self.q = queue.Queue()
        self.abandoned = False
        self.thread = threading.Thread(target=self._loop, name="femsim-factorise", daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.abandoned:
            fn, args, box, done = self.q.get()
            try:
                box["out"] = fn(*args)
            except BaseException as e:  # handed to the waiting thread
                box["err"] = e
            done.set()

    def run(self, fn, *args):
        box, done = {}, threading.Event()
        self.q.put((fn, args, box, done))
        while not done.wait(0.1):
            pass
        if "err" in box:
            raise box["err"]
        return box["out"]


_worker = None
_worker_lock = threading.Lock()


def run_interruptible(fn, *args):
    """fn(*args) on the worker thread, the caller waiting so that Ctrl-C is honoured at
    once (`_Worker`). On KeyboardInterrupt the call is abandoned: whatever state fn
    was changing must be discarded by the caller. From a thread other than the main one
    (signals arrive only there) fn is called directly."""
    global _worker
    if threading.current_thread() is not threading.main_thread():
        return fn(*args)
    with _worker_lock:
        if _worker is None or _worker.abandoned or not _worker.thread.is_alive():
            _worker = _Worker()
        w = _worker
    try:
        return w.run(fn, *args)
    except KeyboardInterrupt:
        w.abandoned = True
        w.q.put((lambda: None, (), {}, threading.Event()))   # wake it up to exit when done
        raise


# -- direct ------------------------------------------------------------------------------

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


def _set_pardiso_iparm(ps):
    """Explicit PARDISO parameters (1-based names as in the MKL manual)."""
    ip = ps.iparm
    ip[:] = 0
    ip[0] = 1      # iparm(1): parameters given here
    ip[1] = 2      # iparm(2): METIS nested dissection
    ip[7] = 0      # iparm(8): no iterative refinement (the callers refine against exact residuals)
    ip[9] = 13     # iparm(10): pivot perturbation 1e-13
    ip[10] = 1     # iparm(11): scaling
    ip[12] = 1     # iparm(13): weighted matching
    ip[34] = 0     # iparm(35): one-based indices (pypardiso adds 1)


class _Handle:
    """Base of a prepared system: ``solve(b, A=None, rtol=None)``."""

    iterative = False
    n_iter = 0

    def solve(self, b, A=None, rtol=None):  # pragma: no cover - abstract
        raise NotImplementedError


class _DirectHandle(_Handle):
    """A factorised matrix: ``solve_fn(A, b)`` solves with A, (re)factorising only if A is
    not the matrix factorised last."""

    def __init__(self, solve_fn, A, owner=None):
        self.solve_fn, self.A, self.owner = solve_fn, A, owner
        if owner is not None:
            owner._ensure(A)

    def is_current(self):
        """True if a solve needs no factorisation (the solver still holds this one)."""
        return self.owner is None or self.owner._owner is self.A

    def solve(self, b, A=None, rtol=None):
        x = self.solve_fn(self.A, b)
        if A is None:
            return x
        # iterative refinement on this factorisation for the nearby matrix A
        bnorm = np.abs(b).max()
        prev = np.inf
        for _ in range(12):
            r = b - A @ x
            if np.abs(r).max() <= 1e-15 * bnorm:
                return x
            dx = self.solve_fn(self.A, r)
            x = x + dx
            step = np.abs(dx).max()
            if step <= 1e-14 * np.abs(x).max():
                return x
            if step > 0.5 * prev:        # not contracting: factorise A itself
                break
            prev = step
        else:
            return x
        return self.solve_fn(A, b)


def prepare(solver, A, layout: Layout | None = None, bias: BiasRow | None = None) -> _Handle:
    """A handle for A from a linear solver object or a plain callable (A, b) -> x."""
    prep = getattr(solver, "prepare", None)
    if prep is not None:
        return prep(A, layout, bias)
    return _DirectHandle(solver, A)


class DirectSolver:
    """Sparse direct solver with factorisation reuse (see module docstring).

    backend: "auto" (pardiso if available), "pardiso" or "superlu". The matrix counts as
    unchanged if its pattern and values equal those last factorised (an O(nnz) compare).
    """

    iterative = False

    def __init__(self, backend: str = "auto"):
        if backend == "auto":
            backend = "pardiso" if PyPardisoSolver is not None else "superlu"
        if backend == "pardiso" and PyPardisoSolver is None:
            raise ImportError("pypardiso is not importable; use backend='superlu'")
        if backend not in ("pardiso", "superlu"):
            raise ValueError(f"unknown backend {backend!r}")
        self.backend = self.name = backend
        self._pardiso = None
        if backend == "pardiso":
            self._pardiso = _new_pardiso()
            _set_pardiso_iparm(self._pardiso)
        self._pattern = None  # (indptr, indices) of the analysed pattern
        self._data = None     # values of the factorised matrix
        self._lu = None
        self._owner = None    # the matrix object factorised last (handles ask for it)
        self.n_analyse = self.n_factor = self.n_solve = 0
        self.t_factor = self.t_solve = 0.0
        self.used = {}        # method -> solves (`SolveLog`)

    def _same_pattern(self, A):
        return (self._pattern is not None and self._pattern[0].shape == A.indptr.shape
                and self._pattern[1].shape == A.indices.shape
                and np.array_equal(self._pattern[0], A.indptr)
                and np.array_equal(self._pattern[1], A.indices))

    @staticmethod
    def _csr(A):
        A = sp.csr_matrix(A) if not sp.isspmatrix_csr(A) else A
        if not A.has_sorted_indices:
            A = A.sorted_indices()
        return A

    def _ensure(self, A):
        """Factorise A unless it is the matrix factorised last."""
        same_pattern = self._same_pattern(A)
        if self._owner is A or (same_pattern and np.array_equal(self._data, A.data)):
            self._owner = A
            return
        t0 = time.perf_counter()
        call = run_interruptible if A.shape[0] >= INTERRUPTIBLE_MIN else (lambda fn, *a: fn(*a))
        try:
            if self.backend == "superlu":
                self._lu = None
                self._lu = call(splu, A.tocsc(), "MMD_AT_PLUS_A")
                self._pattern = (A.indptr.copy(), A.indices.copy())
            else:
                ps = self._pardiso
                ps._check_A(A)
                if not same_pattern:
                    self._pattern = None
                    ps.set_phase(11)
                    call(ps._call_pardiso, A, np.zeros((A.shape[0], 1)))
                    self._pattern = (A.indptr.copy(), A.indices.copy())
                    self.n_analyse += 1
                ps.set_phase(22)
                call(ps._call_pardiso, A, np.zeros((A.shape[0], 1)))
        except KeyboardInterrupt:
            # the abandoned call still works on this PARDISO instance: leave it to it
            self._pattern = self._data = self._owner = self._lu = None
            if self.backend == "pardiso":
                self._pardiso = _new_pardiso()
                _set_pardiso_iparm(self._pardiso)
            raise
        self._data = A.data.copy()
        self._owner = A
        self.n_factor += 1
        self.t_factor += time.perf_counter() - t0

    def _solve_with(self, A, b):
        A = self._csr(A)
        self._ensure(A)
        t0 = time.perf_counter()
        b = np.asarray(b, dtype=float)
        if self.backend == "superlu":
            x = self._lu.solve(b)
        else:
            ps = self._pardiso
            ps.set_phase(33)
            x = ps._call_pardiso(A, ps._check_b(A, b)).reshape(b.shape)
        self.n_solve += 1
        self.used[self.backend] = self.used.get(self.backend, 0) + 1
        self.t_solve += time.perf_counter() - t0
        return x

    def prepare(self, A, layout: Layout | None = None, bias: BiasRow | None = None) -> _Handle:
        return _DirectHandle(self._solve_with, self._csr(A), self)

    def __call__(self, A, b):
        return self._solve_with(A, b)

    def stats(self):
        return dict(name=self.name, n_analyse=self.n_analyse, n_factor=self.n_factor, n_solve=self.n_solve,
                    t_factor=self.t_factor, t_solve=self.t_solve)

    def free(self):
        """Release the factorisation memory."""
        if self._pardiso is not None:
            self._pardiso.free_memory(everything=True)
        self._lu = None
        self._pattern = self._data = self._owner = None


# -- AMG-preconditioned GMRES --------------------------------------------------------------

# Why GMRES and PCG are written here and not taken from pyamg.krylov (issue 18), measured
# by benchmarks/bench_krylov.py on every solve of real AMG-path sweeps, with the same
# preconditioner in one run (2 cores, loaded machine, 2026-12-03):
#   reference problem, 52 112 unknowns, 13 GMRES solves: femsim 114 iterations 4.96 s;
#     pyamg fgmres 114 iterations 5.74 s (x1.16), with the stagnation stop in its callback
#     5.64 s (x1.14): Householder orthogonalisation and the stored preconditioned vectors
#     (n x restart more memory) cost more than classical Gram-Schmidt twice here;
#   4.2 K newcomer mesa (gold on Bi2212), 6 915 unknowns, 17 solves: femsim 561 iterations
#     3.26 s; fgmres 860 iterations 6.40 s (x1.96: no stagnation stop, it iterates on to
#     maxiter where femsim gives up and falls back to a direct solve); with the stop in a
#     callback 555 iterations 3.81 s (x1.17; the callback costs pyamg a triangular solve and
#     an n x k product per iteration). pyamg's `gmres` is left-preconditioned: it stops on
#     ||M r||, not on the true residual the Newton forcing term is about. Neither has the
#     `budget` (predicted iterations) stop.
#   PCG (bias column w = K0^-1 c to 1e-13): femsim 14 / 203 iterations, pyamg cg 15 / 219,
#     equal time within 2 %; pyamg's cg has no stagnation stop either.
# Not slower is the condition for switching; both would be, so both stay.

def gmres_right(A, b, M, rtol, restart=50, maxiter=1000, x0=None, stall=30, budget=None, floor=1e-3,
                window=15, info=None):
    """Restarted GMRES, right-preconditioned by the callable M, on the true residual.

    Stops when ||b - A x|| <= rtol ||b||, after maxiter iterations, or when the residual
    has stagnated (less than 10 % lower over ``stall`` iterations): with a contrast of 1e8
    between a gold electrode and the layer below, the scaled Jacobian has a condition
    number ~1e10 and its residual a roundoff floor ~1e-9 relative, below which no
    iteration helps (the Newton iteration only needs the reduction it asked for, and
    re-evaluates the exact residual anyway). A solve stopped early counts as converged
    only at or below ``floor`` (relative): above it the preconditioner has failed.

    budget: stop early when, from a third of the budget on, the reduction rate of the last
    ``window`` iterations predicts more than ``budget`` iterations in all (a
    preconditioner that does not fit the problem shows it within a few dozen iterations,
    long before maxiter; this is what keeps a bad case from iterating silently for
    minutes). ``info`` (a dict) receives the
    reason of the stop: "converged", "stagnated", "predicted" or "maxiter", and the
    relative residual. Returns (x, iterations, converged)."""
    n = b.size
    bn = np.linalg.norm(b)
    x = np.zeros(n) if x0 is None else np.array(x0, dtype=float)
    r = b - A @ x if x0 is not None else b.copy()
    beta = np.linalg.norm(r)
    its, hist = 0, [beta]
    m = max(1, min(restart, maxiter))
    V = np.empty((m + 1, n))
    reason = "converged"
    target = rtol * bn
    while beta > target and its < maxiter:
        V[0] = r / beta
        H = np.zeros((m + 1, m))
        cs, sn = np.zeros(m), np.zeros(m)
        g = np.zeros(m + 1)
        g[0] = beta
        k = 0
        stop = None
        for j in range(m):
            w = A @ M(V[j])
            # classical Gram-Schmidt, twice (BLAS-2, and as stable as modified GS)
            h = V[:j + 1] @ w
            w -= V[:j + 1].T @ h
            h2 = V[:j + 1] @ w
            w -= V[:j + 1].T @ h2
            h += h2
            hn = np.linalg.norm(w)
            H[:j + 1, j] = h
            H[j + 1, j] = hn
            for i in range(j):                           # previous Givens rotations
                t = cs[i] * H[i, j] + sn[i] * H[i + 1, j]
                H[i + 1, j] = -sn[i] * H[i, j] + cs[i] * H[i + 1, j]
                H[i, j] = t
            d = np.hypot(H[j, j], H[j + 1, j])
            cs[j], sn[j] = (1.0, 0.0) if d == 0 else (H[j, j] / d, H[j + 1, j] / d)
            H[j, j] = d
            H[j + 1, j] = 0.0
            g[j + 1] = -sn[j] * g[j]
            g[j] = cs[j] * g[j]
            k = j + 1
            its += 1
            res = abs(g[j + 1])
            hist.append(res)
            if res <= target or hn == 0.0 or its >= maxiter:
                break
            if len(hist) > stall and res > 0.9 * hist[-1 - stall]:
                stop = "stagnated"
                break
            win = min(window, budget) if budget is not None else 0
            # (not before a third of the budget: GMRES often sits on a plateau before it
            # converges superlinearly; a plain standstill is caught by the stagnation test)
            if budget is not None and its >= max(win, budget // 3):
                # iterations still needed at the rate of the last `win` ones
                rate = (res / hist[-1 - win]) ** (1.0 / win) if hist[-1 - win] > 0 else 0.0
                need = np.inf if rate >= 1.0 else (np.log(target / res) / np.log(rate) if rate > 0 else 0.0)
                if its + need > budget:
                    stop = "predicted"
                    break
            V[j + 1] = w / hn
        y = np.linalg.solve(np.triu(H[:k, :k]), g[:k]) if k else np.zeros(0)
        x += M(V[:k].T @ y)
        r = b - A @ x
        beta = np.linalg.norm(r)
        if stop:
            reason = stop
            break
    if beta > target and reason == "converged":
        reason = "maxiter"
    # stopped early (stagnation, the iteration limit or the budget) at a relative residual
    # <= floor: the roundoff floor of an ill-conditioned matrix (the bundled mesa's AMG
    # solves stagnate at 2e-4), still a direction on which Newton converges at that rate
    # (it re-evaluates the exact residual). Above it (the 4.2 K mesa with a modelled gold
    # film stagnated at 1.0, making no progress at all): a failure.
    ok = bool(beta <= target) or beta <= floor * bn
    if info is not None:
        info.update(reason=reason, rel_residual=float(beta / bn) if bn else 0.0, iterations=its,
                    history=np.asarray(hist) / bn if bn else np.asarray(hist))
    return x, its, ok


def pcg(A, b, M, rtol, maxiter=500, stall=20):
    """Preconditioned conjugate gradients (A symmetric positive definite, M a callable),
    stopped at ||r|| <= rtol ||b|| or when the residual stagnates (less than 10 % lower over
    ``stall`` iterations: its roundoff floor)."""
    x = np.zeros_like(b)
    r = b.copy()
    bn = np.linalg.norm(b)
    z = M(r)
    p = z.copy()
    rz = r @ z
    hist = [bn]
    for _ in range(maxiter):
        Ap = A @ p
        a = rz / (p @ Ap)
        x += a * p
        r -= a * Ap
        rn = np.linalg.norm(r)
        hist.append(rn)
        if rn <= rtol * bn or (len(hist) > stall and rn > 0.9 * hist[-1 - stall]):
            break
        z = M(r)
        rz_new = r @ z
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x


class _Block:
    """A smoothed-aggregation hierarchy for one diagonal block and its V-cycle."""

    def __init__(self, M, opts):
        if M.shape[0] == 0:
            self.ml = None
            return
        sym = abs(M - M.T)
        if sym.nnz and sym.max() > 1e-12 * abs(M).max():
            M = 0.5 * (M + M.T)        # hierarchy from the symmetric part (kappa(T) advection)
        M = M.tocsr()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.ml = pyamg.smoothed_aggregation_solver(M, **opts)
        self.cycle = self.ml.aspreconditioner(cycle="V")

    def __call__(self, b):
        return self.cycle @ b if self.ml is not None else b


class _AMGHandle(_Handle):
    iterative = True

    def __init__(self, solver, A, bias):
        self.solver, self.A = solver, A
        # the bias row's coefficients enter only the rank-one correction of the
        # preconditioner (AMGSolver._apply): they may change without a new setup
        self.ab = (bias.alpha, bias.beta) if bias is not None else None

    def solve(self, b, A=None, rtol=None):
        s = self.solver
        A = self.A if A is None else A
        b = np.asarray(b, dtype=float)
        if b.ndim == 2:
            return np.column_stack([self.solve(b[:, k], A, rtol) for k in range(b.shape[1])])
        return s._gmres(A, b, s.rtol if rtol is None else rtol, self.ab)


class AMGSolver:
    """Restarted GMRES with a block lower-triangular AMG preconditioner (module docstring).

    Potential block. The bias unknown U (row u = alpha nat + beta e_u, `BiasRow`) is taken
    out of the AMG block - with U inside (one unknown tied to every electrode node) SA-AMG
    needed 500+ CG iterations on a gold-electrode mesa, without it 22 - and eliminated:
    with K0 the potential block without row and column u, c its column u, w = K0^-1 c
    (solved once per setup to near roundoff) and s0 = nat_u - nat_f . w the Schur
    complement of current bias (~1e-7 of nat_u for a gold electrode, hence the accurate w),

        y = V(b_f),  x_u = (b_u - alpha nat_f . y) / (alpha s0 + beta),  x_f = y - w x_u.

    alpha, beta change with the bias mode and point without a new setup.
    Temperature block: a V-cycle on it, after the Joule coupling A_Tphi x_phi of the fresh
    potential correction (the d sigma/dT coupling A_phiT is left to GMRES).

    rtol: default relative tolerance of a solve (the Newton iteration passes its own
    forcing term); restart, maxiter: GMRES restart length and maximum iterations;
    amg: keyword arguments of pyamg.smoothed_aggregation_solver for both blocks;
    rebuild_factor: rebuild the hierarchies when a solve needs more than
    max(rebuild_factor x, +20) the iterations of the first solve after the last setup.
    budget: a solve whose reduction rate predicts more GMRES iterations than this is
    stopped (`gmres_right`), the hierarchy rebuilt once, and if that does not help either
    the solver falls back to a direct solve for the rest of the run, with a one-line
    note (``fallback=False``: raise `LinearSolverStall` instead); floor: a solve stopped
    early counts as converged at or below this relative residual (`gmres_right`).
    """

    iterative = True
    name = "amg"

    def __init__(self, rtol=1e-10, restart=50, maxiter=1000, amg=None, rebuild_factor=2.0, budget=GMRES_BUDGET,
                 fallback=True, floor=1e-3):
        if pyamg is None:
            raise ImportError("pyamg is not importable; use a direct solver")
        self._bias = None
        self.rtol, self.restart, self.maxiter = rtol, restart, maxiter
        gs = ("gauss_seidel", {"sweep": "symmetric"})   # ~10 % cheaper than pyamg's block GS
        self.amg = dict(strength="evolution", smooth=("energy", {"degree": 1, "maxiter": 2}),
                        presmoother=gs, postsmoother=gs, max_coarse=500, coarse_solver="splu")
        self.amg.update(amg or {})
        self.rebuild_factor = rebuild_factor
        self.budget, self.fallback, self.floor = budget, fallback, floor
        self.direct = None        # the DirectSolver taken over after a stall
        self.n_fallback = 0
        self.fallback_note = None
        self._pre = None          # preconditioner state (from the last setup)
        self._layout = None
        self._built_for = None
        self._its_ref = None      # GMRES iterations of the first solve after setup
        self._stale = False
        self.n_setup = self.n_solve = self.n_iter = 0
        self.t_setup = self.t_solve = 0.0
        self.last_iterations = 0
        self._used = {"amg-gmres": 0}

    @property
    def used(self) -> dict:
        """method -> solves: GMRES ones, and those of the direct solver after a fallback."""
        out = dict(self._used)
        if self.direct is not None:
            out.update({f"{k} (AMG fallback)": v for k, v in self.direct.used.items()})
        return out

    # -- setup -----------------------------------------------------------------------
    def _setup(self, A, layout: Layout, bias: BiasRow | None):
        t0 = time.perf_counter()
        A = A.tocsr()
        n_phi, u = layout.n_phi, layout.u
        pre = {}
        if n_phi:
            phi = np.arange(n_phi)
            if u is not None:
                phi = phi[phi != u]
            Ap = A[:n_phi]
            K0 = Ap[:, :n_phi][phi][:, phi].tocsr() if u is not None else Ap[:, :n_phi].tocsr()
            pre["phi"] = phi
            pre["Kp"] = _Block(K0, self.amg)
            if u is not None:
                c = np.asarray(A[phi, u].todense()).ravel()        # column u
                nat = np.zeros(A.shape[0])
                nat[bias.cols] = bias.vals
                # w = K0^-1 c to near roundoff: the current-bias Schur complement
                # s0 = nat_u - nat_f . w cancels to ~1e-7 of nat_u for a gold electrode
                w = pcg(K0, c, pre["Kp"], 1e-13) if np.any(c) else 0 * c
                # in the energy form v^T K v, v = (1 at u, -w): stationary in w, so that an
                # error dw of w enters s0 only as dw^T K0 dw. The plain nat_u - nat_f . w
                # takes it at first order: at 4.2 K (Au/Bi2212 ~1e12) PCG stops at 5e-6
                # while s0 is 3e-10 of nat_u, and the plain s0 came out wrong by orders of
                # magnitude, GMRES then made no progress at all on a current-bias row.
                s0 = nat[u] - nat[phi] @ w - (c - K0 @ w) @ w
                if not s0 > 1e-13 * abs(nat[u]):
                    s0 = 1e-13 * abs(nat[u])
                pre.update(w=w, nat_f=nat[phi], s0=s0)
        if layout.n > n_phi:
            pre["KT"] = _Block(A[n_phi:, n_phi:].tocsr(), self.amg)
        self._pre, self._layout, self._built_for = pre, layout, A
        self._its_ref, self._stale = None, False
        self.n_setup += 1
        self.t_setup += time.perf_counter() - t0

    def _apply(self, A_T, b, ab):
        """Block lower-triangular preconditioner: potentials (the bias unknown by block
        elimination), then temperatures with the Joule coupling of the potential part."""
        p, lay = self._pre, self._layout
        n_phi, u = lay.n_phi, lay.u
        x = np.empty_like(b)
        if n_phi:
            phi = p["phi"]
            y = p["Kp"](b[phi])
            if u is not None:
                alpha, beta = ab if ab is not None else (1.0, 0.0)
                xu = (b[u] - alpha * (p["nat_f"] @ y)) / (alpha * p["s0"] + beta)
                x[phi] = y - p["w"] * xu
                x[u] = xu
            else:
                x[phi] = y
        if lay.n > n_phi:
            rT = b[n_phi:]
            if n_phi and A_T is not None:
                xp = np.zeros(lay.n)
                xp[:n_phi] = x[:n_phi]
                rT = rT - A_T @ xp
            x[n_phi:] = p["KT"](rT)
        return x

    def _gmres(self, A, b, rtol, ab):
        t0 = time.perf_counter()
        if not np.any(b):
            return np.zeros_like(b)
        if self.direct is not None:   # a handle prepared before the fallback
            return self.direct(A, b)
        lay = self._layout
        A_T = A[lay.n_phi:] if lay.n > lay.n_phi else None
        info = {}

        def run(x0=None):
            return gmres_right(A, b, lambda v: self._apply(A_T, v, ab), rtol, self.restart, self.maxiter,
                               x0=x0, budget=self.budget, floor=self.floor, info=info)

        x, its, ok = run()
        if not ok and self._built_for is not A:
            # no progress with this hierarchy: rebuild it from this matrix and continue
            self._setup(A, lay, self._bias)
            x, its2, ok = run(x0=x)
            its += its2
        self.last_iterations = its
        self.n_iter += its
        self.n_solve += 1
        self.t_solve += time.perf_counter() - t0
        if not ok:
            return self._fall_back(A, b, its, info)
        self._used["amg-gmres"] += 1
        if self._its_ref is None:
            self._its_ref = max(its, 1)
        elif its > max(self.rebuild_factor * self._its_ref, self._its_ref + 20):
            self._stale = True
        return x

    def _fall_back(self, A, b, its, info):
        """GMRES failed (stalled, or predicted to need more than ``budget`` iterations):
        solve directly, and keep the direct solver for the rest of the run (the next
        Jacobians are alike). Above `FALLBACK_DIRECT_MAX` unknowns a factorisation would
        exhaust memory: raise instead."""
        n = A.shape[0]
        what = (f"GMRES with AMG stalled ({its} iterations, residual {info.get('rel_residual', np.nan):.1e} of "
                f"the {info.get('reason', '')} kind)")
        if not self.fallback:
            raise LinearSolverStall(f"{what}; no direct fallback (fallback=False)")
        if n > FALLBACK_DIRECT_MAX or PyPardisoSolver is None and n > 200_000:
            raise LinearSolverStall(f"{what}; {n} unknowns are too many for a direct solve here")
        self.direct = DirectSolver()
        self.n_fallback += 1
        self.fallback_note = (f"note: {what}; switching to a direct solve ({self.direct.name}) for the rest of "
                              f"the run")
        from .. import progress
        progress.say(f"femsim: {self.fallback_note}")
        self._pre = None
        return self.direct(A, b)

    # -- interface -----------------------------------------------------------------------
    def prepare(self, A, layout: Layout | None = None, bias: BiasRow | None = None) -> _Handle:
        if self.direct is not None:     # fell back after a stall: direct from now on
            return self.direct.prepare(A, layout, bias)
        A = sp.csr_matrix(A)
        if layout is None:
            layout = Layout(A.shape[0], A.shape[0], None)
        if bias is None and layout.u is not None:
            # no bias-row description: take row u of A as it is (alpha = 1, beta = 0)
            a, b = A.indptr[layout.u], A.indptr[layout.u + 1]
            bias = BiasRow(A.indices[a:b].copy(), A.data[a:b].copy(), 1.0, 0.0)
        self._bias = bias
        if self._pre is None or self._stale or layout != self._layout:
            self._setup(A, layout, bias)
        return _AMGHandle(self, A, bias)

    def __call__(self, A, b):
        return self.prepare(A).solve(b)

    def stats(self):
        out = dict(name=self.name, n_setup=self.n_setup, n_solve=self.n_solve, n_iter=self.n_iter,
                   t_setup=self.t_setup, t_solve=self.t_solve, n_fallback=self.n_fallback)
        if self.direct is not None:
            out["direct"] = self.direct.stats()
        return out

    def free(self):
        self._pre = None
        if self.direct is not None:
            self.direct.free()


# -- what solved ------------------------------------------------------------------------------

def methods_used(solver) -> dict:
    """Solves so far by the method that actually did them ("pardiso", "superlu",
    "amg-gmres", "pardiso (AMG fallback)"); {} for a plain callable (it keeps no count)."""
    return {k: v for k, v in (getattr(solver, "used", None) or {}).items() if v}


class SolveLog:
    """The linear solver actually used between two calls of `take` (one bias point):
    provenance for summary.json, read off the solver's own counts (`methods_used`) so
    that the nonlinear solver need not report it."""

    def __init__(self, solver):
        self.solver = solver
        self._seen = methods_used(solver)

    def take(self) -> str:
        """Methods used since the last call, joined by "+" in first-use order ("" if none;
        a plain callable's name)."""
        if getattr(self.solver, "used", None) is None:
            return getattr(self.solver, "__name__", type(self.solver).__name__)
        now = methods_used(self.solver)
        new = [k for k, v in now.items() if v > self._seen.get(k, 0)]
        self._seen = now
        return "+".join(new)


# -- choosing ---------------------------------------------------------------------------------

def make_linear_solver(kind: str = "auto", n: int | None = None, spread: float | None = None):
    """A linear solver for ``kind`` in LINEAR_SOLVERS. "auto" picks by the number of
    unknowns n, the coefficient spread (largest / smallest principal conductivity over the
    mesh at the bath temperature, `ElectroThermalSolver` measures it; None: unknown) and
    the installed packages (module docstring; the measurements behind the rule are in
    benchmarks/README.md):

    * n <= AUTO_AMG_MIN: direct (a factorisation costs under a second or two);
    * up to AUTO_DIRECT_MAX: AMG only if spread <= AUTO_AMG_SPREAD (a uniform-enough
      problem, where GMRES needs ~15 iterations a solve), else direct: with a gold film
      on Bi2212 or a 1e8 anisotropy at 4.2 K GMRES needs 170-440;
    * above AUTO_DIRECT_MAX: AMG (a factorisation would take minutes and many GiB),
      with the direct fallback when GMRES stalls.
    AMG chosen by "auto" gives up earlier (`AUTO_GMRES_BUDGET`) than AMG asked for by name.
    """
    if kind not in LINEAR_SOLVERS:
        raise ValueError(f"linear solver must be one of {LINEAR_SOLVERS}, not {kind!r}")
    if kind == "auto":
        direct = "pardiso" if PyPardisoSolver is not None else "superlu"
        if pyamg is None or n is None:
            return DirectSolver(direct)
        uniform = spread is not None and spread <= AUTO_AMG_SPREAD
        if n > AUTO_DIRECT_MAX or (n > AUTO_AMG_MIN and uniform) or (direct == "superlu" and n > 20_000):
            return AMGSolver(budget=AUTO_GMRES_BUDGET)
        return DirectSolver(direct)
    if kind == "amg":
        return AMGSolver()
    return DirectSolver(kind)


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
