"""Parameter sweeps: one case run for each value of one or more case-file keys, in
parallel (local processes by default, a Dask distributed cluster when a scheduler address
is given), gathered into one labelled dataset.

A parameter is a dotted key path into the case file with a range or a list of values
with units: ``T_bath=4.2K:100K:12`` (12 values, linear), ``fem.thermal.cooling[0].h=1,10,100 W/(cm^2 K)``
or ``geometry.width=10um,20um,40um``. Shorthands: ``T_bath`` -> ``environment.T_bath``,
``hA`` -> ``lumped.hA``, ``h`` -> ``fem.thermal.cooling[0].h``. Several parameters make a
grid. Each member runs into ``DIR/<name>_<k>/`` like `femsim run`; the gathered curves go
to ``DIR/sweep.nc`` and ``DIR/sweep.csv`` with one dimension per parameter.
"""

from __future__ import annotations

import copy
import itertools
import re
import tomllib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tomli_w
import xarray as xr

from . import progress
from .errors import CaseError
from .units import UNITS, ureg

SHORTHANDS = {"T_bath": "environment.T_bath", "hA": "lumped.hA", "h": "fem.thermal.cooling[0].h"}
_PART = re.compile(r"^([A-Za-z_]\w*)(?:\[(\d+)\])?$")


@dataclass(frozen=True)
class Parameter:
    """A swept key: its dotted path, the case-file strings to write, and their SI values."""

    path: str
    texts: tuple[str, ...]
    values: tuple[float, ...]
    unit: str

    @property
    def name(self) -> str:
        return self.path.replace(".", "_").replace("[", "_").replace("]", "")


def _quantity(text: str, where: str):
    try:
        q = ureg.Quantity(text.strip())
    except Exception:
        raise CaseError(where, text, "a number with a unit, e.g. '4.2 K'") from None
    return q if hasattr(q, "units") else ureg.Quantity(float(q))


def parse_parameter(spec: str) -> Parameter:
    """``KEY=START:STOP:NUM`` or ``KEY=V1,V2,...`` (a unit after the last value applies to all)."""
    if "=" not in spec:
        raise CaseError("--param", spec, "KEY=START:STOP:NUM or KEY=V1,V2,... (e.g. T_bath=4.2K:100K:12)")
    key, rhs = (s.strip() for s in spec.split("=", 1))
    path = SHORTHANDS.get(key, key)
    if not all(_PART.match(p) for p in path.split(".")):
        raise CaseError("--param", key, "a dotted key path such as environment.T_bath or fem.thermal.cooling[0].h")
    if rhs.count(":") == 2:
        a, b, n = rhs.split(":")
        qa, qb = _quantity(a, "--param start"), _quantity(b, "--param stop")
        try:
            num = int(n)
            qb = qb.to(qa.units)
        except (ValueError, Exception):
            raise CaseError("--param", rhs, "START:STOP:NUM with NUM an integer and START, STOP in one dimension") \
                from None
        if num < 1:
            raise CaseError("--param", rhs, "NUM >= 1")
        mags = np.linspace(qa.magnitude, qb.magnitude, num)
        unit = f"{qa.units:~}"
    else:
        items = [t.strip() for t in rhs.split(",") if t.strip()]
        if not items:
            raise CaseError("--param", rhs, "at least one value")
        last = _quantity(items[-1], "--param")
        unit = f"{last.units:~}" if not last.unitless else ""
        qs = [_quantity(t, "--param") for t in items]
        qs = [q if not q.unitless or not unit else ureg.Quantity(q.magnitude, unit) for q in qs]
        try:
            mags = np.array([q.to(unit).magnitude if unit else q.magnitude for q in qs], dtype=float)
        except Exception:
            raise CaseError("--param", rhs, f"values of one dimension ({unit})") from None
    texts = tuple(f"{m:.12g} {unit}".strip() for m in mags)
    si = tuple(float(ureg.Quantity(m, unit).to_base_units().magnitude) if unit else float(m) for m in mags)
    return Parameter(path, texts, si, unit)


def set_key(data: dict, path: str, value):
    """Set a dotted key path (with [i] list indices) in a nested case dict, creating tables."""
    node = data
    parts = path.split(".")
    for k, part in enumerate(parts):
        name, idx = _PART.match(part).groups()
        last = k == len(parts) - 1
        if idx is None:
            if last:
                node[name] = value
            else:
                node = node.setdefault(name, {})
                if not isinstance(node, dict):
                    raise CaseError(path, node, "a table on the way to the swept key")
        else:
            seq = node.get(name)
            if not isinstance(seq, list) or int(idx) >= len(seq):
                raise CaseError(path, seq, f"a list with an item [{idx}] in the case file")
            if last:
                seq[int(idx)] = value
            else:
                node = seq[int(idx)]


def members(data: dict, params: list[Parameter]):
    """(index tuple, case dict) for every point of the parameter grid."""
    for idx in itertools.product(*(range(len(p.texts)) for p in params)):
        d = copy.deepcopy(data)
        for p, i in zip(params, idx):
            set_key(d, p.path, p.texts[i])
        yield idx, d


