"""FEM-vs-lumped comparison plots (seeds/000 Eq. 1): (hA)_eff versus P and T_mean, the
lumped model's error and its causes versus P, and R/R(P->0) versus the heat load P/A in
W/cm^2 (seed Fig. 6C); and the explain plot (measured I-V and dI/dV beside the heating
model with the fitted hA, the input R(T) beside the one reconstructed from the I-V, seed
Fig. 1B).

Every P here is the whole Joule dissipation of the device (femsim.fem.lumped_comparison): the FEM's
P = I V_2probe and the lumped model's P_lumped = I^2 R_2probe(T_lumped), so both models
share one P axis. Error curves are at equal current, drawn against the FEM's P.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from .axes import display_scale
from .figure import FORMATS, axis_label, figure_grid, finish, save, style


def _attr(ds, name, default=np.nan):
    v = ds.attrs.get(name, default)
    return float(v) if v is not None else default


def hA_eff(ds: xr.Dataset, path=None, *, formats=FORMATS):
    """(hA)_eff = P/(T_mean - T_bath) versus P (top) and versus T_mean (bottom); the
    low-power value hA0 (the lumped model's) dashed, the value at the highest P marked."""
    P, T, h = ds["P"].values, ds["T_mean"].values, ds["hA_eff"].values
    ok = np.isfinite(h) & (P > 0)
    hA0, top = _attr(ds, "hA_eff"), _attr(ds, "hA_eff_top")
    fx, ux = display_scale("W", P[ok])
    fy, uy = display_scale("W/K", h[ok], [hA0])
    with style():
        fig, axes = figure_grid(rows=2, height=2.3, sharex=False)
        for ax, x, name, scale in ((axes[0], P[ok] * fx, f"P [{ux}]", "log"), (axes[1], T[ok], "T_mean [K]", "linear")):
            ax.plot(x, h[ok] * fy, color="C0", gid="hA_eff", label="FEM P/(T_mean − T_bath)")
            ax.axhline(hA0 * fy, color="0.3", ls="--", lw=0.8, gid="hA0",
                       label=f"low-power hA0 = {hA0 * fy:.3g} {uy} (lumped model)")
            k = int(np.nanargmax(P))
            ax.plot([x[np.flatnonzero(ok).tolist().index(k)] if ok[k] else np.nan], [top * fy], "o", color="C3",
                    ms=3.5, gid="hA_top", label=f"at the highest P: {top * fy:.3g} {uy}")
            ax.set_xscale(scale)
            ax.set_xlabel(name)
            ax.set_ylabel(f"(hA)_eff [{uy}]")
        axes[0].legend(loc="best", fontsize=6)
    return finish(fig, path, formats)


def lumped_error(ds: xr.Dataset, path=None, *, formats=FORMATS):
    """The lumped model's error at equal current versus the FEM's P, and its causes.

    Top: T_mean_lumped − T_mean (black) = conductance part (hA0 instead of hA_eff(P)) +
    non-uniformity part (R at T_mean), with T_max − T_mean and the spread of T in the
    region for scale. Bottom: (V_lumped − V)/V [%] split likewise, the tolerance band
    shaded, and the fractions of P outside the region and missed by I V_4probe."""
    P = ds["P"].values
    ok = P > 0
    fx, ux = display_scale("W", P[ok])
    x = P[ok] * fx
    tol = _attr(ds, "lumped_tolerance", 0.01)
    with style():
        fig, axes = figure_grid(rows=2, height=2.4)
        ax = axes[0]
        for name, colour, ls, label in (("dT_lumped", "k", "-", "T_lumped − T_mean (total)"),
                                        ("dT_conductance", "C0", "--", "conductance hA(T) part"),
                                        ("dT_nonuniform", "C1", "--", "non-uniform T part"),
                                        ("T_spread", "C2", ":", "spread of T in region (std)")):
            ax.plot(x, ds[name].values[ok], color=colour, ls=ls, gid=name, label=label)
        ax.plot(x, (ds["T_max"] - ds["T_mean"]).values[ok], color="C2", ls="-.", gid="T_max-T_mean",
                label="T_max − T_mean")
        ax.axhline(0, color="0.6", lw=0.5)
        ax.set_ylabel("ΔT at equal I [K]")
        ax.legend(loc="best", fontsize=5.5)
        ax = axes[1]
        for name, colour, ls, label in (("dV_rel_lumped", "k", "-", "(V_lumped − V)/V"),
                                        ("dV_rel_conductance", "C0", "--", "conductance part"),
                                        ("dV_rel_nonuniform", "C1", "--", "non-uniform T part"),
                                        ("P_outside", "C4", ":", "P outside region / P"),
                                        ("P_4probe_error", "C5", ":", "1 − I V_4probe/P")):
            if name in ds and np.isfinite(ds[name].values[ok]).any():
                ax.plot(x, 100 * ds[name].values[ok], color=colour, ls=ls, gid=name, label=label)
        ax.axhspan(-100 * tol, 100 * tol, color="0.85", zorder=0, gid="tolerance",
                   label=f"tolerance ±{100 * tol:g} %")
        up = _attr(ds, "lumped_holds_up_to_P")
        for a in axes:
            if np.isfinite(up):
                a.axvline(up * fx, color="C3", ls="-.", lw=0.8, gid="holds_up_to")
        ax.set_ylabel("relative [%]")
        ax.set_xscale("log")
        ax.set_xlabel(axis_label("P", ux) + " (whole device, equal I)")
        ax.legend(loc="best", fontsize=5.5)
    return finish(fig, path, formats)


def r_vs_load(ds: xr.Dataset, path=None, *, formats=FORMATS):
    """R/R(P→0) versus the heat load P/A [W/cm^2] (seed Fig. 6C), FEM solid, lumped dashed
    on its own P_lumped/A; liquid helium's ~1 W/cm^2 critical flux dotted."""
    A = _attr(ds, "area_m2")
    P, R = ds["P"].values, ds["R"].values
    ok = (P > 0) & np.isfinite(R)
    R0 = _attr(ds, "R0_ohm")          # the isothermal R at T_bath: the true P -> 0 limit
    if not np.isfinite(R0):
        R0 = R[ok][np.argmin(P[ok])]
    with style():
        fig, (ax,) = figure_grid()
        ax.plot(P[ok] / A * 1e-4, R[ok] / R0, color="C0", gid="R_norm", label="FEM")
        if {"P_lumped", "V_lumped"} <= set(ds.variables):
            I = ds["I"].values
            Pl = ds["P_lumped"].values
            Rl = ds["V_lumped"].values / np.where(I != 0, I, np.nan)
            okl = ok & np.isfinite(Pl) & (Pl > 0)
            if okl.any():
                ax.plot(Pl[okl] / A * 1e-4, Rl[okl] / R0, color="C0", ls="--",
                        gid="R_norm_lumped", label="lumped")
        ax.axvline(1.0, color="0.4", ls=":", lw=0.8, gid="helium_critical_flux", label="liquid He ~1 W/cm²")
        ax.set_xscale("log")
        ax.set_xlabel(f"P/A [W/cm²] (A = {A * 1e12:.3g} µm²)")
        ax.set_ylabel("R/R(T_bath) [1]")
        ax.legend(loc="best")
    return finish(fig, path, formats)


def explain_plot(result, path=None, *, formats=FORMATS):
    """The explain result (femsim.explain): I-V, dI/dV and the V residual of each
    measured curve beside the heating model with the fitted hA, and R(T) input beside R
    reconstructed from the I-V with that hA (seed Fig. 1B). Flagged residual ranges
    (candidate intrinsic features) are shaded."""
    curves = result.curves
    Vs = np.concatenate([c.V for c in curves])
    fx, ux = display_scale("V", Vs)
    fi, ui = display_scale("A", np.concatenate([c.I for c in curves]))
    fg, ug = display_scale("S", *[c.G_model for c in curves])
    with style():
        fig, axes = figure_grid(rows=4, height=2.0, sharex=False)
        for k, c in enumerate(curves):
            col = f"C{k % 10}"
            lab = f"T_bath = {c.T_bath:g} K"
            axes[0].plot(c.V * fx, c.I * fi, ".", ms=1.5, color=col, gid=f"measured_iv[{k}]", label=lab)
            axes[0].plot(c.V_model * fx, c.I * fi, "--", lw=0.8, color="k", gid=f"model_iv[{k}]",
                         label="heating model (fitted hA)" if k == 0 else None)
            axes[1].plot(c.V * fx, c.G * fg, ".", ms=1.5, color=col, gid=f"measured_didv[{k}]")
            axes[1].plot(c.V * fx, c.G_model * fg, "--", lw=0.8, color="k", gid=f"model_didv[{k}]")
            axes[2].plot(c.V * fx, c.residual * 1e6, ".", ms=1.5, color=col, gid=f"residual[{k}]")
            for f in c.intrinsic:
                for a in axes[:3]:
                    a.axvspan(f["V_from_V"] * fx, f["V_to_V"] * fx, color="C3", alpha=0.15, lw=0)
            axes[3].plot(c.T_rec, c.R_rec, ".", ms=1.5, color=col, gid=f"R_reconstructed[{k}]")
        T = np.linspace(min(c.T_bath for c in curves), max(np.nanmax(c.T_rec) for c in curves), 200)
        axes[3].plot(T, result.R(T), "k-", lw=0.8, gid="R_input", label="R(T) input")
        axes[0].set_ylabel(f"I [{ui}]")
        axes[0].legend(loc="best", fontsize=5.5, title=f"hA = {result.hA * 1e6:.4g} ± {result.sigma * 1e6:.2g} µW/K",
                       title_fontsize=6)
        axes[1].set_ylabel(f"dI/dV [{ug}]")
        axes[2].set_ylabel("V − V_model [µV]")
        for a in axes[:3]:
            a.set_xlabel(f"V [{ux}]")
        axes[3].set_xlabel("T [K] (reconstructed: T_bath + IV/hA)")
        axes[3].set_ylabel("R [Ohm]")
        axes[3].legend(loc="best", fontsize=6)
    return finish(fig, path, formats)


def fit_hA(curves: xr.Dataset, measured: xr.Dataset, curves_fit: xr.Dataset | None = None, path=None, *,
           formats=FORMATS):
    """A lumped run with a measured I-V and fit_hA: I-V and dI/dV of the model with the
    case's hA (grey) and with the fitted hA (red dashed) beside the measurement (points);
    bottom: the input R(T) beside R(T) reconstructed from the I-V with the fitted hA
    (seed Fig. 1B)."""
    hA_fit = float(measured.attrs.get("hA_fit_W_per_K", np.nan))
    sig = float(measured.attrs.get("hA_fit_sigma_W_per_K", np.nan))
    hA = float(curves.attrs.get("hA", np.nan))
    fx, ux = display_scale("V", measured["V"].values)
    fi, ui = display_scale("A", measured["I"].values)
    fg, ug = display_scale("S", measured["dIdV_model"].values)

    def members(ds):
        if ds is None:
            return []
        fam = [d for d in ds["I"].dims if d != "point"]
        return [ds.isel({fam[0]: k}) for k in range(ds.sizes[fam[0]])] if fam else [ds]

    with style():
        fig, axes = figure_grid(rows=3, height=2.2, sharex=False)
        for k, m in enumerate(members(curves)):
            lab = f"model, case hA = {hA * 1e6:.4g} µW/K" if k == 0 else None
            axes[0].plot(m["V"].values * fx, m["I"].values * fi, color="0.6", lw=0.8, gid="iv_case_hA", label=lab)
            axes[1].plot(m["V"].values * fx, m["dIdV"].values * fg, color="0.6", lw=0.8, gid="didv_case_hA")
            axes[2].plot(m["T_mean"].values, m["R"].values, color="0.3", lw=0.8, gid="R_input",
                         label="R(T) input" if k == 0 else None)
        for k, m in enumerate(members(curves_fit)):
            lab = f"model, fitted hA = {hA_fit * 1e6:.4g} ± {sig * 1e6:.2g} µW/K" if k == 0 else None
            axes[0].plot(m["V"].values * fx, m["I"].values * fi, color="C3", ls="--", lw=0.9, gid="iv_fit_hA", label=lab)
            axes[1].plot(m["V"].values * fx, m["dIdV"].values * fg, color="C3", ls="--", lw=0.9, gid="didv_fit_hA")
        V, I = measured["V"].values, measured["I"].values
        axes[0].plot(V * fx, I * fi, ".", ms=2, color="C0", gid="measured_iv", label="measured")
        axes[1].plot(V * fx, measured["dIdV"].values * fg, ".", ms=2, color="C0", gid="measured_didv")
        axes[2].plot(measured["T_mean"].values, measured["R"].values, ".", ms=2, color="C3", gid="R_reconstructed",
                     label="reconstructed: T_bath + IV/hA_fit, V/I")
        Vmax = np.nanmax(V) * fx
        for a in axes[:2]:
            a.set_xlim(0, 1.05 * Vmax)
            a.set_xlabel(f"V [{ux}]")
        axes[0].set_ylabel(f"I [{ui}]")
        axes[1].set_ylabel(f"dI/dV [{ug}]")
        gm = measured["dIdV_model"].values * fg
        lo, hi = np.nanmin(gm), np.nanmax(gm)
        axes[1].set_ylim(lo - 0.3 * (hi - lo + 1e-12 * hi), hi + 0.3 * (hi - lo + 1e-12 * hi))
        Tm = measured["T_mean"].values
        axes[2].set_xlim(np.nanmin(Tm) - 5, np.nanmax(Tm) + 5)
        axes[2].set_xlabel("T [K]")
        axes[2].set_ylabel("R [Ohm]")
        axes[0].legend(loc="best", fontsize=5.5)
        axes[2].legend(loc="best", fontsize=5.5)
    return finish(fig, path, formats)


#: comparison plot name -> (function, variables it needs)
COMPARISON_PLOTS = {
    "hA_eff": (hA_eff, ("P", "T_mean", "hA_eff")),
    "lumped_error": (lumped_error, ("P", "dT_lumped", "dT_conductance", "dT_nonuniform", "dV_rel_lumped")),
    "r_vs_load": (r_vs_load, ("P", "R", "P_per_area")),
}


def make_comparison_plots(ds, outdir, *, formats=FORMATS) -> dict[str, list[Path]]:
    """Every comparison plot the (FEM) curve dataset supports, as ``outdir/<name>.<fmt>``."""
    written = {}
    if isinstance(ds, dict):
        if ds.get("measured_fit_hA") is not None and ds.get("curves") is not None:
            fig = fit_hA(ds["curves"], ds["measured_fit_hA"], ds.get("curves_fit_hA"))
            written["fit_hA"] = save(fig, Path(outdir) / "fit_hA", formats)
        ds = ds.get("curves")
    if ds is None or any(d != "point" for d in ds.dims):
        return written
    for name, (fn, needs) in COMPARISON_PLOTS.items():
        if all(v in ds.variables for v in needs):
            written[name] = save(fn(ds), Path(outdir) / name, formats)
    return written
