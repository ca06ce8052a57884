"""The `femsim` command: check, run, sweep, view, explain, schema.

This is the application layer: it composes the stages (case -> study -> results ->
postprocess) and is the one module of femsim that calls postprocess. User errors exit
with code 2 and one line, no traceback; a solver failure exits 1 after writing every
result obtained so far.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import progress
from .version import __version__
from .errors import CaseError, FemsimError
from .runner import EXIT_SOLVER, EXIT_USER

def _fail(msg: str, code: int = EXIT_USER) -> int:
    from .errors import printable

    print(f"femsim: error: {printable(msg)}", file=sys.stderr)   # no terminal escapes from a case file
    return code


def cmd_check(args) -> int:
    """Validate a case and build its study up to the first solve (the set-up `run` does:
    mesh, materials over the study's temperatures, names), without solving."""
    from .case import load_case
    from .meshsize import report
    from .studies import prepare

    case = load_case(args.case)
    setup = prepare(case)
    print(f"{args.case}: valid {case.study} case (schema version {case.schema_version})")
    for line in report(case):   # mesh size, memory and time per point, before any solve
        print(line)
    if setup is not None:
        md = setup.md
        print(f"mesh built: {md.mesh.nvertices} nodes, {md.mesh.nelements} elements")
        for w in setup.warnings:
            print(f"femsim: warning: {w}")
    return 0


def cmd_run(args) -> int:
    from .case import load_case
    from .runner import run_case

    case_path = Path(args.case)
    case = load_case(case_path)
    out_dir = Path(args.out) if args.out else Path("results") / case_path.stem
    if args.converge:
        from .convergence import run_converge

        return run_converge(case, case_path.read_bytes(), str(case_path), out_dir, n_levels=args.converge,
                            overwrite=args.overwrite)
    code, _ = run_case(case, case_path.read_bytes(), str(case_path), out_dir, overwrite=args.overwrite,
                       resume=args.resume)
    return code


def cmd_sweep(args) -> int:
    from .sweep import sweep

    result = sweep(args.case, args.param, args.out, workers=args.workers, scheduler=args.scheduler,
                   overwrite=args.overwrite)
    ds = result.dataset
    if ds is not None and result.status != "interrupted":
        progress.say(f"sweep over {', '.join(d for d in ds.dims if d != 'point')}: {dict(ds.sizes)}")
    progress.say(f"sweep {result.status}: results in {result.out_dir}")
    return result.exit_code


def _positive_int(text: str) -> int:
    """argparse type of --workers: a whole number >= 1 (0 or -1 are not "all cores")."""
    try:
        n = int(text)
    except ValueError:
        n = None
    if n is None or n < 1:
        raise argparse.ArgumentTypeError(f"got {text!r}; expected a positive integer")
    return n


def cmd_cases(args) -> int:
    """List the bundled cases, or copy one (with its data and mesh files) to a folder."""
    from .bundled import bundled_cases, copy_case

    if args.action == "copy":
        if not args.name:
            return _fail("cases copy: which case? usage: femsim cases copy NAME [DEST] (names: femsim cases)")
        for path in copy_case(args.name, args.dest or "."):
            progress.say(f"written: {path}")
        return 0
    if args.name or args.dest:
        return _fail(f"cases: unknown action {args.action or args.name!r}; usage: femsim cases [copy NAME [DEST]]")
    cases = bundled_cases()
    width = max(len(c.name) for c in cases)
    for c in cases:
        print(f"{c.name:<{width}}  {c.description}")
    return 0


def cmd_schema(args) -> int:
    from .case.schema_reference import markdown

    print(markdown())
    return 0


def cmd_view(args) -> int:
    from femsim.postprocess.views import view

    field = "streamlines" if args.streamlines else args.field
    if field == "streamlines" and args.slice:
        return _fail("view --streamlines draws in 3D; it takes no --slice")
    if args.seed_boundary and field != "streamlines":
        return _fail("view --seed-boundary goes with --streamlines")
    view(args.target, field=field, slice=args.slice, png=args.png, source_boundary=args.seed_boundary)
    return 0


def cmd_explain(args) -> int:
    """Fit hA of the heating model to measured I-V curves and say what heating explains."""
    import json

    from .case.base import _table, read_csv_columns, read_table_csv
    from .explain import Curve, explain
    from .units import UnitError, to_si

    if len(args.T_bath) not in (1, len(args.iv)):
        raise CaseError("--T-bath", args.T_bath, f"one bath temperature, or one per I-V file ({len(args.iv)})")
    baths = []
    for t in args.T_bath:
        try:
            baths.append(to_si(t, "temperature"))
        except UnitError as e:
            raise CaseError("--T-bath", t, str(e)) from None
    baths = baths * len(args.iv) if len(baths) == 1 else baths
    curves = []
    for path, tb in zip(args.iv, baths):
        try:
            cols = read_csv_columns(Path(path), {"I": "current", "V": "voltage"})
        except ValueError as e:
            raise CaseError("iv", path, str(e)) from None
        curves.append(Curve(cols["I"], cols["V"], tb))
    try:
        T, R = read_table_csv(Path(args.R), "resistance")
        Rt = _table(T, R, "pchip", "error", f"R(T) {Path(args.R).name}")
    except ValueError as e:
        raise CaseError("--R", args.R, str(e)) from None
    noise = None
    if args.noise:
        try:
            noise = to_si(args.noise, "voltage")
        except UnitError as e:
            raise CaseError("--noise", args.noise, str(e)) from None
    if not 0 < args.delta < 1:
        raise CaseError("--delta", args.delta, "a relative departure between 0 and 1, e.g. 0.01")
    try:
        ex = explain(curves, Rt, delta=args.delta, n_sigma=args.n_sigma, noise=noise)
    except ValueError as e:   # e.g. no hA keeps the data inside R's table
        raise CaseError("iv", ", ".join(args.iv), f"an I-V the heating model can be fitted to ({e})") from None
    print(ex.text())
    if args.out:
        from femsim.postprocess.comparison_plots import explain_plot

        from .results import write_json

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "explain.json", ex.summary())
        explain_plot(ex, out / "explain", formats=("png", "pdf"))
        progress.say(f"written: {out / 'explain.json'}, {out / 'explain.png'}")
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
    r.add_argument("--resume", action="store_true",
                   help="continue an interrupted run of the same case in its results directory")
    r.add_argument("--converge", nargs="?", type=int, const=2, choices=(2, 3), default=None, metavar="LEVELS",
                   help="also run on finer meshes and report the discretisation error of the key figures: 2 "
                        "(default) levels 0, +1 with the element's order assumed; 3: levels -1, 0, +1 with the "
                        "order observed (convergence.json beside the results)")
    r.set_defaults(func=cmd_run)

    w = sub.add_parser("sweep", help="run a case for a range of parameter values, in parallel")
    w.add_argument("case")
    w.add_argument("--param", action="append", default=[], metavar="KEY=START:STOP:NUM",
                   help="swept key with units, e.g. T_bath=4.2K:100K:12 or geometry.width=10um,20um (repeat for a grid)")
    w.add_argument("--workers", type=_positive_int, default=None,
                   help="local worker processes, a positive integer (default: one per core)")
    w.add_argument("--scheduler", default=None, help="address of a Dask distributed scheduler (e.g. tcp://host:8786)")
    w.add_argument("--out", help="results directory (default: results/<case stem>_sweep/)")
    w.add_argument("--overwrite", action="store_true", help="replace an existing results directory")
    w.set_defaults(func=cmd_sweep)

    v = sub.add_parser("view", help="render a field of a results directory or a VTU file")
    v.add_argument("target")
    v.add_argument("--field", default="T", help="field to show (T, phi, J_abs, joule (also: q_joule), J (arrows), "
                                                "streamlines, region)")
    v.add_argument("--slice", default=None, help="a cut such as z=0.5um or x=0 (a length with its unit; 0 needs none)")
    v.add_argument("--png", default=None, help="write a PNG instead of opening a window")
    v.add_argument("--streamlines", action="store_true",
                   help="streamlines of the current density J coloured by |J| (log scale), seeded by the bias "
                        "contact (same as --field streamlines)")
    v.add_argument("--seed-boundary", default=None, metavar="NAME",
                   help="with --streamlines: seed on this named boundary of the file instead ('cells': in "
                        "random conducting cells)")
    v.set_defaults(func=cmd_view)

    e = sub.add_parser("explain", help="is this I-V feature a heating artefact? fit hA of the lumped heating "
                                       "model to measured I-V curves and R(T)")
    e.add_argument("iv", nargs="+", help="measured I-V CSV file(s), columns 'I [unit]' and 'V [unit]'")
    e.add_argument("--R", required=True, help="low-bias R(T) CSV file, columns 'T [K]' and 'R [unit]'")
    e.add_argument("--T-bath", dest="T_bath", nargs="+", required=True,
                   help="bath temperature(s) with unit, one for all files or one per file (e.g. 60K 90K)")
    e.add_argument("--delta", type=float, default=0.01, help="relative R departure defining P_c (default 0.01)")
    e.add_argument("--n-sigma", dest="n_sigma", type=float, default=4.0,
                   help="significance for features and residuals (default 4)")
    e.add_argument("--noise", default=None, help="rms noise of V with unit (default: estimated from the data)")
    e.add_argument("--out", default=None, help="directory for explain.json and explain.png")
    e.set_defaults(func=cmd_explain)

    k = sub.add_parser("cases", help="list the bundled example cases; `cases copy NAME [DEST]` copies one "
                                     "(with the data and mesh files it needs) into DEST (default: here)")
    k.add_argument("action", nargs="?", choices=("list", "copy"), default="list")
    k.add_argument("name", nargs="?", help="case to copy (a name from the list, with or without .toml)")
    k.add_argument("dest", nargs="?", help="folder to copy into (made if missing; default: the current one)")
    k.set_defaults(func=cmd_cases)

    s = sub.add_parser("schema", help="print the case-file reference (markdown)")
    s.set_defaults(func=cmd_schema)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    progress.VERBOSITY = "quiet" if args.quiet else "verbose" if args.verbose else "normal"
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("femsim: interrupted", file=sys.stderr)
        return 130
    except CaseError as e:
        return _fail(str(e))
    except FemsimError as e:
        return _fail(str(e), EXIT_SOLVER)


if __name__ == "__main__":
    sys.exit(main())
