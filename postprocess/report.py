"""report.md for a results directory, and the few lines `femsim run` prints at the end.

The report states what a user checks first: peak and mean overheating, (hA)_eff, where
and by how much the lumped model departs from the FEM, the energy-balance residual and
the solver statistics, with the key plots embedded. Lumped-only and rf runs get the
parts that apply and a sentence saying what does not.

Figures come from ``summary["figures"]`` (the solver's own numbers win) and, for what
the summary lacks, from the curve dataset (`key_figures`). Names of figures, all SI:

    T_bath [K]; T_max_peak, dT_max_peak, T_mean_peak, dT_mean_peak [K]; P_at_peak [W];
    P_per_area_at_peak [W/cm^2] (P/A, A the in-plane area of the hA region, area_m2);
    hA_eff [W/K] (the low-power limit of P / (T_mean - T_bath), the lumped model's hA0;
    from a curve without it: the value at the smallest positive P); hA_eff_top [W/K]
    (P / (T_mean - T_bath) at the highest power); P_c [W];
    lumped_dV_rel_max [1] with lumped_dV_rel_max_at_I [A] / _at_P [W];
    lumped_departs_at_P [W], lumped_departs_at_I [A] (first point beyond
    lumped_tolerance [1], default 0.01); lumped_dT_mean_max [K];
    energy_balance_max [1]; points, newton_steps [1].
``summary["timings"]`` holds seconds (``total`` if given, else their sum is reported).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from femsim import variables as registry
from femsim.variables import PREFIXES
from femsim.results import write_text
from femsim.postprocess.plots import display_scale, turning_points

FIGURE_UNITS = {
    "T_bath": "K", "T_max_peak": "K", "dT_max_peak": "K", "T_mean_peak": "K", "dT_mean_peak": "K",
    "P_at_peak": "W", "hA_eff": "W/K", "hA_eff_top": "W/K", "P_per_area_at_peak": "W/cm^2", "area_m2": "m^2",
    "lumped_holds_up_to_P": "W", "lumped_holds_up_to_I": "A", "lumped_max_dT": "K", "hA": "W/K", "hA_lumped": "W/K", "P_c": "W",
    "lumped_dV_rel_max": "1", "lumped_dV_rel_max_at_I": "A", "lumped_dV_rel_max_at_P": "W",
    "lumped_departs_at_P": "W", "lumped_departs_at_I": "A", "lumped_tolerance": "1",
    "lumped_dT_mean_max": "K", "energy_balance_max": "1", "current_balance_max": "1",
    "points": "1", "newton_steps": "1", "I_max": "A", "V_max": "V", "P_max": "W",
}
_RELATIVE = {"lumped_dV_rel_max", "lumped_tolerance"}
TOLERANCE = 0.01


# ---------------------------------------------------------------- numbers

def fmt(value, unit: str = "1", name: str | None = None) -> str:
    """"16 µW/K", "30 K", "4.1 %", "2.5e-07": 3 significant digits, SI prefix where usual."""
    if value is None:
        return "n/a"
    if isinstance(value, (str, bool)):
        return str(value)
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_show(k, v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        if not value:
            return "none"
        if isinstance(value[0], dict):
            return f"{len(value)} entries (summary.json)"
        return ", ".join(fmt(v, unit, name) for v in value)
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    if name in _RELATIVE:
        return f"{100 * value:.3g} %"
    if unit == "1":
        return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2g}"
    mult, shown = display_scale(unit, [value])
    return f"{value * mult:.3g} {shown}"


def _show(name: str, value, unit: str | None = None) -> str:
    """A named value with the unit its name implies ("residual_std_V" -> volts)."""
    base, suffix_unit = split_unit(name)
    return fmt(value, unit or suffix_unit or FIGURE_UNITS.get(name, "1"), name)


def _sibling_units(figures: dict) -> dict[str, str]:
    """name -> unit from "<name>_units" entries beside it (the rf study writes
    "frequency": 7e10, "frequency_units": "Hz"); "<base>_units" also covers
    "<base>_real" and "<base>_imag"."""
    units = {}
    for name, value in figures.items():
        if name.endswith("_units") and isinstance(value, str):
            base = name[: -len("_units")]
            for target in (base, base + "_real", base + "_imag"):
                if target in figures:
                    units[target] = value
    return units


def _is_unit_row(figures: dict, name: str) -> bool:
    """A "<name>_units" entry that only states the unit of another figure."""
    base = name[: -len("_units")]
    return (name.endswith("_units") and isinstance(figures.get(name), str)
            and any(t in figures for t in (base, base + "_real", base + "_imag")))


def _figure_value(entry):
    """A figure is a value or {"value": x, "units": u}; other dicts are values themselves."""
    if isinstance(entry, dict) and "value" in entry:
        return entry["value"], entry.get("units")
    return entry, None


#: figure names ending in a unit ("hA_W_per_K", "P_max_W") -> that unit
_SUFFIX_UNITS = (("_W_per_K", "W/K"), ("_Ohm", "Ohm"), ("_Hz", "Hz"), ("_K", "K"), ("_W", "W"),
                 ("_A", "A"), ("_V", "V"), ("_S", "S"), ("_s", "s"), ("_m", "m"))
#: base names other studies use for the figures named above
_ALIASES = {"T_mean_max": "T_mean_peak", "T_max_max": "T_max_peak"}


def split_unit(name: str) -> tuple[str, str | None]:
    """"hA_W_per_K" -> ("hA", "W/K"); names without a unit suffix come back unchanged."""
    for suffix, unit in _SUFFIX_UNITS:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], unit
    return name, None


def _summary_figures(summary: dict) -> dict:
    """Figures by the names used here: {"value", "units"} entries unpacked, unit-suffixed
    names ("T_mean_max_K") also filed under their base name ("T_mean_peak"), and the
    lumped study's threshold records collected into P_c."""
    out: dict = {"_units": {}}
    siblings = _sibling_units(summary.get("figures") or {})
    for name, entry in (summary.get("figures") or {}).items():
        value, unit = _figure_value(entry)
        unit = unit or siblings.get(name)
        out[name] = value
        if unit is not None:
            out["_units"][name] = unit
        base, suffix_unit = split_unit(name)
        if suffix_unit and isinstance(value, (int, float)) and not isinstance(value, bool):
            canonical = _ALIASES.get(base, base)
            if canonical not in (summary.get("figures") or {}):
                out.setdefault(canonical, value)
                out["_units"].setdefault(canonical, suffix_unit)
    thresholds = out.get("thresholds")
    if "P_c" not in out and isinstance(thresholds, list) and thresholds and isinstance(thresholds[0], dict):
        out["P_c"] = [t.get("P_c_W", t.get("P_c")) for t in thresholds]
    return out


