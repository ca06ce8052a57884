"""Figures of a self-heated rf run (issue 15): the pumped I-V with and without self-heating, the
junction temperature versus bias, and each quasiparticle step's edge versus drive both ways."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import xarray as xr

from .axes import display_scale
from .figure import FORMATS, figure_grid, finish, style


def _picks(n: int, k: int = 4) -> list[int]:
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, min(k, n))})


def heating_iv(ds: xr.Dataset, path=None, formats=FORMATS):
    """Top: pumped I-V self-heated (solid) and isothermal (dashed) for up to four drives; bottom:
    junction temperature [K] (line model: mean over X solid, hottest dotted)."""
    V = ds["V"].values
    fx, ux = display_scale("V", V)
    fy, uy = display_scale("A", ds["I_pumped"].values, ds["I_pumped_isothermal"].values)
    fam = "V_rf0" if "V_rf0" in ds.dims else "P_av"
    amps = ds[fam].values
    fa, ua = display_scale("V" if fam == "V_rf0" else "W", amps)
    with style():
        fig, axes = figure_grid(rows=2, height=3.6)
        picks = _picks(amps.size)
        for i, k in enumerate(picks):
            c = mpl.colormaps["viridis"](i / max(1, len(picks) - 1) * 0.85)
            lab = f"{fam} = {amps[k] * fa:.3g} {ua}"
            axes[0].plot(V * fx, ds["I_pumped"].isel({fam: k}).values * fy, color=c, label=lab)
            axes[0].plot(V * fx, ds["I_pumped_isothermal"].isel({fam: k}).values * fy, color=c, ls="--", lw=0.8)
            axes[1].plot(V * fx, ds["T_junction"].isel({fam: k}).values, color=c)
            if ds.attrs.get("heating_model") == "line":
                axes[1].plot(V * fx, ds["T_junction_max"].isel({fam: k}).values, color=c, ls=":", lw=0.8)
        axes[0].set_ylabel(f"I_dc [{uy}]")
        axes[0].legend(fontsize=6, title="solid: self-heated, dashed: isothermal", title_fontsize=6)
        axes[1].set_ylabel("T_junction [K]")
        if ds.attrs.get("heating_model") == "line":
            axes[1].set_title("solid: mean over X, dotted: hottest point", fontsize=7)
        axes[1].set_xlabel(f"V_dc [{ux}]")
        hA = ds.attrs.get("hA")
        if hA is not None:
            axes[0].set_title(f"hA = {hA * 1e6:.3g} µW/K, T_bath = {float(ds.attrs.get('T_bath', np.nan)):.3g} K",
                              fontsize=7)
    return finish(fig, path, formats)


def heating_steps(ds: xr.Dataset, path=None, formats=FORMATS):
    """Quasiparticle step edges [mV] versus drive: isothermal (dashed) and self-heated (solid)."""
    amps = ds["V_rf0"].values
    fa, ua = display_scale("V", amps)
    with style():
        fig, axes = figure_grid(rows=2, height=3.6)
        for i, n in enumerate(ds["n"].values):
            c = f"C{i}"
            iso = ds["qp_step_position_isothermal"].sel(n=n).values * 1e3
            hot = ds["qp_step_position_heated"].sel(n=n).values * 1e3
            axes[0].plot(amps * fa, hot, color=c, marker="o", ms=2, label=f"n = {n}")
            axes[0].plot(amps * fa, iso, color=c, ls="--", lw=0.8)
            axes[1].plot(amps * fa, ds["qp_step_shift_heating"].sel(n=n).values * 1e6, color=c, marker="o", ms=2)
        axes[0].set_ylabel("step edge [mV]")
        axes[0].legend(fontsize=6, title="solid: self-heated, dashed: isothermal", title_fontsize=6)
        axes[1].set_ylabel("shift by heating [µV]")
        axes[1].set_xlabel(f"V_rf0 [{ua}]")
    return finish(fig, path, formats)


def source_steps(emb: xr.Dataset, iv: xr.Dataset, path=None, formats=FORMATS):
    """Thevenin-source run: junction V_rf [mV] at each step's centre versus available power, and
    the step heights [uA] versus available power, self-heated (solid) and isothermal (dashed)."""
    P = emb["P_av"].values
    fp, up = display_scale("W", P)
    heated = "qp_step_measured_isothermal" in emb
    with style():
        fig, axes = figure_grid(rows=2, height=3.6)
        for i, n in enumerate(emb["n"].values):
            c = f"C{i}"
            axes[0].plot(P * fp, emb["V_rf_at_step"].sel(n=n).values * 1e3, color=c, marker="o", ms=2,
                         label=f"n = {n}")
            axes[1].plot(P * fp, emb["qp_step_measured"].sel(n=n).values * 1e6, color=c, marker="o", ms=2)
            if heated:
                axes[1].plot(P * fp, emb["qp_step_measured_isothermal"].sel(n=n).values * 1e6, color=c, ls="--",
                             lw=0.8)
        axes[0].set_ylabel("V_rf at step [mV]")
        axes[0].legend(fontsize=6)
        axes[1].set_ylabel("step height [µA]")
        axes[1].set_xlabel(f"available power P_av [{up}]")
        if heated:
            axes[1].set_title("solid: self-heated, dashed: isothermal", fontsize=7)
        zr, zi = float(emb.attrs.get("source_resistance", np.nan)), float(emb.attrs.get("source_reactance", 0.0))
        axes[0].set_title(f"Z_s = {zr:.3g} {'+' if zi >= 0 else '-'} j{abs(zi):.3g} Ω, "
                          f"f = {float(emb.attrs['frequency']) / 1e9:.3g} GHz", fontsize=7)
    return finish(fig, path, formats)
