"""Transient heating and hot-spot studies (tracker issue 9).

study = "transient": case -> mesh -> Problem -> TransientSolver; the waveform run
(dataset "timeseries": I, V, P, T_mean, T_max over time), optionally a step response
with fitted heating time constants ("step_response") and the pulsed I-V beside the
steady-state and heating-free I-V ("pulsed_iv"); "curves" is the pulsed I-V family
(one member per pulse width, the steady state last) when one was asked for, else the
run's trajectory in the I-V plane (a ramp's swept I-V at its finite rate).

study = "hotspot": the current-biased I-V traced from zero with the decay-rate
spectrum of every state (femsim.fem.hotspot, Eq. 1), the bifurcations located and
classified, the hot-spot branch followed; "curves" over (branch, point) with the onset
among the turning points (plotted on the I-V), "spectrum", "bifurcations"; 3D fields
of the onset state and of the hot spot.

Both return their field snapshots in the `StudyResult` (the runner writes them); they
write no file themselves.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from types import SimpleNamespace

import numpy as np
import xarray as xr

from .. import progress, variables
from ..errors import CaseError
from .result import FieldSnapshot, StudyResult


def run(case, sink=None) -> StudyResult:
    """Runner for both study kinds (STUDIES maps "transient" and "hotspot" here); ``sink``
    (the runner's) is not used: the field snapshots come back in the result."""
    if case.study == "hotspot":
        return run_hotspot(case, sink)
    return run_transient(case, sink)


# ------------------------------------------------------------------------------ set-up

def _setup(case):
    from ..case.transient import check_case
    from ..fem import ElectroThermalSolver, NewtonOptions
    from .fem import prepare

    check_case(case)
    setup = prepare(case)   # the same set-up and checks as `femsim check`
    md, problem = setup.md, setup.problem
    for w in setup.warnings:
        progress.say(f"femsim: warning: {w}")
    # a contact layer's material is built without a heat capacity: take the case's if given
    mats = dict(problem.materials)
    changed = False
    for name, spec in case.materials.items():
        if spec.contact_resistance is not None and spec.heat_capacity is not None and name in mats:
            mats[name] = dataclasses.replace(mats[name], heat_capacity=spec.heat_capacity)
            changed = True
    if changed:
        problem = dataclasses.replace(problem, materials=mats)
    s = case.fem.solver
    solver = ElectroThermalSolver(problem, options=NewtonOptions(rtol=s.rtol, max_newton=s.max_newton))
    progress.say(f"mesh: {md.mesh.nvertices} nodes, {md.mesh.nelements} elements", "verbose")
    return md, problem, solver


def _mesh_info(md) -> dict:
    return {"nodes": int(md.mesh.nvertices), "elements": int(md.mesh.nelements),
            **{k: v for k, v in md.info.items() if isinstance(v, (int, float, str))}}


def _snapshot(snapshots, name, md, solver, phi, T, extra=None) -> str:
    """The fields of the state (phi, T) as ``fields/<name>.vtu`` into ``snapshots``
    (computed when the runner writes them); returns that file name."""
    file = f"fields/{name}.vtu"
    snapshots[file] = FieldSnapshot(md.mesh, partial(_state_fields, solver, phi, T, extra))
    return file


def _state_fields(solver, phi, T, extra) -> dict:
    from ..fem import point_fields

    f = point_fields(solver, SimpleNamespace(phi=phi, T=T))
    if extra:
        f.update(extra)
    return f


# ------------------------------------------------------------------------------ transient

def _options(sec):
    from ..fem.timestepping import TransientOptions

    st = sec.steps
    return TransientOptions(method=st.method, adaptive=not st.fixed, rtol=st.rtol, atol=st.atol, h0=st.first,
                            h_max=st.max)


def _waveform(sec):
    from ..fem.waveforms import waveform_from_dict

    return waveform_from_dict(sec.waveform.model_dump())


def _curves_from_pulsed(ds: xr.Dataset, reg_label: str) -> xr.Dataset:
    """The pulsed I-V as a family over "pulse" (one member per width, the steady state
    last) for the generic curve plots; P = I V and R = V / I of each sample."""
    labels = [f"tau = {_fmt_time(t)}" for t in ds["tau"].values]
    I = [ds["I"].values[j] for j in range(ds.sizes["tau"])]
    V = [ds["V"].values[j] for j in range(ds.sizes["tau"])]
    Tm = [ds["T_mean"].values[j] for j in range(ds.sizes["tau"])]
    Tx = [ds["T_max"].values[j] for j in range(ds.sizes["tau"])]
    if np.any(np.isfinite(ds["V_steady"].values)):
        labels.append("steady state")
        I.append(ds["I_steady"].values)
        V.append(ds["V_steady"].values)
        Tm.append(ds["T_mean_steady"].values)
        Tx.append(ds["T_max_steady"].values)
    I, V, Tm, Tx = (np.array(a, float) for a in (I, V, Tm, Tx))
    with np.errstate(all="ignore"):
        R = np.where(I != 0, V / I, np.nan)
    dims = ("pulse", "point")
    return xr.Dataset(
        {"I": (dims, I, variables.attrs("I", "current (sampled in the pulse)")),
         "V": (dims, V, variables.attrs("V", "voltage (sampled in the pulse)")),
         "P": (dims, I * V, variables.attrs("P", "Joule power I V at the sample")),
         "R": (dims, R, variables.attrs("R", "resistance V/I")),
         "T_mean": (dims, Tm, variables.attrs("T_mean", f"mean temperature of {reg_label} at the sample")),
         "T_max": (dims, Tx, variables.attrs("T_max", "peak temperature at the sample"))},
        coords={"pulse": ("pulse", labels, {"long_name": "pulse width (steady state last)"}),
                "point": ("point", np.arange(ds.sizes["point"]))},
        attrs={"what": "pulsed I-V for each pulse width, and the steady state"})


def _curves_from_timeseries(ts: xr.Dataset) -> xr.Dataset:
    keep = ts["order"].values != 0          # one record per time (the bias jumps dropped)
    keep[0] = True
    I, V = ts["I"].values[keep], ts["V"].values[keep]
    with np.errstate(all="ignore"):
        R = np.where(I != 0, V / I, np.nan)
    n = int(keep.sum())
    return xr.Dataset(
        {"I": ("point", I, variables.attrs("I", "current")),
         "V": ("point", V, variables.attrs("V", "voltage")),
         "P": ("point", ts["P"].values[keep], variables.attrs("P", "Joule power")),
         "R": ("point", R, variables.attrs("R", "resistance V/I")),
         "T_mean": ("point", ts["T_mean"].values[keep], variables.attrs("T_mean", ts["T_mean"].attrs["long_name"])),
         "T_max": ("point", ts["T_max"].values[keep], variables.attrs("T_max", "maximum temperature")),
         "time": ("point", ts["time"].values[keep], variables.attrs("time", "time"))},
        coords={"point": np.arange(n)}, attrs={"what": "trajectory of the waveform run in the I-V plane"})


def _fmt_time(t: float) -> str:
    return progress.si(t, "s", digits=4)


def _energy_drift(ts: xr.Dataset) -> float:
    """|E_stored(end) - int (P + Q_in - Q_out) dt| relative to the larger of the two:
    the time discretisation's energy error (exact bookkeeping for backward Euler)."""
    t = ts["time"].values
    net = ts["P"].values - ts["Q_out"].values
    # one value per time: after a jump the rates differ on the two sides
    integral = float(np.sum(0.5 * (net[1:] + net[:-1]) * np.diff(t)))
    E = float(ts["E_stored"].values[-1])
    den = max(abs(E), abs(integral), float(np.sum(np.abs(ts["P"].values[1:]) * np.diff(t))), 1e-300)
    return abs(E - integral) / den


def run_transient(case, sink=None) -> StudyResult:
    from ..fem.experiments import fit_time_constants, pulsed_iv
    from ..fem.timestepping import TransientSolver
    from ..fem.waveforms import BIAS_UNITS, Step

    sec = case.transient
    md, problem, solver = _setup(case)
    reg = problem.hA_region
    opts = _options(sec)
    try:
        ts = TransientSolver(problem, steady=solver, options=opts, missing_heat_capacity=sec.missing_heat_capacity)
    except ValueError as e:
        raise CaseError("materials", sorted(case.materials), str(e)) from None
    wf = _waveform(sec)
    T0 = sec.T_initial
    out_times = sorted(set(float(t) for t in sec.fields.times) | ({float(sec.t_end)} if sec.fields.last else set()))
    progress.say(f"transient: {wf.kind} waveform to t = {_fmt_time(sec.t_end)}", "verbose")
    r = ts.run(wf, sec.t_end, mode=sec.mode, initial=T0, output_times=out_times)
    series = r.dataset()
    series.attrs["waveform"] = str(sec.waveform.model_dump())
    datasets = {"timeseries": series}
    saved, snapshots = [], {}
    for k, t in enumerate(sorted(r.states)):
        phi, T = r.states[t]
        saved.append({"time_s": t, "T_max_K": float(T.max()),
                      "file": _snapshot(snapshots, f"time_{k:04d}", md, solver, phi, T)})
    figures = {
        "steps": r.steps, "rejected_steps": r.rejected, "newton_failures": r.newton_failures,
        "transient_wall_s": r.wall_s, "method": opts.method,
        "T_max_peak_K": float(np.nanmax(series["T_max"].values)),
        "T_max_peak_at_s": float(series["time"].values[int(np.nanargmax(series["T_max"].values))]),
        "T_mean_peak_K": float(np.nanmax(series["T_mean"].values)),
        "T_mean_end_K": float(series["T_mean"].values[-1]),
        "V_end_V": float(series["V"].values[-1]), "I_end_A": float(series["I"].values[-1]),
        "energy_balance_max": float(np.nanmax(series["energy_balance"].values)),
        "energy_drift": _energy_drift(series),
        "hA_region": reg, "fields": saved, "mesh": _mesh_info(md),
    }
    # heating time constants from a step response
    if sec.step_response is not None:
        sr = sec.step_response
        A = sr.amplitude if sr.amplitude is not None else wf.amplitude_scale
        t_sr = sr.t_end or sec.t_end
        reuse = isinstance(wf, Step) and wf.delay == 0 and wf.initial == 0 and wf.amplitude == A and t_sr == sec.t_end
        rs = r if reuse else ts.run(Step(A), t_sr, mode=sec.mode, initial=T0)
        sds = series if reuse else rs.dataset()
        y = sds[sr.quantity].values
        try:
            fit = fit_time_constants(sds["time"].values, y, 0.0, sr.exponentials)
        except ValueError as e:
            fit = {"error": str(e)}
        datasets["step_response"] = sds
        figures["step_response"] = {"amplitude": A, "amplitude_units": BIAS_UNITS[sec.mode],
                                    "quantity": sr.quantity, **_fit_figures(fit)}
    # pulsed I-V
    if sec.pulsed_iv is not None:
        pv = sec.pulsed_iv
        progress.say(f"pulsed I-V: {len(pv.widths)} widths x {len(pv.amplitude_list())} amplitudes", "verbose")
        pds = pulsed_iv(ts, pv.amplitude_list(), pv.widths, sample_delay=pv.sample_delay,
                        sample_fraction=pv.sample_fraction, period=pv.period, pulses=pv.pulses, mode=sec.mode,
                        initial=T0, options=opts, steady=pv.steady, tolerance=pv.tolerance)
        datasets["pulsed_iv"] = pds
        datasets["curves"] = _curves_from_pulsed(pds, reg)
        a = pds.attrs
        figures["pulsed_iv"] = {
            "sampling": a["sampling"], "tolerance": pv.tolerance,
            "tau_max_within_tolerance_s": _nan_none(a["tau_max_within_tolerance"]),
            "tau_at_tolerance_s": _nan_none(a["tau_at_tolerance"]),
            "max_heating_error_by_tau": {f"{t:.6g} s": float(e) for t, e in
                                         zip(pds["tau"].values, pds["max_heating_error"].values)},
            "R_isothermal_Ohm": float(a["R_isothermal"]),
            "verdict": _pulse_verdict(pds, pv.tolerance),
        }
    else:
        datasets["curves"] = _curves_from_timeseries(series)
    datasets["curves"].attrs["T_bath"] = problem.T_bath
    figures["T_bath_K"] = problem.T_bath
    figures["solver_setup_s"] = solver.t_setup + ts.t_setup
    return StudyResult(datasets=datasets, figures=figures, fields=snapshots)


def _nan_none(x):
    return None if x is None or not np.isfinite(x) else float(x)


def _fit_figures(fit: dict) -> dict:
    out = {}
    for k, v in fit.items():
        if k.startswith("tau_") and isinstance(v, list):
            out[f"{k}_s"] = v
        elif k.startswith("t_") or k == "tau_late":
            out[f"{k}_s"] = _nan_none(v)
        elif isinstance(v, float):
            out[k] = _nan_none(v)
        else:
            out[k] = v
    return out


def _pulse_verdict(pds, tol) -> str:
    tau = pds["tau"].values
    err = pds["max_heating_error"].values
    ok = pds.attrs["tau_max_within_tolerance"]
    at = pds.attrs["tau_at_tolerance"]
    mode = pds.attrs["mode"]
    what = "I" if mode == "voltage" else "V"       # the heating error of pulsed_iv
    if np.isfinite(ok) and ok == tau[-1]:
        return (f"every width up to {_fmt_time(tau[-1])} keeps the sampled {what} within {tol:.3g} of the "
                f"heating-free value (largest error {err.max():.3g})")
    if not np.isfinite(ok):
        return (f"even the shortest pulse, {_fmt_time(tau[0])}, heats: sampled {what} off by {err[0]:.3g} "
                f"(> {tol:.3g}); use shorter pulses")
    s = f"pulses up to {_fmt_time(ok)} keep the sampled {what} within {tol:.3g} of the heating-free value"
    if np.isfinite(at):
        s += f"; the error reaches {tol:.3g} at about {_fmt_time(at)}"
    return s


# ------------------------------------------------------------------------------ hot spots

def run_hotspot(case, sink=None) -> StudyResult:
    from ..fem.hotspot import HotspotOptions, find_hotspot

    sec = case.hotspot
    md, problem, solver = _setup(case)
    if sec.region not in md.subdomains:
        raise CaseError("hotspot.region", sec.region, f"a subdomain of the mesh: {sorted(md.subdomains)}")
    b = case.fem.bias
    opts = HotspotOptions(region=sec.region, n_eigs=sec.eigenvalues, hottest_fraction=sec.hottest_fraction,
                          follow=sec.follow, refine_rtol=sec.refine_rtol, branch_step=b.stop / sec.branch_points)
    bounds = {"T_max": b.T_max_limit} if b.T_max_limit else {}
    res = find_hotspot(solver, b.stop, continuation=b.continuation, n_points=b.points, bounds=bounds,
                       options=opts, progress=lambda m: progress.say(m, "verbose"))
    curves = res.dataset()
    curves.attrs["bias"] = "I"
    curves.attrs["T_bath"] = problem.T_bath
    datasets = {"curves": curves, "spectrum": _spectrum_dataset(res), "bifurcations": _bifurcations(res)}
    # 3D fields
    saved, snapshots = [], {}
    f = sec.fields
    if res.onset is not None and f.onset:
        p = res.onset["point"]
        saved.append({"state": "onset", "I_A": p.I, "file": _snapshot(snapshots, "onset", md, solver, p.phi, p.T)})
        dT = res.onset["mode_T"]
        dT = dT / max(np.abs(dT).max(), 1e-300)
        saved[-1]["mode_file"] = _snapshot(snapshots, "onset_mode", md, solver, p.phi, p.T,
                                           {"critical_mode": dT[:md.mesh.nvertices]})
    if res.points_hot and f.hot:
        k = int(np.argmax([r["hot_current_fraction"] for r in res.hotspot]))
        p = res.points_hot[k]
        saved.append({"state": "hot spot (largest current share)", "I_A": p.I,
                      "file": _snapshot(snapshots, "hotspot", md, solver, p.phi, p.T)})
    if f.last:
        if res.points_sym:
            p = res.points_sym[-1]
            saved.append({"state": "last point of the traced branch", "I_A": p.I,
                          "file": _snapshot(snapshots, "symmetric_last", md, solver, p.phi, p.T)})
        if res.points_hot:
            p = res.points_hot[-1]
            saved.append({"state": "last point of the hot-spot branch", "I_A": p.I,
                          "file": _snapshot(snapshots, "hotspot_last", md, solver, p.phi, p.T)})
    figures = {"points": len(res.symmetric), "hot_spot_points": len(res.hotspot), "region": sec.region,
               "T_bath_K": problem.T_bath,
               "mirror_symmetries": sorted(_mirrors(res)), "fields": saved, "mesh": _mesh_info(md),
               "timings": {k: float(v) for k, v in res.timings.items()}, "solver_setup_s": solver.t_setup}
    if res.onset is not None:
        o = res.onset
        figures["onset"] = {"kind": o["kind"], "I_A": o["I"], "V_V": o["V"], "T_mean_K": o["T_mean"],
                            "T_max_K": o["T_max"], "mirror": o.get("mirror"), "parity": o.get("parity"),
                            "hot_current_fraction_max": o.get("hot_current_fraction_max"),
                            "I_at_max_fraction_A": o.get("I_at_max_fraction"),
                            "offset_at_max_fraction_m": o.get("offset_at_max_fraction")}
        figures["verdict"] = _hot_verdict(res, sec)
    else:
        figures["onset"] = None
        figures["verdict"] = (f"no hot spot: every traced state up to I = {res.symmetric[-1]['I']:.4g} A is stable "
                              f"(smallest decay rate {min(r['mu_min'] for r in res.symmetric):.3g} 1/s), the hottest "
                              f"{sec.hottest_fraction:.0%} of the {sec.region} carry at most "
                              f"{max(r['hot_current_fraction'] for r in res.symmetric):.3g} of the current")
    figures["bifurcations"] = [{k: v for k, v in c.items() if k not in ("point", "mode_vector", "mode_T")}
                               for c in res.crossings]
    figures["branch_switch"] = res.switch
    turning = [r for r in res.symmetric if r.get("turning")]
    figures["turning_points"] = [{"kind": r["turning"], "I_A": r["I"], "V_V": r["V"]} for r in turning]
    return StudyResult(datasets=datasets, figures=figures, fields=snapshots)


def _mirrors(res):
    return {c.get("mirror") for c in res.crossings if c.get("mirror")}


def _hot_verdict(res, sec) -> str:
    o = res.onset
    s = (f"hot spot: the {'symmetric ' if o['kind'] == 'symmetry-breaking' else ''}heating branch loses stability "
         f"({o['kind']}) at I = {o['I'] * 1e3:.4g} mA, V = {o['V']:.4g} V (T_mean = {o['T_mean']:.4g} K)")
    if res.hotspot:
        s += (f"; on the hot-spot branch the hottest {sec.hottest_fraction:.0%} of the {sec.region} carry up to "
              f"{o['hot_current_fraction_max']:.3g} of the current (at I = {o['I_at_max_fraction'] * 1e3:.4g} mA, "
              f"maximum {o['offset_at_max_fraction'] * 1e6:.3g} um from the centre)")
    return s


def _spectrum_dataset(res) -> xr.Dataset:
    n = len(res.symmetric)
    k = max((len(r.get("mu", [])) for r in res.symmetric), default=0)
    re = np.full((n, k), np.nan)
    im = np.full((n, k), np.nan)
    for j, r in enumerate(res.symmetric):
        mu = np.asarray(r.get("mu", []), complex)
        re[j, :mu.size], im[j, :mu.size] = mu.real, mu.imag
    return xr.Dataset(
        {"mu_re": (("point", "mode"), re, variables.attrs("mu_re", "decay rate (real part; < 0: growing)")),
         "mu_im": (("point", "mode"), im, variables.attrs("mu_im", "decay rate (imaginary part)")),
         "I": ("point", np.array([r["I"] for r in res.symmetric]), variables.attrs("I", "current")),
         "V": ("point", np.array([r["V"] for r in res.symmetric]), variables.attrs("V", "voltage"))},
        coords={"point": np.arange(n), "mode": np.arange(k)},
        attrs={"what": "smallest-|mu| decay rates of J v = mu B v along the traced branch"})


def _bifurcations(res) -> xr.Dataset:
    cs = res.crossings
    n = len(cs)
    return xr.Dataset(
        {"I": ("bifurcation", np.array([c["I"] for c in cs], float), variables.attrs("I", "current")),
         "V": ("bifurcation", np.array([c["V"] for c in cs], float), variables.attrs("V", "voltage")),
         "T_mean": ("bifurcation", np.array([c["T_mean"] for c in cs], float),
                    variables.attrs("T_mean", "mean temperature of the region")),
         "kind": ("bifurcation", np.array([c["kind"] for c in cs], dtype=object)),
         "stability": ("bifurcation", np.array([c["stability"] for c in cs], dtype=object))},
        coords={"bifurcation": np.arange(n)})