def _bath(ds: xr.Dataset, sub: xr.Dataset, fam: str | None, value, summary_tb) -> tuple[float | None, bool]:
    """Bath temperature of one curve and whether it is only estimated."""
    if fam == "T_bath":
        return float(value), False
    own = sub["T_bath"] if "T_bath" in sub.variables and sub["T_bath"].ndim == 0 else None
    for source in (summary_tb, own, ds.attrs.get("T_bath")):
        if source is not None:
            return float(np.asarray(source)), False
    if "P" in sub and "T_mean" in sub:  # T at the lowest power is the bath within heating error
        P = sub["P"].values
        return float(sub["T_mean"].values[np.nanargmin(np.abs(P))]), True
    return None, False


def _member_figures(sub: xr.Dataset, T_B: float | None, tolerance: float) -> dict:
    f: dict = {}
    P = sub["P"].values if "P" in sub else None
    k = int(np.nanargmax(P)) if P is not None else None
    if k is not None:
        f["P_at_peak"] = float(P[k])
    for t in ("T_max", "T_mean"):
        if t in sub:
            f[f"{t}_peak"] = float(np.nanmax(sub[t].values))
            if T_B is not None:
                f[f"d{t}_peak"] = f[f"{t}_peak"] - T_B
    if k is not None and "T_mean" in sub and T_B is not None and sub["T_mean"].values[k] > T_B:
        Tm = sub["T_mean"].values
        f["hA_eff_top"] = float(P[k] / (Tm[k] - T_B))
        low = np.flatnonzero((P > 0) & (Tm > T_B))
        if low.size:   # the curve's own low-power end (the solver's exact limit wins if given)
            j = low[np.argmin(P[low])]
            f["hA_eff"] = float(P[j] / (Tm[j] - T_B))
    if k is not None and "P_per_area" in sub:
        f["P_per_area_at_peak"] = float(sub["P_per_area"].values[k])
    if {"V", "V_lumped", "I"} <= set(sub.variables):
        V, Vl, I = sub["V"].values, sub["V_lumped"].values, sub["I"].values
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(np.abs(V) > 0, np.abs(Vl - V) / np.abs(V), np.nan)
        if np.isfinite(rel).any():
            j = int(np.nanargmax(rel))
            f["lumped_dV_rel_max"] = float(rel[j])
            f["lumped_dV_rel_max_at_I"] = float(I[j])
            if P is not None:
                f["lumped_dV_rel_max_at_P"] = float(P[j])
            beyond = np.nonzero(rel > tolerance)[0]
            if beyond.size:
                f["lumped_departs_at_I"] = float(I[beyond[0]])
                if P is not None:
                    f["lumped_departs_at_P"] = float(P[beyond[0]])
    if {"T_mean", "T_mean_lumped"} <= set(sub.variables):
        f["lumped_dT_mean_max"] = float(np.nanmax(np.abs(sub["T_mean"].values - sub["T_mean_lumped"].values)))
    if "energy_balance" in sub:
        f["energy_balance_max"] = float(np.nanmax(sub["energy_balance"].values))
    return f


