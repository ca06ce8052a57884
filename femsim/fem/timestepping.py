"""Time integration of the transient electro-thermal problem (equations in
`femsim.fem.transient`, Eq. 1): a variable-step BDF scheme, its step controller, and
`TransientSolver`, whose `run` is the loop composing them with the assembler's Newton.

Time. Backward Euler (BDF1) and variable-step BDF2,

    BDF1:  (H^{n+1} - H^n) / h + R(z^{n+1}, t^{n+1}) = 0
    BDF2:  [a0 (H^{n+1} - H^n) - a1 (H^n - H^{n-1})] / h + R = 0,
           a0 = (1 + 2w)/(1 + w),  a1 = w^2/(1 + w),  w = h_{n+1}/h_n,

both L-stable (stiff conduction modes are damped, not ringing as with Crank-Nicolson).
A BDF2 run starts, and restarts after every waveform breakpoint, with BDF1 steps that
may grow up to tenfold per step (BDF1 is stable for any step ratio) until the error
control limits the growth; then BDF2 takes over. The first step changes T by a tenth
of the tolerance at the current heating rate (a pulse edge into a cold mesa starts at
picoseconds and reaches the microsecond scale in ~10 steps).

Step control (Milne's device). The predictor is explicit: y^p = T^n + h f^n after a
(re)start (f = dT/dt = -R_T / (W C) from the converged residual, cheap because the
mass is diagonal), the quadratic through (t_{n-1}, T^{n-1}) and (t_n, T^n, f^n) for
BDF2. The local error of the corrector is K (y^c - y^p), K = e_c / (e_c - e_p) from
the leading error terms on y = t^{p+1} for the actual step ratios (K = 1/2 for BDF1,
2/5 for BDF2 at constant steps). A step is accepted when

    err = max_i |K (y^c_i - y^p_i)| / (atol + rtol * S) <= 1,

S the largest temperature rise above T_bath seen so far, and the next step is
h * min(grow, max(shrink, 0.9 err^(-1/(p+1)))) (grow <= 2 for BDF2, below its
zero-stability limit 1 + sqrt 2 of the step ratio); a BDF2 step is held rather than
grown by less than 1.5x, so that its factorisation serves the next steps (chord
iterations, `TransientAssembler.newton`). Newton ends a step only when its last
temperature update is below 1 % of the local error tolerance and after at least one
iteration (otherwise the error estimate measures Newton noise, or is zero). Steps never cross a breakpoint of
the waveform (pulse edges, ramp corners) or a requested output time; at a breakpoint
the bias jumps, the potential is re-solved at frozen T (quasi-static: T is continuous,
phi and V jump) and recorded a second time at the same t, and BDF2 restarts.

A power-biased step starts Newton as described in `femsim.fem.transient` (Power bias):
never at U = 0, and never at a U of the other sign than the last state's.

Who does what:

    bdf_step, BDFStep     one step of the scheme: coefficients a0, a1, the explicit
                          predictor and the error constant K (pure functions of the step
                          sizes and the last states)
    StepController        step sizes: the first step, landing on breakpoints and output
                          times, accept/reject by the local error, growth limits, restarts
    TransientSolver.run   the loop: a step from the controller, the BDF step, Newton on it
                          (`TransientAssembler.newton`), the error estimate, accept or
                          reject, record

Public API:

    TransientOptions, TransientSolver, TransientResult, TIMESERIES_VARS
    BDFStep, bdf_step, StepController
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import xarray as xr

from ..errors import ConvergenceError, OutOfRangeError
from .problem import Problem
from .solver import ElectroThermalSolver, NewtonOptions
from .transient import TransientAssembler
from .waveforms import BIAS_UNITS, Step, Waveform

__all__ = ["TransientOptions", "TransientSolver", "TransientResult", "TIMESERIES_VARS",
           "BDFStep", "bdf_step", "StepController"]


@dataclass
class TransientOptions:
    """Time stepping and step control (see the module docstring)."""

    method: str = "bdf2"           # "bdf2" or "be" (backward Euler)
    adaptive: bool = True          # False: fixed steps h0 (order-of-accuracy studies)
    rtol: float = 1e-3             # local error per step, relative to the temperature rise so far
    atol: float = 1e-3             # [K] absolute part of the local error tolerance
    h0: float | None = None        # first step and step after every breakpoint [s] (default: from dT/dt)
    h_min: float | None = None     # [s] default 1e-12 of the span
    h_max: float | None = None     # [s] default the span
    grow: float | None = None      # largest step ratio (default 2 for BDF2, 4 for BE)
    shrink: float = 0.2
    safety: float = 0.9
    max_steps: int = 200_000
    newton_rtol: float = 1e-7       # relative residual; the potential block's roundoff floor is ~1e-8
    newton_xtol: float = 1e-2       # last temperature update <= this fraction of the local error tolerance
    max_newton: int = 12

    def __post_init__(self):
        if self.method not in ("bdf2", "be"):
            raise ValueError(f"method must be 'bdf2' or 'be', not {self.method!r}")
        if not self.adaptive and not self.h0:
            raise ValueError("fixed steps (adaptive=False) need h0")


#: timeseries variables: name -> (units, long name)
TIMESERIES_VARS = {
    "I": ("A", "current through the bias electrode"),
    "V": ("V", "voltage of the bias electrode (contact, 2-terminal)"),
    "V_4p": ("V", "4-probe voltage"),
    "P": ("W", "Joule power (volume integral)"),
    "T_mean": ("K", "volume-mean temperature of the hA region"),
    "T_max": ("K", "maximum temperature (whole mesh)"),
    "T_mean_all": ("K", "volume-mean temperature of the whole mesh"),
    "Q_out": ("W", "heat leaving through baths and cooled surfaces"),
    "E_stored": ("J", "heat stored above the initial state (enthalpy sum)"),
    "energy_balance": ("1", "|P + Q_in - Q_out - dE/dt| / max(P + Q_in, Q_out) of the step (discrete balance)"),
    "step": ("s", "time step that ended here"),
    "order": ("1", "BDF order of the step (0: electric re-solve at a breakpoint)"),
    "newton_steps": ("1", "Newton iterations of the step"),
    "bias": ("1", "waveform value (A, V or W, see attrs mode)"),
}


@dataclass
class TransientResult:
    """Readouts at every accepted time (and twice at each breakpoint, before and after
    the bias jump), plus states at the requested output times."""

    mode: str
    records: list = field(default_factory=list)
    states: dict = field(default_factory=dict)     # output time -> (phi, T) nodal, after any jump
    steps: int = 0
    rejected: int = 0
    newton_failures: int = 0
    wall_s: float = 0.0
    hA_region: str = "all"
    final_z: np.ndarray | None = None

    @property
    def t(self):
        return np.array([r["t"] for r in self.records])

    def column(self, name):
        return np.array([r[name] for r in self.records])

    def at(self, t, before_jump=True) -> dict:
        """The record at time t (exact output time): the one before a jump, by default."""
        hits = [r for r in self.records if r["t"] == t]
        if not hits:
            k = int(np.argmin(np.abs(self.t - t)))
            raise KeyError(f"no record at t = {t!r} s (nearest {self.records[k]['t']!r}); "
                           "pass it as an output time")
        return hits[0] if before_jump else hits[-1]

    def dataset(self) -> xr.Dataset:
        """xarray Dataset over dim "time" (units and long names on every variable)."""
        reg = self.hA_region
        t = self.t
        cols = {
            "I": self.column("I"), "V": self.column("V"), "V_4p": self.column("V_4p"), "P": self.column("P"),
            "T_mean": self.column(f"T_mean:{reg}"), "T_max": self.column("T_max:all"),
            "T_mean_all": self.column("T_mean:all"),
            "Q_out": self.column("Q_bath") + self.column("Q_cooling"), "E_stored": self.column("E_stored"),
            "energy_balance": self.column("energy_balance"), "step": self.column("h"),
            "order": self.column("order"), "newton_steps": self.column("newton"), "bias": self.column("bias"),
        }
        if np.all(np.isnan(cols["V_4p"])):
            del cols["V_4p"]
        data = {k: ("time", np.asarray(v, float), {"units": TIMESERIES_VARS[k][0], "long_name": TIMESERIES_VARS[k][1]})
                for k, v in cols.items()}
        data["bias"][2]["units"] = BIAS_UNITS[self.mode]
        return xr.Dataset(data, coords={"time": ("time", t, {"units": "s", "long_name": "time"})},
                          attrs={"mode": self.mode, "hA_region": reg, "steps": self.steps,
                                 "rejected_steps": self.rejected, "wall_s": self.wall_s})


# ============================================================================ BDF scheme

@dataclass(frozen=True)
class BDFStep:
    """One step of size h of variable-step BDF1 or BDF2 (module docstring).

    Storage term [a0 (H^{n+1} - H^n) - a1 (H^n - H^{n-1})] / h; ``predictor`` y^p the
    explicit nodal temperatures at t_n + h; ``K`` the error constant: the local error of
    the corrector y^c is K (y^c - y^p)."""

    order: int
    h: float
    a0: float
    a1: float
    ratio: float                  # w = h_{n+1} / h_n (BDF2; 0 for BDF1)
    predictor: np.ndarray         # nodal T
    K: float

    def storage(self, T_n, dH_prev):
        """The assembler's ``step`` argument: (a0/h, a1/h, T^n nodal, dH^n increments or None)."""
        return (self.a0 / self.h, self.a1 / self.h, T_n, dH_prev if self.order == 2 else None)

    def local_error(self, T, nodes) -> float:
        """max |K (T - y^p)| over ``nodes`` [K], T the corrector's nodal temperatures."""
        return float(np.abs(self.K * (T[nodes] - self.predictor[nodes])).max()) if nodes.size else 0.0


