"""Bias waveforms b(t) of a transient run: a current [A], voltage [V] or power [W] by the
run's bias mode (SI; unit conversion happens when the case is read, `femsim.case`).

A waveform is right-continuous and lists its breakpoints (the times where its value or
slope jumps): the time stepper (`femsim.fem.timestepping`) lands on them and restarts
its BDF scheme there.

Public API:

    Waveform, Step, PulseTrain, Ramp, Sine, waveform_from_dict, BIAS_UNITS
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Waveform", "Step", "PulseTrain", "Ramp", "Sine", "waveform_from_dict", "BIAS_UNITS"]

#: units of the waveform value by bias mode
BIAS_UNITS = {"current": "A", "voltage": "V", "power": "W"}


class Waveform:
    """A bias waveform b(t) (current [A], voltage [V] or power [W], by the run's ``mode``).

    ``value(t)`` is right-continuous; ``value(t, left=True)`` is the limit from the left
    (the value a step ending exactly at a jump sees). ``breakpoints(t0, t1)`` lists the
    times in (t0, t1] where the value or its slope jumps: the stepper lands on them and
    restarts there.
    """

    kind = "waveform"

    def value(self, t: float, left: bool = False) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def breakpoints(self, t0: float, t1: float) -> list[float]:
        return []

    @property
    def amplitude_scale(self) -> float:
        """The largest |b| the waveform reaches (for scales and step responses)."""
        return abs(getattr(self, "amplitude", 0.0)) + abs(getattr(self, "offset", 0.0))

    def describe(self) -> dict:
        return {"kind": self.kind, **{k: v for k, v in self.__dict__.items()}}


@dataclass(frozen=True)
class Step(Waveform):
    """b = initial for t < delay, amplitude from t = delay on."""

    amplitude: float
    delay: float = 0.0
    initial: float = 0.0
    kind = "step"

    def value(self, t, left=False):
        on = t > self.delay if left else t >= self.delay
        return self.amplitude if on else self.initial

    def breakpoints(self, t0, t1):
        return [self.delay] if t0 < self.delay <= t1 else []


@dataclass(frozen=True)
class PulseTrain(Waveform):
    """Rectangular pulses of ``amplitude`` and ``width`` starting at delay + k period,
    k = 0 .. count-1 (count None: without end; period None: a single pulse); ``base``
    between pulses."""

    amplitude: float
    width: float
    period: float | None = None
    delay: float = 0.0
    count: int | None = None
    base: float = 0.0
    kind = "pulse"

    def __post_init__(self):
        if not self.width > 0:
            raise ValueError(f"pulse width must be > 0, got {self.width}")
        if self.period is not None and not self.period > self.width:
            raise ValueError(f"pulse period ({self.period}) must exceed the width ({self.width})")

    def _n(self):
        if self.period is None:
            return 1
        return self.count if self.count is not None else None

    def _start(self, k):
        return self.delay + k * (self.period or 0.0)

    def value(self, t, left=False):
        if self.period is None:
            ks = [0]
        else:
            k0 = math.floor((t - self.delay) / self.period)
            ks = [k0 - 1, k0, k0 + 1]
        n = self._n()
        for k in ks:
            if k < 0 or (n is not None and k >= n):
                continue
            s = self._start(k)
            e = s + self.width
            if (s < t <= e) if left else (s <= t < e):
                return self.amplitude
        return self.base

    def breakpoints(self, t0, t1):
        out = []
        n = self._n()
        if self.period is None:
            ks = [0]
        else:
            k_lo = max(0, math.floor((t0 - self.delay - self.width) / self.period))
            k_hi = math.ceil((t1 - self.delay) / self.period)
            ks = range(k_lo, k_hi + 1)
        for k in ks:
            if n is not None and k >= n:
                break
            for tb in (self._start(k), self._start(k) + self.width):
                if t0 < tb <= t1:
                    out.append(tb)
        return sorted(out)

    @property
    def amplitude_scale(self):
        return max(abs(self.amplitude), abs(self.base))


@dataclass(frozen=True)
class Ramp(Waveform):
    """A linear sweep: ``start`` until ``delay``, then linear to ``amplitude`` over
    ``duration`` (a swept I-V at the finite rate (amplitude - start)/duration), then held;
    with ``down`` back to ``start`` over another ``duration`` (a triangle, for hysteresis)."""

    amplitude: float
    duration: float
    delay: float = 0.0
    start: float = 0.0
    down: bool = False
    kind = "ramp"

    def __post_init__(self):
        if not self.duration > 0:
            raise ValueError(f"ramp duration must be > 0, got {self.duration}")

    def value(self, t, left=False):
        s = (t - self.delay) / self.duration
        if s <= 0:
            return self.start
        if s <= 1:
            return self.start + (self.amplitude - self.start) * s
        if self.down and s <= 2:
            return self.amplitude + (self.start - self.amplitude) * (s - 1)
        return self.start if self.down else self.amplitude

    def breakpoints(self, t0, t1):
        pts = [self.delay, self.delay + self.duration] + ([self.delay + 2 * self.duration] if self.down else [])
        return [p for p in pts if t0 < p <= t1]

    @property
    def amplitude_scale(self):
        return max(abs(self.amplitude), abs(self.start))


@dataclass(frozen=True)
class Sine(Waveform):
    """b = offset + amplitude sin(2 pi frequency (t - delay) + phase) for t >= delay,
    ``offset`` before (a jump at ``delay`` unless phase = 0)."""

    amplitude: float
    frequency: float
    offset: float = 0.0
    phase: float = 0.0
    delay: float = 0.0
    kind = "sine"

    def value(self, t, left=False):
        on = t > self.delay if left else t >= self.delay
        if not on:
            return self.offset
        return self.offset + self.amplitude * math.sin(2 * math.pi * self.frequency * (t - self.delay) + self.phase)

    def breakpoints(self, t0, t1):
        return [self.delay] if t0 < self.delay <= t1 and self.delay > 0 else []


WAVEFORMS = {"step": Step, "pulse": PulseTrain, "ramp": Ramp, "sine": Sine}


def waveform_from_dict(spec: dict) -> Waveform:
    """A Waveform from {"kind": "pulse", "amplitude": 2e-3, "width": 1e-6, ...} (SI)."""
    spec = dict(spec)
    kind = spec.pop("kind")
    if kind not in WAVEFORMS:
        raise ValueError(f"waveform kind must be one of {sorted(WAVEFORMS)}, not {kind!r}")
    return WAVEFORMS[kind](**{k: v for k, v in spec.items() if v is not None})
