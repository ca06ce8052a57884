"""Running one case into one results directory: study -> results -> plots -> report.

Application layer shared by `femsim run` and `femsim sweep` (it is where femsim meets
postprocess). Returns the exit code and the summary; user errors raise CaseError before
anything is left on disk.
"""

from __future__ import annotations

import hashlib
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from . import progress
from .version import __version__
from .errors import CaseError, ConvergenceError, FemsimError
from .provenance import versions

EXIT_USER, EXIT_SOLVER, EXIT_INTERRUPT = 2, 1, 130

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
    (FEM) or recompute it (lumped and rf studies take seconds).

    Nothing is written before the study has validated its setup (mesh, problem, solver):
    a user error leaves no directory, and an --overwrite that fails so leaves the earlier
    run untouched. One run at a time per directory (a lock)."""
    from .errors import printable
    from .results import ResultDir

    before = _resumable(out_dir, raw) if resume else None
    if before is not None and before.get("status") == "complete":
        progress.say(f"{printable(out_dir)} is complete already; nothing to resume")
        return 0, before
    recompute = before is not None and case.study != "fem"  # no checkpoints: seconds to redo
    summary = {
        "study": case.study, "title": case.title, "case": source,
        "case_sha256": hashlib.sha256(raw).hexdigest(), "versions": versions(),
        "status": "running", "figures": {}, "timings": {},
    }

    def start(out):   # the run passed validation: its record goes first
        out.bytes("case.toml", raw)
        out.json("case_resolved.json", case.model_dump(mode="json"))
        out.json("summary.json", summary)

    out = ResultDir(out_dir, overwrite=overwrite or recompute, resume=before is not None and not recompute,
                    defer=True, on_open=start)
    try:
        return _run(case, out, summary)
    finally:
        out.close()


def _say_err(msg: str) -> None:
    from .errors import printable

    print(f"femsim: {printable(msg)}", file=sys.stderr)


def _run(case, out, summary) -> tuple[int, dict]:
    from .results import StudySink
    from .studies import runner

    t0 = time.perf_counter()
    code = 0
    try:
        result = runner(case.study)(case, StudySink(out))
        for name, snapshot in result.fields.items():   # (a Ctrl-C here: as during the study)
            out.fields(name, snapshot)
    except CaseError:
        out.discard()  # a user error found while setting up: leave nothing behind
        raise
    except ConvergenceError as e:  # nothing converged: say where and keep the record
        summary.update(status="failed", message=str(e), failed_bias=e.bias, residual_history=e.history)
        code, result = EXIT_SOLVER, None
    except KeyboardInterrupt:
        if not out.opened:
            out.discard()
            _say_err("interrupted before the first solve; nothing was written")
            return EXIT_INTERRUPT, summary
        summary.update(status="interrupted")
        _write_summary(out, summary)
        _say_err(f"interrupted; results so far are in {out.display}")
        return EXIT_INTERRUPT, summary
    except OSError as e:
        return _write_failed(out, summary, e), summary
    except FemsimError as e:
        summary.update(status="failed", message=str(e))
        code, result = EXIT_SOLVER, None
    except Exception as e:  # a bug: record it beside the partial results, then show the traceback
        summary.update(status="crashed", message=f"{type(e).__name__}: {e}")
        if out.opened:
            _write_summary(out, summary)
        raise
    summary["timings"]["study_s"] = time.perf_counter() - t0
    try:
        if result is not None:
            with _sigint_deferred():   # a Ctrl-C now still leaves every curve on disk
                for stem, ds in result.datasets.items():
                    out.curves(stem, ds)
                summary.update(status=result.status, figures=result.figures)
                if result.message:
                    summary["message"] = result.message
                summary["files"] = sorted(set(out.files) | {"summary.json"})
                _write_summary(out, summary)
            code = {"failed": EXIT_SOLVER, "interrupted": EXIT_INTERRUPT}.get(result.status, 0)
            if case.outputs.plots:
                t1 = time.perf_counter()
                summary["plots"] = _postprocess(case, out, result, summary)
                summary["timings"]["postprocess_s"] = time.perf_counter() - t1
        summary["files"] = sorted(set(out.files) | {"summary.json"})
        _write_summary(out, summary)
        _report(out, summary)
    except KeyboardInterrupt:   # the curves are on disk: say where the run stopped
        done = "the curves are written" if result is not None else "the record is written"
        summary.update(status="interrupted", message=f"interrupted during the plots or the report; {done} "
                                                     "(--resume draws the plots)")
        summary["files"] = sorted(set(out.files) | {"summary.json"})
        _write_summary(out, summary)
        code = EXIT_INTERRUPT
    except OSError as e:
        return _write_failed(out, summary, e), summary
    except Exception as e:   # a bug in the plots or the report: the record says so, then the traceback
        summary.update(status="crashed", message=f"{type(e).__name__}: {e} (after the curves were written)")
        _write_summary(out, summary)
        raise
    if code:
        what = "interrupted" if code == EXIT_INTERRUPT else "error"
        _say_err(f"{what}: {summary.get('message', 'the run failed')}; results so far are in {out.display}")
    return code, summary


def _write_summary(out, summary) -> None:
    with _sigint_deferred():
        out.json("summary.json", summary)


def _write_failed(out, summary, e: OSError) -> int:
    """A write failed (a full disk, a directory made read-only): exit 1 naming what was
    kept; an OSError that is not about the results directory is a bug and is raised."""
    from .errors import printable

    name = str(getattr(e, "filename", "") or "")
    if not name or not (out.opened and Path(name).resolve().is_relative_to(out.path.resolve())):
        if not out.opened:   # nothing of this run on disk
            out.discard()
        raise e
    kept = out.kept()
    msg = (f"could not write {printable(Path(name).name)} in {out.display}: {e.strerror}; "
           f"kept: {', '.join(kept) if kept else 'nothing'}")
    summary.update(status="failed", message=msg)
    try:
        out.json("summary.json", summary)
    except OSError:
        msg += " (summary.json could not be updated)"
    _say_err(f"error: {msg}")
    return EXIT_SOLVER


@contextmanager
def _sigint_deferred():
    """Hold a Ctrl-C until the block (a few file writes) is done, then raise it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got = []
    try:
        previous = signal.signal(signal.SIGINT, lambda *a: got.append(True))
    except ValueError:   # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if got and callable(previous):
        previous(signal.SIGINT, None)   # Python's default handler raises KeyboardInterrupt


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