def _members(ds: xr.Dataset):
    var = "I" if "I" in ds else next(iter(ds.data_vars))
    fams = [d for d in ds[var].dims if d != "point"]
    if not fams:
        return None, [(None, ds)]
    fam = fams[0]
    values = ds[fam].values if fam in ds.variables else np.arange(ds.sizes[fam])
    return fam, [(values[k], ds.isel({fam: k})) for k in range(ds.sizes[fam])]


def key_figures(summary: dict, ds: xr.Dataset | None = None, *, tolerance: float = TOLERANCE) -> dict:
    """Figures for the report: the summary's, completed from the curve dataset.

    For a family, peak values are the largest over members and (hA)_eff and the lumped
    departure come from the member reaching the highest power; ``_members`` holds
    per-member figures (with ``_family`` naming the dimension)."""
    given = _summary_figures(summary)
    computed: dict = {"lumped_tolerance": tolerance}
    if ds is not None:
        fam, members = _members(ds)
        rows = []
        for value, sub in members:
            T_B, estimated = _bath(ds, sub, fam, value, given.get("T_bath"))
            row = _member_figures(sub, T_B, tolerance)
            row["T_bath"] = T_B
            row["_T_bath_estimated"] = estimated
            row["_value"] = value
            rows.append(row)
        computed |= _combine(rows)
        if fam is not None:
            computed["_family"] = fam
            computed["_members"] = rows
        computed["points"] = int(np.prod([ds.sizes[d] for d in ds[next(iter(ds.data_vars))].dims]))
        if "newton_steps" in ds:
            computed["newton_steps"] = int(np.nansum(ds["newton_steps"].values))
        pc = ds.attrs.get("P_c")
        if pc is not None:
            pc = json.loads(pc) if isinstance(pc, (str, bytes)) else pc
            computed["P_c"] = pc if np.ndim(pc) == 0 else [float(x) for x in np.ravel(pc)]
    merged = computed | {k: v for k, v in given.items() if v is not None}
    if computed.get("_family") is not None:
        # one member stands for the family: its own T_bath, T_mean, T_max and power, never a
        # maximum over all members from the summary (which mixes members)
        for key in _MEMBER_KEYS:
            if key in computed:
                merged[key] = computed[key]
            else:
                merged.pop(key, None)
    return merged


#: figures that belong to one family member
_MEMBER_KEYS = ("T_bath", "T_max_peak", "dT_max_peak", "T_mean_peak", "dT_mean_peak", "P_at_peak",
                "P_per_area_at_peak", "hA_eff_top", "_T_bath_estimated")


def figures_from_curves(ds: xr.Dataset, *, tolerance: float = TOLERANCE) -> dict:
    """The figures computable from a curve dataset, JSON-ready, for summary.json."""
    def plain(v):
        return [plain(x) for x in v] if isinstance(v, list) else (v.item() if hasattr(v, "item") else v)
    return {k: plain(v) for k, v in key_figures({}, ds, tolerance=tolerance).items()
            if not k.startswith("_") and v is not None}


