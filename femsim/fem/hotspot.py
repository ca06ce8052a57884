"""Hot spots: stability of steady states, symmetry-breaking bifurcations, and the
hot-spot branch.

Stability. A steady state z* of the coupled problem is stable when every small
perturbation decays under the transient equations (femsim.fem.transient, Eq. 1) at the
same bias. Linearised, with the potential quasi-static and the bias row held,

    B dx/dt = -J x,      J = dF/dz (steady Jacobian incl. the bias row),
                         B = diag(W_i C(T_i)) on the temperature rows, 0 elsewhere,

so perturbations go as x(t) = v exp(-mu t) with the generalised eigenpairs

    J v = mu B v.                                                            (1)

mu [1/s] are decay rates: the state is stable iff every Re mu > 0, and the number of
negative mu is the number of growing modes. B is singular (phi rows carry no storage),
so (1) is solved in shift-invert form at sigma = 0: the largest |nu| of
nu v = J^{-1} B v (ARPACK, one solve with the factorised J per product) are
nu = 1/mu of the smallest |mu|: the modes that turn first. (1) is invariant under the
row/column scaling of the solver, unlike the eigenvalues of J alone, and the count of
negative mu changes exactly where det J = 0: at folds of the bias parameter and at
bifurcations.

Symmetry. A mirror plane of the mesh (nodes map onto nodes) that also maps every
electrode, bath, cooled surface and material region onto itself makes the problem
symmetric. At a crossing of mu through zero the critical eigenvector's parity
p = <v, Pv>/<v, v> (P the mirror, on the temperature part) tells a symmetry-breaking
(pitchfork) bifurcation (p = -1: the mode moves heat from one half to the other, the
hot spot shifts off-centre) from a symmetric one (p = +1). A solver that starts on a
symmetric state stays on the symmetric branch past a pitchfork (Newton and
continuation preserve the symmetry to roundoff), so the crossing is found from (1),
not from the state, and located by the secant method on the critical mu along the
branch.

Branch switching (what is done, in this order). At the most unstable point of the
symmetric branch (most negative mu) the state is perturbed along the critical mode,
z0 = z* + eps s v, s scaling v so that eps = 1 moves T by the branch's own non-
uniformity T_max - T_mean; Newton at the same current is started from z0 for
eps = 1, 2, 0.5, 4, and a result is taken when it is asymmetric (asymmetry above
1e-3) and stable (no negative mu). Failing that, the transient equations are
integrated from z* + 0.5 s v at that current until the state settles (the physical
route: the unstable mode grows and saturates into the hot spot), and Newton polishes
the end state. The hot-spot branch is then followed by natural continuation in the
current in both directions (tangent predictor, step halving), until it merges with the
symmetric branch (asymmetry below threshold), folds (no convergence at the smallest
step) or leaves the traced current range.

Hot-spot measures of a state, over the region (default "mesa"):

* T_max offset: the position of the hottest node minus the region's centre [m], and as
  a fraction of the half-extent along each axis;
* asymmetry: ||T - P T|| / (2 ||T - T_bath||) over the region's nodes, per mirror;
* hot current fraction: the share of the current crossing the region's mid-height
  element layer through its hottest ``hottest_fraction`` (10 %) of the layer area
  (cells ranked by temperature; the last cell taken fractionally). A uniform state
  gives ~0.10; a hot spot carrying a third of the current gives 0.33.

Resolution (measured on the 300 x 40 x 1 um mesa of cases/hotspot_large_mesa.toml).
How well the onset is resolved depends on how marginal the instability is. With a base
crystal wider than the mesa, its ends are cooled, heating peaks in the centre long
before the onset, and the critical mode is a shift of that central peak: the most
negative decay rate stays within ~-500 1/s against ~1e4 1/s for the next mode, mu(I)
crosses zero at a shallow angle, and the onset moved by 8-25 % between graded meshes of
2k-35k nodes. With the base flush with the mesa ends the heating stays nearly uniform
along the mesa up to the onset, the critical mode is the smooth long wave
cos(pi y / L), mu falls steeply to ~-4e3 1/s, and the onset agrees to 0.5 % on 1.7k,
2.4k and 3.9k nodes (3.415, 3.399, 3.383 mA). Check the depth of the instability
(``mu_min`` along the branch) before trusting an onset on a coarse mesh.

Public API: StabilityAnalysis, HotspotOptions, HotspotResult, find_hotspot, mirror_maps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse.linalg as sla
import xarray as xr

from ..errors import ConvergenceError, OutOfRangeError
from . import forms
from .solver import ElectroThermalSolver, NewtonOptions, Point
from .timestepping import TransientOptions, TransientSolver
from .transient import TransientAssembler, _as_names, grad_at_quadrature
from .waveforms import Step

__all__ = ["StabilityAnalysis", "HotspotOptions", "HotspotResult", "find_hotspot", "mirror_maps"]


# ============================================================================ symmetry

def _facet_nodes(mesh, names) -> np.ndarray:
    fac = np.concatenate([np.asarray(mesh.boundaries[n]) for n in _as_names(names)])
    return np.unique(mesh.facets[:, fac])


def mirror_maps(problem, region: str | None = None, tol: float = 1e-9) -> dict:
    """Node permutations of the mirror symmetries x -> -x, y -> -y (about the centre of
    ``region``, default the whole mesh) that map the mesh, every boundary condition and
    every material region onto itself. Returns {"x": perm, "y": perm} (only the valid
    ones); (T[perm])_i is T at the mirror image of node i."""
    from scipy.spatial import cKDTree

    mesh = problem.mesh
    p = mesh.p
    nodes = (np.unique(mesh.t[:, np.asarray(mesh.subdomains[region])]) if region and region != "all"
             else np.arange(p.shape[1]))
    size = float(np.max(p.max(axis=1) - p.min(axis=1)))
    tree = cKDTree(p.T)
    groups = [e.boundary for e in problem.electrodes] + [b.boundary for b in problem.baths] + \
             [c.boundary for c in problem.coolings]
    if problem.four_probe:
        groups += list(problem.four_probe)
    out = {}
    for k, axis in enumerate("xy"):
        c = 0.5 * (p[k, nodes].min() + p[k, nodes].max())
        q = p.copy()
        q[k] = 2 * c - q[k]
        dist, perm = tree.query(q.T)
        if dist.max() > tol * size:
            continue
        ok = True
        for g in groups:
            s = _facet_nodes(mesh, g)
            if not np.array_equal(np.sort(perm[s]), s):
                ok = False
                break
        if ok:
            for name in problem.materials:
                s = np.unique(mesh.t[:, np.asarray(mesh.subdomains[name])])
                if not np.array_equal(np.sort(perm[s]), s):
                    ok = False
                    break
        if ok:
            out[axis] = perm
    return out


# ============================================================================ analysis

@dataclass
class HotspotOptions:
    region: str = "mesa"              # where hot spots are looked for
    n_eigs: int = 4                   # decay rates computed per point (smallest |mu|)
    eig_tol: float = 1e-7             # ARPACK relative tolerance
    hottest_fraction: float = 0.10    # area share whose current fraction is reported
    asymmetry_threshold: float = 1e-3 # above: a state is asymmetric (a hot spot off the mirror plane)
    refine_rtol: float = 1e-4         # onset located to this relative accuracy in the bias
    max_refine: int = 12
    follow: bool = True               # switch to and follow the hot-spot branch
    branch_step: float | None = None  # natural-continuation step of the hot-spot branch [A] (default: from the trace)
    min_step_fraction: float = 1e-3   # smallest step as a fraction of branch_step
    max_branch_points: int = 60
    perturbations: tuple = (1.0, 2.0, 0.5, 4.0)


class StabilityAnalysis:
    """Decay-rate spectrum (Eq. 1) and hot-spot measures of steady Points of ``solver``.

    Shares the solver's quadrature data; keeps its own factorisations.
    """

    def __init__(self, solver: ElectroThermalSolver, options: HotspotOptions | None = None):
        self.solver = solver
        self.o = options or HotspotOptions()
        pr = solver.problem
        self.problem = pr
        self.asm = TransientAssembler(pr, solver.qd, missing_heat_capacity="error")
        self.sys = self.asm.sys
        qd = solver.qd
        reg = self.o.region if self.o.region in qd.regions else "all"
        self.region = reg
        self.mirrors = mirror_maps(pr, reg if reg != "all" else None)
        mesh = pr.mesh
        self.nodes = qd.region_dofs[reg]
        pts = mesh.p[:, self.nodes]
        self.centre = 0.5 * (pts.min(axis=1) + pts.max(axis=1))
        self.half = 0.5 * (pts.max(axis=1) - pts.min(axis=1))
        # the region's mid-height element layer (for the current fraction): the elements
        # whose centroid height is nearest the middle of the region
        els = qd.regions[reg]
        ez = qd.xq[2][els].mean(axis=1)
        zlo, zhi = pts[2].min(), pts[2].max()
        key = np.round((ez - zlo) / max(zhi - zlo, 1e-300) * 1e6)
        levels = np.unique(key)
        lev = levels[np.argmin(np.abs(levels - 0.5e6))]
        self.layer = els[key == lev]
        zc = mesh.p[2][mesh.t[:, qd.order[self.layer]]]
        self.layer_area = qd.dx[self.layer].sum(axis=1) / (zc.max(axis=0) - zc.min(axis=0))
        self.n_spectra = 0
        self.t_spectra = 0.0

    # -- spectrum ------------------------------------------------------------------------------
    def spectrum(self, point, mode: str = "current", k: int | None = None):
        """(mu, vectors): the k decay rates of smallest |mu| [1/s], sorted by real part, and
        their reduced eigenvectors (columns), at a converged steady ``point`` with the bias
        row of ``mode`` held."""
        t0 = time.perf_counter()
        a, sys = self.asm, self.sys
        k = k or self.o.n_eigs
        value = point.I if mode == "current" else point.V
        ev = a.evaluate(point.z, 0.0, mode, value)
        data, _ = a.jacobian_data(ev, mode)
        solve = a.factor(data)
        cap = a.cap.capacity(ev.T)
        Bd = np.zeros(sys.n)
        Bd[sys.red[sys.N + a.free_T]] = cap[a.free_T]
        n = sys.n
        op = sla.LinearOperator((n, n), matvec=lambda x: solve(Bd * x), dtype=float)
        k = min(k, int(np.count_nonzero(Bd)) - 2)
        rng = np.random.default_rng(12345)      # a fixed start vector: reproducible runs
        v0 = Bd * rng.standard_normal(n)
        vals, vecs = sla.eigs(op, k=k, which="LM", tol=self.o.eig_tol, v0=v0, maxiter=5000)
        mu = 1.0 / vals
        order = np.lexsort((mu.imag, mu.real))
        self.n_spectra += 1
        self.t_spectra += time.perf_counter() - t0
        return mu[order], vecs[:, order]

    def parity(self, vec) -> dict:
        """<v, Pv>/<v, v> of the temperature part of a reduced vector, per mirror."""
        _, dT = self.sys.expand_direction(np.real(vec))
        nn = float(dT @ dT)
        return {ax: float(dT @ dT[perm]) / nn if nn > 0 else np.nan for ax, perm in self.mirrors.items()}

    # -- measures -------------------------------------------------------------------------------
    def measures(self, point) -> dict:
        """Hot-spot measures of a state (module docstring); lengths in m."""
        qd = self.solver.qd
        T = point.T
        TB = self.problem.T_bath
        nodes = self.nodes
        Tn = T[nodes]
        kmax = nodes[int(np.argmax(Tn))]
        pos = self.problem.mesh.p[:, kmax] - self.centre
        out = {"x_hot": float(pos[0]), "y_hot": float(pos[1]),
               "offset": float(math.hypot(pos[0], pos[1])),
               "offset_rel": float(max(abs(pos[0]) / self.half[0] if self.half[0] else 0.0,
                                       abs(pos[1]) / self.half[1] if self.half[1] else 0.0))}
        rise = Tn - TB
        nr = float(np.linalg.norm(rise))
        asym = {}
        for ax, perm in self.mirrors.items():
            d = T[nodes] - T[perm[nodes]]
            asym[ax] = float(np.linalg.norm(d)) / (2 * nr) if nr > 0 else 0.0
        out["asymmetry"] = max(asym.values()) if asym else float("nan")
        out["asymmetry_by_axis"] = asym
        # current through the mid-height layer, hottest cells first
        els = self.layer
        Tq = forms.values(T[qd.edofs[els]], qd.N)
        gphi = grad_at_quadrature(qd, point.phi[qd.edofs])[els]     # the kernel works on all elements
        Tc = (Tq * qd.dx[els]).sum(axis=1) / qd.dx[els].sum(axis=1)
        sig = self._sigma_z(Tq, els)
        Jz = -(sig * gphi[..., 2] * qd.dx[els]).sum(axis=1) / qd.dx[els].sum(axis=1)   # crystal c = z here
        I_cell = Jz * self.layer_area
        tot = float(I_cell.sum())
        order = np.argsort(-Tc)
        A = np.cumsum(self.layer_area[order])
        target = self.o.hottest_fraction * A[-1]
        j = int(np.searchsorted(A, target))
        I_cum = np.cumsum(I_cell[order])
        prev_A = A[j - 1] if j > 0 else 0.0
        prev_I = I_cum[j - 1] if j > 0 else 0.0
        frac = (target - prev_A) / self.layer_area[order][j]
        I_hot = prev_I + frac * I_cell[order][j]
        out["hot_current_fraction"] = float(I_hot / tot) if tot != 0 else float("nan")
        out["T_contrast"] = float(Tn.max() - (Tq * qd.dx[els]).sum() / qd.dx[els].sum())
        return out

    def _sigma_z(self, Tq, els):
        """c-axis conductivity at the layer's quadrature points (e, q)."""
        qd = self.solver.qd
        out = np.zeros(Tq.shape)
        for g in qd.groups:
            lo, hi = g.sl.start, g.sl.stop
            m = (els >= lo) & (els < hi)
            if np.any(m):
                if g.insulator:
                    out[m] = 0.0
                else:
                    if g.rotation is not None:
                        raise NotImplementedError("hot current fraction with a rotated crystal frame")
                    out[m] = 1.0 / g.material.rho_c(Tq[m])
        return out


