"""Results on disk: curves as CSV (units in the headers) and netCDF, JSON summaries,
written atomically into one results directory per run.

Curve datasets are `xarray.Dataset`s whose variables have short names (I, V, dIdV, ...)
and attrs ``units`` (SI symbol) and ``long_name``; `VARIABLES` is the registry of the
names femsim uses. A family of curves has a leading family dimension ("T_bath", "dRc0",
"B", ...) before "point". CSV files are long tables with one column per variable and
coordinate, headed "name [unit]" ("dI/dV [S]").
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import xarray as xr

#: short name -> (displayed label, SI unit, long name)
VARIABLES = {
    "I": ("I", "A", "current"),
    "V": ("V", "V", "voltage"),
    "P": ("P", "W", "Joule power I V"),
    "T_mean": ("T_mean", "K", "mean temperature"),
    "T_max": ("T_max", "K", "maximum temperature"),
    "R": ("R", "Ohm", "resistance V/I"),
    "dIdV": ("dI/dV", "S", "differential conductance"),
    "T_bath": ("T_bath", "K", "bath temperature"),
    "dRc0": ("dRc0", "Ohm", "contact-resistance gap term dRc(0)"),
    "B": ("B", "T", "magnetic field"),
    "V_4p": ("V_4p", "V", "four-probe voltage"),
    "V_3p": ("V_3p", "V", "three-probe voltage"),
    "V_lumped": ("V_lumped", "V", "lumped-model voltage at the same current"),
    "T_mean_lumped": ("T_mean_lumped", "K", "lumped-model temperature at the same current"),
    "energy_balance": ("energy_balance", "1", "|P - heat out| / P"),
    "current_balance": ("current_balance", "1", "|I_in - I_out| / I"),
    "newton_steps": ("newton_steps", "1", "Newton steps"),
    "R_norm": ("R/R0", "1", "resistance normalised to its low-bias value"),
}


def annotate(ds: xr.Dataset) -> xr.Dataset:
    """Fill in ``units``/``long_name``/``label`` attrs of known variables and coordinates."""
    for name in list(ds.data_vars) + list(ds.coords):
        if name in VARIABLES:
            label, unit, long_name = VARIABLES[name]
            ds[name].attrs.setdefault("units", unit)
            ds[name].attrs.setdefault("long_name", long_name)
            ds[name].attrs.setdefault("label", label)
    return ds


def column(name: str, da: xr.DataArray) -> str:
    """CSV header / axis label of a variable: "dI/dV [S]"."""
    return f"{da.attrs.get('label', name)} [{da.attrs.get('units', '1')}]"


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success,
    so a reader never sees a half-written file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: Path, data) -> Path:
    return write_text(path, json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")


def write_csv(path: Path, ds: xr.Dataset) -> Path:
    """Long-format CSV: family coordinates first, then one column per data variable."""
    ds = annotate(ds)
    frame = ds.to_dataframe().reset_index()
    names = [n for n in frame.columns if n != "point"]
    headers = [column(n, ds[n]) for n in names]
    with atomic_path(path) as tmp:
        frame[names].to_csv(tmp, index=False, header=headers, float_format="%.12g", na_rep="nan")
    return Path(path)


def write_netcdf(path: Path, ds: xr.Dataset) -> Path:
    ds = annotate(ds)
    clean = ds.copy()
    clean.attrs = {k: json.dumps(_jsonable(v)) if not isinstance(v, (str, int, float)) else v
                   for k, v in ds.attrs.items()}
    with atomic_path(path) as tmp:
        clean.to_netcdf(tmp, engine="netcdf4")
    return Path(path)


def read_dataset(path: Path) -> xr.Dataset:
    """Read a netCDF curve file written by `write_netcdf` (loaded into memory)."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None if np.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, Path):
        return str(x)
    return x


class ResultDirExists(Exception):
    """The results directory holds an earlier run and --overwrite was not given."""


class ResultDir:
    """One run's results directory.

    Created empty; refuses a non-empty directory unless ``overwrite`` (never mixes two
    runs) or ``resume`` (the same case continued; the caller checks the case's hash).
    Files are written atomically. `discard()` removes a directory this run
    created when nothing valid was written (a user error before any result).
    """

    def __init__(self, path, overwrite: bool = False, resume: bool = False):
        self.path = Path(path)
        self._created = False
        self.resume = resume
        if self.path.exists() and any(self.path.iterdir()) and not resume:
            if not overwrite:
                raise ResultDirExists(
                    f"{self.path} already holds results; use --overwrite or --out another directory")
            shutil.rmtree(self.path)
        if not self.path.exists():
            self.path.mkdir(parents=True)
            self._created = True
        self.files: list[str] = []

    def file(self, name: str) -> Path:
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if name not in self.files:
            self.files.append(name)
        return p

    def curves(self, stem: str, ds: xr.Dataset) -> None:
        """Write ``stem``.csv and ``stem``.nc."""
        write_csv(self.file(f"{stem}.csv"), ds)
        write_netcdf(self.file(f"{stem}.nc"), ds)

    def json(self, name: str, data) -> None:
        write_json(self.file(name), data)

    def text(self, name: str, text: str) -> None:
        write_text(self.file(name), text)

    def discard(self) -> None:
        if self._created and self.path.exists():
            shutil.rmtree(self.path)