def _combine(rows: list[dict]) -> dict:
    """One member's figures stand for the family: the most overheated one, so the stated
    T_max, T_bath and (hA)_eff belong together. The worst lumped departure and energy
    balance are taken over all members."""
    if not rows:
        return {}
    if len(rows) == 1:
        return dict(rows[0])

    def heat(r):
        return r.get("dT_max_peak", r.get("dT_mean_peak", r.get("P_at_peak", -np.inf)))

    out = {k: v for k, v in max(rows, key=heat).items() if k != "_value"}
    out["_stands_for"] = max(rows, key=heat)["_value"]
    for key in ("lumped_dT_mean_max", "energy_balance_max"):
        values = [r[key] for r in rows if r.get(key) is not None]
        if values:
            out[key] = max(values)
    return out


# ---------------------------------------------------------------- report

def _unit(name: str) -> str:
    return FIGURE_UNITS.get(name) or registry.units(name)


def _q(f: dict, name: str) -> str:
    unit = f.get("_units", {}).get(name) or FIGURE_UNITS.get(name, "1")
    return fmt(f.get(name), unit, name)


def _study(summary: dict) -> str:
    return str(summary.get("study", "fem")).lower()


def _case_name(summary: dict) -> str:
    if summary.get("title"):
        return str(summary["title"])
    case = summary.get("case")
    if isinstance(case, dict):
        return str(case.get("name") or case.get("title") or case.get("file") or "case")
    return str(case) if case is not None else "case"


def _load(w_per_cm2) -> str:
    """A heat load in W/cm^2 with the prefix a reader compares with helium's ~1 W/cm^2."""
    x = float(w_per_cm2)
    for e, prefix in PREFIXES:
        mult = 10.0 ** e
        if -6 <= e <= 6 and abs(x) >= mult:
            return f"{x / mult:.3g} {prefix}W/cm²"
    return f"{x:.3g} W/cm²"


def _thermal_lines(f: dict, study: str) -> list[str]:
    lines = []
    bath = f"T_bath = {_q(f, 'T_bath')}" + (" (estimated from T at the lowest power)" if f.get("_T_bath_estimated") else "")
    if f.get("dT_max_peak") is not None:
        lines.append(f"- **Peak overheating**: T_max − T_bath = {_q(f, 'dT_max_peak')} "
                     f"(T_max = {_q(f, 'T_max_peak')}, {bath}).")
    if f.get("dT_mean_peak") is not None:
        lines.append(f"- **Mean overheating**: T_mean − T_bath = {_q(f, 'dT_mean_peak')} "
                     f"(T_mean = {_q(f, 'T_mean_peak')}" + (f", at P = {_q(f, 'P_at_peak')}" if f.get("P_at_peak") is not None else "")
                     + ("" if f.get("dT_max_peak") is not None else f", {bath}") + ").")
    if f.get("P_per_area_at_peak") is not None:
        lines.append(f"- **Heat load** at the highest power: P/A = {_load(f['P_per_area_at_peak'])}"
                     + (f" (A = {fmt(f['area_m2'] * 1e12, '1')} µm² in plane)" if f.get("area_m2") else "")
                     + "; liquid helium carries about 1 W/cm² before film boiling (seeds/000).")
    if study == "lumped" and f.get("hA") is not None:
        lines.append(f"- **hA** = {_q(f, 'hA')} (the lumped model's heat-transfer conductance).")
        if f.get("hA_fit") and isinstance(f["hA_fit"], dict):
            fit = f["hA_fit"]
            lines.append(f"- **hA fitted** to the measured I-V = {fmt(fit.get('hA_W_per_K'), 'W/K')} ± "
                         f"{fmt(fit.get('sigma_W_per_K'), 'W/K')} (1 σ; residual {fmt(fit.get('residual_std_V'), 'V')} "
                         f"rms over {fit.get('points')} points); the curves_fit_hA files and plots use it.")
    elif f.get("hA_eff") is not None:
        line = f"- **(hA)_eff** = {_q(f, 'hA_eff')} in the low-power limit (P/(T_mean − T_bath) as P → 0, the lumped model's hA)"
        if f.get("hA_eff_top") is not None:
            line += (f"; {_q(f, 'hA_eff_top')} at the highest power" +
                     (f" P = {_q(f, 'P_at_peak')}" if f.get("P_at_peak") is not None else ""))
        lines.append(line + ".")
    if f.get("P_c") is not None:
        pcs = f["P_c"] if isinstance(f["P_c"], list) else [f["P_c"]]
        members = f.get("_members")
        if members and len(members) == len(pcs):  # name the member each threshold belongs to
            fam = f["_family"]
            shown = [f"{fmt(p, 'W')} ({fam} = {fmt(r['_value'], _unit(fam))})" for p, r in zip(pcs, members)]
        else:
            shown = [fmt(p, "W") for p in pcs]
        lines.append("- **Threshold power** P_c = " + ", ".join(shown) + ".")
    return lines