def bdf_step(h: float, t_n: float, T_n, f_n, previous=None) -> BDFStep:
    """The step of size h from (t_n, T^n, f^n = dT/dt): BDF1 without ``previous``, BDF2
    with previous = (t_{n-1}, T^{n-1}).

    BDF1: y^p = T^n + h f^n, K = 1/2. BDF2 at step ratio w = h/h_n: a0 = (1 + 2w)/(1 + w),
    a1 = w^2/(1 + w), y^p the quadratic through (t_{n-1}, T^{n-1}) and (t_n, T^n, f^n),
    K = e_c/(e_c - e_p) from the leading error terms of corrector and predictor on y = t^3
    (2/5 at constant steps)."""
    if previous is None:
        return BDFStep(1, h, 1.0, 0.0, 0.0, T_n + h * f_n, 0.5)
    t_p, T_p = previous
    hn = t_n - t_p
    w = h / hn
    a0, a1 = (1 + 2 * w) / (1 + w), w * w / (1 + w)
    c = (T_p - T_n + f_n * hn) / (hn * hn)
    y_p = T_n + f_n * h + c * h * h
    e_c = -(a0 * h**3 - a1 * ((h + hn) ** 3 - h**3)) / (6 * a0)
    e_p = -(h + hn) * h * h / 6
    return BDFStep(2, h, a0, a1, w, y_p, e_c / (e_c - e_p))


