"""How numbers are shown on axes and colour bars: the one place that decides it.

Every plot of `postprocess.plots` and every colour bar of `postprocess.views` goes through
here, so a figure never shows

- an offset or a multiplier beside the axis ("1e-7 + 9.32062721e2", "x10^-3"): values
  are multiplied by a power of ten chosen from the data range and the label names the
  unit drawn ("I [mA]");
- repeated labels ("4.2  4.2  4.2"): labels carry as many decimals as make neighbours
  differ; a quantity varying by less than `NARROW` of its size is drawn as its
  deviation from a stated reference, "T − 4.2 K [mK]", so the ticks say how much it
  varies rather than repeating its value;
- overlapping labels: after layout the labels' rendered extents are compared and
  labels dropped (fewer ticks on a linear axis; minor, then every other decade on a
  log axis) until none overlap (`overlapping` is the check the tests use).

`display_scale` picks the prefix; `Ticks` is a chosen display (prefix, reference,
decimals) usable outside matplotlib (VTK colour bars); `tidy(fig)` applies all of it to
a finished matplotlib figure, reading each axis' quantity from its label "name [unit]".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
from matplotlib import ticker

from femsim.variables import PREFIXES

# (threshold on max |x|, multiplier to the displayed unit, prefix); the smallest takes the rest
_PREFIXES = [(10.0 ** e, 10.0 ** -e, p) for e, p in PREFIXES[:-1]] + [(0.0, 10.0 ** -PREFIXES[-1][0], PREFIXES[-1][1])]
_MULT = {p: m for _, m, p in _PREFIXES}
#: units that take an SI prefix on a plot ("K", "rad" and "1" stay as they are)
SCALABLE = {"A", "V", "W", "S", "Ohm", "m", "W/K", "Hz", "s", "T", "W/m^3", "A/m^2", "m/s"}
#: a range narrower than this fraction of its size is shown as a deviation from a reference
NARROW = 2e-3
MINUS = "\u2212"


def display_scale(unit: str, *arrays, prefixed: bool | None = None) -> tuple[float, str]:
    """(multiplier, displayed unit) putting the largest |value| of ``arrays`` in [1, 1000).

    Only units with a meaningful prefix are scaled (`SCALABLE` less "s", "T" and the
    densities unless ``prefixed`` is True); K, rad and 1 stay. ``prefixed`` True scales any
    unit, False none."""
    default = SCALABLE - {"s", "T", "W/m^3", "A/m^2", "m/s"}
    if not (unit in default if prefixed is None else prefixed):
        return 1.0, unit
    values = np.concatenate([np.abs(np.asarray(a, dtype=float)).ravel() for a in arrays] or [[]])
    values = values[np.isfinite(values)]
    top = values.max() if values.size else 0.0
    if top == 0.0:
        return 1.0, unit
    for threshold, mult, prefix in _PREFIXES:
        if top >= threshold:
            return mult, prefix + unit
    return 1.0, unit  # unreachable: the last threshold is 0


def split_prefix(shown: str) -> tuple[float, str]:
    """"mOhm" -> (1e3, "Ohm"): the multiplier from SI and the base unit of a displayed unit."""
    for prefix, mult in _MULT.items():
        if prefix and shown.startswith(prefix) and shown[len(prefix):] in SCALABLE:
            return mult, shown[len(prefix):]
    return 1.0, shown


def quantity(value: float, unit: str, digits: int = 3) -> str:
    """"46.3 µs": ``digits`` significant digits in the value's own prefixed unit."""
    if value is None or not np.isfinite(value):
        return f"{value} {unit}"
    mult, shown = display_scale(unit, [value], prefixed=unit in SCALABLE)
    text = f"{value * mult:.{digits}g}"
    return f"{text} {shown}".replace("-", MINUS) if unit != "1" else text.replace("-", MINUS)


