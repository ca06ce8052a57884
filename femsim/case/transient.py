"""The [transient] and [hotspot] sections (tracker issue 9).

A transient case: study = "transient" with [geometry], [materials], [fem.electrical],
[fem.thermal] (the fem study's sections, reused; [fem.bias] is not needed) and
[transient]::

    [transient]
    mode = "current"                        # the waveform drives the current (or "voltage", "power")
    t_end = "40 us"
    waveform = {kind = "pulse", amplitude = "2 mA", width = "1 us", period = "10 us", count = 3}
    [transient.steps]                       # step control (optional)
    rtol = 1e-3
    [transient.step_response]               # fit heating time constants (optional)
    amplitude = "2 mA"
    [transient.pulsed_iv]                   # the pulsed I-V for several widths (optional)
    widths = ["100 ns", "1 us", "10 us"]
    stop = "5 mA"
    points = 8

A hot-spot case: study = "hotspot" with the complete [fem] section (its [fem.bias] is the
current sweep, mode = "current") and [hotspot] (detection settings, all optional).

Amplitudes carry the unit of the bias quantity (A for mode = "current", V for
"voltage", W for "power"; a power waveform must not go negative); every other quantity
is a time, a frequency or a plain number. Everything is SI after loading.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from .base import T_SANE, Q, StrictModel, bias_to_si

#: waveform keys that carry the bias quantity's unit
_BIAS_KEYS = ("amplitude", "initial", "base", "start", "offset")


def _bias_units(data, where: str):
    """Convert the bias-valued keys of a dict to SI by its ``mode`` (current/voltage/power)."""
    if not isinstance(data, dict):
        return data
    mode = data.get("mode", "current")
    out = dict(data)
    wf = out.get("waveform")
    if isinstance(wf, dict):
        wf = dict(wf)
        for k in _BIAS_KEYS:
            if k in wf:
                wf[k] = bias_to_si(wf[k], mode, f"{where}waveform.{k}")
        out["waveform"] = wf
    for sub, keys in (("step_response", ("amplitude",)), ("pulsed_iv", ("stop", "amplitudes"))):
        sec = out.get(sub)
        if isinstance(sec, dict):
            sec = dict(sec)
            for k in keys:
                if k in sec:
                    sec[k] = bias_to_si(sec[k], mode, f"{where}{sub}.{k}")
            out[sub] = sec
    return out


class StepWave(StrictModel):
    """b = initial before ``delay``, amplitude from then on."""

    kind: Literal["step"]
    amplitude: float = Field(description="bias after the step (A, V or W by mode)")
    delay: Q("time", nonnegative=True, description="time of the step") = 0.0
    initial: float = Field(0.0, description="bias before the step (A, V or W by mode)")


class PulseWave(StrictModel):
    """Rectangular pulses of ``amplitude`` and ``width`` every ``period`` (one pulse without a period)."""

    kind: Literal["pulse"]
    amplitude: float = Field(description="pulse height (A, V or W by mode)")
    width: Q("time", positive=True, description="pulse width")
    period: Q("time", positive=True, description="repetition period (omit for a single pulse)") | None = None
    delay: Q("time", nonnegative=True, description="leading edge of the first pulse") = 0.0
    count: int | None = Field(None, ge=1, le=100_000, description="number of pulses (default: as many as fit)")
    base: float = Field(0.0, description="bias between pulses (A, V or W by mode)")

    @model_validator(mode="after")
    def _period(self):
        if self.period is not None and not self.period > self.width:
            raise ValueError(f"a period longer than the width (period {self.period:g} s, width {self.width:g} s)")
        return self


class RampWave(StrictModel):
    """Linear sweep from ``start`` to ``amplitude`` over ``duration`` (a swept I-V at a finite rate)."""

    kind: Literal["ramp"]
    amplitude: float = Field(description="bias at the end of the ramp (A, V or W by mode)")
    duration: Q("time", positive=True, description="ramp time (rate = (amplitude - start) / duration)")
    delay: Q("time", nonnegative=True, description="start of the ramp") = 0.0
    start: float = Field(0.0, description="bias at the start (A, V or W by mode)")
    down: bool = Field(False, description="ramp back down to start over another duration (a triangle)")


class SineWave(StrictModel):
    """b = offset + amplitude sin(2 pi f (t - delay) + phase)."""

    kind: Literal["sine"]
    amplitude: float = Field(description="sine amplitude (A, V or W by mode)")
    frequency: Q("frequency", positive=True, description="frequency")
    offset: float = Field(0.0, description="dc offset (A, V or W by mode)")
    phase: Q("dimensionless", description="phase at t = delay, in rad (or '90 deg')") = 0.0
    delay: Q("time", nonnegative=True, description="start of the sine") = 0.0


WaveformSpec = Annotated[Union[StepWave, PulseWave, RampWave, SineWave], Field(discriminator="kind")]


class Steps(StrictModel):
    """Time stepping: BDF2 (or backward Euler) with local error control."""

    method: Literal["bdf2", "be"] = Field("bdf2", description="bdf2 (second order) or be (backward Euler)")
    rtol: float = Field(1e-3, gt=0, lt=1, description="local error per step relative to the temperature rise")
    atol: Q("temperature", positive=True, description="absolute local error per step") = 1e-3
    first: Q("time", positive=True, description="first step and step after each bias jump "
                                               "(default: from the heating rate)") | None = None
    max: Q("time", positive=True, description="largest step (default: the time span)") | None = None
    fixed: bool = Field(False, description="fixed steps of size 'first' (no error control)")

    @model_validator(mode="after")
    def _fixed(self):
        if self.fixed and self.first is None:
            raise ValueError("'first' (the step size) with fixed = true")
        return self


class StepResponse(StrictModel):
    """A bias step from the initial state, fitted with exponentials (heating time constants)."""

    amplitude: float | None = Field(None, description="step height (A, V or W by mode; default: the waveform's "
                                                      "amplitude)")
    t_end: Q("time", positive=True, description="duration (default: the case's t_end)") | None = None
    exponentials: int = Field(2, ge=1, le=3, description="fit with 1 .. this many exponentials")
    quantity: Literal["T_mean", "T_max", "V"] = Field("T_mean", description="the response that is fitted")


class PulsedIV(StrictModel):
    """The I-V a pulsed measurement records: for each width tau, pulses of increasing
    amplitude, sampled in the pulse; next to the steady-state and heating-free I-V."""

    widths: list[Q("time", positive=True)] = Field(min_length=1, description="pulse widths tau, increasing")
    amplitudes: list[float] | None = Field(None, min_length=1, description="pulse amplitudes (A, V or W by mode)")
    stop: float | None = Field(None, description="largest amplitude, with 'points' equal steps (instead of amplitudes)")
    points: int = Field(10, ge=1, le=10_000, description="number of amplitudes up to 'stop'")
    sample_delay: Q("time", positive=True, description="sampling instant after the leading edge") | None = None
    sample_fraction: float = Field(1.0, gt=0, le=1, description="sampling instant as a fraction of the width "
                                                               "(1: just before the trailing edge)")
    period: Q("time", positive=True, description="repetition period of a train") | None = None
    pulses: int = Field(1, ge=1, le=10_000, description="pulses per train (sampled in the last)")
    tolerance: float = Field(0.01, gt=0, lt=1, description="acceptable heating error |V/V_iso - 1| for the "
                                                          "'how short a pulse' verdict")
    steady: bool = Field(True, description="also the steady-state I-V at the same amplitudes")

    @model_validator(mode="after")
    def _check(self):
        if (self.amplitudes is None) == (self.stop is None):
            raise ValueError("either 'amplitudes' or 'stop' (with 'points')")
        if any(b <= a for a, b in zip(self.widths, self.widths[1:])):
            raise ValueError("widths in increasing order")
        if self.sample_delay is not None and self.sample_delay > self.widths[0]:
            raise ValueError(f"sample_delay ({self.sample_delay:g} s) inside the shortest pulse ({self.widths[0]:g} s)")
        if self.pulses > 1 and (self.period is None or self.period <= self.widths[-1]):
            raise ValueError("a period longer than every width when pulses > 1")
        return self

    def amplitude_list(self) -> list[float]:
        if self.amplitudes is not None:
            return list(self.amplitudes)
        return [self.stop * (k + 1) / self.points for k in range(self.points)]


class TransientFields(StrictModel):
    """3D fields (VTU + .pvd) at chosen times of the waveform run."""

    times: list[Q("time", nonnegative=True)] = Field(default_factory=list, description="output times")
    last: bool = Field(True, description="also at the end of the run")


class Transient(StrictModel):
    """Time-dependent heating: C(T) dT/dt = div(kappa grad T) + q with the quasi-static
    potential, driven by a bias waveform."""

    mode: Literal["current", "voltage", "power"] = Field("current", description="the quantity the waveform drives")
    T_initial: Q("temperature", positive=True, max=T_SANE,
                 description="initial temperature of every node off the bath (default: T_bath)") | None = None
    t_end: Q("time", positive=True, description="end of the run")
    waveform: WaveformSpec
    steps: Steps = Steps()
    step_response: StepResponse | None = Field(None, description="heating time constants from a step response")
    pulsed_iv: PulsedIV | None = None
    fields: TransientFields = TransientFields()
    missing_heat_capacity: Literal["error", "zero"] = Field(
        "error", description="a material without heat_capacity: an error, or massless (thin contact layers)")

    @model_validator(mode="before")
    @classmethod
    def _units(cls, data):
        return _bias_units(data, "")

    @model_validator(mode="after")
    def _span(self):
        bad = [t for t in self.fields.times if t > self.t_end]
        if bad:
            raise ValueError(f"field output times within t_end = {self.t_end:g} s (got {bad[0]:g} s)")
        return self

    @model_validator(mode="after")
    def _nonnegative_power(self):
        if self.mode != "power":
            return self
        wf = self.waveform
        lows = {k: getattr(wf, k) for k in _BIAS_KEYS if hasattr(wf, k)}
        if wf.kind == "sine":
            lows = {"offset": wf.offset - abs(wf.amplitude)}
        if self.step_response is not None and self.step_response.amplitude is not None:
            lows["step_response.amplitude"] = self.step_response.amplitude
        pv = self.pulsed_iv
        if pv is not None:
            lows["pulsed_iv.amplitudes" if pv.amplitudes is not None else "pulsed_iv.stop"] = min(pv.amplitude_list())
        for k, v in lows.items():
            if v < 0:
                where = k if "." in k else f"waveform.{k}"
                what = " (offset - |amplitude|, the sine's lowest value)" if wf.kind == "sine" else ""
                raise ValueError(f"{where} = {v:g} W{what}: a power bias >= 0 (mode = 'power')")
        return self


class HotspotFields(StrictModel):
    """Which states get 3D fields written."""

    onset: bool = Field(True, description="the symmetric state at the hot-spot onset")
    hot: bool = Field(True, description="the hot-spot state where it carries the largest current share")
    last: bool = Field(True, description="the last state of each branch")


class Hotspot(StrictModel):
    """Stability of the current-biased steady states, the hot-spot onset, and the hot-spot branch."""

    region: str = Field("mesa", description="subdomain where hot spots are looked for")
    eigenvalues: int = Field(4, ge=1, le=50, description="decay rates computed per point (smallest |mu|)")
    hottest_fraction: float = Field(0.1, gt=0, lt=1, description="area share whose current share is reported")
    follow: bool = Field(True, description="switch to the hot-spot branch and follow it")
    branch_points: int = Field(15, ge=2, le=1000, description="current steps of the hot-spot branch over the "
                                                             "traced range")
    refine_rtol: float = Field(1e-4, gt=0, lt=0.1, description="relative accuracy of the onset current")
    fields: HotspotFields = HotspotFields()


def check_case(case) -> None:
    """Cross-section checks of a transient / hotspot case (raises CaseError with the key)."""
    from ..errors import CaseError

    if case.study in ("transient", "hotspot"):
        for key in ("geometry", "materials", "fem"):
            if getattr(case, key) is None:
                raise CaseError(key, CaseError.MISSING, f"a [{key}] section for study = {case.study!r}")
    if case.study == "hotspot":
        if case.fem.bias is None:
            raise CaseError("fem.bias", CaseError.MISSING, "a [fem.bias] section (the current sweep) for "
                                                           "study = 'hotspot'")
        if case.fem.bias.mode != "current":
            raise CaseError("fem.bias.mode", case.fem.bias.mode, "'current' (hot spots are analysed under "
                                                                  "current bias)")
    if len(case.environment.T_bath) != 1:
        raise CaseError("environment.T_bath", case.environment.T_bath, f"a single bath temperature for "
                                                                        f"study = {case.study!r}")
