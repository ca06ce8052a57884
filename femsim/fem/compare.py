"""Reductions beside the lumped Newton model (the core use case).

1. `isothermal_resistance`: the device's R(T) from FEM solves at uniform T with the heat
   equation switched off, as `femsim.properties.Table` (2-terminal, 4-probe, 3-probe).
2. `lumped_at_current`: the lumped Newton model T = T_B + I^2 R(T)/(hA)
   (seeds/000_eb5949db9699e93e.txt, Eq. 1) at a given current, the root nearest a guess
   (femsim.lumped gives the whole curve, parametric in T; this is its inverse at the
   FEM's currents).
3. `compare_with_lumped`: FEM I-V (pseudo-arclength trace), the lumped model at equal
   current with the FEM's own low-power (hA)_eff and isothermal R(T), the lumped
   error and temperature non-uniformity, as an xarray.Dataset.

Which R goes where in the lumped model: all Joule heat of the domain heats it, so the
temperature follows from I^2 R_2t(T) = hA (T - T_B) with the 2-terminal R_2t; the
reported voltage is I R_V(T) with R_V the 4-probe R(T) when the problem has probes,
else R_2t (like V of the FEM readout).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.optimize import brentq

from ..properties import Table


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


_VARS = {
    "I": ("A", "current through the bias electrode"),
    "V": ("V", "voltage (4-probe if probes are defined, else contact)"),
    "P": ("W", "Joule power (volume integral)"),
    "T_mean": ("K", "volume-mean temperature of the hA region"),
    "T_max": ("K", "maximum temperature"),
    "R": ("Ohm", "resistance V/I"),
    "dIdV": ("S", "differential conductance dI/dV"),
    "V_4p": ("V", "4-probe voltage between the probe surfaces"),
    "V_3p": ("V", "3-probe voltage across the current contact"),
    "V_contact": ("V", "2-terminal voltage of the bias electrode"),
    "V_lumped": ("V", "lumped Newton model voltage at equal current"),
    "T_mean_lumped": ("K", "lumped Newton model temperature at equal current"),
    "energy_balance": ("1", "|P - heat out| / P"),
    "current_balance": ("1", "|current in - current out| / I"),
    "newton_steps": ("1", "Newton steps"),
    "is_turning": ("1", "1 where the point is a refined turning point"),
    "solve_time": ("s", "wall time of the point's nonlinear solve"),
}


def compare_with_lumped(solver, mode="current", stop=None, points=None, hA=None, T_grid=None,
                        tol=1e-2, nonuniformity_tol=0.05, **trace_kw) -> xr.Dataset:
    """FEM I-V beside the lumped Newton model with the FEM's own R(T) and (hA)_eff.

    The FEM curve is ``points`` if given, else ``solver.trace(mode, stop, **trace_kw)``.
    hA defaults to ``solver.low_power_hA()``; the isothermal R(T) tables are built on
    ``T_grid`` (default 61 points from T_B to T_B + 2 (max T_max - T_B) + 1 K).

    Returns a Dataset with dim "point" (variables: see _VARS, each with units and
    long_name) and attrs hA_eff [W/K], T_bath, turning points (kind, V, I), the lumped
    model's max relative voltage error at equal current, the maximum non-uniformity
    T_max - T_mean, and a one-line ``verdict``.
    """
    if points is None:
        if stop is None:
            raise ValueError("give stop (the end of the trace) or points")
        points = solver.trace(mode, stop, **trace_kw).run().points
    pts = list(points)
    pr = solver.problem
    TB = pr.T_bath
    if hA is None:
        hA = solver.low_power_hA()
    reg = pr.hA_region
    if T_grid is None:
        Tmax = max(p.T_max["all"] for p in pts)
        top = min(TB + 2 * (Tmax - TB) + 1.0, valid_T_max(pr))   # the lumped curve runs past the FEM's
        T_grid = np.linspace(TB, max(top * (1 - 1e-12), Tmax), 61)
    tables = isothermal_resistance(solver, T_grid)
    R_heat = tables["R"]
    R_V = tables.get("R_4p", R_heat)
    use4 = bool(pr.four_probe)
    n = len(pts)
    d = {k: np.full(n, np.nan) for k in _VARS}
    for k, p in enumerate(pts):
        V = p.V_4p if use4 else p.V
        dV = p.dV4p_ds if use4 else p.dV_ds
        d["I"][k], d["V"][k], d["P"][k] = p.I, V, p.P
        d["T_mean"][k], d["T_max"][k] = p.T_mean[reg], p.T_max["all"]
        d["R"][k] = V / p.I if p.I != 0 else np.nan
        d["dIdV"][k] = p.dI_ds / dV if dV else np.nan
        d["V_4p"][k], d["V_3p"][k], d["V_contact"][k] = p.V_4p, p.V_3p, p.V
        d["energy_balance"][k], d["current_balance"][k] = p.energy_balance, p.current_balance
        d["newton_steps"][k] = p.newton_steps
        d["solve_time"][k] = p.time_s
        d["is_turning"][k] = 1.0 if p.turning else 0.0
        try:
            Tl, Vl = lumped_at_current(R_heat, hA, TB, p.I, p.T_mean[reg], R_V=R_V)
        except Exception:  # a root outside the table: report as missing, not fatal
            Tl, Vl = np.nan, np.nan
        d["T_mean_lumped"][k], d["V_lumped"][k] = Tl, Vl
    ok = (np.abs(d["V"]) > 0) & np.isfinite(d["V_lumped"])
    err = float(np.max(np.abs(d["V_lumped"][ok] - d["V"][ok]) / np.abs(d["V"][ok]))) if ok.any() else np.nan
    nonu = d["T_max"] - d["T_mean"]
    heat = np.max(d["T_mean"] - TB) if n else 0.0
    nonu_max = float(np.max(nonu)) if n else np.nan
    nonu_rel = nonu_max / heat if heat > 0 else 0.0
    holds = bool(err <= tol and nonu_rel <= nonuniformity_tol)
    verdict = (f"lumped model {'holds' if holds else 'does not hold'}: max |V_lumped - V_fem|/V_fem = "
               f"{err:.3g} ({'<=' if err <= tol else '>'} {tol:g}), T_max - T_mean up to "
               f"{nonu_max:.3g} K = {nonu_rel:.3g} of the mean heating "
               f"({'<=' if nonu_rel <= nonuniformity_tol else '>'} {nonuniformity_tol:g})")
    tps = [p for p in pts if p.turning]
    ds = xr.Dataset(
        {k: ("point", v, {"units": _VARS[k][0], "long_name": _VARS[k][1]}) for k, v in d.items()},
        coords={"point": np.arange(n)},
        attrs={
            "hA_eff": float(hA), "hA_eff_units": "W/K",
            "hA_region": reg, "T_bath": TB, "T_bath_units": "K",
            "turning_point_kind": ",".join(p.turning for p in tps),
            "turning_point_V": np.array([p.V_4p if use4 else p.V for p in tps], dtype=float),
            "turning_point_I": np.array([p.I for p in tps], dtype=float),
            "lumped_max_rel_error": err,
            "nonuniformity_max_K": nonu_max,
            "nonuniformity_rel": nonu_rel,
            "lumped_holds": int(holds),
            "verdict": verdict,
        },
    )
    return ds