def _lumped_lines(f: dict) -> list[str]:
    if f.get("lumped_dV_rel_max") is None:
        return ["- **Lumped vs FEM**: no lumped comparison in this run (no V_lumped)."]
    where = f"at I = {_q(f, 'lumped_dV_rel_max_at_I')}" + (
        f", P = {_q(f, 'lumped_dV_rel_max_at_P')}" if f.get("lumped_dV_rel_max_at_P") is not None else "")
    line = (f"- **Lumped vs FEM**: the lumped model's voltage at the same current departs from the FEM by up to "
            f"{_q(f, 'lumped_dV_rel_max')} ({where}); ")
    if f.get("lumped_departs_at_I") is not None:
        line += (f"it first exceeds {_q(f, 'lumped_tolerance')} at I = {_q(f, 'lumped_departs_at_I')}"
                 + (f" (P = {_q(f, 'lumped_departs_at_P')})" if f.get("lumped_departs_at_P") is not None else "") + ".")
    else:
        line += f"it stays within {_q(f, 'lumped_tolerance')} over the whole sweep."
    if f.get("lumped_dT_mean_max") is not None:
        line += f" Mean temperatures differ by up to {_q(f, 'lumped_dT_mean_max')}."
    out = [line]
    if f.get("verdict"):
        out.append(f"- **Verdict**: {f['verdict']}.")
    return out


def _rf_lines(summary: dict) -> list[str]:
    """The rf key figures (femsim.studies.rf.key_figures) with units."""
    k = (summary.get("figures") or {}).get("key") or {}
    if not k:
        return []
    rows = ["## rf key figures", ""]
    if k.get("eq12_classical_vs_quantum_rel") is not None:
        per = k.get("eq12_classical_vs_quantum_rel_per_drive") or {}
        rows.append(f"- **Eq. 12 (classical) vs Tien-Gordon (Eq. 5)**: max |I_pumped − I_classical| / max |I_classical| = "
                    f"{100 * k['eq12_classical_vs_quantum_rel']:.3g} %" +
                    (" (" + ", ".join(f"{100 * v:.3g} % at V_rf0 = {d}" for d, v in per.items()) + ")" if per else "") + ".")
    if k.get("V_rf0_first_J0_zero_V") is not None:
        line = (f"- **First zero of J_0²** (e V_rf0/hf = 2.405) at V_rf0 = {fmt(k['V_rf0_first_J0_zero_V'], 'V')}: ")
        if k.get("first_J0_zero_inside_drives"):
            w = k.get("qp_weight_at_first_J0_zero") or {}
            a = k.get("qp_step_at_first_J0_zero_A") or {}
            line += "step weights " + ", ".join(f"{n}: {v:.3g}" for n, v in w.items())
            if a:
                line += "; quasiparticle step heights " + ", ".join(f"{n}: {fmt(v, 'A')}" for n, v in a.items())
            line += " (interpolated between the computed drives)."
        else:
            w = k.get("uniform_Jn2_at_first_J0_zero") or {}
            line += ("outside the computed drives; a uniform drive would give step weights J_n² = "
                     + ", ".join(f"{n}: {v:.3g}" for n, v in w.items()) + ".")
        rows.append(line)
    return rows + [""]


_BUDGET = (("conductance changing with T (hA0 instead of hA_eff(P))", "dV_rel_conductance", "dT_conductance_K"),
           ("non-uniform temperature (R at T_mean)", "dV_rel_nonuniform", "dT_nonuniform_K"))


