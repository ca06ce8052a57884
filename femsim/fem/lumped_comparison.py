"""Reductions beside the lumped Newton model (the core use case).

1. `isothermal_resistance`: the device's R(T) from FEM solves at uniform T with the heat
   equation switched off, as `femsim.properties.Table` (2-terminal, 4-probe, 3-probe).
2. `lumped_at_current`: the lumped Newton model T = T_B + I^2 R(T)/(hA)
   (seeds/000_eb5949db9699e93e.txt, Eq. 1) at a given current, the root nearest a guess
   (femsim.lumped gives the whole curve, parametric in T; this is its inverse at the
   FEM's currents).
3. `compare_with_lumped`: FEM I-V (pseudo-arclength trace), the lumped model at equal
   current with the FEM's own low-power (hA)_eff and isothermal R(T), the lumped
   error decomposed into its causes, and the verdict, as an xarray.Dataset.

One definition of P everywhere: the whole Joule dissipation of the device, the volume
integral of grad phi . sigma grad phi over every conducting region (contact layers
included), which equals I V_2probe (checked per point: ``power_balance``). The lumped
model's own P at equal current is P_lumped = I^2 R_2probe(T_lumped) = hA (T_lumped - T_B):
the same definition, so both models are drawn on one P axis.

Causes of the lumped model's error at equal current (each computed per point):
- the thermal conductance changing with T: hA_eff(P) = P/(T_mean - T_B) differs from the
  low-power hA0 the lumped model uses; dT_conductance = T_l(hA0) - T_l(hA_eff(P)) with
  T_l(hA) the lumped temperature at this current;
- the non-uniform temperature: with the right conductance the lumped model still
  evaluates R at the uniform T_mean where the device has a spread (T_max - T_mean,
  T_spread within the region; the contacts, banks or base between the probes at other
  temperatures); dT_nonuniform = T_l(hA_eff(P)) - T_mean. The two parts add up exactly to
  dT_lumped = T_mean_lumped - T_mean (and likewise for the voltage);
- heating outside the region (contacts, electrodes, base): P_outside, the fraction of P
  dissipated outside the hA region (it enters the lumped model only through hA_eff);
- the 2-/3-/4-probe difference: P_4probe_error = 1 - I V_4probe/P, the heat load missed
  by taking I V_4probe as P, and probe_ratio_change, the change of V_4probe/V_2probe with
  bias (contact regions heating differently from the region).

Which R goes where in the lumped model: all Joule heat of the domain heats it, so the
temperature follows from I^2 R_2t(T) = hA (T - T_B) with the 2-terminal R_2t; the
reported voltage is I R_V(T) with R_V the 4-probe R(T) when the problem has probes,
else R_2t (like V of the FEM readout).
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr
from scipy.optimize import brentq

from .. import variables as registry
from ..properties import Table
from .continuation import arclength_trace


def valid_T_max(problem) -> float:
    """The highest temperature every material property of ``problem`` is defined at [K]."""
    top = np.inf
    for m in problem.materials.values():
        for prop in (m.rho_ab, m.rho_c, m.kappa_ab, m.kappa_c):
            top = min(top, prop.T_range[1])
    return top


def isothermal_resistance(solver, temperatures, interpolation="pchip") -> dict:
    """R(T) of the device from isothermal FEM solves (heat equation off) at ``temperatures``.

    Returns {"R": Table, "R_4p": Table, "R_3p": Table} (the probe ones only when the
    problem defines them); each Table maps T [K] -> resistance [Ohm]. The potential
    problem is linear at fixed T, so each temperature costs one factorisation.
    """
    Ts = np.asarray(temperatures, dtype=float)
    R, R4, R3 = [], [], []
    for T in Ts:
        p = solver.isothermal(T, 1.0)
        R.append(p.V / p.I)
        R4.append(p.V_4p / p.I)
        R3.append(p.V_3p / p.I)
    out = {"R": Table(Ts, np.array(R), interpolation=interpolation, name="R_isothermal_fem")}
    pr = solver.problem
    if pr.four_probe:
        out["R_4p"] = Table(Ts, np.array(R4), interpolation=interpolation, name="R_4p_isothermal_fem")
    if pr.three_probe:
        out["R_3p"] = Table(Ts, np.array(R3), interpolation=interpolation, name="R_3p_isothermal_fem")
    return out


def lumped_at_current(R_heat, hA, T_B, I, T_guess, R_V=None, T_hi=None, n_scan=4000):
    """Lumped model at equal current: the root T of hA (T - T_B) = I^2 R_heat(T) closest
    to ``T_guess`` (several roots exist on S-shaped curves), and V = I R_V(T).

    Roots are bracketed by scanning [T_B, T_hi] (default: the upper end of R_heat's
    range, or 3 T_guess) and refined with brentq. Returns (T, V); NaN if no root.
    """
    R_V = R_V or R_heat
    if I == 0:
        return T_B, 0.0
    hi = T_hi or (R_heat.T_range[1] if np.isfinite(R_heat.T_range[1]) else 3.0 * T_guess)

    def f(T):
        return hA * (T - T_B) - I * I * R_heat(T)

    Ts = np.linspace(T_B, hi, n_scan)
    fs = f(Ts)
    idx = np.nonzero(np.sign(fs[:-1]) * np.sign(fs[1:]) <= 0)[0]
    if idx.size == 0:
        return np.nan, np.nan
    roots = [brentq(f, Ts[i], Ts[i + 1], xtol=1e-13, rtol=1e-15) if fs[i] != fs[i + 1] else Ts[i]
             for i in idx]
    T = min(roots, key=lambda r: abs(r - T_guess))
    return float(T), float(I * R_V(T))


#: the comparison's variables in file order (units and labels: `femsim.variables`)
_NAMES = ("I", "V", "P", "P_per_area", "T_mean", "T_max", "T_spread", "R", "dIdV", "V_4p", "V_3p", "V_contact",
          "hA_eff", "P_outside", "V_lumped", "T_mean_lumped", "P_lumped", "dV_rel_lumped", "dT_lumped",
          "dT_conductance", "dT_nonuniform", "dV_rel_conductance", "dV_rel_nonuniform", "probe_ratio_change",
          "P_4probe_error", "energy_balance", "power_balance", "current_balance", "newton_steps", "is_turning")
#: what the general names mean here
_MEANING = {
    "I": "current through the bias electrode",
    "V": "measured voltage: V_4probe if probes are defined, else V_2probe (see attrs V_reading)",
    "P": "Joule power of the whole device = I V_2probe (volume integral, contact layers included)",
    "T_mean": "volume-mean temperature of the hA region",
    "R": "resistance V/I (of the measured voltage V)",
    "dIdV": "differential conductance dI/dV (of the measured voltage V)",
}

#: CSV headers that say which voltage is which
_LABELS = {"V_contact": "V_2probe", "V_3p": "V_3probe", "V_4p": "V_4probe"}


def footprint_area(solver, region: str) -> float:
    """In-plane area A [m^2] of ``region``: its volume over its z extent (exact for a flat
    layer such as a mesa or a film bridge; the seed's A in P/A)."""
    qd = solver.qd
    dofs = qd.region_dofs[region]
    z = np.asarray(solver.problem.mesh.p)[2, dofs[dofs < qd.nvertices]]
    h = float(z.max() - z.min()) if z.size else 0.0
    return qd.region_volume[region] / h if h > 0 else np.nan


def _holds_up_to(ok, x):
    """Largest x up to which every point (sorted by x) is within tolerance; None if the
    first is not, inf if all are."""
    order = np.argsort(x, kind="stable")
    good = np.asarray(ok)[order]
    if good.all():
        return np.inf
    k = int(np.argmin(good))
    return None if k == 0 else float(np.asarray(x)[order][k - 1])


CAUSES = {
    "conductance": "the thermal conductance changing with T (hA_eff(P) != hA0)",
    "nonuniform": "the non-uniform temperature (R evaluated at T_mean, in the region and the rest of the device)",
}


def compare_with_lumped(solver, mode="current", stop=None, points=None, hA=None, T_grid=None,
                        tol=1e-2, tol_T=None, nonuniformity_tol=None, **trace_kw) -> xr.Dataset:
    """FEM I-V beside the lumped Newton model with the FEM's own R(T) and (hA)_eff.

    The FEM curve is ``points`` if given, else ``arclength_trace(solver, mode, stop, **trace_kw)``.
    hA defaults to ``solver.low_power_hA()``; the isothermal R(T) tables are built on
    ``T_grid`` (default 61 points from T_B to T_B + 2 (max T_max - T_B) + 1 K).

    The verdict judges the observables at equal current: the lumped model holds at a
    point if |V_lumped - V|/V <= ``tol`` and |T_mean_lumped - T_mean| <= ``tol_T``
    (default: tol times the mean overheating T_mean - T_B, plus 1 uK). It names the bias
    range (P and I) where it holds and the dominant cause of the error at the worst point.
    ``nonuniformity_tol`` is accepted for compatibility and no longer used: a non-uniform
    temperature matters only through the error it makes in V and T_mean.

    Returns a Dataset with dim "point" (variables: see _NAMES, each with units and
    long_name) and attrs hA_eff (= hA0, the low-power value) and hA_eff_top [W/K],
    T_bath, area_m2, turning points (kind, V, I), the maximum errors, the error budget at
    the worst point, the range of validity and a one-line ``verdict``.
    """
    del nonuniformity_tol
    if points is None:
        if stop is None:
            raise ValueError("give stop (the end of the trace) or points")
        points = arclength_trace(solver, mode, stop, **trace_kw).run().points
    pts = list(points)
    pr = solver.problem
    TB = pr.T_bath
    if hA is None:
        hA = solver.low_power_hA()
    reg = pr.hA_region
    if T_grid is None:
        Tmax = max(p.T_max["all"] for p in pts)
        top = min(TB + 2 * (Tmax - TB) + 1.0, valid_T_max(pr))   # the lumped curve runs past the FEM's
        hi = max(top * (1 - 1e-12), Tmax)
        # uniform, plus geometric towards T_B: a steep R(T) (activated rho_c) is interpolated
        # to well below the 1 % tolerance also where the overheating is a fraction of a kelvin
        T_grid = np.unique(np.concatenate([np.linspace(TB, hi, 61), TB + (hi - TB) * np.geomspace(1e-5, 1.0, 40)]))
    tables = isothermal_resistance(solver, T_grid)
    R_heat = tables["R"]
    R_V = tables.get("R_4p", R_heat)
    use4 = bool(pr.four_probe)
    area = footprint_area(solver, reg)
    n = len(pts)
    d = {k: np.full(n, np.nan) for k in _NAMES}
    for k, p in enumerate(pts):
        V = p.V_4p if use4 else p.V
        dV = p.dV4p_ds if use4 else p.dV_ds
        Tm = p.T_mean[reg]
        d["I"][k], d["V"][k], d["P"][k] = p.I, V, p.P
        d["P_per_area"][k] = p.P / area * 1e-4 if np.isfinite(area) else np.nan   # W/m^2 -> W/cm^2
        d["T_mean"][k], d["T_max"][k] = Tm, p.T_max["all"]
        d["R"][k] = V / p.I if p.I != 0 else np.nan
        d["dIdV"][k] = p.dI_ds / dV if dV else np.nan
        d["V_4p"][k], d["V_3p"][k], d["V_contact"][k] = p.V_4p, p.V_3p, p.V
        d["hA_eff"][k] = p.P / (Tm - TB) if Tm > TB else hA
        # (NaN for a point restored from a checkpoint older than these readouts)
        d["T_spread"][k] = p.T_spread.get(reg, np.nan)
        d["P_outside"][k] = 1.0 - p.P_region[reg] / p.P if reg in p.P_region and p.P > 0 else np.nan
        d["energy_balance"][k], d["current_balance"][k] = p.energy_balance, p.current_balance
        d["power_balance"][k] = abs(p.P - p.I * p.V) / p.P if p.P > 0 else 0.0
        d["newton_steps"][k] = p.newton_steps
        d["is_turning"][k] = 1.0 if p.turning else 0.0
        try:
            Tl, Vl = lumped_at_current(R_heat, hA, TB, p.I, Tm, R_V=R_V)
            Th, Vh = lumped_at_current(R_heat, d["hA_eff"][k], TB, p.I, Tm, R_V=R_V)
        except Exception:  # a root outside the table: report as missing, not fatal
            Tl = Vl = Th = Vh = np.nan
        d["T_mean_lumped"][k], d["V_lumped"][k] = Tl, Vl
        d["P_lumped"][k] = hA * (Tl - TB)
        d["dT_lumped"][k] = Tl - Tm
        d["dT_conductance"][k], d["dT_nonuniform"][k] = Tl - Th, Th - Tm
        if V != 0:
            d["dV_rel_lumped"][k] = (Vl - V) / V
            d["dV_rel_conductance"][k], d["dV_rel_nonuniform"][k] = (Vl - Vh) / V, (Vh - V) / V
            d["P_4probe_error"][k] = 1.0 - p.I * p.V_4p / p.P if (use4 and p.P > 0) else np.nan
    if use4 and n:
        ratio = d["V_4p"] / d["V_contact"]
        low = np.flatnonzero(np.isfinite(ratio) & (d["P"] > 0))
        if low.size:
            d["probe_ratio_change"] = ratio / ratio[low[np.argmin(d["P"][low])]] - 1.0
    heat = d["T_mean"] - TB
    tolT = tol_T if tol_T is not None else tol * np.abs(heat) + 1e-6
    err_V = np.abs(d["dV_rel_lumped"])
    err_T = np.abs(d["dT_lumped"])
    checked = np.isfinite(err_V) & np.isfinite(err_T)
    ok = checked & (err_V <= tol) & (err_T <= tolT)
    ok[(d["I"] == 0) & ~checked] = True          # the unbiased point: nothing to compare
    err = float(np.nanmax(err_V)) if np.isfinite(err_V).any() else np.nan
    dT_max = float(np.nanmax(err_T)) if np.isfinite(err_T).any() else np.nan
    holds = bool(ok.all())
    nonu = d["T_max"] - d["T_mean"]
    nonu_max = float(np.nanmax(nonu)) if n else np.nan
    nonu_rel = nonu_max / np.nanmax(heat) if n and np.nanmax(heat) > 0 else 0.0
    P_ok, I_ok = _holds_up_to(ok, d["P"]), _holds_up_to(ok, np.abs(d["I"]))
    # the error budget where the voltage error is largest
    budget, dominant = {}, ""
    if np.isfinite(err_V).any():
        j = int(np.nanargmax(err_V))
        budget = {"at_I_A": float(d["I"][j]), "at_P_W": float(d["P"][j]),
                  "dV_rel": float(d["dV_rel_lumped"][j]), "dT_K": float(d["dT_lumped"][j]),
                  "dV_rel_conductance": float(d["dV_rel_conductance"][j]),
                  "dV_rel_nonuniform": float(d["dV_rel_nonuniform"][j]),
                  "dT_conductance_K": float(d["dT_conductance"][j]),
                  "dT_nonuniform_K": float(d["dT_nonuniform"][j]),
                  "hA_eff_over_hA0": float(d["hA_eff"][j] / hA),
                  "T_max_minus_T_mean_K": float(nonu[j]), "T_spread_K": float(d["T_spread"][j]),
                  "P_outside": float(d["P_outside"][j]),
                  "P_4probe_error": float(d["P_4probe_error"][j]),
                  "probe_ratio_change": float(d["probe_ratio_change"][j])}
        parts = {"conductance": abs(budget["dV_rel_conductance"]), "nonuniform": abs(budget["dV_rel_nonuniform"])}
        if all(np.isfinite(v) for v in parts.values()):
            dominant = max(parts, key=parts.get)
    tolT_text = f"{tol_T:g} K" if tol_T is not None else f"{tol:g} of the overheating"
    if holds:
        verdict = (f"lumped model holds over the whole sweep: |V_lumped - V|/V <= {err:.2g} (tolerance {tol:g}), "
                   f"|T_mean_lumped - T_mean| <= {dT_max:.2g} K (tolerance {tolT_text})")
    else:
        rng = ("at no bias point" if P_ok is None else f"up to P = {P_ok:.3g} W (I = {I_ok:.3g} A)")
        verdict = (f"lumped model holds {rng} within |dV|/V <= {tol:g} and |dT_mean| <= {tolT_text}; "
                   f"beyond, up to |dV|/V = {err:.3g} and |dT_mean| = {dT_max:.3g} K")
        if dominant and budget:
            verdict += (f"; dominant cause: {CAUSES[dominant]} ({100 * budget['dV_rel_conductance']:+.3g} % "
                        f"conductance, {100 * budget['dV_rel_nonuniform']:+.3g} % non-uniformity of "
                        f"{100 * budget['dV_rel']:+.3g} % in V at I = {budget['at_I_A']:.3g} A)")
    tps = [p for p in pts if p.turning]
    variables = {}
    for k, v in d.items():
        attrs = registry.attrs(k, _MEANING.get(k))
        if k in _LABELS:
            attrs["label"] = _LABELS[k]
        variables[k] = ("point", v, attrs)
    top = int(np.nanargmax(d["P"])) if n else 0
    ds = xr.Dataset(
        variables,
        coords={"point": np.arange(n)},
        attrs={
            "hA_eff": float(hA), "hA_eff_units": "W/K",
            "hA_eff_meaning": "low-power limit of P/(T_mean - T_bath) (the lumped model's hA0)",
            "hA_eff_top": float(d["hA_eff"][top]) if n else np.nan,
            "hA_eff_top_at_P": float(d["P"][top]) if n else np.nan,
            "hA_region": reg, "T_bath": TB, "T_bath_units": "K",
            # wall-clock times vary from run to run: kept beside the data, not in it
            "solve_time_s": np.array([p.time_s for p in pts], dtype=float),
            "area_m2": float(area),
            "R0_ohm": float(R_V(np.array([TB]))[0]),   # isothermal R of the measured voltage at T_bath
            "V_reading": "V_4p" if use4 else "V_contact",
            "turning_point_kind": ",".join(p.turning for p in tps),
            "turning_point_V": np.array([p.V_4p if use4 else p.V for p in tps], dtype=float),
            "turning_point_I": np.array([p.I for p in tps], dtype=float),
            "lumped_max_rel_error": err,
            "lumped_max_dT_K": dT_max,
            "lumped_tolerance": float(tol),
            "lumped_holds_up_to_P": np.nan if P_ok is None else float(P_ok),
            "lumped_holds_up_to_I": np.nan if I_ok is None else float(I_ok),
            "lumped_error_budget": json.dumps(budget),
            "lumped_dominant_cause": dominant,
            "nonuniformity_max_K": nonu_max,
            "nonuniformity_rel": nonu_rel,
            "power_balance_max": float(np.nanmax(d["power_balance"])) if n else np.nan,
            "lumped_holds": int(holds),
            "verdict": verdict,
        },
    )
    return ds