# ============================================================================ the search

@dataclass
class HotspotResult:
    """Both branches with spectra and measures, the bifurcations found, and the onset."""

    symmetric: list = field(default_factory=list)     # dicts: point readouts + mu + measures
    hotspot: list = field(default_factory=list)       # dicts along the hot-spot branch (by current)
    crossings: list = field(default_factory=list)     # dicts: kind, I, V, parity, ...
    onset: dict | None = None                         # the first loss of stability (hot spot appears)
    switch: dict | None = None                        # how the hot-spot branch was reached
    points_sym: list = field(default_factory=list)    # steady Points (states) of the symmetric branch
    points_hot: list = field(default_factory=list)    # of the hot-spot branch
    timings: dict = field(default_factory=dict)

    def dataset(self) -> xr.Dataset:
        """"curves"-style Dataset with dims (branch, point): branch 0 the traced (symmetric)
        branch, 1 the hot-spot branch (NaN-padded)."""
        rows = [self.symmetric, self.hotspot]
        n = max(len(self.symmetric), len(self.hotspot), 1)
        spec = {
            "I": ("A", "current"), "V": ("V", "voltage of the bias electrode"), "P": ("W", "Joule power"),
            "T_mean": ("K", "mean temperature of the region"), "T_max": ("K", "maximum temperature"),
            "R": ("Ohm", "resistance V/I"), "mu_min": ("1/s", "smallest decay rate of perturbations (Eq. 1)"),
            "n_unstable": ("1", "number of growing modes (negative decay rates)"),
            "hot_current_fraction": ("1", "share of the current through the hottest 10 % of the region area"),
            "offset": ("m", "distance of the temperature maximum from the region centre"),
            "y_hot": ("m", "y of the temperature maximum relative to the region centre"),
            "x_hot": ("m", "x of the temperature maximum relative to the region centre"),
            "asymmetry": ("1", "||T - mirror(T)|| / (2 ||T - T_bath||) over the region"),
            "energy_balance": ("1", "|P - heat out| / P of the steady state"),
            "current_balance": ("1", "|current in - current out| / I"),
        }
        data = {}
        for k, (unit, ln) in spec.items():
            arr = np.full((2, n), np.nan)
            for b, rr in enumerate(rows):
                for j, r in enumerate(rr):
                    arr[b, j] = r.get(k, np.nan)
            data[k] = (("branch", "point"), arr, {"units": unit, "long_name": ln})
        # turning points of the traced curve, the onset, and every other bifurcation
        tps = [{"kind": r["turning"], "I": r["I"], "V": r["V"], "T": r["T_mean"]}
               for r in self.symmetric if r.get("turning")]
        for c in self.crossings:
            first = self.onset is not None and c["I"] == self.onset["I"]
            kind = "hot_spot_onset" if first else f"{c['kind']}_{c['stability']}"
            tps.append({"kind": kind, "I": c["I"], "V": c["V"], "T": c.get("T_mean", np.nan)})
        return xr.Dataset(data, coords={"branch": ("branch", ["symmetric", "hot spot"]),
                                        "point": ("point", np.arange(n))},
                          attrs={"turning_points": tps})


