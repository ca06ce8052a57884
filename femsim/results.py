"""Results on disk: curves as CSV (units in the headers) and netCDF, JSON summaries,
written atomically into one results directory per run.

Curve datasets are `xarray.Dataset`s whose variables have short names (I, V, dIdV, ...)
and attrs ``units`` (SI symbol) and ``long_name``; `femsim.variables` is the registry of
the names femsim uses. netCDF files follow CF-1.10 (`femsim.cf`: UDUNITS unit strings,
integer counters, no wall-clock times in the data); `read_dataset` gives back the
displayed units. A family of curves has a leading family dimension ("T_bath", "dRc0",
"B", ...) before "point". CSV files are long tables with one column per variable and
coordinate, headed "name [unit]" ("dI/dV [S]").
"""

from __future__ import annotations

import atexit
import datetime
import json
import os
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import xarray as xr

from . import cf, variables
from .cf import jsonable
from .errors import CaseError, printable
from .variables import VARIABLES  # noqa: F401  (the registry, where results readers look for it)

def annotate(ds: xr.Dataset) -> xr.Dataset:
    """Fill in ``units``/``long_name``/``label`` attrs of known variables and coordinates
    (from the registry `femsim.variables`)."""
    for name in list(ds.data_vars) + list(ds.coords):
        var = variables.get(str(name))
        if var is not None:
            ds[name].attrs.setdefault("units", var.units)
            ds[name].attrs.setdefault("long_name", var.long_name)
            ds[name].attrs.setdefault("label", var.shown)
    return ds


def column(name: str, da: xr.DataArray) -> str:
    """CSV header / axis label of a variable: "dI/dV [S]"."""
    return f"{da.attrs.get('label', name)} [{da.attrs.get('units', '1')}]"


_UMASK: int | None = None


def _umask() -> int:
    global _UMASK
    if _UMASK is None:   # read once: setting it back and forth is not thread-safe
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return _UMASK


def _file_mode() -> int:
    """0o666 less the process umask: what ``open()`` would give a new file (mkstemp's
    temporary files are 0600, which would hide results from colleagues)."""
    return 0o666 & ~_umask()


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside ``path`` (same suffix, so writers that pick the format
    by extension work); rename it onto ``path`` only on success, so a reader never sees a
    half-written file. The file gets the mode a plain ``open()`` would give it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(path: Path, data) -> Path:
    return write_text(path, json.dumps(jsonable(data), indent=2, sort_keys=False) + "\n")


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
    """A CF-1.10 netCDF file of ``ds`` (`femsim.cf.to_cf`), written atomically."""
    clean = cf.to_cf(annotate(ds))
    with atomic_path(path) as tmp:
        clean.to_netcdf(tmp, engine="netcdf4")
    return Path(path)


