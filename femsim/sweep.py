"""Parameter sweeps: one case run for each value of one or more case-file keys, in
parallel (local processes by default, a Dask distributed cluster when a scheduler address
is given), gathered into one labelled dataset.

A parameter is a dotted key path into the case file with a range or a list of values
with units: ``T_bath=4.2K:100K:12`` (12 values, linear), ``fem.thermal.cooling[0].h=1,10,100 W/(cm^2 K)``
or ``geometry.width=10um,20um,40um``. Shorthands: ``T_bath`` -> ``environment.T_bath``,
``hA`` -> ``lumped.hA``, ``h`` -> ``fem.thermal.cooling[0].h``. Several parameters make a
grid. Each member runs into ``DIR/<name>_<k>/`` like `femsim run`; the gathered curves go
to ``DIR/sweep.nc`` and ``DIR/sweep.csv`` with one dimension per parameter.

Members running at once share the cores: each caps its BLAS/OpenMP threads (OpenBLAS,
MKL/PARDISO) at its share (`blas_threads`, `thread_cap`), recorded in sweep.json. On Dask
the results directory must be on a filesystem every worker sees (`_check_shared`).
"""

from __future__ import annotations

import copy
import itertools
import re
import tomllib
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tomli_w
import xarray as xr

from . import progress
from .errors import CaseError
from .units import UNITS, UnitError, parse_quantity, ureg

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
    """A quantity of a --param value through the case files' guarded grammar (pint would
    evaluate "9**9**9 K")."""
    try:
        q = parse_quantity(text)
    except UnitError as e:
        raise CaseError(where, text, f"a number with a unit, e.g. '4.2 K' ({e})") from None
    if not np.isfinite(q.magnitude):
        raise CaseError(where, text, "a finite number with a unit, e.g. '4.2 K'")
    return q


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
        if not 1 <= num <= MAX_MEMBERS:
            raise CaseError("--param", rhs, f"NUM >= 1 and at most {MAX_MEMBERS} (members of one sweep)")
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


#: most members one sweep may have (each is a full run with its own results directory)
MAX_MEMBERS = 10_000
#: seconds to wait for a Dask scheduler to answer
SCHEDULER_TIMEOUT = 5
#: times a Dask member is resubmitted when its worker is lost
DASK_RETRIES = 2
#: seconds running members get to write what they have after an interrupt
INTERRUPT_GRACE = 10


def _cores() -> int:
    """Cores this process may run on (the affinity mask, e.g. a batch job's share)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def blas_threads(concurrent: int, cores: int | None = None) -> int:
    """BLAS/OpenMP threads each of ``concurrent`` members running at once on one machine
    may use: its cores shared out, at least one. Without a cap every member's MKL/OpenBLAS
    starts one thread per core, and N workers x M threads oversubscribe the machine (each
    PARDISO factorisation then runs slower than on one thread)."""
    return max(1, (cores or _cores()) // max(1, concurrent))


_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextmanager
def thread_cap(n: int | None):
    """Run the block with at most ``n`` BLAS/OpenMP threads per library (threadpoolctl);
    yields a callable returning {library: threads} of the libraries loaded by then. The
    solver libraries are imported first so that the cap reaches them (threadpoolctl limits
    the libraries loaded when it is entered); the environment variables cover those loaded
    later (PARDISO's OpenMP runtime starts with its first factorisation)."""
    import os

    from threadpoolctl import threadpool_info, threadpool_limits

    def report() -> dict:   # single-threaded builds (basix's OpenBLAS: layer "disabled") have nothing to cap
        return {f"{i['internal_api']}:{Path(i['filepath']).name}": i["num_threads"] for i in threadpool_info()
                if i.get("threading_layer") != "disabled"}

    if n is None:
        yield report
        return
    from .fem import linalg  # noqa: F401  (loads OpenBLAS through scipy and MKL through pypardiso)

    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: str(n) for k in _THREAD_VARS})
    try:
        with threadpool_limits(limits=n):
            yield report
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_member(text: str, source: str, base_dir: str, out_dir: str, threads: int | None = None) -> dict:
    """Worker: validate and run one member with at most ``threads`` BLAS/OpenMP threads.
    Never raises for a member's own failure: the outcome travels back as a dict (exit
    code, status, curves file or None, message, the threads of each BLAS/OpenMP library at
    the end of the run), so one failing member cannot break the pool or the gathering of
    the others."""
    with thread_cap(threads) as report:
        out = _run_capped(text, source, base_dir, out_dir)
        out["blas_threads"] = report()
    return out


