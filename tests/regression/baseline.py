"""Regression baseline of every bundled case (issue 16): the numbers a run writes into its
netCDF files, stored once from the code before the one-core refactor, so a refactor that
claims "behaviour unchanged" is held to it.

What is compared: every floating-point data variable and coordinate of every ``*.nc`` file
of a results directory. What is not: wall-clock times (they differ between any two runs),
energy/current balance residuals (round-off, bounded by their own tests) and solver
counters (Newton steps, linear iterations, factorisations), which a change of stopping
rule may legitimately alter while the converged curves stay put.

Regenerate (only when a change of the physics is intended, and say so in the commit):
    python tests/regression/baseline.py [case ...]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
STORE = Path(__file__).resolve().parent / "baseline"

#: name fragments of variables that are not curves: wall-clock, solver bookkeeping, and
#: conservation residuals (round-off, ~1e-14: their own scale is noise; tests bound them)
_NOT_CURVES = ("time_s", "wall", "solve_time", "elapsed", "newton", "iterations", "factor", "linear_",
               "balance")


def _is_curve(name: str, values: np.ndarray, integers: bool = False) -> bool:
    low = name.lower()
    return values.dtype.kind in ("fciu" if integers else "fc") and not any(f in low for f in _NOT_CURVES)


def collect(results_dir: Path, integers: bool = False) -> dict[str, np.ndarray]:
    """``{"<file>::<variable>": values}`` for every curve variable in a results directory
    (floating-point ones; also integer ones with ``integers``)."""
    import xarray as xr

    out = {}
    for nc in sorted(Path(results_dir).rglob("*.nc")):
        rel = nc.relative_to(results_dir).as_posix()
        if rel.startswith("resume/"):
            continue
        with xr.open_dataset(nc, engine="netcdf4") as ds:
            for name in list(ds.data_vars) + list(ds.coords):
                values = np.asarray(ds[name].values)
                if _is_curve(str(name), values, integers):
                    out[f"{rel}::{name}"] = values
    return out


def compare(stem: str, results_dir: Path, rtol: float = 1e-10) -> list[str]:
    """Differences between a run and the stored baseline, one line each (empty: equal).

    Each variable is compared with relative tolerance ``rtol`` against its own scale
    (the largest finite magnitude), so a current that passes through zero is not held to
    a relative 1e-10 of 0."""
    stored = dict(np.load(STORE / f"{stem}.npz"))
    # a flag or count stored as a float before the netCDF files followed CF (issue 18) is an
    # integer now: still compared by value; integers the baseline never held stay out
    now = {k: v for k, v in collect(results_dir, integers=True).items() if v.dtype.kind in "fc" or k in stored}
    lines = [f"{k}: missing from the run" for k in sorted(set(stored) - set(now))]
    lines += [f"{k}: not in the baseline" for k in sorted(set(now) - set(stored))]
    for key in sorted(set(stored) & set(now)):
        a, b = stored[key], now[key]
        if a.shape != b.shape:
            lines.append(f"{key}: shape {b.shape}, baseline {a.shape}")
            continue
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            lines.append(f"{key}: NaN pattern differs")
            continue
        ok = np.isfinite(a)
        if not ok.any():
            continue
        scale = np.max(np.abs(a[ok]))
        err = np.max(np.abs(a[ok] - b[ok]))
        if err > rtol * scale:
            lines.append(f"{key}: largest difference {err:.3g} = {err / scale:.3g} of its scale")
    return lines


def make(stems: list[str]) -> None:
    from femsim.cli import main

    STORE.mkdir(exist_ok=True)
    for stem in stems:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / stem
            code = main(["--quiet", "run", str(ROOT / "cases" / f"{stem}.toml"), "--out", str(out)])
            if code != 0:
                raise SystemExit(f"{stem}: femsim run exited {code}")
            data = collect(out)
            np.savez_compressed(STORE / f"{stem}.npz", **data)
            print(f"{stem}: {len(data)} variables", flush=True)


if __name__ == "__main__":
    make(sys.argv[1:] or sorted(p.stem for p in (ROOT / "cases").glob("*.toml")))