def _row(p: Point, region, meas, mu=None, nneg=None) -> dict:
    r = {"I": p.I, "V": p.V, "P": p.P, "T_mean": p.T_mean[region], "T_max": p.T_max["all"],
         "R": p.V / p.I if p.I else np.nan, "turning": p.turning,
         "energy_balance": p.energy_balance, "current_balance": p.current_balance}
    r.update({k: v for k, v in meas.items() if not isinstance(v, dict)})
    if mu is not None:
        r["mu_min"] = float(np.min(mu.real))
        r["mu"] = [complex(m) for m in mu]
        r["n_unstable"] = int(nneg)
    return r


def _nneg(mu):
    return int(np.sum(mu.real < 0))


def _critical(mu):
    """Index of the eigenvalue closest to zero (real part)."""
    return int(np.argmin(np.abs(mu.real)))


def find_hotspot(solver: ElectroThermalSolver, stop: float, *, points=None, continuation: str = "arclength",
                 n_points: int = 30, bounds=None, options: HotspotOptions | None = None,
                 progress=None) -> HotspotResult:
    """Trace the current-biased I-V from zero to ``stop`` [A] without imposed symmetry,
    compute the decay-rate spectrum (Eq. 1) and hot-spot measures at every point, locate
    every change of the number of growing modes (secant on the critical decay rate),
    classify it (symmetry breaking, symmetric, fold) and, for a symmetry-breaking loss of
    stability, switch to the hot-spot branch and follow it (module docstring).

    ``points``: an already traced branch (Points with states) instead of tracing.
    ``continuation``: "arclength" (solver.trace, passes folds) or "natural" (n_points
    equal current steps). ``progress(msg)`` receives one line per stage.
    """
    o = options or HotspotOptions()
    t_all = time.perf_counter()
    sa = StabilityAnalysis(solver, o)
    reg = sa.region
    res = HotspotResult()
    say = progress or (lambda msg: None)
    # -- 1. the branch from zero bias ------------------------------------------------------------
    t0 = time.perf_counter()
    if points is None:
        if continuation == "arclength":
            points = solver.trace("current", stop, bounds=bounds or {}, ds=min(0.5, 1.0 / n_points),
                                  raise_on_failure=False).run().points
        else:
            points = solver.sweep("current", np.linspace(0, stop, n_points + 1)[1:], raise_on_failure=False).run().points
    pts = [p for p in points if p.I >= 0 and p.z is not None]
    if not any(p.I > 0 for p in pts):
        raise ConvergenceError("hot-spot search: no converged point with current > 0")
    res.timings["trace_s"] = time.perf_counter() - t0
    say(f"traced {len(pts)} points up to I = {pts[-1].I:.4g} A")
    t0 = time.perf_counter()
    spectra = []
    for p in pts:
        mu, vec = sa.spectrum(p)
        spectra.append((mu, vec))
        res.symmetric.append(_row(p, reg, sa.measures(p), mu, _nneg(mu)))
    res.points_sym = pts
    res.timings["spectra_s"] = time.perf_counter() - t0
    # -- 2. crossings --------------------------------------------------------------------------
    t0 = time.perf_counter()
    for k in range(1, len(pts)):
        n0, n1 = res.symmetric[k - 1]["n_unstable"], res.symmetric[k]["n_unstable"]
        if n0 == n1:
            continue
        cr = _refine_crossing(solver, sa, pts[k - 1], pts[k], spectra[k - 1], spectra[k], o)
        cr["n_before"], cr["n_after"] = n0, n1
        cr["stability"] = "lost" if n1 > n0 else "regained"
        res.crossings.append(cr)
        say(f"{cr['kind']} ({cr['stability']}) at I = {cr['I']:.6g} A, V = {cr['V']:.6g} V")
    res.timings["refine_s"] = time.perf_counter() - t0
    lost = [c for c in res.crossings if c["stability"] == "lost"]
    if lost:
        res.onset = dict(lost[0])
    # -- 3. the hot-spot branch ----------------------------------------------------------------
    if o.follow and lost and lost[0]["kind"] == "symmetry-breaking":
        t0 = time.perf_counter()
        try:
            _follow_hot_branch(solver, sa, res, pts, spectra, o, say)
        except ConvergenceError as e:
            res.switch = {"method": "failed", "message": str(e)}
            say(f"could not reach the hot-spot branch: {e}")
        res.timings["branch_s"] = time.perf_counter() - t0
    if res.onset is not None and res.hotspot:
        # what the hot spot carries: at the onset (continuous growth) and fully developed
        best = max(res.hotspot, key=lambda r: r["hot_current_fraction"])
        res.onset["hot_current_fraction_max"] = best["hot_current_fraction"]
        res.onset["I_at_max_fraction"] = best["I"]
        res.onset["offset_at_max_fraction"] = best["offset"]
    res.timings["total_s"] = time.perf_counter() - t_all
    res.timings["spectra"] = sa.n_spectra
    return res