def _run_capped(text: str, source: str, base_dir: str, out_dir: str) -> dict:
    from . import progress as prog
    from .case import parse_case
    from .errors import FemsimError
    from .runner import EXIT_SOLVER, EXIT_USER, run_case

    global _RUNNING
    if _STOP:   # queued when the sweep was interrupted
        return _not_run()
    prog.VERBOSITY = "quiet"
    _RUNNING = True
    try:
        case = parse_case(tomllib.loads(text), source, Path(base_dir))
        code, summary = run_case(case, text.encode(), source, out_dir)
    except CaseError as e:   # found while setting up (mesh, names, a singular problem)
        return {"exit_code": EXIT_USER, "status": "invalid", "curves": None, "message": str(e)}
    except FemsimError as e:
        return {"exit_code": EXIT_SOLVER, "status": "failed", "curves": None, "message": str(e)}
    except KeyboardInterrupt:   # a member whose results were complete before the interrupt stays complete
        done = _finished(out_dir)
        if done is not None:
            return done
        return {"exit_code": 130, "status": "interrupted", "curves": None, "message": "interrupted"}
    except Exception as e:  # a bug: recorded with the member, the others go on
        return {"exit_code": EXIT_SOLVER, "status": "crashed", "curves": None,
                "message": f"{type(e).__name__}: {e}"}
    finally:
        _RUNNING = False
    nc = Path(out_dir) / "curves.nc"
    return {"exit_code": code, "status": summary.get("status"), "curves": str(nc) if nc.exists() else None,
            "message": summary.get("message")}


