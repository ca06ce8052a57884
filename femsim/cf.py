"""netCDF files following the CF conventions (CF-1.10), and back.

femsim keeps in memory (and in CSV headers, plots and JSON) the unit symbols it displays:
"Ohm", "W/cm^2", "1/s". A netCDF file gets their UDUNITS-2 spelling ("ohm", "W cm^-2",
"s^-1"): UDUNITS names the ohm in lower case, and the products of powers with "^" are
read both by UDUNITS-2 and by pint's default registry (pint-xarray's ``quantify()``);
UDUNITS' bare exponents ("W cm-2") are not, so they are not used. `to_cf` writes the
file's conventions; `from_cf` restores the displayed spelling when femsim reads it back.

A file states ``Conventions = "CF-1.10"``; every numeric variable and coordinate has
``units`` and ``long_name`` (from `femsim.variables`); counters and indices (Newton steps,
BDF order, point index) are integers; and nothing that changes from run to run of the same
case (wall-clock times) is a data variable: such things are attributes, so two runs of
one case give identical data variables.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import xarray as xr

from . import variables

CONVENTIONS = "CF-1.10"

#: displayed symbol -> UDUNITS symbol, where they differ
_TO_UDUNITS = {"Ohm": "ohm", "µ": "u"}
_FROM_UDUNITS = {"ohm": "Ohm"}
_FACTOR = re.compile(r"^([A-Za-zµ%]+)(?:\^([+-]?\d+))?$")
#: fill value of integer variables with missing entries (a failed point's Newton steps)
INT_FILL = -1


def _factors(unit: str) -> list[tuple[str, int]]:
    """(symbol, exponent) of a displayed unit: "W/(m^2 K)" -> [(W, 1), (m, -2), (K, -1)]."""
    text = unit.strip()
    if "/" in text:
        num, _, den = text.partition("/")
        den = den.strip()
        if den.startswith("(") and den.endswith(")"):
            den = den[1:-1]
        if "/" in den or "(" in den:
            raise ValueError(unit)
        return _factors(num) + [(s, -e) for s, e in _factors(den)]
    out = []
    for tok in text.replace("*", " ").split():
        if tok == "1":
            continue
        m = _FACTOR.match(tok)
        if not m:
            raise ValueError(unit)
        out.append((m[1], int(m[2] or 1)))
    return out


def _prefixed(symbol: str, table: dict) -> str:
    for a, b in table.items():
        if symbol.endswith(a) and len(symbol) - len(a) <= 2:   # "Ohm", "kOhm", "mOhm"
            return symbol[: -len(a)] + b
    return symbol.replace("µ", "u")


def udunits(unit: str) -> str:
    """The UDUNITS-2 spelling of a displayed unit: "Ohm" -> "ohm", "W/cm^2" -> "W cm^-2",
    "1/s" -> "s^-1", "1" -> "1". A string femsim did not write is returned as given."""
    try:
        factors = _factors(unit)
    except ValueError:
        return unit
    out = [(_prefixed(s, _TO_UDUNITS), e) for s, e in factors]
    return " ".join(s if e == 1 else f"{s}^{e}" for s, e in out) or "1"


def display_units(unit: str) -> str:
    """Inverse of `udunits` for the units femsim writes: "W m^-2 K^-1" -> "W/(m^2 K)"."""
    try:
        factors = _factors(unit)
    except ValueError:
        return unit
    factors = [(_prefixed(s, _FROM_UDUNITS), e) for s, e in factors]
    num = [s if e == 1 else f"{s}^{e}" for s, e in factors if e > 0]
    den = [s if e == -1 else f"{s}^{-e}" for s, e in factors if e < 0]
    top = " ".join(num) or "1"
    if not den:
        return top
    return f"{top}/{den[0]}" if len(den) == 1 else f"{top}/({' '.join(den)})"


#: names of data variables holding wall-clock times (moved to attributes by `to_cf`)
WALL_CLOCK = ("solve_time_s", "time_s", "wall_s", "t_solve", "t_setup")


def to_cf(ds: xr.Dataset) -> xr.Dataset:
    """A copy of ``ds`` following CF-1.10 (module docstring); attrs that are not scalars
    or strings become JSON text (netCDF attributes hold no dicts)."""
    out = ds.copy()
    for name in [n for n in WALL_CLOCK if n in out.data_vars]:
        out.attrs[name] = out[name].values.tolist()
        out = out.drop_vars(name)
    for name in list(out.variables):
        var = variables.get(str(name))
        if var is not None and var.integer and np.issubdtype(out[name].dtype, np.floating):
            values = out[name].values
            finite = np.isfinite(values)
            if np.all(values[finite] == np.round(values[finite])):
                if finite.all():
                    out[name] = out[name].copy(data=values.astype(np.int64))
                else:   # missing entries: an integer with a fill value, read back as NaN
                    out.variables[name].encoding.update(dtype="int64", _FillValue=INT_FILL)
        v = out.variables[name]
        attrs = dict(v.attrs)
        if var is not None:
            attrs.setdefault("units", var.units)
            attrs.setdefault("long_name", var.long_name)
            if var.shown != var.name:
                attrs.setdefault("label", var.shown)
        attrs.setdefault("long_name", str(name))
        if np.issubdtype(v.dtype, np.number) and not np.issubdtype(v.dtype, np.bool_):
            attrs["units"] = udunits(str(attrs.get("units", "1")))
        else:
            attrs.pop("units", None)   # text and flags carry no unit
        v.attrs = attrs
    out.attrs = {k: _attr(v) for k, v in out.attrs.items()}
    for k in list(out.attrs):
        if k.endswith("_units") and isinstance(out.attrs[k], str):
            out.attrs[k] = udunits(out.attrs[k])
    out.attrs["Conventions"] = CONVENTIONS
    return out


def from_cf(ds: xr.Dataset) -> xr.Dataset:
    """A file written by `to_cf` with femsim's displayed unit symbols back in its attrs."""
    for name in ds.variables:
        u = ds[name].attrs.get("units")
        if isinstance(u, str):
            ds[name].attrs["units"] = display_units(u)
    for k, v in list(ds.attrs.items()):
        if k.endswith("_units") and isinstance(v, str):
            ds.attrs[k] = display_units(v)
    return ds


def _attr(v):
    return v if isinstance(v, (str, int, float)) else json.dumps(jsonable(v))


def jsonable(x):
    """``x`` as what JSON and netCDF attributes hold: lists for arrays, Python numbers,
    None for NaN, "inf"/"-inf", strings for paths."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None if np.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, Path):
        return str(x)
    return x