def decimals(values, limit: int = 12) -> int:
    """Fewest decimals (>= 0) with which ``values`` (sorted tick positions) read as
    distinct numbers, each within 1 % of their spacing of its true value."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return 0 if v.size == 0 or float(v[0]).is_integer() else min(limit, max(0, 3 - _exponent(v[0])))
    step = float(np.min(np.diff(np.sort(v)))) or float(np.max(np.abs(v))) or 1.0
    for d in range(limit + 1):
        shown = np.round(v, d)
        if np.unique(shown).size == np.unique(v).size and np.all(np.abs(shown - v) <= 0.01 * step):
            return d
    return limit


def _exponent(x: float) -> int:
    return int(math.floor(math.log10(abs(x)))) if x else 0


def plain(value: float, d: int) -> str:
    """``value`` with ``d`` decimals, a true minus sign and no "-0"."""
    text = f"{value:.{d}f}"
    if float(text) == 0.0:
        text = text.lstrip("-")
    return text.replace("-", MINUS)


@dataclass(frozen=True)
class Ticks:
    """A display of one quantity: shown = (value_SI - offset) * mult, in ``unit``.

    ``offset`` is 0 unless the values vary by less than `NARROW` of their size; then it is
    a round reference stated in the label ("T − 4.2 K [mK]")."""
    mult: float
    unit: str
    offset: float = 0.0
    offset_text: str = ""

    def label(self, name: str) -> str:
        if self.offset_text:
            return f"{name} {MINUS} {self.offset_text} [{self.unit}]"
        return f"{name} [{self.unit}]"

    def show(self, values):
        return (np.asarray(values, dtype=float) - self.offset) * self.mult


def ticks_for(lo: float, hi: float, unit: str, prefixed: bool | None = None) -> Ticks:
    """The display of SI values spanning [lo, hi]: a prefix from their size or, for a
    range narrower than `NARROW` of it, their deviation from a round reference in a
    prefix of the deviation's size (deviations take a prefix whatever the unit: mK)."""
    lo, hi = float(min(lo, hi)), float(max(lo, hi))
    size = max(abs(lo), abs(hi))
    span = hi - lo
    if size > 0 and 0 < span < NARROW * size and unit != "1":
        # a reference rounded to the decade of the span: short, and within the span's reach
        # the reference: the bottom of the range rounded down to the span's decade (the
        # bath temperature, R(P->0)): deviations then read upwards from zero
        e = _exponent(span)
        ref = math.floor(lo / 10.0 ** e) * 10.0 ** e
        mult, shown = display_scale(unit, [ref], prefixed=prefixed)
        # as many decimals as the rounding kept, in the reference's own display unit
        d = max(0, -e - _exponent(mult))
        text = plain(ref * mult, d)
        text = text.rstrip("0").rstrip(".") if "." in text else text
        ref_text = f"{text} {shown}".strip()
        dmult, dunit = display_scale(unit, [span], prefixed=True)
        return Ticks(dmult, dunit, ref, ref_text)
    mult, shown = display_scale(unit, [lo, hi], prefixed=prefixed)
    return Ticks(mult, shown)


def tick_labels(values_shown) -> list[str]:
    """Labels of tick positions (already in display units): distinct, no exponent."""
    d = decimals(values_shown)
    return [plain(v, d) for v in values_shown]


# ---------------------------------------------------------------- matplotlib

class PlainFormatter(ticker.Formatter):
    """Linear-axis labels: decimals from the tick spacing, no offset, no exponent."""

    def __init__(self, offset: float = 0.0, scale: float = 1.0):
        self.offset, self.scale = offset, scale  # label = (tick - offset) * scale

    def format_ticks(self, values):
        return tick_labels([(v - self.offset) * self.scale for v in values])

    def __call__(self, x, pos=None):
        return tick_labels([(x - self.offset) * self.scale])[0]