def _postprocess(case, out, result, summary) -> dict:
    """The plots `PLOTS` declares for the study; returns plot name -> written files (relative)."""
    formats = tuple(case.outputs.formats)
    curves = result.datasets.get("curves")
    if curves is not None and "point" in curves.dims and curves.sizes["point"] < 2:
        why = (f"the curve has {curves.sizes['point']} converged point(s); its plots need at least 2 "
               "(derivatives, lines)")
        summary["plots_skipped"] = why
        progress.say(f"femsim: plots skipped: {why}")
        return {}
    written = {}
    for draw in PLOTS[case.study]:
        written.update(draw(case, out, result, formats))
    return {name: [str(Path(f).relative_to(out.path)) for f in files] for name, files in written.items()}


def _curve_plots(case, out, result, formats) -> dict:
    """The curve datasets (I-V, R-P, T-P, families, time traces), with measured overlays."""
    from femsim.postprocess import plots

    return plots.make_plots(result.datasets, out.path / "plots", P_c=result.figures.get("thresholds"),
                            step_fit=result.figures.get("step_response"), measured=_measured_overlays(case),
                            formats=formats)


def _rf_plots(case, out, result, formats) -> dict:
    from femsim.postprocess import plots

    return plots.make_rf_plots(result.datasets, out.path / "plots", formats=formats)


def _has_fields(out) -> bool:
    return any((out.path / "fields").glob("*.vtu"))


def _sweep_fields(case, out, result, formats) -> dict:
    """The bias sweep's field files as one ParaView collection; the last state in 3D."""
    if not _has_fields(out):
        return {}
    from femsim.postprocess import pvd, views

    pvd_file = pvd.collect_fields(out.path, result.datasets["curves"])
    out.files.append(str(pvd_file.relative_to(out.path)))
    last = views.last_field_file(out.path)
    return {"temperature_3d": [views.surface(last, "T", out.path / "plots" / "temperature_3d.png").path]}


def _time_fields(case, out, result, formats) -> dict:
    """The saved states of a transient run as a time series ParaView can step through."""
    shots = result.figures.get("fields") or []
    if shots and _has_fields(out):
        from femsim.postprocess import pvd

        pvd_file = pvd.collect_time_fields(out.path, shots)
        out.files.append(str(pvd_file.relative_to(out.path)))
    return {}


def _hottest_field(case, out, result, formats) -> dict:
    """In 3D, the hot spot itself if one formed, else the hottest saved state."""
    shots = result.figures.get("fields") or []
    if not _has_fields(out):
        return {}
    from femsim.postprocess import views

    hot = [f["file"] for f in shots if str(f.get("state", "")).startswith("hot spot")]
    pick = hot[0] if hot else (max(shots, key=lambda f: f.get("T_max_K", float("-inf")))["file"] if shots else None)
    if not pick:
        return {}
    return {"temperature_3d": [views.surface(out.path / pick, "T", out.path / "plots" / "temperature_3d.png").path]}


#: study kind (femsim.studies.STUDIES) -> what postprocess draws of its result, in this order;
#: each takes (case, out, result, formats) and returns plot name -> written files
PLOTS = {
    "lumped": (_curve_plots,),
    "fem": (_curve_plots, _sweep_fields),
    "rf": (_rf_plots,),
    "transient": (_curve_plots, _time_fields, _hottest_field),
    "hotspot": (_curve_plots, _hottest_field),
}


def _report(out, summary) -> None:
    try:
        from femsim.postprocess.report import terminal_summary, write_report
    except ImportError:  # postprocess not built yet for this study kind
        progress.say(f"results written to {out.display}")
        return
    write_report(out.path, summary, summary.get("plots", {}))
    progress.say(terminal_summary(summary))   # (say() escapes control characters)
    progress.say(f"results written to {out.display}")