# ============================================================================ step control

class StepController:
    """Step sizes of a run (module docstring, Step control).

    ``stops``: the sorted times a step must land on (breakpoints, output times, t_end);
    ``breaks``: those where the waveform jumps. The controller's proposal ``h`` is clamped
    to [h_min, h_max]; a step is stretched by up to a quarter (1e-6 with fixed steps)
    rather than leave a sliver before a stop -- but not again after a landing step was
    rejected: the shortened retry would be stretched back to the same step, and rejected
    again for ever. After every (re)start it proposes first-order steps that may grow up
    to tenfold (BDF1 is L-stable for any step ratio) until the error control limits the
    growth; then BDF2, whose step ratio must stay below 1 + sqrt 2.
    """

    def __init__(self, options: TransientOptions, t0: float, t_end: float, stops, breaks):
        o = self.options = options
        self.span = t_end - t0
        self.h_min = o.h_min if o.h_min is not None else 1e-12 * self.span
        self.h_max = o.h_max if o.h_max is not None else self.span
        self.grow = o.grow or (2.0 if o.method == "bdf2" else 4.0)
        self.stops, self.breaks = list(stops), set(breaks)
        self._k = 0
        self.h = None                 # the proposed next step
        self.startup = True           # first-order start-up after a (re)start
        self.stretch = True           # False after a rejected landing step
        self.landing = False          # the last proposed step ends on a stop

    def tolerance(self, rise: float) -> float:
        """Local error tolerance [K] at the largest temperature rise ``rise`` so far."""
        return self.options.atol + self.options.rtol * rise

    def newton_xtol(self, rise: float) -> float:
        """Newton's last temperature update [K]: a small fraction of the local error
        tolerance (fixed steps: roundoff of the temperatures)."""
        o = self.options
        return o.newton_xtol * (o.atol + o.rtol * rise) if o.adaptive else 1e-12 * max(rise, 1.0)

    def restart(self, f, rise: float):
        """At the start and after each breakpoint: first-order start-up from a first step
        that changes T by a tenth of the tolerance at the heating rate f = dT/dt."""
        o = self.options
        self.startup = True
        self.stretch = True
        if not o.adaptive or o.h0 is not None:
            self.h = o.h0
            return
        fmax = float(np.max(np.abs(f))) if f.size else 0.0
        if fmax == 0:
            self.h = 1e-6 * self.span
            return
        tol = o.atol + o.rtol * rise
        self.h = min(max(0.1 * tol / fmax, 1e-12 * self.span), 1e-2 * self.span)

    def order(self, have_previous: bool) -> int:
        """BDF order of the next step: 1 for backward Euler, in start-up or without a
        previous state; else 2."""
        o = self.options
        return 1 if (o.method == "be" or not have_previous or (self.startup and o.adaptive)) else 2

    def propose(self, t: float):
        """The next step from t: (h, t_new, at_break), landing exactly on the next stop
        when it is near; at_break when that stop is a waveform breakpoint."""
        o = self.options
        while self.stops[self._k] <= t:
            self._k += 1
        t_stop = self.stops[self._k]
        self.h = min(max(self.h, self.h_min), self.h_max)
        h = self.h
        slack = (0.25 * h if o.adaptive else 1e-6 * h) if self.stretch else 0.0
        self.landing = t + h >= t_stop - slack
        if self.landing:
            h = t_stop - t
        t_new = t_stop if self.landing else t + h
        return h, t_new, self.landing and t_stop in self.breaks

    def error_ratio(self, estimate: float, rise: float) -> float:
        """Local error estimate [K] over the tolerance: the step is accepted when <= 1."""
        return estimate / (self.options.atol + self.options.rtol * rise)

    def newton_failed(self, h: float, t_new: float, why):
        """Newton failed on the step h ending at t_new: a quarter of it next
        (ConvergenceError below h_min or with fixed steps)."""
        self.h = 0.25 * h
        if self.h < self.h_min or not self.options.adaptive:
            raise ConvergenceError(f"transient: no convergence at t = {t_new:.6g} s with step {h:.3g} s "
                                   f"(h_min = {self.h_min:.3g} s); {why}", bias=("time", t_new)) from None

    def reject(self, h: float, err: float, order: int, t: float):
        """The local error of the step h from t exceeds the tolerance (err > 1): a shorter
        step (ConvergenceError below h_min)."""
        o = self.options
        self.stretch = not self.landing
        self.h = h * max(o.shrink, o.safety * err ** (-1.0 / (order + 1)))
        if self.h < self.h_min:
            raise ConvergenceError(f"transient: step fell below h_min = {self.h_min:.3g} s at t = {t:.6g} s "
                                   f"(local error {err:.3g} of the tolerance)", bias=("time", t))

    def accept(self, h: float, err: float, order: int):
        """The next step after an accepted step h of error ratio err (not at a breakpoint:
        there `restart`)."""
        o = self.options
        self.stretch = True
        if not o.adaptive:
            return
        grow = self.grow
        cap = 10.0 if (self.startup and o.method == "bdf2") else grow
        fac = cap if err == 0 else min(cap, max(o.shrink, o.safety * err ** (-1.0 / (order + 1))))
        if self.startup and fac < grow:
            self.startup = False                   # error-limited: go on with BDF2
            fac = min(fac, grow)
        if 1.0 <= fac < 1.5 and order == 2:
            # keep a constant step rather than grow it a little: the step matrix, and with
            # it the factorisation, then stays the same (chord steps)
            fac = 1.0
        if self.landing:
            # after a step shortened to land on a stop, resume near the size the controller
            # had chosen, within the step-ratio limit of BDF2
            self.h = min(max(h * fac, self.h), grow * h)
        else:
            self.h = h * fac


