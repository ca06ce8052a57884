"""Progress bars for long runs: shown on a terminal, silent in logs and CI.

`bar` is a plain tqdm bar. `sweep_bar` is the progress line of a bias sweep: one line
per sweep, updated after each converged point,

    point 7/21  I = 1.25 mA  T_max = 12.3 K  Newton 3  ~1 min 05 s left

(``-v`` adds the linear-solver work of the point: "GMRES 85 its" on the iterative path,
"2 factorisations" on the direct one). The total is known for a natural sweep; for an
arclength trace the time left is estimated from how far the trace has got towards its
stop value (or its T_max limit, or its point limit, whichever is furthest).
"""

from __future__ import annotations

import math
import sys
import time

from tqdm.auto import tqdm

from .errors import printable
from .variables import PREFIXES

#: set by the CLI: "quiet", "normal" or "verbose"
VERBOSITY = "normal"

_ORDER = {"quiet": 0, "normal": 1, "verbose": 2}


def enabled() -> bool:
    """True if progress bars are shown (a terminal on stderr and not --quiet)."""
    return VERBOSITY != "quiet" and sys.stderr.isatty()


def bar(iterable=None, total=None, desc: str = "", unit: str = "pt"):
    """A tqdm bar that stays quiet when stderr is not a terminal or --quiet was given."""
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled(), leave=False)


def say(msg: str, level: str = "normal") -> None:
    """Print a status line unless quieter than ``level`` (through tqdm, so that a bar
    on the terminal is not torn apart)."""
    if _ORDER[VERBOSITY] >= _ORDER[level]:
        # names from a case file reach this: no terminal escapes
        tqdm.write("\n".join(printable(line) for line in str(msg).split("\n")), file=sys.stderr)


# the terminal keeps to ASCII: "u" for micro, as a case file writes it
_PREFIXES = tuple((10.0 ** e, p.replace("µ", "u")) for e, p in PREFIXES)


def si(value: float, unit: str, digits: int = 3) -> str:
    """``value`` (SI) with an engineering prefix: si(1.25e-3, "A") -> "1.25 mA"."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}"
    a = abs(value)
    for f, p in _PREFIXES:
        if a >= f * (1 - 0.5 * 10.0 ** -digits):
            return f"{value / f:.{digits}g} {p}{unit}"
    f, p = _PREFIXES[-1]
    return f"{value / f:.{digits}g} {p}{unit}"


def duration(t: float) -> str:
    """A time span for people: "45 s", "3 min 05 s", "1 h 12 min"."""
    if not math.isfinite(t):
        return "?"
    t = max(0.0, t)
    if t < 60:
        return f"{t:.0f} s"
    if t < 3600:
        return f"{int(t // 60)} min {int(t % 60):02d} s"
    return f"{int(t // 3600)} h {int(t % 3600 // 60):02d} min"


#: bias mode -> (symbol, unit) of the driven quantity
_BIAS = {"current": ("I", "A"), "voltage": ("V", "V"), "power": ("P", "W"), "arclength": ("I", "A")}


class SweepProgress:
    """The state behind the progress line of one sweep (see module docstring); usable
    without a terminal (`line` is what the bar shows; tests read it).

    mode: the driven quantity ("current", "voltage", "power"); total: number of points
    when known (natural sweep); stop: the stop value of ``mode`` (arclength trace);
    T_limit, T_bath: the trace's T_max bound; max_points: its point limit; linear: the
    linear solver object (its ``stats()`` give the per-point work for ``-v``).
    """

    def __init__(self, mode, total=None, stop=None, T_limit=None, T_bath=None, max_points=None,
                 linear=None, clock=time.perf_counter):
        self.mode, self.total, self.stop = mode, total, stop
        self.T_limit, self.T_bath, self.max_points = T_limit, T_bath, max_points
        self.linear, self.clock = linear, clock
        self.t0 = clock()
        self.k = 0
        self.line = ""
        self._last_stats = self._stats()

    def _stats(self):
        st = getattr(self.linear, "stats", None)
        return dict(st()) if st is not None else {}

    def fraction(self, p) -> float:
        """How far the sweep has got, 0..1 (nan if unknown)."""
        if self.total:
            return min(1.0, self.k / self.total)
        f = []
        if self.stop:
            val = {"current": p.I, "voltage": p.V, "power": p.V * p.I}.get(self.mode, math.nan)
            f.append(abs(val) / abs(self.stop))
        if self.T_limit and self.T_bath is not None and self.T_limit > self.T_bath:
            f.append((p.T_max["all"] - self.T_bath) / (self.T_limit - self.T_bath))
        if self.max_points:
            f.append(self.k / self.max_points)
        f = [x for x in f if math.isfinite(x)]
        return min(1.0, max(f)) if f else math.nan

    def update(self, p) -> str:
        """Account for the converged point p; returns the new line."""
        self.k += 1
        elapsed = self.clock() - self.t0
        sym, unit = _BIAS.get(self.mode, ("I", "A"))
        val = {"I": p.I, "V": p.V, "P": p.V * p.I}[sym]
        parts = [f"point {self.k}/{self.total}" if self.total else f"point {self.k}",
                 f"{sym} = {si(val, unit)}", f"T_max = {p.T_max['all']:.4g} K",
                 f"Newton {p.newton_steps}"]
        if p.turning:
            parts.append(p.turning.replace("_", " "))
        if VERBOSITY == "verbose":
            st = self._stats()
            old, self._last_stats = self._last_stats, st
            if "n_iter" in st and not st.get("direct"):
                parts.append(f"GMRES {st['n_iter'] - old.get('n_iter', 0)} its")
            else:
                d, o = st.get("direct", st), old.get("direct", old)
                if "n_factor" in d:
                    parts.append(f"{d['n_factor'] - o.get('n_factor', 0)} factorisations, "
                                 f"{d['n_solve'] - o.get('n_solve', 0)} solves")
        f = self.fraction(p)
        if math.isfinite(f) and f > 0:
            parts.append(f"~{duration(elapsed * (1 - f) / f)} left" if f < 1 else "done")
        self.line = "  ".join(parts)
        return self.line


def sweep_bar(points, mode, **kw):
    """Iterate over ``points`` (a Sweep: converged Points as they come), showing the
    progress line of `SweepProgress` (keywords as there) on a terminal. Yields the points
    unchanged; silent when not a terminal or --quiet."""
    prog = SweepProgress(mode, **kw)
    show = enabled()
    head = f"{mode} sweep"
    t = tqdm(total=prog.total, desc=head, unit="pt", disable=not show, leave=False, bar_format="{desc}",
             dynamic_ncols=True)
    try:
        for p in points:
            line = prog.update(p)
            if show:
                t.set_description_str(f"{head}: {line}", refresh=False)
                t.update(1)
            yield p
    finally:
        t.close()