def _budget_lines(f: dict) -> list[str]:
    """The lumped model's error at its worst point split into its computed causes."""
    b = f.get("lumped_error_budget")
    if isinstance(b, str):
        b = json.loads(b) if b else {}
    if not b:
        return []
    pct = lambda x: "n/a" if x is None or not np.isfinite(x) else f"{100 * x:+.3g} %"  # noqa: E731
    rows = ["## Why the lumped model departs", "",
            f"At the point of the largest voltage error (I = {fmt(b.get('at_I_A'), 'A')}, P = {fmt(b.get('at_P_W'), 'W')}), "
            "at equal current:", "",
            "| cause | ΔV/V | ΔT_mean | measure |", "|---|---|---|---|"]
    for name, kv, kt in _BUDGET:
        measure = (f"hA_eff/hA0 = {b.get('hA_eff_over_hA0', np.nan):.4g}" if kv == "dV_rel_conductance" else
                   f"T_max − T_mean = {fmt(b.get('T_max_minus_T_mean_K'), 'K')}, spread {fmt(b.get('T_spread_K'), 'K')}")
        rows.append(f"| {name} | {pct(b.get(kv))} | {fmt(b.get(kt), 'K')} | {measure} |")
    rows.append(f"| **total** | {pct(b.get('dV_rel'))} | {fmt(b.get('dT_K'), 'K')} | |")
    book = []
    if b.get("P_outside") is not None and np.isfinite(b["P_outside"]):
        book.append(f"{pct(b['P_outside']).lstrip('+')} of P is dissipated outside the hA region "
                    "(contacts, electrodes, base)")
    if b.get("P_4probe_error") is not None and np.isfinite(b["P_4probe_error"]):
        book.append(f"taking I V_4probe as P would miss {pct(b['P_4probe_error']).lstrip('+')} of it; "
                    f"V_4probe/V_2probe changed by {pct(b.get('probe_ratio_change'))} from its low-power value")
    if book:
        rows += ["", "Heat-load bookkeeping (enters the lumped model through hA_eff, not as a separate error): "
                 + "; ".join(book) + "."]
    rows.append("")
    if f.get("lumped_dominant_cause"):
        rows += [f"Dominant cause: **{dict(conductance='the thermal conductance changing with T', nonuniform='the non-uniform temperature')[f['lumped_dominant_cause']]}**.", ""]
    return rows


def _energy_lines(f: dict) -> list[str]:
    if f.get("energy_balance_max") is None:
        return ["- **Energy balance**: not recorded in this run."]
    return [f"- **Energy balance** residual |P − heat out|/P: at most {_q(f, 'energy_balance_max')} over the sweep."]


def _timing(summary: dict) -> tuple[float | None, dict]:
    timings = {k: v for k, v in (summary.get("timings") or {}).items() if isinstance(v, (int, float))}
    if not timings:
        return None, {}
    return float(timings.get("total", sum(timings.values()))), timings


def _solver_lines(f: dict, summary: dict) -> list[str]:
    total, timings = _timing(summary)
    rows = ["| points | Newton steps | time |", "|---|---|---|",
            f"| {f.get('points', 'n/a')} | {f.get('newton_steps', 'n/a')} | "
            f"{'n/a' if total is None else f'{total:.3g} s'} |"]
    if len(timings) > 1:
        rows += ["", "Timings: " + ", ".join(f"{k.removesuffix('_s')} {v:.3g} s" for k, v in timings.items()) + "."]
    return rows


def _turning_lines(ds: xr.Dataset | None, f: dict) -> list[str]:
    tps = turning_points(ds) if ds is not None else []
    if not tps and isinstance(f.get("turning_points"), list):
        tps = turning_points(None, f["turning_points"])
    if not tps:
        return []
    extra = sorted({k for t in tps for k in t} - {"kind", "I", "V", "T", "T_mean", "P", "R", "turning_point", "smooth"})
    head = "| kind | I | V | T |" + "".join(f" {k} |" for k in extra)
    rows = ["## Turning points", "", head, "|---" * (4 + len(extra)) + "|"]
    for t in tps:
        rows.append(f"| {t.get('kind', '')} | {fmt(t.get('I'), 'A')} | {fmt(t.get('V'), 'V')} | "
                    f"{fmt(t.get('T'), 'K')} |" + "".join(f" {fmt(t.get(k), _unit(k))} |" for k in extra))
    return rows + [""]