def read_dataset(path: Path) -> xr.Dataset:
    """Read a netCDF curve file written by `write_netcdf` (loaded into memory), with the
    units as femsim displays them ("Ohm", not the file's "ohm")."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return cf.from_cf(ds.load())


MARKER = ".femsim-results"
"""File that marks a directory as a femsim results directory: ``--overwrite`` replaces
only directories holding it (never a folder the user made)."""


class ResultDirExists(CaseError):
    """--out names a directory that holds an earlier run (or files femsim did not make)."""

    def __init__(self, path: str, expected: str):
        super().__init__("--out", path, expected)


class ResultDirBusy(CaseError):
    """Another femsim run holds the lock of the results directory."""

    def __init__(self, path: str, other: str):
        super().__init__("--out", path, f"a results directory no other run is writing (in use by {other}; "
                         "wait for it to finish or choose another --out)")


def _out_error(path, expected: str) -> CaseError:
    return CaseError("--out", printable(path), expected)


class ResultDir:
    """One run's results directory.

    Marked as femsim's by a `MARKER` file. A new run never mixes with an earlier one:
    a directory holding files is refused unless ``overwrite`` (only a marked directory:
    a folder the user made is never deleted) or ``resume`` (the same case continued; the
    caller checks the case's hash). One run at a time per directory: a lock file beside
    it (``.<name>.femsim-lock``, held with flock, so a crashed run's lock is taken over)
    names the run holding it.

    With ``defer``, nothing is written until the first file is (or `open` is called):
    a run that fails validation leaves an earlier run's results untouched. An earlier run
    being overwritten is replaced only then, by building the new directory beside it and
    swapping the two. Files are written atomically with the umask's mode. `discard()`
    removes what this run created when nothing valid was written (a user error);
    `close()` releases the lock (also at exit).
    """

    def __init__(self, path, overwrite: bool = False, resume: bool = False, defer: bool = False,
                 on_open=None):
        self.display = printable(path)            # the path as the user wrote it, for messages
        self.final = Path(os.path.abspath(path))
        self.resume, self.overwrite = resume, overwrite
        self.files: list[str] = []
        self._path = self.final
        self._opened = self._opening = self._created = False
        self._replace = False
        self._on_open = on_open
        self._made_parents: list[Path] = []
        self._lock_fd = None
        self._check_location()
        try:   # (before taking the lock: a refused directory gets no lock file)
            self._check_contents()
        except CaseError:
            self._refuse_if_busy()   # "in use by pid ..." says more than "holds a run"
            raise
        self._lock()
        try:
            self._check_contents()
            if not defer:
                self.open()
        except BaseException:
            self.close()
            raise

    @property
    def opened(self) -> bool:
        """Whether this run has started writing (its directory exists)."""
        return self._opened

    # -- where -------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        """Where files go now (a staging directory beside the final one until it is swapped in)."""
        return self._path

    def _check_location(self) -> None:
        p = self.final
        if p.exists() and not p.is_dir():
            raise _out_error(self.display, "a directory (this is an existing file)" if p.is_file() else
                             "a directory (this is a device or special file)")
        anc = p.parent
        while not anc.exists():
            anc = anc.parent
        if not anc.is_dir():
            raise _out_error(self.display, f"a path whose parents are directories ({printable(anc)} is a file)")
        target = p if p.exists() else anc
        if not os.access(target, os.W_OK | os.X_OK):
            raise _out_error(self.display, f"a directory you can write ({printable(target)} is read-only to you)")
        if p.exists() and self.overwrite and not os.access(p.parent, os.W_OK | os.X_OK):
            raise _out_error(self.display, f"with --overwrite, a directory whose parent you can write (the new run "
                             f"is built beside it; {printable(p.parent)} is read-only to you)")

    def _check_contents(self) -> None:
        p = self.final
        if not p.exists() or not any(f.name != self._lock_path().name for f in p.iterdir()):
            return
        ours = (p / MARKER).is_file()
        if self.resume:
            if not ours:
                raise _out_error(self.display, "a femsim results directory to resume (it has no "
                                 f"{MARKER} marker)")
            return
        if not ours:
            raise _out_error(self.display, "a new or empty directory: it holds files femsim did not write, "
                             "which --overwrite never deletes")
        if not self.overwrite:
            raise ResultDirExists(self.display, "a new or empty directory (it holds an earlier run: use "
                                  "--overwrite to replace it, or --resume to continue it)")
        if p == Path.cwd() or p in Path.cwd().parents:
            raise _out_error(self.display, "a directory other than the working directory or one of its parents "
                             "(--overwrite replaces the whole directory)")
        self._replace = True

    # -- lock --------------------------------------------------------------------------------
    def _lock_path(self) -> Path:
        """Beside the directory (it survives the swap of an --overwrite), or inside it when
        only the directory itself is writable."""
        parent = self.final.parent
        if self.final.is_dir() and parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
            return self.final / ".femsim-lock"
        return parent / f".{self.final.name}.femsim-lock"

    def _refuse_if_busy(self) -> None:
        import fcntl

        try:
            fd = os.open(self._lock_path(), os.O_RDONLY)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ResultDirBusy(self.display, _describe_lock(fd)) from None
        finally:
            os.close(fd)

    def _lock(self) -> None:
        import fcntl

        lock = self._lock_path()
        self._make_parents(lock.parent)
        for _ in range(10):
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT, _file_mode())
            except OSError as e:
                self._unmake_parents()
                raise _out_error(self.display, f"a directory femsim can write (its lock file "
                                 f"{printable(lock)}: {e.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                other = _describe_lock(fd)
                os.close(fd)
                self._unmake_parents()
                raise ResultDirBusy(self.display, other) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(lock).st_ino
            except FileNotFoundError:
                same = False
            if not same:   # released (unlinked) by its holder between our open and flock: again
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                     "started": _now()}).encode())
            self._lock_fd, self._lock_pid = fd, os.getpid()
            atexit.register(self.close)
            return
        raise _out_error(self.display, "a results directory whose lock can be taken (it keeps changing hands)")

    def _make_parents(self, d: Path) -> None:
        missing = []
        while not d.exists():
            missing.append(d)
            d = d.parent
        for m in reversed(missing):
            try:
                m.mkdir()
            except FileExistsError:
                continue
            except OSError as e:
                raise _out_error(self.display, f"a directory that can be created ({printable(m)}: "
                                 f"{e.strerror})") from None
            self._made_parents.append(m)

    def _unmake_parents(self) -> None:
        for m in reversed(self._made_parents):
            try:
                m.rmdir()
            except OSError:
                break
        self._made_parents = []

    def close(self) -> None:
        """Release the lock (a parent directory this run created and left empty goes too)."""
        if self._lock_fd is None:
            return
        if os.getpid() != self._lock_pid:   # a forked worker: the lock is its parent's
            return
        try:
            self._lock_path().unlink(missing_ok=True)
        except OSError:
            pass
        os.close(self._lock_fd)
        self._lock_fd = None
        atexit.unregister(self.close)
        if not self._opened:
            self._unmake_parents()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- make it real ------------------------------------------------------------------------
    def open(self) -> "ResultDir":
        """Create the directory (replacing an earlier run's if ``overwrite``): the run has
        passed validation. Idempotent. A directory that cannot be made or written (a full
        disk, a read-only file system) is a CaseError on --out, and leaves nothing behind."""
        if self._opened or self._opening:
            return self
        self._opening = True
        try:
            self._open()
        except OSError as e:
            raise _out_error(self.display, f"a directory femsim can write ({printable(e.strerror)}"
                             f"{': ' + printable(e.filename) if e.filename else ''})") from None
        finally:
            self._opening = False
        self._opened = True
        return self

    def _open(self) -> None:
        marker = {"femsim": _version(), "pid": os.getpid(), "host": socket.gethostname(), "created": _now()}
        if self._replace:
            staging = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.new-", dir=self.final.parent))
            old = None
            try:
                os.chmod(staging, 0o777 & ~_umask())   # mkdtemp makes it 0700
                self._path = staging
                write_json(staging / MARKER, marker)
                if self._on_open:
                    self._on_open(self)
                old = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.old-", dir=self.final.parent))
                os.replace(self.final, old / "run")   # the earlier run, out of the way ...
                os.replace(staging, self.final)       # ... and the new one in its place
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                if old is not None:
                    if (old / "run").exists() and not self.final.exists():
                        os.replace(old / "run", self.final)
                    shutil.rmtree(old, ignore_errors=True)
                raise
            finally:
                self._path = self.final
            self._created = True
            shutil.rmtree(old, ignore_errors=True)
            return
        fresh = not self.final.exists()
        try:
            if fresh:
                self.final.mkdir()
                self._created = True
            if not (self.final / MARKER).exists():
                write_json(self.final / MARKER, marker)
            if self._on_open:
                self._on_open(self)
        except BaseException:
            if fresh:
                shutil.rmtree(self.final, ignore_errors=True)
                self._created = False
            raise

    def file(self, name: str) -> Path:
        self.open()
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

    def bytes(self, name: str, data: bytes) -> None:
        write_bytes(self.file(name), data)

    def npz(self, name: str, **arrays) -> None:
        """Arrays as one .npz file, written atomically (a checkpoint is whole or absent)."""
        with atomic_path(self.file(name)) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

    def vtu(self, name: str, mesh, fields: dict) -> str:
        """A VTU field file (see `femsim.fem.write_vtu`), written atomically; returns ``name``."""
        from .fem import write_vtu

        with atomic_path(self.file(name)) as tmp:
            write_vtu(tmp, mesh, fields)
        return name

    def fields(self, name: str, snapshot) -> str:
        """A field snapshot (`femsim.studies.FieldSnapshot`: its fields are computed now) as
        the VTU file ``name``; returns ``name``."""
        return self.vtu(name, snapshot.mesh, snapshot.fields())

    def kept(self) -> list[str]:
        """The files of this run that are on disk, a folder's many files counted (for a
        message after a failed write): ["points.csv", "fields/ (12 files)", ...]."""
        top, folders = [], {}
        for f in self.files:
            if (self.path / f).is_file():
                head, _, rest = f.partition("/")
                if rest:
                    folders[head] = folders.get(head, 0) + 1
                else:
                    top.append(f)
        return top + [f"{d}/ ({n} file{'s' * (n > 1)})" for d, n in folders.items()]

    def discard(self) -> None:
        """Remove what this run created (a user error before any result)."""
        if self._created and self.final.exists():
            shutil.rmtree(self.final)
        self.close()
        self._unmake_parents()


class StudySink:
    """What a study hands over while it runs, written into a `ResultDir` as it arrives.

    The runner gives a study one of these instead of the directory: the study computes
    and sends, the sink writes (data flows one way). A bias sweep sends the readouts of
    the points converged so far, the fields of chosen points and, after each point, the
    checkpoint `--resume` continues from (`femsim.checkpoint`), so that a run killed at any
    instant keeps every converged point; everything else a study returns in its
    `StudyResult`, which the runner writes (`fields`, `curves`)."""

    def __init__(self, out: ResultDir):
        self._out = out
        self._mesh = None

    @classmethod
    def of(cls, out) -> "StudySink":
        """``out`` as a sink (a `ResultDir` is wrapped: library callers may pass one)."""
        return out if isinstance(out, StudySink) else cls(out)

    def start(self, md) -> None:
        """The study passed validation: the results directory is made now (an --overwrite
        replaces the earlier run here), with ``fields/regions.json``, the names of the
        region and boundary numbers of ``md`` (geometries.MeshData) its field files carry."""
        self._mesh = md.mesh
        self._out.json("fields/regions.json", {"regions": {n: k for k, n in enumerate(md.subdomains)},
                                               "boundaries": {n: k for k, n in enumerate(md.boundaries)}})

    def converged(self, ds: xr.Dataset) -> None:
        """The readouts of every point converged so far (``points.csv``, replaced whole)."""
        write_csv(self._out.file("points.csv"), ds)

    def field(self, name: str, fields: dict) -> str:
        """One state's fields on the mesh of `start` as ``fields/<name>.vtu``; returns that name."""
        return self._out.vtu(f"fields/{name}.vtu", self._mesh, fields)

    def checkpoint(self, points, saved, state, finished: bool = False) -> None:
        """The sweep so far, for --resume (`femsim.checkpoint.write`)."""
        from . import checkpoint

        checkpoint.write(self._out, points, saved, state, finished=finished)

    def restore(self):
        """On --resume, the sweep's checkpoint (`femsim.checkpoint.restore`); else None."""
        from . import checkpoint

        return checkpoint.restore(self._out) if self._out.resume else None


def _describe_lock(fd) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another femsim run (starting now)"
    return (f"femsim pid {info.get('pid', '?')} on {printable(info.get('host', '?'))}, started "
            f"{printable(info.get('started', '?'))}")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _version() -> str:
    from .version import __version__

    return __version__
