"""Bias sweeps with continuation: natural-parameter sweeps and pseudo-arclength traces.

Both drivers are generators wrapped in a `Sweep`: converged `Point`s are yielded one
by one as they come (a caller can write each to disk), turning points are located,
refined and yielded in curve order with ``point.turning`` set, and a failure stops
the sweep with a `ConvergenceError` that names the bias point, carries its residual
history and every point converged so far (``err.points``).

Natural parameter (`natural_sweep`): the bias (V, I or P) steps through given values;
the predictor is the Euler tangent dz/d(bias) at the previous point (exact Jacobian,
its factorisation reused from the last Newton step, so nearly free). A failed point is
retried with adaptive sub-steps: halved on failure (at most ``max_retries`` times below
the full step), doubled after each success. A fold of the driven
quantity (voltage bias past a voltage maximum) cannot be passed this way: no steady
state exists beyond it.

Pseudo-arclength (`arclength_trace`): the curve is parametrised by arclength s in the
scaled I-V plane (v, i) = (V/V_s, I/I_s), with V_s, I_s chosen so the linear (cold)
response runs at 45 degrees. The corrector solves the physics plus the hyperplane

    t_I (I - I_p) + t_V (I_s/V_s)(U - U_p) = 0,

(U_p, I_p) = (U_k, I_k) + ds (t_V V_s, t_I I_s) the predicted point, (t_V, t_I) the
unit tangent in (v, i). Since I and V cannot both turn at the same point of a smooth
curve (generically), this row is regular through back-bending (V maxima, dV/ds = 0)
and S-turns (I extrema, dI/ds = 0) alike. Step control: grow ds by 1.5 after <= 3
Newton steps, halve after >= 7 or when the tangent turns by more than 20 degrees, halve
and retry on failure down to ds_min.

Turning points: a sign change of dV/ds (or dI/ds) between consecutive points brackets
an extremum of V (of I). V(I) is regular there under current bias (I(V) under voltage
bias), so the extremum is the root of g = dV/dI (dI/dV) from the tangent, found by
iterating on the extremum of the cubic Hermite interpolant of the bracket (values and
slopes at both ends) to |d lambda| <= 1e-9 |lambda| (typically 2-3 solves).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .. import progress
from ..errors import ConvergenceError, OutOfRangeError
from .operator import BiasEquation
from .solver import Point


class ContinuationTarget(Protocol):
    """What the drivers need of a steady solver (`ElectroThermalSolver` provides it).

    solve_at(eq, z0, mode, value, reuse=None) -> (Point, jac): Newton from z0 with the
        bias row eq, the Point labelled (mode, value); jac for `tangent`;
    equation(mode, value) -> BiasEquation: the natural bias row of a mode;
    tangent(point, eq, jac=None) -> (dz/dlambda, dU, dI, dV_4p) at a converged point;
    zero_point() -> Point: the unbiased state;
    power_guess(P) -> z: a start for power bias P from zero bias;
    heating_scales() -> (V_th, I_th): the bias scale of Joule heating (trace scales).
    """

    def solve_at(self, eq, z0, mode, value, options=None, reuse=None): ...
    def equation(self, mode, value) -> BiasEquation: ...
    def tangent(self, point, eq, jac=None): ...
    def zero_point(self) -> Point: ...
    def power_guess(self, P): ...
    def heating_scales(self) -> tuple[float, float]: ...


class Sweep:
    """Iterate (once) to get converged Points as they come; ``run()`` collects without
    raising.

    Attributes filled while iterating: points (every yielded Point, turning points
    included, in curve order), turning_points (those with ``.turning`` set), failure
    (the ConvergenceError that stopped the sweep, or None).
    """

    def __init__(self, generator, raise_on_failure=True, keep_states=True):
        self._gen = generator
        self.raise_on_failure = raise_on_failure
        # keep_states=False drops the nodal arrays (phi, T, z) of all but the two latest
        # points (the drivers need those), for long sweeps on large meshes
        self.keep_states = keep_states
        self.points: list[Point] = []
        self.failure: ConvergenceError | None = None

    @property
    def turning_points(self):
        return [p for p in self.points if p.turning]

    def __iter__(self):
        try:
            for p in self._gen:
                self.points.append(p)
                if not self.keep_states and len(self.points) > 2:
                    old = self.points[-3]
                    old.phi = old.T = old.z = None
                yield p
        except ConvergenceError as err:
            err.points = list(self.points)
            self.failure = err
            if self.raise_on_failure:
                raise

    def run(self):
        """Consume the sweep; never raises ConvergenceError (see ``failure``)."""
        self.raise_on_failure = False
        for _ in self:
            pass
        return self


# -- helpers ----------------------------------------------------------------------------

def _mode_value(p: Point, mode):
    return {"voltage": p.V, "current": p.I, "power": p.V * p.I}[mode]


def _solve_with_jac(solver, mode_or_eq, value, z_guess, reuse=None):
    """Newton from z_guess; returns (Point, jac, eq). reuse: start with chord steps on the
    previous solve's factorisation (None: the solver's option). The arclength trace passes
    False: its step control counts Newton steps, and a trace resumed from a checkpoint
    (which holds no factorisation) must take the same steps as the uninterrupted one."""
    if isinstance(mode_or_eq, BiasEquation):
        eq = mode_or_eq
        mode, val = "arclength", value
    else:
        eq = solver.equation(mode_or_eq, value)
        mode, val = mode_or_eq, value
    pt, jac = solver.solve_at(eq, z_guess, mode, val, reuse=reuse)
    return pt, jac, eq


def _tangent_in(solver, pt, mode, jac=None):
    """dz/dlambda and (dU, dI, dV4) for the natural parameter of ``mode``."""
    return solver.tangent(pt, solver.equation(mode, _mode_value(pt, mode)), jac)


def _sign(x):
    return 0 if x == 0 or not np.isfinite(x) else (1 if x > 0 else -1)


def _hermite_extremum(la, lb, Va, Vb, ga, gb):
    """Root in (la, lb) of the derivative of the cubic Hermite interpolant of V(lambda)
    with values Va, Vb and slopes ga, gb at the ends; None if there is none."""
    h = lb - la
    dV = (Va - Vb) / h
    c2 = 6 * dV + 3 * ga + 3 * gb
    c1 = -6 * dV - 4 * ga - 2 * gb
    c0 = ga
    roots = np.roots([c2, c1, c0]) if abs(c2) > 1e-300 else (np.array([-c0 / c1]) if c1 else np.array([]))
    ts = [t.real for t in np.atleast_1d(roots) if abs(t.imag) < 1e-12 and 0.0 < t.real < 1.0]
    if not ts:
        return None
    return la + h * min(ts, key=lambda t: abs(t - 0.5))


def refine_turning(solver, a: Point, b: Point, quantity: str, max_iter=20, rtol=1e-9):
    """Locate the extremum of ``quantity`` ("V" or "I") between bracketing points a, b.

    V extrema are found under current bias as roots of g = dV/dI, I extrema under
    voltage bias as roots of g = dI/dV; g comes from the tangent at each solve. Each
    iterate is the extremum of the cubic Hermite interpolant of the bracket (values
    and slopes at both ends; regula falsi if it has none inside), the bracket shrinks
    to the side where g changes sign, and the iteration stops when the next iterate
    moves by <= rtol |lambda|. a and b need dV_ds, dI_ds set. Returns the Point at the
    extremum with ``turning`` = "V_max", "V_min", "I_max" or "I_min", or None if the
    bracket is not usable.
    """
    drive = "current" if quantity == "V" else "voltage"

    def gfun(p):
        num, den = (p.dV_ds, p.dI_ds) if quantity == "V" else (p.dI_ds, p.dV_ds)
        return num / den

    def lam(p):
        return p.I if drive == "current" else p.V

    def val(p):
        return p.V if quantity == "V" else p.I

    ga, gb = gfun(a), gfun(b)
    if _sign(ga) * _sign(gb) >= 0 or _sign(a.dI_ds if quantity == "V" else a.dV_ds) != \
            _sign(b.dI_ds if quantity == "V" else b.dV_ds):
        return None
    kind = f"{quantity}_{'max' if _sign(ga) > 0 else 'min'}"
    pa, pb = a, b
    la, lb = lam(a), lam(b)

    def next_lambda():
        lh = _hermite_extremum(la, lb, val(pa), val(pb), ga, gb)
        if lh is None:
            lh = lb - gb * (lb - la) / (gb - ga)
        return lh

    lam_new = next_lambda()
    best = None
    for _ in range(max_iter):
        f = (lam_new - la) / (lb - la)
        z0 = pa.z + f * (pb.z - pa.z)
        pt, jac, eq = _solve_with_jac(solver, drive, lam_new, z0)
        x, dU, dI, dV4 = solver.tangent(pt, eq, jac)
        pt.dV_ds, pt.dI_ds, pt.dV4p_ds = dU, dI, dV4
        g = gfun(pt)
        best = pt
        if g == 0:
            break
        if _sign(g) == _sign(gb):
            pb, lb, gb = pt, lam_new, g
        else:
            pa, la, ga = pt, lam_new, g
        cand = next_lambda()
        if abs(cand - lam_new) <= rtol * abs(lam_new):
            break
        lam_new = cand
    best.turning = kind
    return best


def _turnings(solver, prev: Point, cur: Point, refine=True):
    """Turning points between consecutive points (sign changes of dV/ds, dI/ds)."""
    out = []
    for q, d0, d1 in (("V", prev.dV_ds, cur.dV_ds), ("I", prev.dI_ds, cur.dI_ds)):
        if _sign(d0) * _sign(d1) < 0:
            tp = refine_turning(solver, prev, cur, q) if refine else None
            if tp is None:
                # unrefined: report the better of the two bracketing points
                p = cur if abs(d1) < abs(d0) else prev
                tp = Point(**{**p.__dict__})
                tp.turning = f"{q}_{'max' if _sign(d0) > 0 else 'min'}"
                tp.mode = tp.mode + " (unrefined)"
            out.append(tp)
    # order along the curve: by the scaled distance from prev in the I-V plane
    dI, dV = abs(cur.I - prev.I) or 1.0, abs(cur.V - prev.V) or 1.0
    out.sort(key=lambda p: abs(p.I - prev.I) / dI + abs(p.V - prev.V) / dV)
    return out


# -- natural-parameter sweep -------------------------------------------------------------

class _Failed(Exception):
    def __init__(self, value, step, err):
        self.value, self.step, self.err = value, step, err


def _reach(solver, mode, p, lam_p, x_p, target, max_halvings):
    """Converge at bias ``target`` from the converged point p at lam_p (x_p: its tangent,
    None for power bias from zero). Adaptive sub-steps: a failed one is halved, the one
    after a converged one doubled, so a steep stretch (an activated R(T) heating up from
    a cold bath) costs a few small steps, not a failure; the smallest sub-step is
    (target - lam_p) 2^-max_halvings. Returns (Point, jac, eq); raises _Failed."""
    full = target - lam_p
    h = full
    while True:
        last = abs(h) >= abs(target - lam_p)
        lam = target if last else lam_p + h
        if x_p is None:   # power from zero bias: degenerate tangent, use the quadratic guess
            z0 = solver.power_guess(lam) if lam > 0 else p.z
        else:
            z0 = p.z + (lam - lam_p) * x_p
        try:
            pt, jac, eq = _solve_with_jac(solver, mode, lam, z0)
        except (ConvergenceError, OutOfRangeError, FloatingPointError) as err:
            if abs(h) <= abs(full) * 2.0 ** -max_halvings:
                raise _Failed(lam, h, err) from None
            h *= 0.5
            continue
        if last:
            return pt, jac, eq
        x_p = solver.tangent(pt, eq, jac)[0]
        p, lam_p = pt, lam
        h *= 2.0


def natural_sweep(solver, mode, values, max_retries=12, refine_turning_points=True,
                  raise_on_failure=True, keep_states=True, start=None) -> Sweep:
    """Sweep the bias ``mode`` ("voltage", "current", "power") through ``values``.

    Yields one Point per value (plus refined turning points of the non-driven
    quantity, with ``turning`` set). See module docstring for predictor and retries.
    ``sweep.state`` holds, after each value's point, what the sweep needs to go on;
    ``start=(point, state)`` continues from such a checkpoint (``point`` with its z).
    """
    values = [float(v) for v in values]
    state = {}

    def gen():
        if start is None:
            zero = solver.zero_point()
            prev, lam_prev, k0, yielded = zero, 0.0, 0, 0
            x_prev = None if mode == "power" else _tangent_in(solver, zero, mode)[0]
        else:
            (prev, st), zero = start, None
            lam_prev, k0, yielded = float(st["lam_prev"]), int(st["k"]), int(st["yielded"])
            x_prev = st.get("x_prev")
        # derivatives of the zero point along this mode (for turning detection)
        for k in range(k0, len(values)):
            target = values[k]
            try:
                pt, jac, eq = _reach(solver, mode, prev, lam_prev, x_prev, target, max_retries)
            except _Failed as f:
                raise ConvergenceError(
                    f"sweep stopped at {mode} = {target:.6g} (last converged {mode} = {lam_prev:.6g}): "
                    f"no convergence even with the step halved {max_retries} times (failed at "
                    f"{mode} = {f.value:.6g}, step {f.step:.3g}): {f.err}",
                    bias=(mode, target), history=getattr(f.err, "history", [])) from None
            x, dU, dI, dV4 = solver.tangent(pt, eq, jac)
            sgn = 1.0 if target >= lam_prev else -1.0
            pt.dV_ds, pt.dI_ds, pt.dV4p_ds = sgn * dU, sgn * dI, sgn * dV4
            if prev is not zero:
                for tp in _turnings(solver, prev, pt, refine_turning_points):
                    yield tp
                    yielded += 1
            state.clear()
            state.update(k=k + 1, lam_prev=target, x_prev=x, yielded=yielded + 1)
            yield pt
            yielded += 1
            prev, lam_prev, x_prev = pt, target, x

    sweep = Sweep(gen(), raise_on_failure, keep_states)
    sweep.state = state
    return sweep


# -- pseudo-arclength trace ------------------------------------------------------------------

@dataclass
class TraceOptions:
    ds: float = 0.05           # first step in the scaled (v, i) plane
    ds_min: float = 1e-5
    ds_max: float = 0.5
    max_points: int = 400
    grow: float = 1.5
    max_angle_deg: float = 20.0
    bounds: dict = field(default_factory=dict)  # e.g. {"T_max": 300, "I": 1e-2}: stop beyond


def arclength_trace(solver, mode, stop, ds=None, ds_min=None, ds_max=None, max_points=None,
                    bounds=None, refine_turning_points=True, include_zero=True,
                    raise_on_failure=True, scales=None, keep_states=True,
                    options: TraceOptions | None = None, start=None) -> Sweep:
    """Trace the I-V curve from zero bias by pseudo-arclength continuation until the
    ``mode`` quantity (V, I or P = V I) reaches ``stop`` (the last point is solved exactly
    at ``stop``), a ``bounds`` entry is exceeded (keys "V", "I", "P", "T_max"), or
    ``max_points`` points were taken. Passes folds of any bias mode; turning points are
    refined and yielded in order.

    Steps ds are measured in the plane (V/V_s, I/I_s); by default V_s, I_s follow from
    ``stop`` and the cold conductance G0 (I_s = G0 V_s, and the stop value is 1 in its
    own axis), so ds = 0.05 is about 1/20 of the way. ``scales=(V_s, I_s)`` overrides.

    ``sweep.state`` holds, after each point, everything the trace needs to go on (scales,
    unit tangent, next step, counts); ``start=(point, state)`` continues from such a
    checkpoint exactly as the uninterrupted trace would (``point`` with its z)."""
    o = options or TraceOptions()
    ds = o.ds if ds is None else ds
    ds_min = o.ds_min if ds_min is None else ds_min
    ds_max = o.ds_max if ds_max is None else ds_max
    max_points = o.max_points if max_points is None else max_points
    bounds = dict(o.bounds if bounds is None else bounds)
    if mode not in ("voltage", "current", "power"):
        raise ValueError(f"mode must be voltage, current or power, not {mode!r}")
    if stop <= 0:
        raise ValueError("trace runs from zero bias towards a positive stop value")

    state = {}

    def gen():
        nonlocal ds
        if start is not None:
            yield from trace_from(*start)
            return
        zero = solver.zero_point()
        x, dU, dI, dV4 = _tangent_in(solver, zero, "voltage")
        G0 = dI / dU
        if scales is not None:
            Vs, Is = scales
        elif mode == "voltage":
            Vs = stop
            Is = G0 * Vs
        elif mode == "current":
            Is = stop
            Vs = Is / G0
        else:
            Vs = math.sqrt(stop / G0)
            Is = G0 * Vs
        if scales is None:
            # the undriven axis no longer than the heating scale: the cold conductance
            # alone would put a self-heated curve's whole voltage range (current bias)
            # into a sliver of the plane, and its turn into a single step
            progress.say(f"arclength trace: cold conductance {progress.si(G0, 'S')}; heating scale from the "
                         f"isothermal R(T) and the low-power (hA)_eff ...", "verbose")
            try:
                V_th, I_th = solver.heating_scales()
            except (ConvergenceError, OutOfRangeError, FloatingPointError):
                V_th = I_th = math.inf
            progress.say(f"arclength trace: heating scale V_th = {progress.si(V_th, 'V')}, "
                         f"I_th = {progress.si(I_th, 'A')}", "verbose")
            if mode != "voltage":
                Vs = min(Vs, V_th)
            if mode != "current":
                Is = min(Is, I_th)
        dv, di = dU / Vs, dI / Is
        nrm = math.hypot(dv, di)
        tV, tI, tz = dv / nrm, di / nrm, x / nrm
        zero.dV_ds, zero.dI_ds, zero.dV4p_ds = tV * Vs, tI * Is, dV4 / nrm
        yielded = int(include_zero)
        state.update(Vs=Vs, Is=Is, tV=tV, tI=tI, tz=tz, ds=ds, npts=0, yielded=yielded)
        if include_zero:
            yield zero
        yield from trace_from(zero, dict(state))

    def trace_from(cur, st):
        nonlocal ds
        Vs, Is, tV, tI, tz = st["Vs"], st["Is"], st["tV"], st["tI"], st["tz"]
        ds, npts, yielded = st["ds"], int(st["npts"]), int(st["yielded"])
        while npts < max_points:
            m0 = _mode_value(cur, mode)
            # predicted mode value, to land exactly on ``stop``
            zp = cur.z + ds * tz
            Up, Ip = cur.V + ds * tV * Vs, cur.I + ds * tI * Is
            mp = {"voltage": Up, "current": Ip, "power": Up * Ip}[mode]
            final = m0 < stop <= mp
            try:
                if final:
                    f = (stop - m0) / (mp - m0)
                    pt, jac, eq = _solve_with_jac(solver, mode, stop, cur.z + f * ds * tz, reuse=False)
                else:
                    eq = BiasEquation("arclength", U_p=Up, I_p=Ip, tV=tV, tI=tI, Vs=Vs, Is=Is)
                    pt, jac, eq = _solve_with_jac(solver, eq, ds, zp, reuse=False)
                    pt.mode, pt.value = "arclength", float(_mode_value(pt, mode))
            except (ConvergenceError, OutOfRangeError, FloatingPointError) as err:
                ds *= 0.5
                if ds < ds_min:
                    hist = getattr(err, "history", [])
                    raise ConvergenceError(
                        f"arclength trace stopped after {npts} points near V = {Up:.6g} V, "
                        f"I = {Ip:.6g} A ({mode} target {stop:.6g}): step fell below ds_min = "
                        f"{ds_min:g}; {err}", bias=("arclength", {"V": Up, "I": Ip}), history=hist) from None
                continue
            # tangent at the new point, oriented along the curve
            if final:
                xn, dUn, dIn, dV4n = solver.tangent(pt, eq, jac)
                sgn = 1.0 if (dUn * tV / Vs + dIn * tI / Is) >= 0 else -1.0
                xn, dUn, dIn, dV4n = sgn * xn, sgn * dUn, sgn * dIn, sgn * dV4n
            else:
                xn, dUn, dIn, dV4n = solver.tangent(pt, eq, jac)
            dv, di = dUn / Vs, dIn / Is
            nrm = math.hypot(dv, di)
            tVn, tIn, tzn = dv / nrm, di / nrm, xn / nrm
            pt.dV_ds, pt.dI_ds, pt.dV4p_ds = tVn * Vs, tIn * Is, dV4n / nrm
            for tp in _turnings(solver, cur, pt, refine_turning_points):
                yield tp
                yielded += 1
            # step control (decided before the yield, so that the checkpoint holds it)
            cosang = tV * tVn + tI * tIn
            ds_next = ds
            if pt.newton_steps >= 7 or cosang < math.cos(math.radians(o.max_angle_deg)):
                ds_next = ds * 0.5
            elif pt.newton_steps <= 3:
                ds_next = ds * o.grow
            ds_next = min(max(ds_next, ds_min), ds_max)
            state.clear()
            state.update(Vs=Vs, Is=Is, tV=tVn, tI=tIn, tz=tzn, ds=ds_next, npts=npts + 1, yielded=yielded + 1)
            yield pt
            yielded += 1
            npts += 1
            if final:
                return
            if any(exceeds(pt, k, v) for k, v in bounds.items()):
                return
            ds = ds_next
            cur, tV, tI, tz = pt, tVn, tIn, tzn

    sweep = Sweep(gen(), raise_on_failure, keep_states)
    sweep.state = state
    return sweep


def exceeds(p: Point, key, limit) -> bool:
    """Whether the point reached a stop bound of the trace ("V", "I", "P" or "T_max")."""
    val = {"V": p.V, "I": p.I, "P": p.P, "T_max": p.T_max["all"]}[key]
    return val >= limit
