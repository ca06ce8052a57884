"""Running one case into one results directory: study -> results -> plots -> report.

Application layer shared by `femsim run` and `femsim sweep` (it is where femsim meets
postprocess). Returns the exit code and the summary; user errors raise CaseError before
anything is left on disk.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import sys
import time
from pathlib import Path

from . import __version__, progress
from .errors import CaseError, ConvergenceError, FemsimError

EXIT_USER, EXIT_SOLVER, EXIT_INTERRUPT = 2, 1, 130

_DEPENDENCIES = ("numpy", "scipy", "scikit-fem", "fenics-basix", "meshio", "pyvista", "pint",
                 "pydantic", "xarray", "matplotlib")


def versions() -> dict:
    out = {"femsim": __version__, "python": platform.python_version()}
    for dist in _DEPENDENCIES:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _resumable(out_dir: Path, raw: bytes) -> dict | None:
    """The earlier summary if ``out_dir`` holds a run of the same case bytes; else a CaseError."""
    import json

    path = Path(out_dir) / "summary.json"
    if not path.exists():
        return None
    try:
        before = json.loads(path.read_text())
    except (OSError, ValueError):
        raise CaseError("--resume", str(out_dir), "a results directory with a readable summary.json") from None
    if before.get("case_sha256") != hashlib.sha256(raw).hexdigest():
        raise CaseError("--resume", str(out_dir), "a results directory of this very case file (its SHA-256 "
                        "differs: the case changed since; use --overwrite to start again)")
    return before


def run_case(case, raw: bytes, source: str, out_dir, overwrite: bool = False,
             resume: bool = False) -> tuple[int, dict]:
    """Run a validated ``case`` (whose file bytes are ``raw``) into ``out_dir``; with
    ``resume``, continue an interrupted run of the same case from its last converged point
    (FEM) or recompute it (lumped and rf studies take seconds)."""
    from .results import ResultDir
    from .studies import runner

    before = _resumable(out_dir, raw) if resume else None
    if before is not None and before.get("status") == "complete":
        progress.say(f"{out_dir} is complete already; nothing to resume")
        return 0, before
    recompute = before is not None and case.study != "fem"  # no checkpoints: seconds to redo
    out = ResultDir(out_dir, overwrite=overwrite or recompute, resume=before is not None and not recompute)
    (out.file("case.toml")).write_bytes(raw)
    out.json("case_resolved.json", case.model_dump(mode="json"))
    summary = {
        "study": case.study, "title": case.title, "case": source,
        "case_sha256": hashlib.sha256(raw).hexdigest(), "versions": versions(),
        "status": "running", "figures": {}, "timings": {},
    }
    out.json("summary.json", summary)
    t0 = time.perf_counter()
    code = 0
    try:
        result = runner(case.study)(case, out)
    except CaseError:
        out.discard()  # a user error found while setting up: leave nothing behind
        raise
    except ConvergenceError as e:  # nothing converged: say where and keep the record
        summary.update(status="failed", message=str(e), failed_bias=e.bias, residual_history=e.history)
        code, result = EXIT_SOLVER, None
    except KeyboardInterrupt:
        summary.update(status="interrupted")
        out.json("summary.json", summary)
        print(f"femsim: interrupted; results so far are in {out.path}", file=sys.stderr)
        return EXIT_INTERRUPT, summary
    except FemsimError as e:
        summary.update(status="failed", message=str(e))
        code, result = EXIT_SOLVER, None
    except Exception as e:  # a bug: record it beside the partial results, then show the traceback
        summary.update(status="crashed", message=f"{type(e).__name__}: {e}")
        out.json("summary.json", summary)
        raise
    summary["timings"]["study_s"] = time.perf_counter() - t0
    if result is not None:
        for stem, ds in result.datasets.items():
            out.curves(stem, ds)
        summary.update(status=result.status, figures=result.figures)
        if result.message:
            summary["message"] = result.message
        code = {"failed": EXIT_SOLVER, "interrupted": EXIT_INTERRUPT}.get(result.status, 0)
        t1 = time.perf_counter()
        plots = _postprocess(case, out, result) if case.outputs.plots else {}
        summary["timings"]["postprocess_s"] = time.perf_counter() - t1
        summary["plots"] = plots
    summary["files"] = sorted(set(out.files) | {"summary.json"})
    out.json("summary.json", summary)
    _report(out, summary)
    if code:
        what = "interrupted" if code == EXIT_INTERRUPT else "error"
        print(f"femsim: {what}: {summary.get('message', 'the run failed')}; results so far are in {out.path}",
              file=sys.stderr)
    return code, summary


def _measured_overlays(case) -> dict:
    """Measured I-V files as overlays: plot name -> [(label, x, y)] in SI."""
    import numpy as np

    iv, rp = [], []
    for m in case.outputs.measured:
        I, V = np.asarray(m.file.I), np.asarray(m.file.V)
        iv.append((m.label, V, I))
        ok = I != 0
        rp.append((m.label, (I * V)[ok], (V / I)[ok]))
    return {"iv": iv, "r_vs_p": rp} if iv else {}


def _postprocess(case, out, result) -> dict:
    """Plots of the study's datasets; returns plot name -> written files (relative)."""
    from postprocess import plots

    formats = tuple(case.outputs.formats)
    if case.study == "rf":
        written = plots.make_rf_plots(result.datasets, out.path / "plots", formats=formats)
    else:
        written = plots.make_plots(result.datasets, out.path / "plots", P_c=result.figures.get("thresholds"),
                                   step_fit=result.figures.get("step_response"),
                                   measured=_measured_overlays(case), formats=formats)
    if case.study == "fem" and any((out.path / "fields").glob("*.vtu")):
        from postprocess import collection, views

        pvd = collection.collect_fields(out.path, result.datasets["curves"])
        out.files.append(str(pvd.relative_to(out.path)))
        last = views.last_field_file(out.path)
        written["temperature_3d"] = [views.surface(last, "T", out.path / "plots" / "temperature_3d.png").path]
    if case.study in ("hotspot", "transient") and any((out.path / "fields").glob("*.vtu")):
        from postprocess import views

        # the hot spot itself if one formed, else the hottest saved state
        shots = result.figures.get("fields") or []
        if case.study == "transient" and shots:  # a time series ParaView can step through
            from postprocess import collection

            pvd = collection.collect_time_fields(out.path, shots)
            out.files.append(str(pvd.relative_to(out.path)))
        hot = [f["file"] for f in shots if str(f.get("state", "")).startswith("hot spot")]
        pick = hot[0] if hot else (max(shots, key=lambda f: f.get("T_max_K", float("-inf")))["file"] if shots else None)
        if pick:
            written["temperature_3d"] = [views.surface(out.path / pick, "T", out.path / "plots" / "temperature_3d.png").path]
    return {name: [str(Path(f).relative_to(out.path)) for f in files] for name, files in written.items()}


def _report(out, summary) -> None:
    try:
        from postprocess.report import terminal_summary, write_report
    except ImportError:  # postprocess not built yet for this study kind
        progress.say(f"results written to {out.path}")
        return
    write_report(out.path, summary, summary.get("plots", {}))
    progress.say(terminal_summary(summary))
    progress.say(f"results written to {out.path}")


