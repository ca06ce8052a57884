"""femsim from Python: build or load a case, run it, look at the result.

The command line and this module run the same code: a case built here is written out as
the TOML file `femsim run` would read (it becomes ``case.toml`` of the results directory),
validated by the same schema, and run by the same runner. So ``femsim.run("case.toml")``
and ``femsim.run(femsim.case_from_dict(tomllib.load(...)))`` give identical results.

    >>> import femsim
    >>> case = femsim.case_from_dict({
    ...     "schema_version": 1, "study": "lumped",
    ...     "environment": {"T_bath": "20 K"},
    ...     "lumped": {"hA": "16 uW/K", "R": "120 Ohm", "P_max": "1 mW"}})
    >>> result = femsim.run(case)                       # doctest: +SKIP
    >>> result.datasets["curves"]["T_mean"]              # doctest: +SKIP

Quantities may be strings with units ("30 um") or pint quantities (``30 * ureg.um`` from
any pint registry); both are turned into the same case-file text.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from .case import Case, load_case, parse_case
from .errors import CaseError

__all__ = ["Case", "CaseSource", "Result", "case_from_dict", "load", "run", "open_result"]


@dataclass(frozen=True)
class CaseSource:
    """A validated case with the exact TOML text it came from (hashed into summary.json)."""

    case: Case
    toml: bytes
    name: str = "case"
    base_dir: Path | None = None


def _plain(value: Any) -> Any:
    """Case data with pint quantities written as quantity strings and tuples as lists."""
    if hasattr(value, "magnitude") and hasattr(value, "units"):  # a pint Quantity, any registry
        return f"{value.magnitude!r} {value.units:~C}" if str(value.units) != "dimensionless" \
            else f"{value.magnitude!r}"
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def case_from_dict(data: Mapping, base_dir: str | os.PathLike | None = None, name: str = "case") -> CaseSource:
    """Validate a case given as a dict (the TOML document's structure).

    ``base_dir`` is where relative table and mesh paths are looked up (default: the
    working directory). Raises `CaseError` naming the key, as `femsim check` does.
    """
    import tomli_w

    plain = _plain(data)
    base = Path(base_dir).resolve() if base_dir is not None else Path.cwd()
    try:
        text = tomli_w.dumps(plain).encode()
    except (TypeError, ValueError) as e:
        raise CaseError("(top level)", type(e).__name__, f"data TOML can hold (strings, numbers, booleans, lists, "
                        f"tables): {e}") from None
    case = parse_case(tomllib.loads(text.decode()), f"<{name}>", base)
    return CaseSource(case, text, name, base)


def load(source: str | os.PathLike | Mapping | CaseSource) -> CaseSource:
    """A case from a TOML file path, a dict, or an already loaded case."""
    if isinstance(source, CaseSource):
        return source
    if isinstance(source, Mapping):
        return case_from_dict(source)
    path = Path(source)
    case = load_case(path)
    return CaseSource(case, path.read_bytes(), path.stem, path.parent.resolve())


@dataclass
class Result:
    """One run: the curve datasets, summary.json and (FEM) the field files, read from its
    results directory."""

    path: Path
    summary: dict
    datasets: dict[str, xr.Dataset] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.summary.get("status", "unknown")

    @property
    def figures(self) -> dict:
        """Key figures (hA_eff, turning points, thresholds, ...) as in summary.json, SI units."""
        return self.summary.get("figures", {})

    def field_files(self) -> list[Path]:
        """The VTU field snapshots, in bias (or time) order."""
        return sorted((self.path / "fields").glob("*.vtu"))

    def fields(self) -> list:
        """The field snapshots as pyvista meshes (T [K], phi [V], J [A/m^2], ...)."""
        import pyvista as pv

        return [pv.read(f) for f in self.field_files()]

    def save(self, out: str | os.PathLike, overwrite: bool = False) -> Path:
        """Copy the results directory to ``out`` (refused if it exists, unless ``overwrite``
        and it holds femsim results)."""
        out = Path(out)
        if out.resolve() == self.path.resolve():
            return out
        if out.exists():
            if not overwrite:
                raise FileExistsError(f"{out} exists; pass overwrite=True to replace it")
            if not (out / "summary.json").is_file():
                raise FileExistsError(f"{out} is not a femsim results directory; not replacing it")
            shutil.rmtree(out)
        shutil.copytree(self.path, out)
        return out


def open_result(path: str | os.PathLike) -> Result:
    """Read a results directory written by `femsim run` or `run`."""
    from .results import read_dataset

    path = Path(path)
    summary = json.loads((path / "summary.json").read_text())
    datasets = {nc.stem: read_dataset(nc) for nc in sorted(path.glob("*.nc"))}
    return Result(path, summary, datasets)


def run(case: str | os.PathLike | Mapping | CaseSource, out: str | os.PathLike | None = None,
        overwrite: bool = False, quiet: bool = True) -> Result:
    """Run a case and return its `Result`.

    ``out`` is the results directory (as `femsim run --out`); without it the run goes to a
    fresh temporary directory that the result keeps (call ``result.save(dir)`` to keep it
    elsewhere). A solver failure or an interrupt still returns the result with the points
    that converged (``result.status`` says which); user errors raise `CaseError`.
    """
    from . import progress
    from .runner import run_case

    src = load(case)
    if out is None:
        out = Path(tempfile.mkdtemp(prefix=f"femsim-{src.name}-")) / "results"
    before = progress.VERBOSITY
    progress.VERBOSITY = "quiet" if quiet else before
    try:
        run_case(src.case, src.toml, src.name, Path(out), overwrite=overwrite)
    finally:
        progress.VERBOSITY = before
    return open_result(out)
