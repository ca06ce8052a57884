"""The [rf] section: transmission-line V_rf(X) along a junction and Tien-Gordon pumping
(seeds/004, Hamilton & Shapiro 1970). Maps one-to-one onto `femsim.rf.model.RFParams`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, Field, ValidationInfo, model_validator

from ..errors import CaseError
from ..resources import fits, format_bytes
from .base import F_SANE, L_SANE, T_SANE, Q, StrictModel, read_csv_columns


class Impedance(StrictModel):
    """A complex impedance Z = resistance + i reactance (a bare quantity string is real)."""

    resistance: Q("resistance", nonnegative=True, description="real part")
    reactance: Q("resistance", description="imaginary part") = 0.0

    @property
    def complex(self) -> complex:
        return complex(self.resistance, self.reactance)


def _impedance(v):
    return {"resistance": v} if isinstance(v, str) else v


ImpedanceSpec = Annotated[Impedance, BeforeValidator(_impedance)]


class Load(StrictModel):
    """A line end: 'open', 'short', 'matched', or a load impedance."""

    kind: Literal["open", "short", "matched", "load"] = Field(description="kind of termination")
    impedance: ImpedanceSpec | None = Field(None, description="load impedance (kind = 'load')")

    @model_validator(mode="after")
    def _needs_impedance(self):
        if (self.kind == "load") != (self.impedance is not None):
            raise ValueError("an impedance exactly when kind = 'load'")
        return self


def _load(v):
    return {"kind": v} if isinstance(v, str) else v


LoadSpec = Annotated[Load, BeforeValidator(_load)]


class ElectrodeFilm(StrictModel):
    """A superconducting electrode film."""

    penetration_depth: Q("length", positive=True, max=L_SANE, description="London penetration depth lambda")
    thickness: Q("length", positive=True, max=L_SANE, description="film thickness t (omit: thick)") | None = None


class Junction(StrictModel):
    """Junction geometry; X runs along `length`."""

    length: Q("length", positive=True, max=L_SANE, description="length L along which V_rf(X) varies")
    width: Q("length", positive=True, max=L_SANE, description="width across the line")
    barrier_thickness: Q("length", positive=True, max=L_SANE, description="oxide barrier thickness l")
    permittivity: float = Field(gt=0, le=1e4, description="relative permittivity of the barrier")
    electrode1: ElectrodeFilm
    electrode2: ElectrodeFilm | None = Field(None, description="second electrode (omit: same as electrode1)")
    series_resistance: Q("resistance_per_length", nonnegative=True, description="series loss R'") = 0.0
    shunt_conductance: Q("conductance_per_length", nonnegative=True, description="shunt loss G'") = 0.0


class FeedLine(StrictModel):
    """A lossless feed line."""

    impedance: Q("resistance", positive=True, description="characteristic impedance")
    length: Q("length", nonnegative=True, max=L_SANE, description="line length")
    velocity: Q("velocity", positive=True, description="phase velocity (omit: c)") | None = None


class Range(StrictModel):
    """An evenly spaced range."""

    start: Q("voltage", nonnegative=True, description="first value")
    stop: Q("voltage", positive=True, description="last value")
    num: int = Field(ge=2, le=10_000_000, description="number of values")

    @model_validator(mode="after")
    def _increasing(self):
        if not self.stop > self.start:
            raise ValueError(f"stop > start (got start = {self.start:g} V, stop = {self.stop:g} V)")
        return self


class VoltageRange(Range):
    """dc bias voltages: at least 3, for derivatives."""

    num: int = Field(ge=3, le=10_000_000, description="number of voltages (>= 3)")


class Drive(StrictModel):
    """How the rf reaches the junction and the drive amplitudes V_rf0 to sweep."""

    kind: Literal["end", "distributed", "embedded", "standing_wave", "uniform"] = Field(
        "end", description="end source, uniform-field (distributed) EMF, embedded between feed lines, "
                           "the paper's Eq. 6 standing wave, or uniform V_rf")
    frequency: Q("frequency", positive=True, max=F_SANE, description="rf frequency f")
    amplitudes: Range | Annotated[list[Q("voltage", nonnegative=True)], Field(min_length=1)] = Field(
        description="drive amplitudes V_rf0")
    normalisation: Literal["incident", "max", "rms", "source"] | None = Field(
        None, description="what V_rf0 means (default: incident wave; max for distributed)")
    source_impedance: ImpedanceSpec | None = Field(None, description="source impedance (omit: 0)")
    termination: LoadSpec = Field("open", validate_default=True, description="far end (X = L)")
    near_termination: LoadSpec = Field("open", validate_default=True, description="near end (X = 0), distributed drive")
    feed_in: FeedLine | None = None
    feed_out: FeedLine | None = None
    vswr: float | None = Field(None, ge=1, description="voltage standing-wave ratio (standing_wave drive)")

    @model_validator(mode="after")
    def _consistent(self):
        if self.kind == "standing_wave" and self.vswr is None:
            raise ValueError("vswr (>= 1) for kind = 'standing_wave'")
        if self.kind == "embedded" and (self.feed_in is None or self.feed_out is None):
            raise ValueError("feed_in and feed_out lines for kind = 'embedded'")
        if self.kind == "distributed" and self.normalisation == "incident":
            raise ValueError("normalisation 'max', 'rms' or 'source' for kind = 'distributed' (no single incident wave)")
        return self


class BCS(StrictModel):
    """BCS SIS quasiparticle current with Dynes broadening."""

    kind: Literal["bcs"]
    normal_resistance: Q("resistance", positive=True, description="normal-state resistance R_n")
    gap_voltage: Q("voltage", positive=True, description="2 Delta(0)/e for equal gaps; or give gap1/gap2") | None = None
    gap1: Q("energy", positive=True, description="Delta1(0)") | None = None
    gap2: Q("energy", positive=True, description="Delta2(0) (omit: equal gaps)") | None = None
    critical_temperature1: Q("temperature", positive=True, max=T_SANE, description="Tc of electrode 1") | None = None
    critical_temperature2: Q("temperature", positive=True, max=T_SANE, description="Tc of electrode 2") | None = None
    dynes_gamma: Q("energy", nonnegative=True, description="Dynes broadening Gamma") = 0.0
    smearing: Q("voltage", nonnegative=True, description="Gaussian smearing sigma") = 0.0

    @model_validator(mode="after")
    def _gap(self):
        if (self.gap_voltage is None) == (self.gap1 is None):
            raise ValueError("either gap_voltage or gap1")
        return self


class IVTable(StrictModel):
    """A measured I_0(V): CSV with columns 'V [unit]' and 'I [unit]'."""

    kind: Literal["table"]
    file: str = Field(description="CSV file relative to the case file")
    odd: bool = Field(False, description="the table lists V >= 0 only; I(-V) = -I(V)")
    interpolation: Literal["pchip", "linear", "cubic"] = "pchip"
    smearing: Q("voltage", nonnegative=True, description="Gaussian smearing sigma (odd tables)") = 0.0
    voltage: list[float] = Field(default_factory=list, exclude=True)
    current: list[float] = Field(default_factory=list, exclude=True)

    @model_validator(mode="after")
    def _smearing_needs_odd(self):
        if self.smearing > 0 and not self.odd:
            raise ValueError("odd = true for a smeared table (smearing assumes I(-V) = -I(V))")
        return self

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data, info: ValidationInfo):
        if isinstance(data, dict) and isinstance(data.get("file"), str) and "voltage" not in data:
            base = (info.context or {}).get("base_dir")
            path = Path(data["file"])
            path = path if path.is_absolute() or base is None else base / path
            cols = read_csv_columns(path, {"V": "voltage", "I": "current"})
            data = {**data, "voltage": cols["V"].tolist(), "current": cols["I"].tolist()}
        return data


class Ohmic(StrictModel):
    """I_0 = V/R."""

    kind: Literal["linear"]
    resistance: Q("resistance", positive=True, description="resistance")


class Step(StrictModel):
    """A smeared gap step."""

    kind: Literal["step"]
    gap_voltage: Q("voltage", positive=True, description="gap voltage V_g")
    normal_resistance: Q("resistance", positive=True, description="R_n above the gap")
    width: Q("voltage", positive=True, description="width of the step")
    subgap_resistance: Q("resistance", positive=True, description="below the gap (omit: infinite)") | None = None


class Polynomial(StrictModel):
    """I_0 = sum_k c_k V^k with V in volts and I in amperes (c_k in A/V^k)."""

    kind: Literal["polynomial"]
    coefficients: list[float] = Field(min_length=1, description="c_0, c_1, ... in A/V^k, lowest order first")


IVSpec = Annotated[Union[BCS, IVTable, Ohmic, Step, Polynomial], Field(discriminator="kind")]


class Heating(StrictModel):
    """Self-heating of the junction: the dc power plus the absorbed rf power leaves through hA."""

    model: Literal["lumped", "line"] = Field("lumped", description="one junction temperature (lumped) or "
                                             "T(X) along the junction from a 1D heat equation (line)")
    hA: Q("thermal_conductance", positive=True, description="heat conductance junction -> bath (whole junction)")
    thermal_conductivity: Q("thermal_conductivity", positive=True,
                            description="lateral conductivity of the electrode films (line model)") | None = None
    film_thickness: Q("length", positive=True, max=L_SANE,
                      description="total thickness of the films carrying heat along X (line model)") | None = None
    temperature_nodes: int = Field(9, ge=2, le=200, description="temperatures tabulating the BCS I_0(V, T)")
    scan_points: int = Field(48, ge=8, le=10_000, description="temperatures bracketing the lumped fixed points")
    n_x: int = Field(41, ge=3, le=10_000, description="points along the junction (line model)")

    @model_validator(mode="after")
    def _line_needs_films(self):
        if self.model == "line" and (self.thermal_conductivity is None or self.film_thickness is None):
            raise ValueError("thermal_conductivity and film_thickness for model = 'line'")
        return self


class Source(StrictModel):
    """A Thevenin source at the drive frequency: V_rf then follows from harmonic balance."""

    impedance: ImpedanceSpec = Field(description="source impedance Z_s at the drive frequency (Re > 0)")
    available_power: Annotated[list[Q("power", nonnegative=True)], Field(min_length=1)] = Field(
        description="available powers P_av = |V_s|^2/(8 Re Z_s) to sweep")

    @model_validator(mode="after")
    def _resistive(self):
        if not self.impedance.resistance > 0:
            raise ValueError("a source resistance > 0 Ohm (the available power needs Re Z_s > 0)")
        return self


class RF(StrictModel):
    """rf study: V_rf(X) along the junction, pumped I-V, step amplitudes."""

    junction: Junction
    drive: Drive
    iv: IVSpec = Field(description="unpumped I_0(V): kind = bcs | table | linear | step | polynomial")
    voltages: VoltageRange = Field(description="dc bias voltages of the pumped I-V")
    max_step_order: int = Field(3, ge=0, le=100, description="report steps n = 0..N")
    n_x: int = Field(201, ge=3, le=100_000, description="points along the junction")
    classical: bool = Field(True, description="also compute the classical-detection limit (Eq. 12)")
    classical_nodes: int = Field(1024, ge=2, le=1_000_000, description="quadrature nodes of Eq. 12")
    heating: Heating | None = Field(None, description="self-heating of the junction (omit: isothermal at T_bath)")
    source: Source | None = Field(None, description="Thevenin source setting V_rf by harmonic balance "
                                                    "(uniform drive; the drive amplitudes are then unused)")

    @model_validator(mode="after")
    def _source_needs_uniform(self):
        if self.source is not None and self.drive.kind != "uniform":
            raise ValueError("drive kind = 'uniform' with a [rf.source] (a junction much smaller than the wavelength)")
        if self.source is not None and self.heating is not None and self.heating.model != "lumped":
            raise ValueError("heating model = 'lumped' with a [rf.source]")
        return self

    @model_validator(mode="after")
    def _fits_in_memory(self):
        need = memory_estimate(self)
        ok, have = fits(need)
        if not ok:
            amps = self.drive.amplitudes
            n_amp = amps.num if isinstance(amps, Range) else len(amps)
            key, value = (("rf.voltages.num", self.voltages.num) if self.voltages.num >= n_amp
                          else ("rf.drive.amplitudes.num", n_amp))
            raise CaseError(key, value, f"a grid that fits in memory: {self.voltages.num} voltages x {n_amp} "
                            f"amplitudes (x {self.n_x} points along the junction) need ~{format_bytes(need)}, "
                            f"{format_bytes(have)} are available")
        return self


#: bytes per (amplitude, voltage) pair of the pumped I-V: I_pumped, dI/dV, I_classical and
#: their copies in the datasets (measured: ~17 B per pair for two of them, so 4 x 8 B)
_PER_PAIR = 32
#: bytes per (voltage, quadrature node) of the classical detection integral (Eq. 12)
_PER_NODE = 2


def memory_estimate(rf) -> int:
    """Peak memory [bytes] the rf study allocates beyond its fixed ~100 MiB, from the grid
    sizes: the (amplitude, voltage) arrays, the profiles along the junction and the
    classical-detection quadrature."""
    amps = rf.drive.amplitudes
    n_amp = amps.num if isinstance(amps, Range) else len(amps)
    n_v = rf.voltages.num
    need = _PER_PAIR * n_amp * n_v + 8 * 4 * n_amp * rf.n_x
    if rf.classical:
        need += _PER_NODE * 8 * n_v * rf.classical_nodes
    return int(need)
