"""ParaView collections (.pvd) indexing the VTU files of a run: ``fields.pvd``.

A .pvd is a small XML index ParaView opens as a time series. For a FEM sweep
(`collect_fields`) each entry is one saved bias point; ``timestep`` is the bias value
when the bias rises strictly through the sweep, otherwise the point index (a sweep
through a turning point revisits bias values, and ParaView would merge equal
timesteps). Either way every entry also carries ``bias`` (the value),
``bias_name``/``bias_unit`` and ``index`` attributes, which ParaView ignores, and a
comment at the top states them in words.

For a transient run (`collect_time_fields`) each entry is one field snapshot and
``timestep`` is its physical time in seconds; entries also carry ``time`` (the exact
time, s) and ``index`` (see `write_time_pvd` for snapshots at equal times).

`read_pvd` is the small parser used to read it back (and by `views.view` to find the
last bias point, or the last snapshot).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from femsim import variables as registry
from femsim.results import atomic_path


@dataclass(frozen=True)
class PvdEntry:
    timestep: float
    file: Path          # resolved against the .pvd's directory
    index: int          # bias-point index
    bias: float | None  # SI
    bias_name: str | None
    bias_unit: str | None
    time: float | None = None  # s; snapshots of a transient run


def _timesteps(bias: np.ndarray, indices: list[int], timestep: str) -> tuple[np.ndarray, str]:
    if timestep not in ("auto", "bias", "index"):
        raise ValueError(f"timestep must be 'auto', 'bias' or 'index', got {timestep!r}")
    finite = np.isfinite(bias).all()
    rising = finite and bias.size > 0 and bool(np.all(np.diff(bias) > 0))
    if timestep == "bias" and not rising:
        raise ValueError("timestep='bias' needs a strictly rising bias; this sweep turns back "
                         "(use 'auto' or 'index')")
    if timestep == "bias" or (timestep == "auto" and rising):
        return bias, "bias"
    return np.asarray(indices, dtype=float), "index"


def write_pvd(path, files: Sequence, bias: Sequence[float], *, bias_name: str = "I",
              bias_unit: str | None = None, indices: Sequence[int] | None = None,
              timestep: str = "auto") -> Path:
    """Write ``path`` (.pvd) listing ``files`` (VTU paths) with their ``bias`` values (SI).

    ``indices`` are the bias-point numbers (default 0..n-1). File names are stored
    relative to the .pvd, as ParaView resolves them."""
    path = Path(path)
    bias = np.asarray(bias, dtype=float)
    if len(files) != bias.size:
        raise ValueError(f"{len(files)} files but {bias.size} bias values")
    indices = list(range(len(files))) if indices is None else [int(i) for i in indices]
    unit = bias_unit or registry.units(bias_name)
    steps, kind = _timesteps(bias, indices, timestep)
    return _write_collection(
        path, f" femsim bias points: timestep = {'bias ' + bias_name + ' [' + unit + ']' if kind == 'bias' else 'bias-point index'};"
              f" each DataSet also records bias (SI value), bias_name, bias_unit and index ",
        files, steps, indices, [{"bias": repr(float(b)), "bias_name": bias_name, "bias_unit": unit} for b in bias])


def write_time_pvd(path, files: Sequence, times: Sequence[float], *, indices: Sequence[int] | None = None) -> Path:
    """Write ``path`` (.pvd) listing ``files`` (VTU snapshots) at their ``times`` (s).

    Entries are sorted by time (a stable sort: snapshots at equal times keep their
    given order); ``timestep`` is the time in seconds, except that a snapshot at the
    same time as the one before it (the two sides of a jump at a pulse edge) gets the
    next representable double above it (``numpy.nextafter``), so ParaView, which merges
    equal timesteps, keeps both states. The exact time is in each entry's ``time``
    attribute. ``indices`` are the snapshot numbers (default: the position in time
    order). File names are stored relative to the .pvd."""
    path = Path(path)
    times = np.asarray(times, dtype=float)
    if len(files) != times.size:
        raise ValueError(f"{len(files)} files but {times.size} times")
    if not np.isfinite(times).all():
        raise ValueError(f"snapshot times must be finite, got {times.tolist()}")
    order = np.argsort(times, kind="stable")
    indices = list(range(len(files))) if indices is None else [int(indices[k]) for k in order]
    steps = times[order].copy()
    for k in range(1, steps.size):  # strictly increasing: a repeat goes to the next double up
        steps[k] = max(steps[k], np.nextafter(steps[k - 1], np.inf))
    return _write_collection(
        path, " femsim time snapshots: timestep = time [s] (a repeated time is nudged up to the next double so"
              " ParaView keeps both states); each DataSet also records time (exact, s) and index ",
        [files[k] for k in order], steps, indices, [{"time": repr(float(t)), "time_unit": "s"} for t in times[order]])


def _write_collection(path: Path, comment: str, files, steps, indices, extra: list[dict]) -> Path:
    """The .pvd itself, written atomically: one DataSet per file with its timestep, the
    relative file name, ``index`` and the ``extra`` attributes."""
    root = ET.Element("VTKFile", type="Collection", version="0.1", byte_order="LittleEndian")
    root.append(ET.Comment(comment))
    coll = ET.SubElement(root, "Collection")
    for f, t, i, attrs in zip(files, steps, indices, extra):
        ET.SubElement(coll, "DataSet", timestep=repr(float(t)), group="", part="0",
                      file=_relative(Path(f), path.parent), index=str(i), **attrs)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    return path


def _relative(f: Path, base: Path) -> str:
    try:
        return f.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return f.resolve().as_posix()


def read_pvd(path) -> list[PvdEntry]:
    """Entries of a .pvd in file order (also reads plain ParaView .pvd files)."""
    path = Path(path)
    root = ET.parse(path).getroot()
    if root.get("type") != "Collection":
        raise ValueError(f"{path} is not a VTK collection (type={root.get('type')!r})")
    entries = []
    for k, ds in enumerate(root.iter("DataSet")):
        bias, t = ds.get("bias"), ds.get("time")
        entries.append(PvdEntry(
            timestep=float(ds.get("timestep", k)), file=(path.parent / ds.get("file")).resolve(),
            index=int(ds.get("index", k)), bias=None if bias is None else float(bias),
            bias_name=ds.get("bias_name"), bias_unit=ds.get("bias_unit"), time=None if t is None else float(t)))
    return entries


_POINT = re.compile(r"point_(\d+)\.vtu$")


def collect_fields(result_dir, ds=None, *, bias_name: str | None = None, timestep: str = "auto") -> Path:
    """Write ``result_dir/fields.pvd`` from ``fields/point_NNNN.vtu``, taking each file's
    bias from the curve dataset at point NNNN (``ds``, else ``curves.nc``).

    ``bias_name`` defaults to ds.attrs["bias"] or "I". Family datasets are not handled:
    the file name alone does not say which family member a point belongs to."""
    result_dir = Path(result_dir)
    if ds is None:
        from femsim.results import read_dataset
        ds = read_dataset(result_dir / "curves.nc")
    name = bias_name or str(ds.attrs.get("bias", "I"))
    if ds[name].ndim != 1:
        raise ValueError(f"{name} has dims {ds[name].dims}; a .pvd per family member is not supported yet")
    files = sorted((p for p in (result_dir / "fields").glob("point_*.vtu") if _POINT.search(p.name)),
                   key=lambda p: int(_POINT.search(p.name).group(1)))
    if not files:
        raise FileNotFoundError(f"no fields/point_*.vtu in {result_dir}")
    indices = [int(_POINT.search(p.name).group(1)) for p in files]
    values = ds[name].values
    if max(indices) >= values.size:
        raise ValueError(f"field file point_{max(indices):04d} but the curve has {values.size} points")
    unit = ds[name].attrs.get("units") or registry.units(name)
    return write_pvd(result_dir / "fields.pvd", files, values[indices], bias_name=name, bias_unit=unit,
                     indices=indices, timestep=timestep)


def collect_time_fields(result_dir, snapshots=None) -> Path:
    """Write ``result_dir/fields.pvd`` from the field snapshots of a transient run:
    ``snapshots`` as the study records them (figures["fields"]: mappings with
    ``time_s`` and ``file``, the file relative to ``result_dir``; (time, file) pairs
    also do), else those in ``result_dir/summary.json``. See `write_time_pvd`."""
    result_dir = Path(result_dir)
    if snapshots is None:
        snapshots = json.loads((result_dir / "summary.json").read_text())["figures"].get("fields") or []
    pairs = [(s["time_s"], s["file"]) if isinstance(s, Mapping) else tuple(s) for s in snapshots]
    if not pairs:
        raise FileNotFoundError(f"no field snapshots recorded for {result_dir}")
    files = [result_dir / f for _, f in pairs]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"field snapshot files missing: {', '.join(missing)}")
    return write_time_pvd(result_dir / "fields.pvd", files, [t for t, _ in pairs])