class _Previous(NamedTuple):
    """The state before the last accepted step (for BDF2 and its predictor)."""

    t: float
    T: np.ndarray                 # nodal temperatures
    dH: list                      # enthalpy increments of the last step, per capacity part
    z: np.ndarray                 # reduced state


class TransientSolver:
    """Time integration of the coupled problem (module docstring).

    >>> ts = TransientSolver(problem)
    >>> r = ts.run(PulseTrain(2e-3, 1e-6, period=10e-6, count=3), t_end=30e-6)
    >>> ds = r.dataset()          # I, V, P, T_mean, T_max over "time"

    ``steady``: an ElectroThermalSolver of the same problem (built if not given; used for
    steady comparisons and the isothermal resistance). ``heat_flux``: HeatFlux entries.
    """

    def __init__(self, problem: Problem, steady: ElectroThermalSolver | None = None, heat_flux=(),
                 options: TransientOptions | None = None, linear_solve=None,
                 missing_heat_capacity: str = "error"):
        t0 = time.perf_counter()
        self.problem = problem
        self.steady = steady
        qd = steady.qd if steady is not None else None
        self.asm = TransientAssembler(problem, qd, linear_solve, heat_flux, missing_heat_capacity)
        self.qd, self.sys = self.asm.qd, self.asm.sys
        self.options = options or TransientOptions()
        self._zero_bias_is_zero_phi = (problem.volume_sources is None
                                       and all(e.potential == 0.0 for e in problem.electrodes))
        self.t_setup = time.perf_counter() - t0

    def steady_solver(self) -> ElectroThermalSolver:
        if self.steady is None:
            self.steady = ElectroThermalSolver(self.problem, options=NewtonOptions())
        return self.steady

    # -- initial state ------------------------------------------------------------------------
    def initial_state(self, initial=None):
        """Reduced vector: initial None (T_bath), a number (uniform free T), a nodal T
        array, or an object with ``.z`` / ``.T`` (a steady Point)."""
        a = self.asm
        if initial is None:
            return a.uniform_state(self.problem.T_bath)
        if not isinstance(initial, (np.ndarray, float, int, list, tuple)):
            if getattr(initial, "z", None) is not None and len(initial.z) == self.sys.n:
                return np.array(initial.z, dtype=float)
            if getattr(initial, "T", None) is not None:
                return a.state(initial.T, getattr(initial, "phi", None))
        arr = np.asarray(initial, dtype=float)
        if arr.ndim == 0:
            return a.uniform_state(float(arr))
        if arr.shape == (self.sys.n,):
            return arr.copy()
        if arr.shape == (self.sys.N,):
            return a.state(arr)
        raise ValueError(f"initial state: expected a temperature, a nodal array of {self.sys.N} or a reduced "
                         f"vector of {self.sys.n}, got shape {arr.shape}")

    def _electric(self, z, t, mode, value):
        """Re-solve the potential at frozen T (quasi-static response to a bias jump)."""
        a, sys = self.asm, self.sys
        if sys.u_bias is None:
            return z, a.evaluate(z, t, mode, value), 0
        if mode == "power":
            z = self._power_start(z, z, t, value)
        if value == 0.0 and self._zero_bias_is_zero_phi:
            # zero bias, grounded (0 V) electrodes only, no current sources: phi = 0 exactly
            # (a Newton solve would leave roundoff-sized potentials that never settle)
            z = z.copy()
            z[:sys.n_phi] = 0.0
            return z, a.evaluate(z, t, mode, value), 0
        return a.newton(z, t, mode, value, frozen_T=z[sys.T_rows].copy(), rtol=self.options.newton_rtol,
                        max_iter=self.options.max_newton, label=f" (electric re-solve at t = {t:.6g} s)")

    def _power_start(self, z, z_last, t, P):
        """A Newton start for power P from the guess z, the last converged state z_last:
        z itself unless its U is zero or has the other sign than z_last's
        (`femsim.fem.transient`, Power bias); then z_last's potentials, or if those are unbiased (U = 0) the
        potential of power P at z_last's temperatures (frozen)."""
        u = self.sys.u_bias
        if u is None or not P > 0 or z[u] * z_last[u] > 0:
            return z
        if z_last[u] != 0:
            z = z.copy()
            z[:self.sys.n_phi] = z_last[:self.sys.n_phi]
            return z
        a = self.asm
        saved = dict(a.S_ref)            # the 1 V solve must not set the run's residual floors
        z0, ev0, _ = self._electric(z_last, t, "voltage", 0.0)
        z1, ev1, _ = self._electric(z0, t, "voltage", 1.0)
        a.S_ref = saved
        G = ev1.I - ev0.I
        if not G > 0:
            raise ConvergenceError(f"power bias at t = {t:.6g} s: no conductance at U = 0 (G = {G:.3g} S)",
                                   bias=("time", t))
        # V I_0 + G V^2 = P, the root of U's sign (cancellation-free form)
        V = 2 * P / (ev0.I + math.sqrt(ev0.I ** 2 + 4 * G * P))
        return z0 + V * (z1 - z0)

    def _rate(self, ev):
        """dT/dt at free nodes with capacity (-R_T / (W C)); zero where there is none."""
        cap = self.asm.cap.capacity(ev.T)
        f = np.zeros(self.sys.N)
        ft = self.asm.free_T
        c = cap[ft]
        ok = c > 0
        f[ft[ok]] = -ev.R_T_steady[ft[ok]] / c[ok]
        return f

    def _state(self, t, z, ev):
        """A converged state: time, reduced vector, evaluation, nodal T and dT/dt."""
        return {"t": t, "z": z, "ev": ev, "T": ev.T.copy(), "f": self._rate(ev)}

    # -- the run ---------------------------------------------------------------------------------
    def run(self, waveform: Waveform | None, t_end: float, mode: str = "current", initial=None,
            t0: float = 0.0, output_times=(), options: TransientOptions | None = None,
            callback=None, stop=None) -> TransientResult:
        """Integrate from t0 to t_end under ``waveform`` (None: no bias).

        output_times: times the stepper lands on exactly; their states are kept in
        ``result.states``. callback(record) after each accepted step. stop(record) ->
        True ends the run early (e.g. a steady state reached).
        """
        o = options or self.options
        a, sys = self.asm, self.sys
        if mode not in ("current", "voltage", "power"):
            raise ValueError(f"mode must be 'current', 'voltage' or 'power', not {mode!r}")
        if waveform is None:
            waveform = Step(0.0)
        if not t_end > t0:
            raise ValueError(f"t_end ({t_end}) must exceed t0 ({t0})")
        wall0 = time.perf_counter()
        a.reset_scales()
        res = TransientResult(mode=mode, hA_region=self.problem.hA_region)
        breaks = set(float(b) for b in waveform.breakpoints(t0, t_end))
        outs = set(float(x) for x in output_times if t0 < x <= t_end)
        keep_start = any(float(x) == t0 for x in output_times)   # (not a stop: recorded below)
        ctl = StepController(o, t0, t_end, sorted(breaks | outs | {float(t_end)}), breaks)
        if a.G_ref is None and sys.u_bias is not None:
            # the voltage row's conductance scale: the bias electrode's diagonal entry
            ev0 = a.evaluate(self.initial_state(initial), t0, "current", 0.0)
            a.jacobian_data(ev0, "current")

        # initial state: T given, phi consistent with the bias just after t0
        z = self.initial_state(initial)
        b = waveform.value(t0)
        z, ev, nit = self._electric(z, t0, mode, b)
        T_bath = self.problem.T_bath
        state = self._state(t0, z, ev)
        prev = None                   # _Previous: the state before `state`
        rise = float(np.max(np.abs(ev.T[a.free_T] - T_bath))) if a.free_T.size else 0.0
        E = 0.0
        self._record(res, t0, ev, b, E, 0.0, 0, nit, np.nan)
        if keep_start:
            res.states[t0] = (ev.phi.copy(), ev.T.copy())
        ctl.restart(state["f"], rise)
        reuse = {}                    # the last factorisation (chord steps across steps)
        t = t0
        while t < t_end:
            if res.steps >= o.max_steps:
                raise ConvergenceError(f"transient: more than {o.max_steps} steps before t = {t_end:g} s "
                                       f"(reached t = {t:.6g} s)", bias=("time", t))
            h, t_new, at_break = ctl.propose(t)
            b_new = waveform.value(t_new, left=at_break)
            order = ctl.order(prev is not None)
            bdf = bdf_step(h, state["t"], state["T"], state["f"], (prev.t, prev.T) if order == 2 else None)
            z_guess = self._predicted_start(bdf, state, prev, t_new, mode, b_new)
            try:
                z_new, ev_new, nit = self._implicit_step(bdf, z_guess, state, prev, t_new, mode, b_new, o,
                                                         ctl.newton_xtol(rise), reuse)
            except (ConvergenceError, OutOfRangeError, FloatingPointError) as e:
                res.newton_failures += 1
                ctl.newton_failed(h, t_new, e)
                continue
            err = 0.0
            if o.adaptive:
                ft = a.free_T
                new_rise = max(rise, float(np.max(np.abs(ev_new.T[ft] - T_bath))) if ft.size else 0.0)
                err = ctl.error_ratio(bdf.local_error(ev_new.T, ft), new_rise)
                if err > 1.0:
                    res.rejected += 1
                    ctl.reject(h, err, order, t)
                    continue
            # accept
            res.steps += 1
            E += a.cap.energy(ev_new.incs)
            prev = _Previous(state["t"], state["T"], [dH for dH, _ in ev_new.incs], state["z"])
            t = t_new
            if a.free_T.size:
                rise = max(rise, float(np.max(np.abs(ev_new.T[a.free_T] - T_bath))))
            state = self._state(t, z_new, ev_new)
            rec = self._record(res, t, ev_new, b_new, E, h, order, nit, err)
            if callback is not None:
                callback(rec)
            if at_break:
                # the bias jumps: phi re-solved at frozen T, BDF restarts with a first-order step
                b_after = waveform.value(t)
                z_j, ev_j, nj = self._electric(z_new, t, mode, b_after)
                state = self._state(t, z_j, ev_j)
                prev = None
                self._record(res, t, ev_j, b_after, E, 0.0, 0, nj, np.nan)
                ctl.restart(state["f"], rise)
            else:
                ctl.accept(h, err, order)
            if t in outs:
                res.states[t] = (state["ev"].phi.copy(), state["ev"].T.copy())
            if stop is not None and stop(res.records[-1]):
                break
        res.final_z = state["z"].copy()
        res.wall_s = time.perf_counter() - wall0
        return res

    def _predicted_start(self, bdf: BDFStep, state, prev, t_new, mode, value):
        """Newton's start for the step: T from the predictor, potentials extrapolated
        linearly from the last two states (BDF2) or the last state's (BDF1)."""
        sys = self.sys
        z = state["z"].copy()
        if bdf.order == 2:
            z += bdf.ratio * (state["z"] - prev.z)
        if mode == "power":
            z = self._power_start(z, state["z"], t_new, value)
        z[sys.T_rows] = self.asm.state(np.where(sys.free[sys.N:], bdf.predictor, state["T"]))[sys.T_rows]
        return z

    def _implicit_step(self, bdf: BDFStep, z_guess, state, prev, t_new, mode, value, o, xtol_T, reuse):
        """Newton on the BDF step from z_guess: (z, ev, iterations). An explicit predictor
        can overshoot wildly on a step much longer than the fast time constants (stiff):
        after a failure Newton starts once more from the last state."""
        a = self.asm
        kw = dict(step=bdf.storage(state["T"], prev.dH if prev is not None else None), rtol=o.newton_rtol,
                  max_iter=o.max_newton, label=f" at t = {t_new:.6g} s", reuse=reuse, xtol_T=xtol_T)
        try:
            return a.newton(z_guess, t_new, mode, value, **kw)
        except (ConvergenceError, OutOfRangeError, FloatingPointError):
            z_guess = state["z"].copy()
            if mode == "power":
                z_guess = self._power_start(z_guess, state["z"], t_new, value)
            return a.newton(z_guess, t_new, mode, value, **kw)

    def _record(self, res, t, ev, bias, E, h, order, nit, err):
        rec = self.asm.readouts(ev, t)
        P_in = rec["P"] + rec["Q_in"]
        out = rec["Q_bath"] + rec["Q_cooling"]
        # discrete balance of the step: P + Q_in = Q_out + storage rate (exact for BDF1 up to
        # the Newton tolerance; BDF2's storage is its two-step combination)
        bal = abs(P_in - out - rec["storage_rate"]) / max(abs(P_in), abs(out), 1e-300) if order > 0 else np.nan
        rec.update(t=float(t), bias=float(bias), E_stored=float(E), h=float(h), order=int(order),
                   newton=int(nit), err=float(err), energy_balance=bal)
        res.records.append(rec)
        return rec