def _finished(out_dir) -> dict | None:
    """The outcome of a member whose summary.json says complete (an interrupt that came
    while it wrote its report), else None."""
    import json

    try:
        summary = json.loads((Path(out_dir) / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    nc = Path(out_dir) / "curves.nc"
    if summary.get("status") != "complete" or not nc.exists():
        return None
    return {"exit_code": 0, "status": "complete", "curves": str(nc), "message": None}


def _run_member_args(args) -> dict:
    return _run_member(*args)


def _not_run(status: str = "not run") -> dict:
    return {"exit_code": None, "status": status, "curves": None, "message": None}


def check_workers(workers, scheduler=None) -> int | None:
    """``--workers``: a positive integer (None: every core locally, the cluster's workers on Dask)."""
    import os

    if workers is None:
        return None if scheduler else (os.cpu_count() or 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise CaseError("--workers", workers, "a positive integer (the number of local worker processes; "
                        "omit it for one per core)")
    return workers


def prepare(case_path, specs: list[str]):
    """Read the case with the safe reader, parse the parameters and validate every member
    before anything runs. Returns (params, jobs, base_dir); jobs are (index, text, source).

    Policy: a grid with invalid members is refused as a whole, before anything runs or is
    written, with every invalid member counted and the first one's error shown: fixing
    the grid is cheaper than a half-run sweep with holes."""
    from .case import parse_case, read_case

    case_path = Path(case_path)
    _, data = read_case(case_path)
    params = [parse_parameter(s) for s in specs]
    if not params:
        raise CaseError("--param", CaseError.MISSING, "at least one swept parameter (KEY=START:STOP:NUM)")
    total = int(np.prod([len(p.texts) for p in params], dtype=float))
    if total > MAX_MEMBERS:
        raise CaseError("--param", " ".join(specs), f"a grid of at most {MAX_MEMBERS} members (this one has {total})")
    base = case_path.parent.resolve()
    jobs, invalid = [], []
    for idx, d in members(data, params):
        text = tomli_w.dumps(d)
        tag = "_".join(f"{p.name}={p.texts[i].replace(' ', '')}" for p, i in zip(params, idx))
        source = f"{case_path} [{tag}]"
        try:
            parse_case(tomllib.loads(text), source, base)
        except CaseError as e:
            invalid.append(e)
        jobs.append((idx, text, source))
    if invalid:
        first = invalid[0]
        more = f" ({len(invalid)} of {len(jobs)} members are invalid; nothing was run)" if len(jobs) > 1 else ""
        raise CaseError(first.path, first.value, first.expected + more, first.source)
    return params, jobs, base


def run_sweep(case_path, specs: list[str], out_dir=None, workers: int | None = None, scheduler: str | None = None,
              overwrite: bool = False) -> xr.Dataset | None:
    """Run the sweep and return the gathered curves (dims: parameters..., point), with the
    members' status and error message as variables on the parameter grid; None if no
    member produced curves. See `sweep` for the outcome with exit code."""
    return sweep(case_path, specs, out_dir, workers, scheduler, overwrite).dataset


@dataclass
class SweepOutcome:
    dataset: xr.Dataset | None
    members: list[dict]
    status: str          # complete, partial (some members failed), failed (all), interrupted
    exit_code: int
    out_dir: Path


def sweep(case_path, specs: list[str], out_dir=None, workers: int | None = None, scheduler: str | None = None,
          overwrite: bool = False) -> SweepOutcome:
    """Validate every member, run them (local processes or a Dask cluster), gather.

    A member that fails (a case error found while meshing, a solver failure, a crash) is
    recorded in sweep.json and in the dataset (``status``, ``message``) and the others
    finish. Ctrl-C (SIGINT) stops the pool: running members are interrupted and write
    what they have, queued ones are not started, and the gathered sweep is written.
    """
    from .results import ResultDir

    case_path = Path(case_path)
    workers = check_workers(workers, scheduler)
    params, jobs, base = prepare(case_path, specs)
    client = _dask_client(scheduler) if scheduler else None   # before anything is written
    try:
        out = ResultDir(Path(out_dir or Path("results") / f"{case_path.stem}_sweep").absolute(), overwrite=overwrite)
        if client is not None:
            try:
                _check_shared(client, out.path)
            except CaseError:
                out.discard()
                raise
        args = [(text, src, str(base), str(out.path / f"member_{k:03d}")) for k, (_, text, src) in enumerate(jobs)]
        if client is not None:
            threads = _dask_threads(client)
        elif workers == 1 or len(args) == 1:
            threads = None   # one member at a time: the libraries' own default (every core)
        else:
            threads = blas_threads(min(workers, len(args)))
        args = [a + (threads,) for a in args]
        results: dict[int, dict] = {}
        interrupted = False
        try:
            if client is not None:
                _run_dask(client, args, results)
            elif workers == 1 or len(args) == 1:
                for k, a in enumerate(progress.bar(args, desc="sweep", unit="run")):
                    results[k] = _run_member(*a)
                    if results[k]["status"] == "interrupted":
                        raise KeyboardInterrupt
            else:
                _run_pool(args, min(workers, len(args)), results)
        except KeyboardInterrupt:
            interrupted = True
    finally:
        if client is not None:
            client.close()
    for k in range(len(jobs)):
        results.setdefault(k, _not_run())
    return _write(out, case_path, params, jobs, results, workers, scheduler, interrupted)


def _run_pool(args, workers: int, results: dict) -> None:
    """Local process pool; on KeyboardInterrupt, stop it promptly and re-raise."""
    import os
    import signal
    from concurrent.futures import wait

    # workers ignore SIGINT from the terminal's process group: the parent decides
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)
    futs = {}
    try:
        futs = {pool.submit(_run_member, *a): k for k, a in enumerate(args)}
        for f in progress.bar(as_completed(futs), total=len(futs), desc="sweep", unit="run"):
            results[futs[f]] = _outcome(f)
    except KeyboardInterrupt:
        for f in futs:
            f.cancel()
        procs = list(getattr(pool, "_processes", {}).values())
        running = [k for f, k in futs.items() if f.running()]
        for p in procs:   # interrupt the running members: they write what they have
            try:
                os.kill(p.pid, signal.SIGUSR1)
            except (OSError, ProcessLookupError):
                pass
        done, _ = wait([f for f in futs if not f.cancelled()], timeout=INTERRUPT_GRACE)
        for f in done:
            results[futs[f]] = _outcome(f)
        for k in running:
            results.setdefault(k, _not_run("interrupted"))
        for p in procs:
            if p.is_alive():
                p.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _outcome(f) -> dict:
    try:
        return f.result()
    except Exception as e:  # the worker process died (killed, out of memory)
        return {"exit_code": 1, "status": "crashed", "curves": None, "message": f"{type(e).__name__}: {e}"}


#: worker-process state for an interrupt: stop requested / a member is running
_STOP = False
_RUNNING = False


def _raise_interrupt(signum, frame):
    """SIGUSR1 in a pool worker: interrupt the running member (which then writes what it
    has) and start no other; an idle worker just remembers it."""
    global _STOP
    _STOP = True
    if _RUNNING:
        raise KeyboardInterrupt


def _ignore_sigint() -> None:
    """Pool worker initialiser: Ctrl-C goes to the parent only (which then stops the
    workers with SIGUSR1, raised as KeyboardInterrupt inside the running member)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, _raise_interrupt)


def _dask_client(scheduler: str):
    """A connected Dask client, or a one-line CaseError within SCHEDULER_TIMEOUT seconds."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise CaseError("--scheduler", scheduler, "dask.distributed installed (pip install 'femsim[dask]')") \
            from None
    import logging

    for name in ("distributed", "distributed.client", "distributed.comm"):
        logging.getLogger(name).setLevel(logging.CRITICAL)   # its own retries print tracebacks
    try:
        return Client(scheduler, timeout=f"{SCHEDULER_TIMEOUT}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        reason = " ".join(str(e).split())[:160] or type(e).__name__
        raise CaseError("--scheduler", scheduler, f"the address of a reachable Dask scheduler, e.g. "
                        f"tcp://host:8786 (no connection within {SCHEDULER_TIMEOUT} s: {reason})") from None


def _can_see(path: str, token: str) -> bool:
    try:
        return (Path(path) / ".femsim-shared-check").read_text() == token
    except OSError:
        return False


def _check_shared(client, out: Path) -> None:
    """Every Dask worker must see the results directory (a shared filesystem): each
    member writes its own files there and the client gathers them."""
    import secrets

    token = secrets.token_hex(8)
    probe = out / ".femsim-shared-check"
    probe.write_text(token)
    try:
        seen = client.run(_can_see, str(out), token)
    finally:
        probe.unlink(missing_ok=True)
    if not seen:
        raise CaseError("--scheduler", client.scheduler.address, "a cluster with at least one worker")
    blind = sorted(w for w, ok in seen.items() if not ok)
    if blind:
        raise CaseError("--out", str(out), f"a directory every Dask worker can see (a shared filesystem); "
                        f"{len(blind)} of {len(seen)} workers cannot, e.g. {blind[0]}")


def _host_cores() -> tuple[str, int]:
    import socket

    return socket.gethostname(), _cores()


def _dask_threads(client) -> int:
    """BLAS threads per task on a Dask cluster: on each host its cores over the task slots
    (worker threads) of all workers there; the smallest over the hosts (one value for all
    members, which may land anywhere)."""
    info = client.scheduler_info().get("workers", {})
    hosts = client.run(_host_cores)
    slots: dict[str, int] = {}
    cores: dict[str, int] = {}
    for addr, w in info.items():
        host, n = hosts.get(addr, (addr, 1))
        slots[host] = slots.get(host, 0) + int(w.get("nthreads", 1))
        cores[host] = n
    return min((blas_threads(slots[h], cores[h]) for h in slots), default=1)


def _run_dask(client, args, results: dict) -> None:
    from dask.distributed import as_completed as dask_completed

    futures = client.map(_run_member_args, args, pure=False, retries=DASK_RETRIES)
    index = {f.key: k for k, f in enumerate(futures)}
    try:
        for f in progress.bar(dask_completed(futures, loop=client.loop), total=len(futures), desc="sweep", unit="run"):
            results[index[f.key]] = _outcome(f)
    except KeyboardInterrupt:
        client.cancel(futures)
        raise


def _write(out, case_path, params, jobs, results, workers, scheduler, interrupted) -> SweepOutcome:
    from .results import read_dataset, write_csv, write_json, write_netcdf
    from .runner import EXIT_INTERRUPT, EXIT_SOLVER

    members_ = [{"index": list(jobs[k][0]), "dir": f"member_{k:03d}", **{key: results[k].get(key) for key in
                 ("exit_code", "status", "message", "blas_threads")}} for k in range(len(jobs))]
    ok = [m for m in members_ if m["status"] == "complete"]
    if interrupted:
        status, code = "interrupted", EXIT_INTERRUPT
    elif len(ok) == len(members_):
        status, code = "complete", 0
    else:
        status, code = ("partial" if ok else "failed"), EXIT_SOLVER
    gathered = _gather(params, jobs, results, read_dataset)
    files = ["sweep.json"]
    if gathered is not None:
        write_netcdf(out.file("sweep.nc"), gathered)
        write_csv(out.file("sweep.csv"), gathered.drop_vars(["status", "message"], errors="ignore"))
        files += ["sweep.nc", "sweep.csv"]
    write_json(out.file("sweep.json"), {
        "case": str(case_path), "status": status,
        "parameters": [{"path": p.path, "values": p.texts, "si": p.values} for p in params],
        "members": members_, "workers": workers, "scheduler": scheduler, "files": files})
    bad = [m for m in members_ if m["status"] not in ("complete",)]
    if bad and not interrupted:
        first = bad[0]
        progress.say(f"femsim: {len(bad)} of {len(members_)} sweep members did not complete; first: "
                     f"{first['dir']} {first['status']}: {first['message']}", "quiet")
    if interrupted:
        progress.say(f"femsim: sweep interrupted; {len(ok)} of {len(members_)} members complete, gathered in "
                     f"{out.path}", "quiet")
    return SweepOutcome(gathered, members_, status, code, out.path)


def _gather(params, jobs, results, read_dataset) -> xr.Dataset:
    """Stack members' curves on the grid of parameter dimensions (NaN-padded along point;
    a member's own size-1 family dimension, e.g. its single T_bath, is dropped)."""
    pieces = {}
    for k, (idx, _, _) in enumerate(jobs):
        path = results[k]["curves"]
        if path is None:
            continue
        ds = read_dataset(path)
        ds = ds[[v for v in ds.data_vars if "point" in ds[v].dims]]
        ds = ds.squeeze([d for d in ds.dims if d != "point" and ds.sizes[d] == 1], drop=True)
        ds = ds.drop_vars([c for c in ds.coords if c not in ds.dims])
        ds.attrs = {}
        pieces[idx] = ds.assign_coords(point=np.arange(ds.sizes["point"]))
    names = [p.name for p in params]
    shape = tuple(len(p.texts) for p in params)
    status = np.full(shape, "", dtype=object)
    message = np.full(shape, "", dtype=object)
    for k, (idx, _, _) in enumerate(jobs):
        status[idx] = str(results[k]["status"] or "")
        message[idx] = str(results[k]["message"] or "")
    coords = {p.name: (p.name, np.array(p.values), {"units": _si_symbol(p), "long_name": p.path}) for p in params}
    book = xr.Dataset({"status": (names, status.astype(str), {"long_name": "member status"}),
                       "message": (names, message.astype(str), {"long_name": "member error or note"})},
                      coords=coords)
    if not pieces:
        return None
    n = max(p.sizes["point"] for p in pieces.values())
    template = next(iter(pieces.values())).reindex(point=np.arange(n)) * np.nan

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
    return xr.merge([out.transpose(*names, ..., "point"), book], combine_attrs="override")


def _si_symbol(p: Parameter) -> str:
    """The displayed SI symbol of the parameter's dimension ("W/K", not "kg m^2/(K s^3)")."""
    if not p.unit:
        return "1"
    q = ureg.Quantity(1, p.unit)
    for name, (base, shown, _) in UNITS.items():
        if q.dimensionality == ureg.Quantity(1, base).dimensionality:
            return shown
    return f"{q.to_base_units().units:~}"