def _run_member(text: str, source: str, base_dir: str, out_dir: str):
    """Worker: validate and run one member; returns (exit code, curves path or None)."""
    from . import progress as prog
    from .case import parse_case
    from .runner import run_case

    prog.VERBOSITY = "quiet"
    case = parse_case(tomllib.loads(text), source, Path(base_dir))
    code, summary = run_case(case, text.encode(), source, out_dir, overwrite=True)
    nc = Path(out_dir) / "curves.nc"
    return code, summary.get("status"), str(nc) if nc.exists() else None


def run_sweep(case_path, specs: list[str], out_dir=None, workers: int | None = None, scheduler: str | None = None,
              overwrite: bool = False) -> xr.Dataset:
    """Run the sweep and return the gathered curves (dims: parameters..., point)."""
    from .case import parse_case
    from .results import ResultDir, read_dataset, write_csv, write_json, write_netcdf

    case_path = Path(case_path)
    data = tomllib.loads(case_path.read_text())
    params = [parse_parameter(s) for s in specs]
    if not params:
        raise CaseError("--param", None, "at least one swept parameter")
    jobs = []
    for idx, d in members(data, params):
        text = tomli_w.dumps(d)
        tag = "_".join(f"{p.name}={p.texts[i].replace(' ', '')}" for p, i in zip(params, idx))
        parse_case(tomllib.loads(text), f"{case_path} [{tag}]", case_path.parent.resolve())  # fail fast
        jobs.append((idx, text, f"{case_path} [{tag}]"))
    out = ResultDir(out_dir or Path("results") / f"{case_path.stem}_sweep", overwrite=overwrite)
    base = str(case_path.parent.resolve())
    results = {}
    args = [(text, src, base, str(out.path / f"member_{k:03d}")) for k, (_, text, src) in enumerate(jobs)]
    if scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise CaseError("--scheduler", scheduler, "dask.distributed installed (pip install 'femsim[dask]')") \
                from None
        with Client(scheduler) as client:
            futures = client.map(lambda a: _run_member(*a), args, pure=False)
            for k, f in enumerate(progress.bar(futures, total=len(futures), desc="sweep", unit="run")):
                results[k] = f.result()
    elif (workers or 1) == 1:
        for k, a in enumerate(progress.bar(args, desc="sweep", unit="run")):
            results[k] = _run_member(*a)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futs = {pool.submit(_run_member, *a): k for k, a in enumerate(args)}
            for f in progress.bar(as_completed(futs), total=len(futs), desc="sweep", unit="run"):
                results[futs[f]] = f.result()
    gathered = _gather(params, jobs, results, read_dataset)
    write_netcdf(out.file("sweep.nc"), gathered)
    write_csv(out.file("sweep.csv"), gathered)
    write_json(out.file("sweep.json"), {
        "case": str(case_path), "parameters": [{"path": p.path, "values": p.texts, "si": p.values} for p in params],
        "members": [{"index": list(jobs[k][0]), "dir": f"member_{k:03d}", "exit_code": results[k][0],
                     "status": results[k][1]} for k in sorted(results)],
        "workers": workers, "scheduler": scheduler})
    return gathered


def _gather(params, jobs, results, read_dataset) -> xr.Dataset:
    """Stack members' curves on the grid of parameter dimensions (NaN-padded along point;
    a member's own size-1 family dimension, e.g. its single T_bath, is dropped)."""
    pieces = {}
    for k, (idx, _, _) in enumerate(jobs):
        path = results[k][2]
        if path is None:
            continue
        ds = read_dataset(path)
        ds = ds[[v for v in ds.data_vars if "point" in ds[v].dims]]
        ds = ds.squeeze([d for d in ds.dims if d != "point" and ds.sizes[d] == 1], drop=True)
        ds = ds.drop_vars([c for c in ds.coords if c not in ds.dims])
        ds.attrs = {}
        pieces[idx] = ds.assign_coords(point=np.arange(ds.sizes["point"]))
    if not pieces:
        raise CaseError("sweep", "every member", "at least one member with curves (all runs failed)")
    n = max(p.sizes["point"] for p in pieces.values())
    template = next(iter(pieces.values())).reindex(point=np.arange(n)) * np.nan
    names = [p.name for p in params]

    def nest(prefix, depth):
        if depth == len(params):
            ds = pieces.get(prefix)
            return template if ds is None else ds.reindex(point=np.arange(n))
        return [nest(prefix + (i,), depth + 1) for i in range(len(params[depth].texts))]

    out = xr.combine_nested(nest((), 0), concat_dim=names, combine_attrs="drop")
    for p in params:
        out = out.assign_coords({p.name: (p.name, np.array(p.values), {"units": _si_symbol(p), "long_name": p.path})})
    for v in out.data_vars:
        out[v].attrs = dict(template[v].attrs)
    return out.transpose(*names, ..., "point")


def _si_symbol(p: Parameter) -> str:
    """The displayed SI symbol of the parameter's dimension ("W/K", not "kg m^2/(K s^3)")."""
    if not p.unit:
        return "1"
    q = ureg.Quantity(1, p.unit)
    for name, (base, shown, _) in UNITS.items():
        if q.dimensionality == ureg.Quantity(1, base).dimensionality:
            return shown
    return f"{q.to_base_units().units:~}"
