"""Virtual experiments on the transient solver: what a step-response or pulsed
measurement would record.

* `fit_time_constants`: heating time constants of a step response (exponential fits on
  log-spaced samples, model-free t_63/t_90/t_99, the late-time constant);
* `step_response`: a bias step from the initial state and its fit;
* `pulsed_iv`: the I-V sampled in pulses of several widths, beside the steady and the
  heating-free (isothermal) I-V, and the longest width whose heating error stays within
  a tolerance.

Public API:

    fit_time_constants, step_response, pulsed_iv
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from ..variables import attrs, units
from .waveforms import BIAS_UNITS, PulseTrain, Step

if TYPE_CHECKING:
    from .timestepping import TransientSolver

__all__ = ["fit_time_constants", "step_response", "pulsed_iv"]


def _exp_model(t, params, n):
    y = np.ones_like(t)
    for k in range(n):
        y = y - params[2 * k] * np.exp(-t / params[2 * k + 1])
    return y


def fit_time_constants(t, y, t_on: float = 0.0, n_max: int = 2, y_inf: float | None = None) -> dict:
    """Heating time constants from a step response y(t) (e.g. T_mean or V after a current step at t_on).

    The normalised response u = (y - y0)/(y_inf - y0) (y0 = y(t_on), y_inf = the last value
    unless given) is fitted with 1 - sum_k a_k exp(-(t - t_on)/tau_k), k = 1..n for
    n = 1..n_max, by least squares on log-spaced samples (every decade weighs alike: the
    short mesa and the long substrate time scales both count). Also returned: the
    model-free times t_63, t_90, t_99 at which u reaches 63.2 %, 90 %, 99 %, and the
    late-time constant from the slope of ln(1 - u).

    Returns {"tau_1": [tau], "amp_1": [a], "rms_1": r, "tau_2": [...], ..., "t_63": ...}
    (SI seconds), the fits' taus sorted ascending.
    """
    from scipy.optimize import least_squares

    t = np.asarray(t, float)
    y = np.asarray(y, float)
    keep = t >= t_on
    t, y = t[keep] - t_on, y[keep]
    # one value per time (a jump at t_on leaves two records there: keep the later)
    _, idx = np.unique(t[::-1], return_index=True)
    idx = len(t) - 1 - idx
    t, y = t[idx], y[idx]
    y0 = y[0]
    yi = y[-1] if y_inf is None else y_inf
    if yi == y0:
        raise ValueError("fit_time_constants: the response does not change")
    u = (y - y0) / (yi - y0)
    out = {}
    for frac, name in ((1 - math.exp(-1), "t_63"), (0.9, "t_90"), (0.99, "t_99")):
        above = np.nonzero(u >= frac)[0]
        if above.size and above[0] > 0:
            j = above[0]
            out[name] = float(np.interp(frac, [u[j - 1], u[j]], [t[j - 1], t[j]]))
        else:
            out[name] = float("nan")
    pos = t[t > 0]
    if pos.size < 4:
        raise ValueError("fit_time_constants: too few samples after the step")
    ts = np.geomspace(pos[0], t[-1], 200)
    us = np.interp(ts, t, u)
    # late-time constant: slope of ln(1 - u) where 1 - u is between 20 % and 1 %
    late = (us < 0.99) & (us > 0.8)
    if late.sum() >= 3:
        sl = np.polyfit(ts[late], np.log(1 - us[late]), 1)[0]
        out["tau_late"] = float(-1 / sl) if sl < 0 else float("nan")
    else:
        out["tau_late"] = float("nan")
    t63 = out["t_63"] if np.isfinite(out["t_63"]) else ts[len(ts) // 2]
    for n in range(1, n_max + 1):
        # starting guesses spread over the sampled decades around t_63
        taus0 = t63 * np.geomspace(0.1, 3.0, n) if n > 1 else np.array([t63])
        p0 = np.ravel(np.column_stack([np.full(n, 1.0 / n), np.log(taus0)]))

        def resid(p):
            q = p.copy()
            q[1::2] = np.exp(p[1::2])
            return _exp_model(ts, q, n) - us

        fit = least_squares(resid, p0, method="lm", max_nfev=2000 * n)
        q = fit.x.copy()
        q[1::2] = np.exp(fit.x[1::2])
        order = np.argsort(q[1::2])
        out[f"tau_{n}"] = [float(q[1::2][k]) for k in order]
        out[f"amp_{n}"] = [float(q[0::2][k]) for k in order]
        out[f"rms_{n}"] = float(np.sqrt(np.mean(resid(fit.x) ** 2)))
    out["y0"], out["y_inf"] = float(y0), float(yi)
    return out


def step_response(ts: TransientSolver, amplitude: float, t_end: float, mode: str = "current",
                  initial=None, options=None, quantity: str = "T_mean", n_max: int = 2):
    """Run a step of ``amplitude`` (A, V or W by ``mode``) at t = 0 and fit its heating
    time constants. Returns (TransientResult, fit dict of `fit_time_constants` on ``quantity``)."""
    r = ts.run(Step(amplitude), t_end, mode=mode, initial=initial, options=options)
    ds = r.dataset()
    y = ds[quantity].values
    return r, fit_time_constants(ds["time"].values, y, 0.0, n_max)


def pulsed_iv(ts: TransientSolver, amplitudes, widths, *, sample_delay: float | None = None,
              sample_fraction: float = 1.0, period: float | None = None, pulses: int = 1,
              mode: str = "current", initial=None, options=None, steady: bool = True,
              tolerance: float = 0.01) -> xr.Dataset:
    """The I-V a pulsed measurement records, for each pulse width tau, beside the steady I-V.

    Each point k applies pulses of amplitude A_k (current, voltage or power by ``mode``) from the
    initial state; the sample is taken in the last pulse at t_s = sample_delay after its
    leading edge, or at t_s = sample_fraction * tau (default 1: the end of the pulse, the
    most heated instant) -- the value just before the trailing edge. ``pulses`` > 1 with
    ``period``: a train, sampled in its last pulse (heat left over from earlier pulses
    adds up at short periods). A single pulse is the same on-state for every tau up to
    its end, so one run per amplitude serves every tau (sampled at each t_s).

    Returns a Dataset with dims (tau, point): I, V (sampled), T_mean, T_max at t_s and
    the heating error V/V_iso - 1 (current and power mode; I/I_iso - 1 in voltage mode),
    V_iso the heating-free (isothermal, T = initial) response (power: V_iso = sqrt(P R_0),
    I_iso = sqrt(P / R_0)); over point: the steady-state
    I_steady, V_steady, T_mean_steady (NaN past a fold the natural sweep cannot pass)
    and V_iso/I_iso; over tau: sample_time. attrs: tau_max_within_tolerance, the
    longest width whose largest heating error stays within ``tolerance``.
    """
    amplitudes = np.asarray(amplitudes, float)
    widths = np.asarray(widths, float)
    if np.any(widths <= 0) or np.any(np.diff(widths) <= 0):
        raise ValueError("pulse widths must be positive and increasing")
    if sample_delay is not None:
        ts_rel = np.full(widths.shape, float(sample_delay))
        if np.any(ts_rel > widths) or sample_delay <= 0:
            raise ValueError(f"sample_delay = {sample_delay:g} s must lie inside every pulse (0, tau]")
    else:
        if not 0 < sample_fraction <= 1:
            raise ValueError("sample_fraction must lie in (0, 1]")
        ts_rel = sample_fraction * widths
    if pulses > 1 and (period is None or np.any(period <= widths)):
        raise ValueError("a pulse train (pulses > 1) needs a period longer than every width")
    nt, npt = widths.size, amplitudes.size
    reg = ts.problem.hA_region
    out = {k: np.full((nt, npt), np.nan) for k in ("I", "V", "T_mean", "T_max")}
    t_sample = ts_rel + (pulses - 1) * (period or 0.0)
    for k, A in enumerate(amplitudes):
        if pulses == 1:
            r = ts.run(Step(A), float(ts_rel.max()), mode=mode, initial=initial, options=options,
                       output_times=list(ts_rel))
            recs = [r.at(float(x)) for x in ts_rel]
        else:
            recs = []
            for j, w in enumerate(widths):
                wf = PulseTrain(A, float(w), period=period, count=pulses)
                r = ts.run(wf, float(t_sample[j]), mode=mode, initial=initial, options=options,
                           output_times=[float(t_sample[j])])
                recs.append(r.at(float(t_sample[j])))
        for j, rec in enumerate(recs):
            out["I"][j, k], out["V"][j, k] = rec["I"], rec["V"]
            out["T_mean"][j, k], out["T_max"][j, k] = rec[f"T_mean:{reg}"], rec["T_max:all"]
    s = ts.steady_solver()
    T0 = ts.problem.T_bath if initial is None or np.ndim(initial) != 0 else float(initial)
    iso = s.isothermal(T0, 1.0)
    R0 = iso.V / iso.I
    if mode == "power":
        V_iso, I_iso = np.sqrt(amplitudes * R0), np.sqrt(amplitudes / R0)
    else:
        V_iso = amplitudes * R0 if mode == "current" else amplitudes
        I_iso = amplitudes if mode == "current" else amplitudes / R0
    st = {k: np.full(npt, np.nan) for k in ("I", "V", "T_mean", "T_max")}
    if steady:
        from .continuation import natural_sweep
        pts = [p for p in natural_sweep(s, mode, amplitudes, raise_on_failure=False).run().points if not p.turning]
        for k, p in enumerate(pts[:npt]):
            st["I"][k], st["V"][k], st["T_mean"][k], st["T_max"][k] = p.I, p.V, p.T_mean[reg], p.T_max["all"]
    if mode in ("current", "power"):
        herr = out["V"] / V_iso[None, :] - 1.0
        what = "V/V_iso - 1"
    else:
        herr = out["I"] / I_iso[None, :] - 1.0
        what = "I/I_iso - 1"
    worst = np.nanmax(np.abs(herr), axis=1)
    # the longest width up to which every shorter width stays within the tolerance
    within = np.cumprod(worst <= tolerance).astype(bool)
    tau_ok = float(widths[within].max()) if within.any() else float("nan")
    # the width where the heating error reaches the tolerance, interpolated in log tau
    tau_tol = float("nan")
    if worst[0] <= tolerance < worst.max():
        j = int(np.nonzero(worst > tolerance)[0][0])
        x0, x1 = np.log(widths[j - 1]), np.log(widths[j])
        y0, y1 = worst[j - 1], worst[j]
        tau_tol = float(np.exp(x0 + (tolerance - y0) / (y1 - y0) * (x1 - x0)))
    dims = ("tau", "point")
    ds = xr.Dataset(
        {
            "I": (dims, out["I"], attrs("I", "current sampled in the pulse")),
            "V": (dims, out["V"], attrs("V", "voltage sampled in the pulse")),
            "T_mean": (dims, out["T_mean"], attrs("T_mean", f"mean temperature of {reg} at the sample")),
            "T_max": (dims, out["T_max"], attrs("T_max", "peak temperature at the sample")),
            "heating_error": (dims, herr, attrs("heating_error", f"heating error of the sample, {what}")),
            "I_steady": ("point", st["I"], attrs("I", "steady-state current")),
            "V_steady": ("point", st["V"], attrs("V", "steady-state voltage")),
            "T_mean_steady": ("point", st["T_mean"], attrs("T_mean", f"steady mean temperature of {reg}")),
            "T_max_steady": ("point", st["T_max"], attrs("T_max", "steady peak temperature")),
            "V_iso": ("point", V_iso, attrs("V", "heating-free (isothermal) voltage")),
            "I_iso": ("point", I_iso, attrs("I", "heating-free (isothermal) current")),
            "sample_time": ("tau", t_sample, attrs("sample_time")),
            "max_heating_error": ("tau", worst, attrs("max_heating_error", f"largest |{what}| over the points")),
        },
        coords={"tau": ("tau", widths, attrs("tau")),
                "point": ("point", np.arange(npt)),
                "amplitude": ("point", amplitudes, attrs("amplitude", units=BIAS_UNITS[mode]))},
        attrs={"mode": mode, "R_isothermal": R0, "R_isothermal_units": units("R"), "T_initial": T0,
               "sampling": (f"{sample_delay:g} s after the leading edge" if sample_delay is not None
                            else f"at {sample_fraction:g} of the width (just before the trailing edge)"
                            if sample_fraction == 1 else f"at {sample_fraction:g} of the width"),
               "pulses": pulses, "period": period if period is not None else float("nan"),
               "tolerance": tolerance, "tau_max_within_tolerance": tau_ok,
               "tau_at_tolerance": tau_tol},
    )
    return ds
