"""The `femsim` command: check, run, view, schema.

This is the application layer: it composes the stages (case -> study -> results ->
postprocess) and is the one module of femsim that calls postprocess. User errors exit
with code 2 and one line, no traceback; a solver failure exits 1 after writing every
result obtained so far.
"""

from __future__ import annotations

import argparse
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


def _fail(msg: str, code: int = EXIT_USER) -> int:
    print(f"femsim: error: {msg}", file=sys.stderr)
    return code


def cmd_check(args) -> int:
    from .case import load_case

    case = load_case(args.case)
    print(f"{args.case}: valid {case.study} case (schema version {case.schema_version})")
    return 0


def cmd_run(args) -> int:
    from .case import load_case
    from .results import ResultDir
    from .studies import runner

    case_path = Path(args.case)
    case = load_case(case_path)
    out_dir = Path(args.out) if args.out else Path("results") / case_path.stem
    out = ResultDir(out_dir, overwrite=args.overwrite)
    raw = case_path.read_bytes()
    (out.file("case.toml")).write_bytes(raw)
    out.json("case_resolved.json", case.model_dump(mode="json"))
    summary = {
        "study": case.study, "title": case.title, "case": str(case_path),
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
        return EXIT_INTERRUPT
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
            code = EXIT_SOLVER if result.status == "failed" else 0
        t1 = time.perf_counter()
        plots = _postprocess(case, out, result) if case.outputs.plots else {}
        summary["timings"]["postprocess_s"] = time.perf_counter() - t1
        summary["plots"] = plots
    summary["files"] = sorted(set(out.files) | {"summary.json"})
    out.json("summary.json", summary)
    _report(out, summary)
    if code:
        print(f"femsim: error: {summary.get('message', 'the run failed')}; results so far are in {out.path}",
              file=sys.stderr)
    return code


def _postprocess(case, out, result) -> dict:
    """Plots of the study's datasets; returns plot name -> written files (relative)."""
    from postprocess import plots

    formats = tuple(case.outputs.formats)
    if case.study == "rf":
        written = plots.make_rf_plots(result.datasets, out.path / "plots", formats=formats)
    else:
        written = plots.make_plots(result.datasets, out.path / "plots", P_c=result.figures.get("thresholds"),
                                   formats=formats)
    if case.study == "fem" and any((out.path / "fields").glob("*.vtu")):
        from postprocess import collection, views

        pvd = collection.collect_fields(out.path, result.datasets["curves"])
        out.files.append(str(pvd.relative_to(out.path)))
        last = views.last_field_file(out.path)
        written["temperature_3d"] = [views.surface(last, "T", out.path / "plots" / "temperature_3d.png").path]
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


def cmd_schema(args) -> int:
    from .case.reference import markdown

    print(markdown())
    return 0


def cmd_view(args) -> int:
    from postprocess.views import view

    view(args.target, field=args.field, slice=args.slice, png=args.png)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="femsim", description="Electro-thermal and rf simulation of superconducting "
                                "micro-structures. Run `femsim run cases/<case>.toml`.")
    p.add_argument("--version", action="version", version=f"femsim {__version__}")
    verbosity = p.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    verbosity.add_argument("-v", "--verbose", action="store_true", help="print solver details")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check", help="validate a case file only")
    c.add_argument("case")
    c.set_defaults(func=cmd_check)

    r = sub.add_parser("run", help="run the study of a case file")
    r.add_argument("case")
    r.add_argument("--out", help="results directory (default: results/<case stem>/)")
    r.add_argument("--overwrite", action="store_true", help="replace an existing results directory")
    r.set_defaults(func=cmd_run)

    v = sub.add_parser("view", help="render a field of a results directory or a VTU file")
    v.add_argument("target")
    v.add_argument("--field", default="T", help="field to show (T, phi, J_abs, q_joule, region)")
    v.add_argument("--slice", default=None, help="a cut such as z=0.5um or x=0")
    v.add_argument("--png", default=None, help="write a PNG instead of opening a window")
    v.set_defaults(func=cmd_view)

    s = sub.add_parser("schema", help="print the case-file reference (markdown)")
    s.set_defaults(func=cmd_schema)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    progress.VERBOSITY = "quiet" if args.quiet else "verbose" if args.verbose else "normal"
    try:
        return args.func(args)
    except CaseError as e:
        return _fail(str(e))
    except FemsimError as e:
        return _fail(str(e), EXIT_SOLVER)
    except Exception as e:  # user-facing errors raised by the results directory
        from .results import ResultDirExists

        if isinstance(e, ResultDirExists):
            return _fail(str(e))
        raise


if __name__ == "__main__":
    sys.exit(main())
