"""Lumped study: the Newton self-heating model for the case's R(T), as a family over bath
temperature, 3-probe contact term or field (seeds/000, sections B-E), with the R(P)
threshold P_c per curve and, if a measured I-V is given, R(T) reconstructed from it and
hA fitted to it."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import lumped, variables
from ..errors import CaseError, OutOfRangeError
from .result import StudyResult


def _family(case, hA=None) -> xr.Dataset:
    """The case's family of curves; ``hA`` replaces the case's (the fitted one)."""
    sec, T_baths = case.lumped, case.environment.T_bath
    if hA is not None:
        sec = sec.model_copy(update={"hA": hA})
    if sec.three_probe is not None:
        tp = sec.three_probe
        return lumped.three_probe_family(sec.R, sec.hA, T_baths[0], tp.dRc0, tp.Tc, sec.top(T_baths[0]), sec.points)
    if sec.field is not None:
        return lumped.field_family(dict(zip(sec.field.B, sec.field.R)), sec.hA, T_baths[0], sec.top(T_baths[0]),
                                   sec.points)
    return lumped.bath_family(sec.R, sec.hA, T_baths, [sec.top(t) for t in T_baths], sec.points)


def _split(ds: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset, dict]:
    """Curves (one numeric row per point), turning points (one row per turning point) and
    per-curve labels such as the I-V shape (for the summary)."""
    tp_vars = [v for v in ds.data_vars if "turning_point" in ds[v].dims]
    labels = [v for v in ds.data_vars if v not in tp_vars and ds[v].dtype.kind in "OUS"]
    curves = ds.drop_vars(tp_vars + labels)
    tps = ds[tp_vars].rename({v: v.removeprefix("tp_") for v in tp_vars})
    return curves, tps, {v: ds[v].values.tolist() for v in labels}


def _thresholds(curves: xr.Dataset, delta: float) -> list[dict]:
    family = curves["I"].dims[0]
    out = []
    for k, value in enumerate(curves[family].values):
        c = curves.isel({family: k})
        P, R = c["P"].values, c["R"].values
        # P_c needs the low-bias end resolved: the parametric grid starts at P = 0
        Pc = lumped.threshold_power(P[1:], R[1:], delta, R0=R[0])
        out.append({family: float(value), "P_c_W": None if not np.isfinite(Pc) else float(Pc)})
    return out


def _measured(case) -> tuple[dict[str, xr.Dataset], dict]:
    m, sec = case.lumped.measured, case.lumped
    I, V = np.asarray(m.iv.I), np.asarray(m.iv.V)
    T, R = lumped.reconstruct_resistance(I, V, sec.hA, m.T_bath)
    rec = xr.Dataset({"T_mean": ("point", T), "R": ("point", R), "I": ("point", I), "V": ("point", V)},
                     attrs={"hA_W_per_K": sec.hA, "T_bath_K": m.T_bath})
    figures, datasets = {}, {"reconstructed_R": rec}
    if m.fit_hA:
        from ..explain import Curve, explain

        ex = explain([Curve(I, V, m.T_bath)], sec.R)     # the fit is lumped.fit_hA's
        fit = ex.fit
        figures["hA_fit"] = {"hA_W_per_K": fit.hA, "sigma_W_per_K": fit.sigma, "residual_std_V": fit.residual_std,
                             "points": fit.n_points, "success": bool(fit.success), "message": fit.message}
        figures["explain"] = ex.summary()
        c = ex.curves[0]
        data = {"I": c.I, "V": c.V, "V_model": c.V_model, "dIdV": c.G, "dIdV_model": c.G_model,
                "residual": c.residual, "T_mean": c.T_rec, "R": c.R_rec}
        datasets["measured_fit_hA"] = xr.Dataset(
            {k: ("point", v, {"units": variables.units(k)}) for k, v in data.items()},
            attrs={"hA_fit_W_per_K": fit.hA, "hA_fit_sigma_W_per_K": fit.sigma, "T_bath_K": m.T_bath,
                   "meaning": "measured I-V beside the heating model with the fitted hA; T_mean, R: R(T) "
                              "reconstructed from the I-V with the fitted hA (seeds/000 Fig. 1B)"})
        try:
            curves_fit, _, _ = _split(_family(case, hA=fit.hA))
            curves_fit.attrs.update(hA=fit.hA, hA_sigma=fit.sigma, hA_source="fitted to the measured I-V")
            datasets["curves_fit_hA"] = curves_fit
        except (OutOfRangeError, ValueError):   # the fitted hA heats past R's table: no curves
            figures["curves_fit_hA"] = "not drawn: with the fitted hA the curves leave R's temperature range"
    return datasets, figures


def run(case, sink=None) -> StudyResult:
    try:
        family = _family(case)
    except OutOfRangeError as e:
        raise CaseError("lumped.R", "its table range", f"a table that covers every temperature of the curve ({e})")
    curves, tps, labels = _split(family)
    delta = case.lumped.threshold
    figures = {
        "hA_W_per_K": case.lumped.hA,
        "family": curves["I"].dims[0],
        "threshold_delta": delta,
        "thresholds": _thresholds(curves, delta),
        "turning_points": tps.to_dataframe().reset_index().dropna(subset=["kind"]).query("kind != ''")
        .to_dict(orient="records") if tps.data_vars else [],
        **labels,
        "T_mean_max_K": float(curves["T_mean"].max()),
        "P_max_W": float(curves["P"].max()),
    }
    curves.attrs.update(hA=case.lumped.hA, threshold_delta=delta)
    datasets = {"curves": curves}
    if tps.data_vars and tps.sizes.get("turning_point", 0):
        datasets["turning_points"] = tps
    if case.lumped.measured is not None:
        extra, more = _measured(case)
        datasets.update(extra)
        figures.update(more)
    return StudyResult(datasets=datasets, figures=figures)