def _solve_at(solver, mode, value, guess):
    return solver.solve(mode, value, guess=guess)


def _refine_crossing(solver, sa, a: Point, b: Point, spa, spb, o) -> dict:
    """Locate mu_crit = 0 between a and b by the secant method (regula falsi safeguard)
    in the bias that is monotone between them (current, else voltage)."""
    mode = "current" if (a.dI_ds * b.dI_ds > 0 or not np.isfinite(a.dI_ds * b.dI_ds)) else "voltage"
    lam = (lambda p: p.I) if mode == "current" else (lambda p: p.V)

    def crit(sp):
        mu = sp[0]
        k = _critical(mu)
        return float(mu.real[k]), sp[1][:, k]

    fa, _ = crit(spa)
    fb, vb = crit(spb)
    pa, pb = a, b
    la, lb = lam(a), lam(b)
    best = (b, fb, vb)
    it = 0
    side = 0
    while it < o.max_refine and abs(lb - la) > o.refine_rtol * max(abs(la), abs(lb)):
        it += 1
        lm = lb - fb * (lb - la) / (fb - fa) if fb != fa else 0.5 * (la + lb)
        # Illinois safeguard: keep the iterate inside, and away from a stagnant end
        lo, hi = min(la, lb), max(la, lb)
        if not (lo < lm < hi):
            lm = 0.5 * (la + lb)
        f = (lm - la) / (lb - la)
        guess = pa.z + f * (pb.z - pa.z)
        try:
            pm = _solve_at(solver, mode, lm, guess)
        except ConvergenceError:
            break
        sp = sa.spectrum(pm)
        fm, vm = crit(sp)
        best = (pm, fm, vm)
        if fm == 0:
            break
        if np.sign(fm) == np.sign(fb):
            pb, lb, fb = pm, lm, fm
            if side == 1:
                fa *= 0.5
            side = 1
        else:
            pa, la, fa = pm, lm, fm
            if side == -1:
                fb *= 0.5
            side = -1
    # the zero by linear interpolation of mu between the final bracket
    lz = lb - fb * (lb - la) / (fb - fa) if fb != fa else 0.5 * (la + lb)
    f = (lz - la) / (lb - la) if lb != la else 0.0
    guess = pa.z + f * (pb.z - pa.z)
    try:
        pz = _solve_at(solver, mode, lz, guess)
    except ConvergenceError:
        pz = best[0]
    vec = best[2]
    par = sa.parity(vec)
    # classify: a fold of the current (dI/ds changes sign) or a mirror parity of the mode
    fold = a.dI_ds * b.dI_ds < 0
    if fold:
        kind = "fold"
    elif par and min(par.values()) < -0.9:
        kind = "symmetry-breaking"
    elif par and all(v > 0.9 for v in par.values()):
        kind = "symmetric"
    else:
        kind = "instability"
    axis = min(par, key=par.get) if par else None
    _, mode_T = sa.sys.expand_direction(np.real(vec))
    return {"kind": kind, "I": pz.I, "V": pz.V, "T_mean": pz.T_mean[sa.region], "T_max": pz.T_max["all"],
            "bias": mode, "parity": par, "mirror": axis, "iterations": it,
            "bracket": (float(min(la, lb)), float(max(la, lb))), "point": pz, "mode_vector": vec,
            "mode_T": mode_T}