class DeviationLocator(ticker.Locator):
    """Round ticks of (x - offset) * scale on an axis drawn in x."""

    def __init__(self, offset: float, scale: float, nbins: int | str = "auto"):
        self.offset, self.scale, self.nbins = offset, scale, nbins

    def __call__(self):
        lo, hi = self.axis.get_view_interval()
        return self.tick_values(lo, hi)

    def tick_values(self, vmin, vmax):
        inner = ticker.MaxNLocator(nbins=self.nbins, steps=[1, 2, 2.5, 5, 10])
        return self.offset + np.asarray(inner.tick_values((vmin - self.offset) * self.scale,
                                                          (vmax - self.offset) * self.scale)) / self.scale


class LogPlainFormatter(ticker.LogFormatter):
    """Log-axis labels as plain numbers ("0.1", "1", "20") rather than 10^n."""

    def _num_to_string(self, x, vmin, vmax):
        return plain(x, max(0, -_exponent(x)))


class _Hidden(ticker.Formatter):
    """Another formatter's labels with those at ``hidden`` positions blanked."""

    def __init__(self, inner: ticker.Formatter, hidden):
        self.inner, self.hidden = inner, np.asarray(sorted(hidden), dtype=float)

    def set_axis(self, axis):
        super().set_axis(axis)
        self.inner.set_axis(axis)

    def set_locs(self, locs):
        self.inner.set_locs(locs)

    def _blank(self, x) -> bool:
        return bool(self.hidden.size) and bool(np.any(np.isclose(self.hidden, x, rtol=1e-9, atol=0)))

    def format_ticks(self, values):
        labels = self.inner.format_ticks(values)
        return ["" if self._blank(v) else s for v, s in zip(values, labels)]

    def __call__(self, x, pos=None):
        return "" if self._blank(x) else self.inner(x, pos)


_LABEL = re.compile(r"^(?P<name>.*?) \[(?P<unit>[^\[\]]*)\]$", re.DOTALL)


def _renderer(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _labels(axis, renderer):
    """(position, extent) of the visible, non-empty tick labels of ``axis``, major and minor."""
    out = []
    for minor in (False, True):
        ticks = axis.get_minor_ticks() if minor else axis.get_major_ticks()
        locs = axis.get_minorticklocs() if minor else axis.get_majorticklocs()
        for tick, loc in zip(ticks, locs):
            for text in (tick.label1, tick.label2):
                if text.get_visible() and text.get_text():
                    out.append((loc, minor, text.get_window_extent(renderer)))
    return out


def _all_axes(fig) -> list:
    """The figure's axes and their insets."""
    out = []
    for ax in fig.axes:
        out += [ax] + [c for c in getattr(ax, "child_axes", []) if c not in fig.axes]
    return out


def overlapping(fig) -> list[tuple[str, str]]:
    """Pairs of tick labels (their texts) whose rendered extents overlap, over all axes of
    ``fig`` (after a draw); empty when the figure reads cleanly."""
    renderer = _renderer(fig)
    pairs = []
    for ax in _all_axes(fig):
        for axis in (ax.xaxis, ax.yaxis):
            texts = [(t.get_text(), t.get_window_extent(renderer)) for t in
                     axis.get_ticklabels(minor=False) + axis.get_ticklabels(minor=True)
                     if t.get_visible() and t.get_text()]
            for i in range(len(texts)):
                for j in range(i + 1, len(texts)):
                    if texts[i][1].overlaps(texts[j][1]):
                        pairs.append((texts[i][0], texts[j][0]))
    return pairs


def _collide(boxes) -> bool:
    return any(boxes[i].overlaps(boxes[j]) for i in range(len(boxes)) for j in range(i + 1, len(boxes)))


def _format_linear(axis, get_label, set_label) -> None:
    """Plain labels, or a deviation display for a narrow range (label rewritten)."""
    lo, hi = sorted(axis.get_view_interval())
    m = _LABEL.match(get_label() or "")
    size, span = max(abs(lo), abs(hi)), hi - lo
    if m and size > 0 and 0 < span < NARROW * size and m.group("unit") != "1":
        mult, base = split_prefix(m.group("unit"))
        t = ticks_for(lo / mult, hi / mult, base, prefixed=base in SCALABLE or None)
        if t.offset_text:
            scale = t.mult / mult  # displayed value -> deviation in t.unit
            offset = t.offset * mult
            axis.set_major_locator(DeviationLocator(offset, scale))
            axis.set_major_formatter(PlainFormatter(offset, scale))
            set_label(t.label(m.group("name")))
            return
    axis.set_major_formatter(PlainFormatter())


def _thin_linear(axis, renderer, fig) -> None:
    locator = axis.get_major_locator()
    for nbins in (6, 5, 4, 3, 2):
        if not _collide([b for _, _, b in _labels(axis, renderer)]):
            return
        if isinstance(locator, DeviationLocator):
            locator.nbins = nbins
        else:
            axis.set_major_locator(ticker.MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]))
        renderer = _renderer(fig)