def _member_lines(f: dict) -> list[str]:
    rows = f.get("_members")
    if not rows:
        return []
    fam = f["_family"]
    columns = [("ΔT_max", "dT_max_peak", "K"), ("ΔT_mean", "dT_mean_peak", "K"), ("(hA)_eff", "hA_eff", "W/K"),
               ("lumped ΔV/V max", "lumped_dV_rel_max", "1")]
    columns = [c for c in columns if any(r.get(c[1]) is not None for r in rows)]  # what this study has
    out = [f"## Per {fam}", "", f"| {fam} | " + " | ".join(c[0] for c in columns) + " |",
           "|---" * (len(columns) + 1) + "|"]
    for r in rows:
        out.append(f"| {fmt(r['_value'], _unit(fam))} | " +
                   " | ".join(fmt(r.get(key), unit, key) for _, key, unit in columns) + " |")
    return out + [""]


def _plot_lines(result_dir: Path, plots) -> list[str]:
    if not plots:
        return []
    items = plots.items() if isinstance(plots, dict) else ((Path(p).stem, p) for p in plots)
    out = ["## Plots", ""]
    for name, paths in items:
        paths = [Path(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
        paths = [p if p.is_absolute() else result_dir / p for p in paths]
        rel = {p.suffix.lstrip("."): Path(os.path.relpath(p, result_dir)).as_posix() for p in paths}
        image = rel.get("png") or rel.get("svg")
        links = [f"[{fmtname.upper()}]({r})" for fmtname, r in rel.items() if r != image]
        if image:
            out.append(f"![{name}]({image})" + (f"  ({', '.join(links)})" if links else ""))
        else:
            out.append(f"- {name}: {', '.join(links)}")
        out.append("")
    return out


def _all_figures(summary: dict) -> list[str]:
    figs = summary.get("figures") or {}
    if not figs:
        return []
    out = ["## All figures (summary.json)", "", "| name | value |", "|---|---|"]
    siblings = _sibling_units(figs)
    for name, entry in figs.items():
        if _is_unit_row(figs, name):  # its unit is shown with the value it belongs to
            continue
        value, unit = _figure_value(entry)
        unit = unit or siblings.get(name)
        shown = _show(name, value, unit).replace("|", "\\|")  # a bare pipe would end the table cell
        out.append(f"| {name} | {shown} |")
    return out + [""]


_APPLIES = {
    "lumped": ("This is a lumped-model run (no field solution): the mean temperature, (hA), R(P) and P_c "
               "apply; the peak temperature T_max, the energy balance and the lumped-vs-FEM comparison "
               "do not."),
    "rf": ("This is an rf run (transmission line and photon-assisted tunnelling): thermal figures, the "
           "lumped-vs-FEM comparison and the energy balance do not apply; the rf figures are listed below."),
}


def write_report(result_dir, summary: dict, plots=None, *, ds: xr.Dataset | None = None,
                 tolerance: float = TOLERANCE) -> Path:
    """Write ``result_dir/report.md``; ``plots`` maps a name to its file(s) (or is a list of
    paths), relative to ``result_dir`` or absolute. ``ds`` defaults to curves.nc if present."""
    result_dir = Path(result_dir)
    study = _study(summary)
    if ds is None and (result_dir / "curves.nc").is_file() and study != "rf":
        from femsim.results import read_dataset
        ds = read_dataset(result_dir / "curves.nc")
    f = key_figures(summary, ds if study != "rf" else None, tolerance=tolerance)
    lines = [f"# femsim report: {_case_name(summary)}", "", f"Study: **{study}**.", ""]
    if study in _APPLIES:
        lines += [_APPLIES[study], ""]
    if study != "rf":
        lines += ["## Key figures", ""]
        if f.get("_family") and "_stands_for" in f:
            fam = f["_family"]
            lines += [f"A family over {fam}: figures below are for the most overheated member, "
                      f"{fam} = {fmt(f['_stands_for'], _unit(fam))} (every member in the table further down).", ""]
        lines += _thermal_lines(f, study)
        if study != "lumped":
            lines += _lumped_lines(f) + _energy_lines(f)
        lines.append("")
    lines += ["## Solver statistics", ""] + _solver_lines(f, summary) + [""]
    lines += _rf_lines(summary) if study == "rf" else _budget_lines(f)
    lines += _turning_lines(ds, f) + _member_lines(f) + _plot_lines(result_dir, plots) + _all_figures(summary)
    versions = summary.get("versions") or {}
    if versions:
        lines += ["## Versions", "", ", ".join(f"{k} {v}" for k, v in versions.items()), ""]
    return write_text(result_dir / "report.md", "\n".join(lines).rstrip() + "\n")


def ds_units(summary: dict, name: str):
    """Unit of an rf figure from its "<name>_units" companion ("frequency_units": "Hz")."""
    u = (summary.get("figures") or {}).get(f"{name}_units")
    return u if isinstance(u, str) else None


def terminal_summary(summary: dict) -> str:
    """A few lines for the end of `femsim run`, from summary.json's figures alone."""
    study = _study(summary)
    f = _summary_figures(summary)
    total, _ = _timing(summary)
    stats = [f"{f['points']} points" if f.get("points") is not None else None,
             f"{f['newton_steps']} Newton steps" if f.get("newton_steps") is not None else None,
             f"{total:.3g} s" if total is not None else None]
    lines = [f"femsim {study} run '{_case_name(summary)}': " + (", ".join(s for s in stats if s) or "done")]
    if study != "rf":
        heat = []
        if f.get("dT_max_peak") is not None:
            heat.append(f"peak {_q(f, 'dT_max_peak')}")
        if f.get("dT_mean_peak") is not None:
            heat.append(f"mean {_q(f, 'dT_mean_peak')}")
        if heat:
            lines.append("  overheating: " + ", ".join(heat) +
                         (f" above T_bath = {_q(f, 'T_bath')}" if f.get("T_bath") is not None else ""))
        elif f.get("T_mean_peak") is not None:
            lines.append(f"  T_mean up to {_q(f, 'T_mean_peak')}" +
                         (f" at P up to {_q(f, 'P_max')}" if f.get("P_max") is not None else ""))
        if f.get("hA_eff") is not None:
            lines.append(f"  (hA)_eff = {_q(f, 'hA_eff')} (low power)" +
                         (f", {_q(f, 'hA_eff_top')} at the highest power" if f.get("hA_eff_top") is not None else ""))
        elif f.get("hA") is not None:
            lines.append(f"  hA = {_q(f, 'hA')}")
        pcs = [p for p in (f["P_c"] if isinstance(f.get("P_c"), list) else [f.get("P_c")]) if p is not None]
        if pcs:
            lines.append(f"  P_c = {fmt(min(pcs), 'W')}" + (f" to {fmt(max(pcs), 'W')} over {len(pcs)} curves"
                                                           if len(pcs) > 1 else ""))
        if f.get("lumped_dV_rel_max") is not None:
            tol = f.get("lumped_tolerance", TOLERANCE)
            lines.append(f"  lumped vs FEM: V differs by up to {_q(f, 'lumped_dV_rel_max')}" +
                         (f", beyond {fmt(tol, '1', 'lumped_tolerance')} above P = {_q(f, 'lumped_departs_at_P')}"
                          if f.get("lumped_departs_at_P") is not None else ""))
        if f.get("verdict"):
            lines.append(f"  {f['verdict']}")
        if f.get("energy_balance_max") is not None:
            lines.append(f"  energy balance residual <= {_q(f, 'energy_balance_max')}")
    else:
        k = (summary.get("figures") or {}).get("key") or {}
        if k.get("eq12_classical_vs_quantum_rel") is not None:
            lines.append(f"  Eq. 12 classical vs Tien-Gordon: max |dI|/max|I| = {100 * k['eq12_classical_vs_quantum_rel']:.3g} %")
        if k.get("V_rf0_first_J0_zero_V") is not None:
            lines.append(f"  first zero of J_0^2 at V_rf0 = {fmt(k['V_rf0_first_J0_zero_V'], 'V')}")
        shown = []
        siblings = _sibling_units(summary.get("figures") or {})
        for name, entry in (summary.get("figures") or {}).items():
            value, unit = _figure_value(entry)
            unit = unit or siblings.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                unit = unit or (ds_units(summary, name))
                shown.append(f"{split_unit(name)[0]} = {_show(name, value, unit)}")
        if shown:
            lines.append("  " + "; ".join(shown[:4]))
    if summary.get("result_dir"):
        lines.append(f"  results: {summary['result_dir']} (report.md)")
    return "\n".join(lines)