def _hot_state_ok(sa, p, o):
    m = sa.measures(p)
    if not (m["asymmetry"] > o.asymmetry_threshold):
        return False, m, None
    mu, _ = sa.spectrum(p)
    return _nneg(mu) == 0, m, mu


def _follow_hot_branch(solver, sa, res, pts, spectra, o, say):
    """Switch to the hot-spot branch at the most unstable symmetric point, then follow it."""
    rows = res.symmetric
    k_star = min(range(len(pts)), key=lambda k: rows[k]["mu_min"])
    p_s = pts[k_star]
    mu, vec = spectra[k_star]
    kc = int(np.argmin(mu.real))
    v = np.real(vec[:, kc])
    _, vT = sa.sys.expand_direction(v)
    scale = (p_s.T_max["all"] - p_s.T_mean[sa.region]) / max(np.abs(vT).max(), 1e-300)
    I = p_s.I
    hot = None
    how = None
    quick = NewtonOptions(rtol=solver.options.rtol, max_newton=12)   # a failing attempt must be cheap
    for eps in o.perturbations:
        try:
            q = solver.solve("current", I, guess=p_s.z + eps * scale * v, options=quick)
        except (ConvergenceError, OutOfRangeError, FloatingPointError):
            continue
        ok, m, mu_q = _hot_state_ok(sa, q, o)
        if ok:
            hot, how = q, {"method": "newton", "perturbation": eps}
            break
    if hot is None:
        # the physical route: let the unstable mode grow at fixed current
        ts = TransientSolver(solver.problem, steady=solver)
        rate = abs(float(mu.real[kc]))
        t_end = 30.0 / rate if rate > 0 else 1.0
        r = ts.run(Step(I), t_end, initial=p_s.z + 0.5 * scale * v,
                   options=TransientOptions(rtol=1e-3, atol=1e-3))
        q = solver.solve("current", I, guess=r.final_z)
        ok, m, mu_q = _hot_state_ok(sa, q, o)
        if not ok:
            raise ConvergenceError(f"branch switching at I = {I:.6g} A: neither Newton from the perturbed state "
                                   "nor the transient reached a stable asymmetric state")
        hot, how = q, {"method": "transient", "t_end": t_end, "steps": r.steps}
    how.update(I=I, V_symmetric=p_s.V, V_hot=hot.V, mu_symmetric=float(mu.real[kc]))
    res.switch = how
    say(f"hot-spot branch reached at I = {I:.6g} A by {how['method']} (V {p_s.V:.6g} -> {hot.V:.6g} V)")
    # natural continuation in the current, both ways
    I_lo, I_hi = pts[0].I, max(p.I for p in pts)
    dI = o.branch_step or (I_hi - I_lo) / 30.0
    branch = {I: hot}
    for direction in (-1.0, 1.0):
        p = hot
        step = dI
        n = 0
        while n < o.max_branch_points:
            target = p.I + direction * step
            if target <= I_lo or target > I_hi * (1 + 1e-12):
                if step > o.min_step_fraction * dI and (target <= I_lo and p.I - I_lo > 1e-9 * I_hi
                                                        or target > I_hi and I_hi - p.I > 1e-9 * I_hi):
                    step = (p.I - I_lo) * 0.999 if direction < 0 else I_hi - p.I
                    continue
                break
            eq = solver.equation("current", p.I)
            try:
                x, _, _, _ = solver.tangent(p, eq)
                q = solver.solve("current", target, guess=p.z + (target - p.I) * x)
                m = sa.measures(q)
                if m["asymmetry"] <= o.asymmetry_threshold:
                    raise ConvergenceError("merged with the symmetric branch")
            except (ConvergenceError, OutOfRangeError, FloatingPointError):
                step *= 0.5
                if step < o.min_step_fraction * dI:
                    break
                continue
            branch[q.I] = q
            p = q
            n += 1
            step = min(step * 1.5, dI)
    Is = sorted(branch)
    res.points_hot = [branch[i] for i in Is]
    for q in res.points_hot:
        mu_q, _ = sa.spectrum(q)
        res.hotspot.append(_row(q, sa.region, sa.measures(q), mu_q, _nneg(mu_q)))
    say(f"hot-spot branch: {len(Is)} points, I = {Is[0]:.6g} .. {Is[-1]:.6g} A")