def _thin_log(axis, renderer, fig) -> None:
    """Keep labels greedily, decades first, dropping any that would touch a kept one."""
    labels = _labels(axis, renderer)
    if not _collide([b for _, _, b in labels]):
        return
    kept, hidden = [], set()
    majors = sorted((x for x in labels if not x[1]), key=lambda x: x[0])
    # decades alternately: every one, then as sparse as needed
    for stride in (1, 2, 3, 5, 10):
        chosen = majors[::stride]
        if not _collide([b for _, _, b in chosen]):
            break
    kept = list(chosen)
    hidden |= {loc for loc, _, _ in majors if all(loc != c[0] for c in chosen)}
    for loc, _, box in sorted((x for x in labels if x[1]), key=lambda x: x[0]):
        if any(box.overlaps(b) for _, _, b in kept):
            hidden.add(loc)
        else:
            kept.append((loc, True, box))
    major = [loc for loc, minor, _ in labels if not minor and loc in hidden]
    minor = [loc for loc, is_minor, _ in labels if is_minor and loc in hidden]
    if major:
        axis.set_major_formatter(_Hidden(axis.get_major_formatter(), major))
    if minor:
        axis.set_minor_formatter(_Hidden(axis.get_minor_formatter(), minor))


def tidy(fig) -> None:
    """Apply the number display to every axis of a finished figure (colour bars too):
    plain labels, deviation display for narrow ranges, and no overlapping labels.
    Idempotent: a figure is tidied once (its labels may have been rewritten)."""
    if getattr(fig, "_femsim_tidy", False):
        return
    fig._femsim_tidy = True
    for ax in _all_axes(fig):
        for axis, get_label, set_label in ((ax.xaxis, ax.get_xlabel, ax.set_xlabel),
                                           (ax.yaxis, ax.get_ylabel, ax.set_ylabel)):
            if not axis.get_visible():
                continue
            if axis.get_scale() == "linear":
                _format_linear(axis, get_label, set_label)
            elif axis.get_scale() == "log":
                axis.set_major_formatter(LogPlainFormatter(labelOnlyBase=False))
                axis.set_minor_formatter(LogPlainFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.6)))
                # minor labels on the baseline of the major ones (minor ticks are shorter)
                which = "x" if axis is ax.xaxis else "y"
                major, minor = (mpl.rcParams[f"{which}tick.{k}.size"] for k in ("major", "minor"))
                ax.tick_params(axis=which, which="minor", pad=mpl.rcParams[f"{which}tick.minor.pad"] + major - minor)
    renderer = _renderer(fig)
    for ax in _all_axes(fig):
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "linear":
                _thin_linear(axis, renderer, fig)
            elif axis.get_scale() == "log":
                _thin_log(axis, renderer, fig)
                renderer = _renderer(fig)
