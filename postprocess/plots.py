"""Figures of curve, transient and rf datasets, at paper column width, PNG + vector.

Every function takes a dataset following femsim's conventions (SI values, short
variable names, dim "point" with an optional leading family dim; dim "time" for a
transient run), draws the values without resampling, and returns the
`matplotlib.figure.Figure`; with ``path`` it also saves it via `save`. Values are only
multiplied by a power of ten for display, and the axis label names the unit actually
drawn ("I [mA]"). Lines carry a ``gid`` naming what they show ("V", "V_lumped",
"turning_points", "measured:<label>", with "[k]" appended for family member k) so
tests and callers can find them.

Measured data overlay: ``measured=[(label, x_SI, y_SI), ...]`` is drawn as markers on
the main axes, scaled with the same factors as the model curves.

No pyplot: figures are plain `Figure` objects (Agg), styled inside `style()`, so
nothing here touches global matplotlib state or needs a display.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from femsim import variables as registry
from femsim.postprocess.axes import MINUS, display_scale, quantity, tidy
from femsim.postprocess.figure import FORMATS, axis_label, figure_grid, finish, save, style

# Fallback units of rf variables the registry does not know.
_LS = {"V": "-", "V_4p": "-", "V_3p": ":", "lumped": "--", "T_mean": "-", "T_max": "-.",
       "pumped": "-", "unpumped": "--", "classical": ":"}
_MEASURED_MARKERS = ("o", "s", "^", "v", "D", "P")


# ---------------------------------------------------------------- units and labels

def _time_scale(*arrays) -> tuple[float, str]:
    """`display_scale` of times in s: "µs", "ns", ..."""
    return display_scale("s", *arrays, prefixed=True)


def _units(ds: xr.Dataset, name: str) -> str:
    if name in ds.variables and "units" in ds[name].attrs:
        return str(ds[name].attrs["units"])
    return registry.units(name)


def _label(name: str) -> str:
    return registry.label(name)


def _require(ds: xr.Dataset, *names: str) -> None:
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise KeyError(f"dataset lacks {missing}; it has {sorted(map(str, ds.variables))}")


# ---------------------------------------------------------------- families

def _family_dim(ds: xr.Dataset, var: str, along: str) -> str | None:
    dims = [d for d in ds[var].dims if d != along]
    if len(dims) > 1:
        raise ValueError(f"{var}: at most one family dimension besides {along!r}, got {ds[var].dims}")
    return dims[0] if dims else None


#: a family of at most this many members is keyed by a legend naming each value; a
#: larger one by a colour bar
MAX_LEGEND = 7
#: at most this many members are drawn: more would overlap into a band (the figure says so)
MAX_CURVES = 12
#: members drawn when a family is thinned (first and last included)
THINNED = 9


def _members(ds: xr.Dataset, var: str, along: str = "point", limit: int | None = MAX_CURVES):
    """(family dim or None, [(k, family value or None, 1-D sub-dataset), ...]).

    A family of more than ``limit`` members is thinned to `THINNED` evenly spread ones
    (k stays the member's index in the dataset); `_colours` notes it on the key."""
    fam = _family_dim(ds, var, along)
    if fam is None:
        return None, [(0, None, ds)]
    n = ds.sizes[fam]
    values = ds[fam].values if fam in ds.variables else np.arange(n)
    picked = range(n) if limit is None or n <= limit else np.unique(np.round(np.linspace(0, n - 1, THINNED)).astype(int))
    return fam, [(int(k), values[k], ds.isel({fam: int(k)})) for k in picked]


@dataclass
class _Key:
    """How a family is keyed: a legend of member values, or a colour bar of them."""
    kind: str                      # "legend" or "bar"
    title: str                     # family name with its unit: "B [T]", "pulse"
    labels: list = field(default_factory=list)    # legend: one text per member
    colours: list = field(default_factory=list)
    norm: Normalize | None = None  # bar
    cmap: object = None
    note: str = ""                 # "9 of 61 shown"


def _colours(ds: xr.Dataset, fam, members):
    """Colour per member and its `_Key` (None without a family).

    Values with a unit are shown in a prefixed unit like any axis ("V_rf0 [mV]"). A few
    members (at most `MAX_LEGEND`), or values that are not numbers ("hot spot",
    "tau = 3 ns"), get a legend naming each; more numeric ones a colour bar spanning
    their range. Numeric members are coloured in order along viridis (stopping short of
    its pale yellow end, which vanishes on white paper), named ones with tab10."""
    if fam is None:
        return ["C0"], None
    total = ds.sizes[fam]
    note = f"{len(members)} of {total} shown" if len(members) < total else ""
    raw = [v for _, v, _ in members]
    try:
        values = np.array([float(v) for v in raw])
        numeric = fam in ds.variables
    except (TypeError, ValueError):
        numeric = False
    if not numeric:
        if fam in ds.variables:
            labels = [v.decode() if isinstance(v, bytes) else str(v) for v in raw]
        else:  # no coordinate: the member number is all there is
            labels = [f"{fam} {k}" for k, _, _ in members]
        tab = mpl.colormaps["tab10"]
        colours = [tab(i % 10) for i in range(len(members))]
        return colours, _Key("legend", fam, labels, colours, note=note)
    unit = _units(ds, fam)
    all_values = np.asarray(ds[fam].values, dtype=float)
    mult, shown = display_scale(unit, all_values)
    lo, hi = float(np.nanmin(all_values)) * mult, float(np.nanmax(all_values)) * mult
    norm = Normalize(lo, hi if hi > lo else lo + 1.0)
    cmap = mpl.colormaps["viridis"]
    colours = [cmap(0.9 * norm(v * mult)) for v in values]
    if len(members) <= MAX_LEGEND and not note:
        # each value as itself ("4.2 K", "10 K"), up to 4 significant digits
        labels = [f"{v * mult:.4g}".replace("-", MINUS) + ("" if shown == "1" else f" {shown}") for v in values]
        return colours, _Key("legend", _label(fam), labels, colours, note=note)
    return colours, _Key("bar", axis_label(fam, shown), norm=norm, cmap=cmap, note=note)


def _family_key(fig: Figure, ax, key: _Key | None) -> None:
    """Draw a family's key beside the axes ``ax`` (one axes or a list): a legend titled
    with the family's name (gid "family"), or a colour bar; a thinned family says so."""
    if key is None:
        return
    if key.kind == "legend":
        # a figure legend "outside": constrained layout makes room for it beside the axes
        handles = [Line2D([], [], color=c, lw=1.5, label=t) for t, c in zip(key.labels, key.colours)]
        legend = fig.legend(handles=handles, title=key.title + (f"\n({key.note})" if key.note else ""),
                            loc="outside right upper", frameon=False, handlelength=1.5)
        legend.set_gid("family")
        return
    shown = mpl.colors.ListedColormap(key.cmap(np.linspace(0, 0.9, 256)))
    bar = fig.colorbar(ScalarMappable(norm=key.norm, cmap=shown), ax=ax, pad=0.02, aspect=30)
    bar.set_label(key.title + (f"\n({key.note})" if key.note else ""))
    bar.ax.set_gid("family")


#: the former name (a colour bar was the only key)
_colour_bar = _family_key


def _gid(name: str, fam, k: int) -> str:
    return name if fam is None else f"{name}[{k}]"


# ---------------------------------------------------------------- markers and overlays

def turning_points(ds: xr.Dataset | None, given=True) -> list[dict]:
    """Turning points as dicts {"kind", "I", "V", "T", <family>: value}.

    ``given`` True reads ds.attrs["turning_points"] (a list, or the JSON string netCDF
    holds); False gives none; a list of dicts or a dataset over dim "turning_point"
    (variables kind, I, V, T_mean..., as the lumped study writes) is used instead.
    Padding entries (kind "" or NaN current) are dropped; "T_mean" stands in for "T"."""
    if given is False or given is None:
        return []
    if given is True:
        tp = None if ds is None else ds.attrs.get("turning_points")
        if tp is None:
            return []
        if isinstance(tp, bytes):
            tp = tp.decode()
        records = json.loads(tp) if isinstance(tp, str) else list(tp)
    elif isinstance(given, xr.Dataset):
        records = given.to_dataframe().reset_index().to_dict(orient="records") if given.data_vars else []
    else:
        records = list(given)
    out = []
    for t in records:
        t = {str(k).removeprefix("tp_"): (v.item() if hasattr(v, "item") else v) for k, v in dict(t).items()}
        if not t.get("kind") or t.get("I") is None or not np.isfinite(float(t["I"])):
            continue
        if "T" not in t and "T_mean" in t:
            t["T"] = t["T_mean"]
        out.append(t)
    return out


def _thresholds(ds: xr.Dataset, given=None) -> list[float]:
    """Threshold powers [W] from ``given`` or ds.attrs["P_c"]; records {"P_c_W": x} or
    {"P_c": x} are accepted; a missing threshold (None) stays as NaN so that the list
    still lines up with the family members."""
    value = ds.attrs.get("P_c") if given is None else given
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        value = json.loads(value)
    values = []
    for v in (value if isinstance(value, (list, tuple, np.ndarray)) else [value]):
        if isinstance(v, dict):
            v = v.get("P_c_W", v.get("P_c"))
        values.append(np.nan if v is None else float(v))
    return values


def _draw_turning(ax, points, xfun, yfun, fx, fy) -> None:
    """One marker per turning point at (xfun(tp), yfun(tp)), labelled with its kind."""
    if not points:
        return
    x = np.array([xfun(t) for t in points], dtype=float) * fx
    y = np.array([yfun(t) for t in points], dtype=float) * fy
    ax.plot(x, y, ls="none", marker="D", mfc="none", mec="k", ms=4, mew=0.8,
            gid="turning_points", label="turning point", zorder=5)
    for xi, yi, t in zip(x, y, points):
        ax.annotate(str(t.get("kind", "")).replace("_", " "), (xi, yi), xytext=(3, 3),
                    textcoords="offset points", fontsize=5.5)


def _draw_measured(ax, measured, fx: float, fy: float) -> None:
    for i, (label, x, y) in enumerate(measured or ()):
        ax.plot(np.asarray(x, dtype=float) * fx, np.asarray(y, dtype=float) * fy, ls="none",
                marker=_MEASURED_MARKERS[i % len(_MEASURED_MARKERS)], mfc="none", mec="0.25",
                ms=3, mew=0.7, gid=f"measured:{label}", label=label, zorder=4)


def _legend(ax, series: Iterable[tuple[str, str]], colour) -> None:
    """Legend of line styles (FEM/lumped/...) plus the labelled markers on ``ax``."""
    handles = [Line2D([], [], color=colour, ls=ls, label=name) for name, ls in series]
    handles += [h for h in ax.get_lines() if h.get_label() and not h.get_label().startswith("_")]
    if len(handles) > 1 or (handles and not series):
        ax.legend(handles=handles, loc="best")


# ---------------------------------------------------------------- curve plots

def iv(ds: xr.Dataset, path=None, *, measured=None, voltages: Sequence[str] = ("V",),
       lumped: bool = True, turning=True, formats=FORMATS) -> Figure:
    """I versus V (V on x), one curve per family member; lumped V_lumped dashed.
    ``turning``: see `turning_points` (True: from ds.attrs)."""
    _require(ds, "I", *voltages)
    show_lumped = lumped and "V_lumped" in ds
    vnames = list(voltages) + (["V_lumped"] if show_lumped else [])
    fx, ux = display_scale("V", *[ds[v].values for v in vnames])
    fy, uy = display_scale("A", ds["I"].values)
    with style():
        fig, (ax,) = figure_grid()
        fam, members = _members(ds, "I")
        colours, cscale = _colours(ds, fam, members)
        for (k, _, sub), colour in zip(members, colours):
            I = sub["I"].values
            for v in voltages:
                ax.plot(sub[v].values * fx, I * fy, color=colour, ls=_LS.get(v, "-"), gid=_gid(v, fam, k))
            if show_lumped:
                ax.plot(sub["V_lumped"].values * fx, I * fy, color=colour, ls=_LS["lumped"],
                        gid=_gid("V_lumped", fam, k))
        _draw_turning(ax, turning_points(ds, turning), lambda t: t["V"], lambda t: t["I"], fx, fy)
        _draw_measured(ax, measured, fx, fy)
        ax.set_xlabel(axis_label("V", ux))
        ax.set_ylabel(axis_label("I", uy))
        series = [(_label(v) if len(voltages) > 1 else "FEM", _LS.get(v, "-")) for v in voltages]
        if show_lumped:
            series.append(("lumped", _LS["lumped"]))
        elif len(voltages) == 1:
            series = []
        _legend(ax, series, "k" if fam else "C0")
        if fam:
            _colour_bar(fig, ax, cscale)
    return finish(fig, path, formats)


def _parametric_derivative(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dy/dx along the curve parameter (the point index): finite through turning points
    in y, infinite (not an error) where x turns."""
    if np.size(y) < 2:   # one converged point (an early Ctrl-C): no derivative to show
        return np.full(np.shape(y), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.gradient(y) / np.gradient(x)


def didv(ds: xr.Dataset, path=None, *, measured=None, lumped: bool = True, turning=True,
         formats=FORMATS) -> Figure:
    """dI/dV versus V per family member. The lumped curve uses ``dIdV_lumped`` if the
    dataset has it, else the derivative of I along (V_lumped, I) (stated in the legend).

    A back-bending curve (V turns back as I rises) is not a function of V: its dI/dV
    diverges at each turn and the branches overlap. Such a curve gets a second panel,
    the differential resistance dV/dI = 1/(dI/dV) versus the current (the driven
    quantity), finite through the turns, negative on the back-bending branch; the
    features (humps, peaks) read there without spikes."""
    _require(ds, "V", "dIdV")
    multi = "I" in ds and _turns_back(ds["V"].values)
    show_lumped = lumped and "V_lumped" in ds
    fx, ux = display_scale("V", ds["V"].values, *([ds["V_lumped"].values] if show_lumped else []))
    fy, uy = display_scale("S", _bulk(_off_turning(ds, ds["dIdV"].values)))
    with style():
        fig, axes = figure_grid(rows=2 if multi else 1, sharex=False)
        ax = axes[0]
        fam, members = _members(ds, "dIdV")
        colours, cscale = _colours(ds, fam, members)
        for (k, _, sub), colour in zip(members, colours):
            ax.plot(sub["V"].values * fx, _off_turning(sub, sub["dIdV"].values) * fy, color=colour,
                    gid=_gid("dIdV", fam, k))
            if show_lumped:
                g = (sub["dIdV_lumped"].values if "dIdV_lumped" in sub
                     else _parametric_derivative(sub["I"].values, sub["V_lumped"].values))
                ax.plot(sub["V_lumped"].values * fx, g * fy, color=colour, ls=_LS["lumped"],
                        gid=_gid("dIdV_lumped", fam, k))
        # dI/dV is 0 or infinite at a turning point: a vertical line at its V says where
        for t in turning_points(ds, turning):
            ax.axvline(t["V"] * fx, color="0.4", ls=":", lw=0.7, gid=f"turning_point:{t.get('kind', '')}")
        _draw_measured(ax, measured, fx, fy)
        _clip_to_finite(ax, [ln.get_ydata() for ln in ax.get_lines() if not str(ln.get_gid()).startswith("turning")])
        ax.set_xlabel(axis_label("V", ux))
        ax.set_ylabel(axis_label("dIdV", uy))
        if multi:
            _resistance_panel(axes[1], ds, members, colours, show_lumped)
        elif fam and cscale is not None and cscale.kind == "legend":
            _zoom_inset(ax, [ln for ln in ax.get_lines() if str(ln.get_gid()).startswith("dIdV[")])
        series = ([("FEM", "-"), ("lumped" + ("" if "dIdV_lumped" in ds else " (numerical)"), "--")]
                  if show_lumped else [])
        _legend(ax, series, "k" if fam else "C0")
        if fam:
            _colour_bar(fig, list(axes), cscale)
    return finish(fig, path, formats)


def _zoom_inset(ax, lines, n: int = 400) -> None:
    """An inset magnifying where nearly coinciding family members part (seed 000 Fig. 3:
    the 'superconducting' peak rises on only some of the curves, on top of a hump they
    share). Drawn when the members' largest spread is under 15 % of the y range and
    confined to under 40 % of the x range; placed beside the axes under the family's
    legend (so only for a legend-keyed family); gid "zoom"."""
    curves = [(np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float)) for ln in lines]
    curves = [(x, y) for x, y in curves if x.size > 2 and np.all(np.diff(x[np.isfinite(x)]) > 0)]
    if len(curves) < 2:
        return
    lo, hi = max(x[0] for x, _ in curves), min(x[-1] for x, _ in curves)
    if not hi > lo:
        return
    grid = np.linspace(lo, hi, n)
    on_grid = np.array([np.interp(grid, x, y) for x, y in curves])
    spread = np.nanmax(on_grid, axis=0) - np.nanmin(on_grid, axis=0)
    y_all = np.concatenate([y[np.isfinite(y)] for _, y in curves])
    y_range = float(np.ptp(y_all)) if y_all.size else 0.0
    if not (y_range > 0 and np.nanmax(spread) > 0) or np.nanmax(spread) > 0.15 * y_range:
        return
    apart = grid[spread > 0.3 * np.nanmax(spread)]
    width = apart[-1] - apart[0]
    a, b = apart[0] - 0.5 * max(width, 0.02 * (hi - lo)), apart[-1] + 0.5 * max(width, 0.02 * (hi - lo))
    if b - a > 0.4 * (hi - lo):
        return
    # beside the axes, under the family's legend: the curves stay whole
    inset = ax.inset_axes([1.16, 0.0, 0.4, 0.42])
    inset.set_gid("zoom")
    ys = []
    for ln, (x, y) in zip(lines, curves):
        keep = (x >= a) & (x <= b)
        inset.plot(x[keep], y[keep], color=ln.get_color(), lw=0.9)
        ys.append(y[keep])
    y = np.concatenate(ys)
    y = y[np.isfinite(y)]
    pad = 0.08 * (np.ptp(y) or 1.0)
    inset.set_xlim(a, b)
    inset.set_ylim(y.min() - pad, y.max() + pad)
    inset.tick_params(labelsize=5.5, length=2, pad=1.5)
    inset.grid(False)
    ax.indicate_inset_zoom(inset, edgecolor="0.5")


def _turns_back(V) -> bool:
    """Whether a curve (or any member) runs back in V along its points."""
    V = np.atleast_2d(np.asarray(V, dtype=float))
    for row in V:
        d = np.diff(row[np.isfinite(row)])
        d = d[d != 0]
        if d.size and (d > 0).any() and (d < 0).any():
            return True
    return False


def _resistance_panel(ax, ds: xr.Dataset, members, colours, show_lumped: bool) -> None:
    """dV/dI versus I (gid "dVdI[k]", "dVdI_lumped[k]"): 1/(dI/dV) of the dataset, and of
    the lumped curve the derivative of V_lumped along I."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = [1.0 / sub["dIdV"].values for _, _, sub in members]
        rl = [_parametric_derivative(sub["V_lumped"].values, sub["I"].values) for _, _, sub in members] \
            if show_lumped else []
    fi, ui = display_scale("A", ds["I"].values)
    fr, ur = display_scale("Ohm", _bulk(np.concatenate([np.ravel(x) for x in r + rl])))
    fam = None if members[0][1] is None else True
    for i, ((k, _, sub), colour) in enumerate(zip(members, colours)):
        ax.plot(sub["I"].values * fi, r[i] * fr, color=colour, gid=_gid("dVdI", fam, k))
        if show_lumped:
            ax.plot(sub["I"].values * fi, rl[i] * fr, color=colour, ls=_LS["lumped"], gid=_gid("dVdI_lumped", fam, k))
    ax.axhline(0.0, color="0.4", lw=0.6, ls=":")
    _clip_to_finite(ax, [ln.get_ydata() for ln in ax.get_lines()])
    current = np.abs(np.asarray(ds["I"].values, dtype=float))
    current = current[np.isfinite(current) & (current > 0)]
    if current.size and current.max() > 100 * current.min():  # the turn sits decades below the top current
        ax.set_xscale("log")
    ax.set_xlabel(axis_label("I", ui))
    ax.set_ylabel(f"dV/dI [{ur}]")
    ax.set_title("back-bending: dV/dI versus the driven current", fontsize=7)


def _off_turning(ds: xr.Dataset, g: np.ndarray) -> np.ndarray:
    """dI/dV with NaN at the V turning points (flagged ``is_turning``), where it is
    infinite: the line breaks there, instead of joining the branches through a spike
    (the dotted vertical line marks the point)."""
    if "is_turning" not in ds:
        return g
    g = np.array(g, dtype=float)
    g[np.asarray(ds["is_turning"].values) > 0] = np.nan
    return g


def _bulk(y) -> np.ndarray:
    """The finite values within 3x the 90th percentile of |y|: a divergence does not set
    the display unit or the axis range."""
    y = np.asarray(y, dtype=float).ravel()
    y = y[np.isfinite(y)]
    return y[np.abs(y) <= 3.0 * np.percentile(np.abs(y), 90)] if y.size else y


def _clip_to_finite(ax, ys) -> None:
    """Keep the y-range on the bulk of the curve: dI/dV diverges at a V turning point,
    and autoscaling to the spike would flatten every curve to a line. Data beyond the
    limits are still in the line (nothing is dropped), only off the axes."""
    y = _bulk(np.concatenate([np.asarray(v, dtype=float).ravel() for v in ys] or [[]]))
    if not y.size:
        return
    lo, hi = min(y.min(), 0.0), max(y.max(), 0.0)
    pad = 0.05 * (hi - lo or 1.0)
    ax.set_ylim(lo - pad, hi + pad)


def _r0(P: np.ndarray, R: np.ndarray) -> float:
    """R(P->0): R at the smallest positive power of the curve (no extrapolation)."""
    ok = np.isfinite(P) & np.isfinite(R) & (P > 0)
    if not ok.any():
        return np.nan
    return float(R[ok][np.argmin(P[ok])])


def _lumped_p(sub: xr.Dataset) -> np.ndarray:
    """The lumped model's P on the FEM's definition (whole Joule dissipation, P_lumped =
    I^2 R_2probe(T_lumped)); I V_lumped only for datasets without it (V_lumped may be a
    4-probe voltage, which is not the device's dissipation)."""
    if "P_lumped" in sub:
        return sub["P_lumped"].values
    return sub["I"].values * sub["V_lumped"].values


def _lumped_pr(sub: xr.Dataset):
    I, V = sub["I"].values, sub["V_lumped"].values
    with np.errstate(divide="ignore", invalid="ignore"):
        return _lumped_p(sub), np.where(I != 0, V / np.where(I != 0, I, 1.0), np.nan)


def r_vs_p(ds: xr.Dataset, path=None, *, normalised: bool = False, measured=None, lumped: bool = True,
           turning=True, P_c=None, formats=FORMATS) -> Figure:
    """R = V/I versus P on a log axis; ``normalised`` divides each curve by its own
    R(P->0) (R at the smallest positive P). Marks the threshold P_c: ``P_c`` (a number, a
    list, or the lumped study's records {<family>: v, "P_c_W": x}), else ds.attrs["P_c"];
    one per family member is drawn in its colour. Measured y is taken as already
    normalised when ``normalised``."""
    _require(ds, "P", "R")
    show_lumped = lumped and "V_lumped" in ds and "I" in ds
    fam, members = _members(ds, "R")
    lumped_pr = {k: _lumped_pr(sub) for k, _, sub in members} if show_lumped else {}
    fx, ux = display_scale("W", ds["P"].values, *[p for p, _ in lumped_pr.values()])
    thresholds = _thresholds(ds, P_c)
    if normalised:
        fy, uy = 1.0, "1"
    else:
        fy, uy = display_scale("Ohm", ds["R"].values, *[r for _, r in lumped_pr.values()])
    r0 = {k: _r0(sub["P"].values, sub["R"].values) for k, _, sub in members}
    with style():
        fig, (ax,) = figure_grid()
        colours, cscale = _colours(ds, fam, members)
        for (k, _, sub), colour in zip(members, colours):
            norm = r0[k] if normalised else 1.0
            ax.plot(sub["P"].values * fx, sub["R"].values / norm * fy, color=colour, gid=_gid("R", fam, k))
            if show_lumped:
                P_l, R_l = lumped_pr[k]
                norm_l = _r0(P_l, R_l) if normalised else 1.0
                ax.plot(P_l * fx, R_l / norm_l * fy, color=colour, ls=_LS["lumped"], gid=_gid("R_lumped", fam, k))
        first = True
        for i, pc in enumerate(thresholds):
            if not np.isfinite(pc):
                continue
            # one threshold per family member when there are as many as members
            colour = colours[i] if fam and len(thresholds) == len(members) else "C3"
            label = f"P_c = {pc * fx:.3g} {ux}" if len(thresholds) == 1 else ("P_c" if first else "_P_c")
            first = False
            ax.axvline(pc * fx, color=colour, ls="-.", lw=0.8, gid="P_c", label=label)
        tps = turning_points(ds, turning)
        if tps:
            ax_r0 = _tp_r0(tps, fam, members, r0) if normalised else [1.0] * len(tps)
            _draw_turning(ax, [dict(t, _r0=n) for t, n in zip(tps, ax_r0)], _tp_power,
                          lambda t: t["V"] / t["I"] / t["_r0"], fx, fy)
        _draw_measured(ax, measured, fx, fy)
        ax.set_xscale("log")
        ax.set_xlabel(axis_label("P", ux))
        ax.set_ylabel("R/R(P→0) [1]" if normalised else axis_label("R", uy))
        _legend(ax, [("FEM", "-"), ("lumped (equal I, at its own P)", "--")] if show_lumped else [],
                "k" if fam else "C0")
        if fam:
            _colour_bar(fig, ax, cscale)
    return finish(fig, path, formats)


def _tp_power(t: dict) -> float:
    """P of a turning point: its recorded whole dissipation, else I V."""
    P = t.get("P")
    return float(P) if P is not None and np.isfinite(P) else t["I"] * t["V"]


def _tp_r0(tps, fam, members, r0) -> list[float]:
    """R0 of the family member each turning point belongs to (by its family value)."""
    if fam is None:
        return [r0[0]] * len(tps)
    values = np.array([float(v) for _, v, _ in members])
    return [r0[int(np.argmin(np.abs(values - float(t.get(fam, np.nan)))))] if fam in t else np.nan
            for t in tps]


def temperatures_vs_p(ds: xr.Dataset, path=None, *, measured=None, lumped: bool = True,
                      turning=True, formats=FORMATS) -> Figure:
    """T_mean (solid) and T_max (dash-dot) versus P; lumped T_mean_lumped (dashed) versus
    its own whole dissipation P_lumped at the same current (one definition of P for both
    models, see `_lumped_p`). Turning points at (I V, T)."""
    _require(ds, "P", "T_mean")
    show_lumped = lumped and {"T_mean_lumped", "V_lumped", "I"} <= set(ds.variables)
    fam, members = _members(ds, "T_mean")
    lumped_p = {k: _lumped_p(sub) for k, _, sub in members} if show_lumped else {}
    fx, ux = display_scale("W", ds["P"].values, *lumped_p.values())
    temps = [t for t in ("T_mean", "T_max") if t in ds]
    with style():
        fig, (ax,) = figure_grid()
        colours, cscale = _colours(ds, fam, members)
        for (k, _, sub), colour in zip(members, colours):
            for t in temps:
                ax.plot(sub["P"].values * fx, sub[t].values, color=colour, ls=_LS[t], gid=_gid(t, fam, k))
            if show_lumped:
                ax.plot(lumped_p[k] * fx, sub["T_mean_lumped"].values, color=colour, ls=_LS["lumped"],
                        gid=_gid("T_mean_lumped", fam, k))
        tps = [t for t in turning_points(ds, turning) if "T" in t]
        _draw_turning(ax, tps, _tp_power, lambda t: t["T"], fx, 1.0)
        _draw_measured(ax, measured, fx, 1.0)
        ax.set_xlabel(axis_label("P", ux))
        ax.set_ylabel("T [K]")
        series = [(_label(t) + (" FEM" if show_lumped else ""), _LS[t]) for t in temps]
        series += [("T_mean lumped (equal I, at its own P)", _LS["lumped"])] if show_lumped else []
        _legend(ax, series, "k" if fam else "C0")
        if fam:
            _colour_bar(fig, ax, cscale)
    return finish(fig, path, formats)


# ---------------------------------------------------------------- transient plots

def time_traces(ds: xr.Dataset, path=None, *, formats=FORMATS) -> Figure:
    """A transient waveform run ("timeseries", dim "time") on shared time axes, one
    panel each: the drive -- the bias quantity of attrs "mode" (solid, left axis) with
    the response (dashed, right axis), I and V as present --, the Joule power P, and
    T_mean (solid) and T_max (dash-dot). Records are drawn as stored: the two records of
    a bias jump at one time (before and after) make a vertical step at a pulse edge."""
    _require(ds, "time", "T_mean")
    order = ("V", "I") if ds.attrs.get("mode") == "voltage" else ("I", "V")
    drive = [v for v in order if v in ds]
    panels = (["drive"] if drive else []) + (["P"] if "P" in ds else []) + ["T"]
    ft, ut = _time_scale(ds["time"].values)
    t = ds["time"].values * ft
    with style():
        fig, axes = figure_grid(rows=len(panels), height=2.2)
        ax_of = dict(zip(panels, axes))
        if drive:
            host = ax_of["drive"]
            targets = [host] + ([host.twinx()] if len(drive) > 1 else [])
            for i, (name, ax) in enumerate(zip(drive, targets)):
                f, u = display_scale(_units(ds, name), ds[name].values)
                ax.plot(t, ds[name].values * f, color=f"C{i}", ls="-" if i == 0 else "--", gid=name,
                        label=_label(name) + (" (drive)" if i == 0 else ""))
                ax.set_ylabel(axis_label(name, u), color=f"C{i}")
            if len(targets) > 1:
                targets[1].grid(False)  # one grid per panel: the host's
                host.legend(handles=[ln for ax in targets for ln in ax.get_lines()], loc="best")
        if "P" in ax_of:
            f, u = display_scale(_units(ds, "P"), ds["P"].values)
            ax_of["P"].plot(t, ds["P"].values * f, color="C3", gid="P")
            ax_of["P"].set_ylabel(axis_label("P", u))
        ax = ax_of["T"]
        for name in (n for n in ("T_mean", "T_max") if n in ds):
            ax.plot(t, ds[name].values, color="C0", ls=_LS[name], gid=name, label=_label(name))
        ax.set_ylabel(f"T [{_units(ds, 'T_mean')}]")
        _legend(ax, [], "C0")
        axes[-1].set_xlabel(axis_label("time", ut))
    return finish(fig, path, formats)


def _step_fit(source) -> dict:
    """A step-response fit as {"fits": [(n, taus, amps), ...], "y0", "y_inf", ...} from
    `femsim.fem.experiments.fit_time_constants`'s dict ("tau_2": [...]), the study's summary
    figure ("tau_2_s": [...]) or dataset attrs (lists as JSON text, as netCDF holds them)."""
    out = dict(source or {})

    def values(*keys):
        v = next((out[k] for k in keys if out.get(k) is not None), None)
        if isinstance(v, bytes):
            v = v.decode()
        return None if v is None else np.atleast_1d(np.asarray(json.loads(v) if isinstance(v, str) else v, float))

    fits, n = [], 1
    while (taus := values(f"tau_{n}", f"tau_{n}_s")) is not None and (amps := values(f"amp_{n}")) is not None:
        fits.append((n, taus, amps))
        n += 1
    return out | {"fits": fits}


def _quantity_text(value: float, unit: str) -> str:
    """"46.3 µs": 3 significant digits in the value's own prefixed unit."""
    return quantity(value, unit)


def step_response(ds: xr.Dataset, path=None, *, fit=None, quantity: str | None = None, logx: bool = True,
                  formats=FORMATS) -> Figure:
    """The rise y - y0 of the fitted response (T_mean unless ``quantity`` or the fit's
    "quantity" says otherwise) after the bias step at t = 0, as stored, with each fitted
    model y0 + (y_inf - y0) (1 - sum_k a_k exp(-t/tau_k)) of
    `femsim.fem.experiments.fit_time_constants` drawn over it (gid "fit_<n>" for n
    exponentials), its time constants in the legend. ``fit``: that function's dict or
    the transient study's summary figure "step_response" (keys "tau_<n>_s"); None reads
    ds.attrs. Without a fit (or after a failed one) the data are drawn alone. A log time
    axis (``logx``) shows every decade of a multi-exponential rise."""
    fit = _step_fit(ds.attrs if fit is None else fit)
    q = quantity or fit.get("quantity") or "T_mean"
    _require(ds, "time", q)
    t, y = ds["time"].values, ds[q].values
    # the value at t = 0 after the step (the later record of a jump), as the fit takes it
    y0 = float(fit["y0"]) if fit.get("y0") is not None else float(y[np.flatnonzero(t == t[0])[-1]])
    y_inf = float(fit["y_inf"]) if fit.get("y_inf") is not None else float(y[-1])
    rise = y - y0
    ft, ut = _time_scale(t)
    fy, uy = display_scale(_units(ds, q), rise)
    positive = t[t > 0]
    if logx and positive.size:
        grid = np.geomspace(positive[0], t[-1], 200)
    else:
        grid = np.linspace(0.0, t[-1], 200)
    with style():
        fig, (ax,) = figure_grid()
        ax.plot(t * ft, rise * fy, color="C0", gid=q, label="FEM")
        for (n, taus, amps), ls in zip(fit["fits"], ("--", ":", "-.")):
            model = 1.0 - sum(a * np.exp(-grid / tau) for a, tau in zip(amps, taus))
            ax.plot(grid * ft, (y_inf - y0) * model * fy, color=f"C{n}", ls=ls, gid=f"fit_{n}",
                    label=f"{n}-exp. fit: τ = " + ", ".join(_quantity_text(tau, "s") for tau in taus))
        if logx:
            ax.set_xscale("log")
        ax.set_xlabel(axis_label("time", ut))
        ax.set_ylabel(f"Δ{_label(q)} [{uy}]")
        if fit.get("amplitude") is not None:
            ax.set_title(f"step to {_quantity_text(float(fit['amplitude']), fit.get('amplitude_units', 'A'))}",
                         fontsize=7)
        _legend(ax, [], "C0")
    return finish(fig, path, formats)


# ---------------------------------------------------------------- rf plots

def vrf_profile(ds: xr.Dataset, path=None, *, x: str = "X", vabs: str = "Vrf_abs",
                phase: str | None = "Vrf_phase", measured=None, formats=FORMATS) -> Figure:
    """|V_rf|(X), one curve per drive amplitude if the dataset has them, and the phase
    below (once if it does not depend on the amplitude). Measured goes on |V_rf|."""
    _require(ds, x, vabs)
    with_phase = phase is not None and phase in ds
    fx, ux = display_scale(_units(ds, x), ds[x].values)
    fy, uy = display_scale(_units(ds, vabs), ds[vabs].values)
    with style():
        fig, axes = figure_grid(rows=2 if with_phase else 1)
        fam, members = _members(ds, vabs, along=x)
        colours, cscale = _colours(ds, fam, members)
        for (k, _, sub), colour in zip(members, colours):
            axes[0].plot(sub[x].values * fx, sub[vabs].values * fy, color=colour, gid=_gid(vabs, fam, k))
        if with_phase:
            pfam, pmembers = _members(ds, phase, along=x)
            pcolours = colours if pfam == fam else ["C0"] * len(pmembers)
            for (k, _, sub), colour in zip(pmembers, pcolours):
                axes[1].plot(sub[x].values * fx, sub[phase].values, color=colour, gid=_gid(phase, pfam, k))
            axes[1].set_ylabel(f"phase V_rf [{_units(ds, phase)}]")
        _draw_measured(axes[0], measured, fx, fy)
        axes[0].set_ylabel(f"|V_rf| [{uy}]")
        axes[-1].set_xlabel(axis_label(x, ux))
        _rf_title(axes[0], ds)
        _legend(axes[0], [], "C0")
        if fam:
            _colour_bar(fig, list(axes), cscale)
    return finish(fig, path, formats)


def _rf_title(ax, ds: xr.Dataset) -> None:
    """Drive frequency and VSWR from the rf attrs, when present: what the curve depends on."""
    parts = []
    if "frequency" in ds.attrs:
        mult, unit = display_scale("Hz", [ds.attrs["frequency"]])
        parts.append(f"f = {float(ds.attrs['frequency']) * mult:.4g} {unit}")
    if "VSWR" in ds.attrs and np.isfinite(float(ds.attrs["VSWR"])):
        parts.append(f"VSWR = {float(ds.attrs['VSWR']):.3g}")
    if parts:
        ax.set_title(", ".join(parts), fontsize=7)


def pumped_iv(ds: xr.Dataset, path=None, *, v: str = "V", unpumped: str = "I_unpumped",
              pumped: str = "I_pumped", classical: str | None = "I_classical",
              didv: str | None = "dIdV_pumped", didv_unpumped: str | None = "dIdV_unpumped",
              members: Sequence[int] | None = None, measured=None, formats=FORMATS) -> Figure:
    """Pumped (solid) and classical-limit (dotted) I-V per drive amplitude, unpumped
    (grey dashed) on top; pumped dI/dV below. ``members`` picks drive-amplitude indices
    (default all). Optional variables missing from the dataset are skipped; measured goes
    on the I-V."""
    _require(ds, v, unpumped, pumped)
    with_classical = bool(classical) and classical in ds
    with_didv = bool(didv) and didv in ds
    with_didv0 = bool(didv_unpumped) and didv_unpumped in ds
    currents = [unpumped, pumped] + ([classical] if with_classical else [])
    fx, ux = display_scale("V", ds[v].values)
    fy, uy = display_scale("A", *[ds[n].values for n in currents])
    fam, all_members = _members(ds, pumped, along=v, limit=MAX_CURVES if members is None else None)
    chosen = all_members if members is None else [all_members[i] for i in members]
    with style():
        fig, axes = figure_grid(rows=2 if with_didv or with_didv0 else 1)
        colours, cscale = _colours(ds, fam, chosen)
        V = ds[v].values * fx
        axes[0].plot(V, ds[unpumped].values * fy, color="0.35", ls=_LS["unpumped"], gid=unpumped)
        for (k, _, sub), colour in zip(chosen, colours):
            axes[0].plot(V, sub[pumped].values * fy, color=colour, ls=_LS["pumped"], gid=_gid(pumped, fam, k))
            if with_classical:
                axes[0].plot(V, sub[classical].values * fy, color=colour, ls=_LS["classical"],
                             gid=_gid(classical, fam, k))
        _draw_measured(axes[0], measured, fx, fy)
        axes[0].set_ylabel(axis_label("I", uy))
        series = [("pumped", "-"), ("unpumped", "--")] + ([("classical", ":")] if with_classical else [])
        _legend(axes[0], series, "0.3")
        if len(axes) > 1:
            g = [ds[n].values for n, ok in ((didv, with_didv), (didv_unpumped, with_didv0)) if ok]
            fg, ug = display_scale("S", *g)
            if with_didv0:
                axes[1].plot(V, ds[didv_unpumped].values * fg, color="0.35", ls=_LS["unpumped"], gid=didv_unpumped)
            if with_didv:
                for (k, _, sub), colour in zip(chosen, colours):
                    axes[1].plot(V, sub[didv].values * fg, color=colour, gid=_gid(didv, fam, k))
            axes[1].set_ylabel(axis_label("dIdV", ug))
        axes[-1].set_xlabel(axis_label("V", ux))
        _rf_title(axes[0], ds)
        if fam:
            _colour_bar(fig, list(axes), cscale)
    return finish(fig, path, formats)


def _along(ds: xr.Dataset, name: str, v_rf: str, n: str, order) -> np.ndarray:
    return ds[name].sel({n: order}).transpose(v_rf).values


def step_amplitudes(ds: xr.Dataset, path=None, *, v_rf: str = "V_rf0", n: str = "n",
                    qp: str | None = "qp_step", qp_weight: str | None = "qp_weight",
                    qp_reference: str | None = "uniform_Jn2",
                    positionwise: str = "josephson_positionwise", coherent: str = "josephson_coherent",
                    josephson_reference: str | None = "uniform_Jn_abs",
                    orders: Sequence[int] | None = None, measured=None, formats=FORMATS) -> Figure:
    """Step amplitudes versus the drive V_rf0, one colour per order n, in up to three
    panels (each drawn when its variables exist):

    1. quasiparticle step heights [A] (measured is drawn here);
    2. quasiparticle step weights <J_n^2>_X [1] with the uniform-field J_n^2 dotted;
    3. Josephson steps / I_c [1]: position-wise average solid, phase-coherent dashed,
       uniform-field |J_n(2 alpha)| dotted."""
    _require(ds, v_rf, n, positionwise, coherent)

    def have(name):
        return name is not None and name in ds

    panels = ([("qp", [(qp, "-")])] if have(qp) else []) + \
        ([("qp_weight", [(qp_weight, "-")] + ([(qp_reference, ":")] if have(qp_reference) else []))]
         if have(qp_weight) else []) + \
        [("josephson", [(positionwise, "-"), (coherent, "--")]
          + ([(josephson_reference, ":")] if have(josephson_reference) else []))]
    orders = list(ds[n].values if orders is None else orders)
    fx, ux = display_scale("V", ds[v_rf].values)
    x = ds[v_rf].values * fx
    with style():
        fig, axes = figure_grid(rows=len(panels))
        colours = [mpl.colormaps["tab10"](i % 10) for i in range(len(orders))]
        for ax, (kind, series) in zip(axes, panels):
            fy, uy = display_scale(_units(ds, series[0][0]), ds[series[0][0]].values)
            for order, colour in zip(orders, colours):
                for name, ls in series:
                    ax.plot(x, _along(ds, name, v_rf, n, order) * fy, color=colour, ls=ls,
                            lw=0.8 if ls == ":" else None, gid=f"{name}[n={order}]",
                            label=f"n = {order}" if (ls == "-" and ax is axes[0]) else None)
            ax.set_ylabel({"qp": f"qp step [{uy}]", "qp_weight": f"qp weight [{uy}]",
                           "josephson": f"Josephson step/I_c [{uy}]"}[kind])
            if ax is axes[0]:
                _draw_measured(ax, measured, fx, fy)
        for ax, (kind, series) in zip(axes, panels):
            if kind == "qp_weight" and len(series) > 1:
                _legend(ax, [("<J_n²>_X", "-"), ("uniform J_n²", ":")], "0.3")
            elif kind == "josephson":
                names = [("position-wise", "-"), ("phase-coherent", "--")]
                _legend(ax, names + ([("uniform |J_n(2α)|", ":")] if len(series) > 2 else []), "0.3")
        if len(panels) > 1 or panels[0][0] != "josephson":
            _legend(axes[0], [], "C0")
        axes[-1].set_xlabel(axis_label(v_rf, ux))
        _rf_title(axes[0], ds)
    return finish(fig, path, formats)


# ---------------------------------------------------------------- batches

#: curve plot name -> (function, variables it needs)
CURVE_PLOTS = {
    "iv": (iv, ("I", "V")),
    "didv": (didv, ("V", "dIdV")),
    "r_vs_p": (r_vs_p, ("P", "R")),
    "temperatures_vs_p": (temperatures_vs_p, ("P", "T_mean")),
}


def make_plots(ds, outdir, *, measured: dict | None = None, turning_points=True, P_c=None,
               step_fit=None, formats=FORMATS) -> dict[str, list[Path]]:
    """Every curve plot the dataset supports, written to ``outdir/<name>.<fmt>``.

    ``ds`` is the curve dataset, or a study's dict of datasets ({"curves": ...,
    "turning_points": ...}); a transient study's "timeseries" and "step_response" add
    "time_traces" and "step_response". ``turning_points`` and ``P_c`` override what
    ds.attrs holds (see `turning_points` and `r_vs_p`), ``step_fit`` the step response's
    fit (see `step_response`); ``measured`` maps a plot name to its overlay list.
    Returns name -> written paths."""
    timeseries = step = None
    datasets = ds if isinstance(ds, dict) else None
    if isinstance(ds, dict):
        if turning_points is True and "turning_points" in ds:
            turning_points = ds["turning_points"]
        timeseries, step = ds.get("timeseries"), ds.get("step_response")
        ds = ds["curves"]
    outdir = Path(outdir)
    written = {}
    for name, (fn, needs) in CURVE_PLOTS.items():
        if all(v in ds.variables for v in needs):
            extra = {"P_c": P_c} if fn is r_vs_p else {}
            fig = fn(ds, measured=(measured or {}).get(name), turning=turning_points, formats=formats, **extra)
            written[name] = save(fig, outdir / name, formats)
    from .comparison_plots import make_comparison_plots   # FEM beside lumped: hA_eff, error budget, P/A
    written.update(make_comparison_plots(datasets if datasets is not None else ds, outdir, formats=formats))
    if timeseries is not None:
        written["time_traces"] = save(time_traces(timeseries), outdir / "time_traces", formats)
    if step is not None:
        written["step_response"] = save(step_response(step, fit=step_fit), outdir / "step_response", formats)
    return written


def make_rf_plots(datasets: dict, outdir, *, measured: dict | None = None, names: dict | None = None,
                  formats=FORMATS) -> dict[str, list[Path]]:
    """rf plots from ``{"vrf": ds, "iv": ds, "steps": ds}`` (any subset).

    ``names`` maps the same keys to keyword overrides of variable names."""
    outdir = Path(outdir)
    plots = {"vrf": ("vrf_profile", vrf_profile), "iv": ("pumped_iv", pumped_iv),
             "steps": ("step_amplitudes", step_amplitudes)}
    written = {}
    for key, ds in datasets.items():
        if key not in plots:
            continue
        stem, fn = plots[key]
        fig = fn(ds, measured=(measured or {}).get(stem), formats=formats, **(names or {}).get(key, {}))
        written[stem] = save(fig, outdir / stem, formats)
    if "iv" in datasets and "T_junction" in datasets["iv"]:  # self-heated run (issue 15)
        from . import rf_plots

        written["heating_iv"] = save(rf_plots.heating_iv(datasets["iv"]), outdir / "heating_iv", formats)
    if "embedding" in datasets:  # Thevenin source (issue 15)
        from . import rf_plots

        written["source_steps"] = save(rf_plots.source_steps(datasets["embedding"], datasets["iv"]),
                                       outdir / "source_steps", formats)
    if "iv" in datasets and "T_junction" in datasets["iv"]:
        if "steps" in datasets and "qp_step_shift_heating" in datasets["steps"]:
            written["heating_steps"] = save(rf_plots.heating_steps(datasets["steps"]), outdir / "heating_steps",
                                            formats)
    return written
