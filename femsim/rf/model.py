"""The rf model as one pure function: `run_rf(RFParams) -> dict[str, xarray.Dataset]`.

Pipeline (Hamilton & Shapiro 1970, seeds/004_c099d5c78bbe238d.txt): junction geometry ->
line constants and Swihart velocity (Eq. 4) -> V_rf(X) along the junction for the chosen
drive (transmission line, or the paper's Eq. 6 standing wave, or uniform) -> pumped I-V
(Eq. 5), classical limit (Eq. 12), quasiparticle and Josephson step amplitudes (Eqs. 3, 5).

All inputs and outputs are SI. Each parameter dataclass is meant to be one case-file table
(e.g. [rf.junction], [rf.drive], [rf.iv] with ``kind``); `IV_KINDS` maps a kind to its class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from scipy.constants import c as C_LIGHT
from scipy.special import jv

from .. import variables
from . import pumped, tline, tunneling
from .tline import Termination

# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class SuperconductingFilm:
    """A superconducting electrode: penetration depth lambda [m], film thickness t [m] (inf: thick)."""

    penetration_depth: float
    thickness: float = math.inf


@dataclass(frozen=True)
class Junction:
    """Junction geometry and materials. X runs along ``length`` (L, the paper's 'width' in Eq. 6);
    ``width`` [m] is across the line; barrier thickness l [m]; relative permittivity of the
    barrier eps [1]; optional losses R' [Ohm/m] and G' [S/m]. electrode2 None: same as electrode1."""

    length: float
    width: float
    barrier_thickness: float
    permittivity: float
    electrode1: SuperconductingFilm
    electrode2: SuperconductingFilm | None = None
    series_resistance: float = 0.0
    shunt_conductance: float = 0.0

    def line_constants(self) -> tline.LineConstants:
        e2 = self.electrode2 or self.electrode1
        return tline.junction_line_constants(
            self.barrier_thickness, self.electrode1.penetration_depth, e2.penetration_depth, self.permittivity,
            self.width, self.electrode1.thickness, e2.thickness, self.series_resistance, self.shunt_conductance)


@dataclass(frozen=True)
class FeedLine:
    """A lossless feed line: characteristic impedance [Ohm], length [m], phase velocity [m/s]."""

    impedance: float
    length: float
    velocity: float = C_LIGHT

    def segment(self) -> tline.Segment:
        return tline.Segment.from_impedance(self.impedance, self.length, self.velocity)


DRIVE_KINDS = ("end", "distributed", "embedded", "standing_wave", "uniform")
NORMALISATIONS = ("incident", "max", "rms", "source")


@dataclass(frozen=True)
class Drive:
    """How the rf reaches the junction, and the drive amplitudes V_rf0 [V] to sweep.

    kind:
      'end'           source (EMF, ``source_impedance``) at X = 0, ``termination`` at X = L;
      'distributed'   uniform series EMF along the junction (uniform-field coupling), ends
                      ``near_termination`` (X = 0) and ``termination`` (X = L);
      'embedded'      source at the far end of ``feed_in``, junction, ``feed_out`` ending in
                      ``termination``;
      'standing_wave' the paper's Eq. 6 on a half-wavelength junction with the given ``vswr``
                      (X = 0 at a voltage maximum), no line solution;
      'uniform'       V_rf(X) = V_rf0 everywhere (a junction much smaller than the wavelength).
    normalisation (what V_rf0 means): 'incident' |V+| of the wave arriving at X = L (Eq. 6's
      V_rf0; default for end, embedded, standing_wave and uniform), 'max' max_X |V_rf| (default
      for distributed), 'rms' sqrt(<|V_rf|^2>_X), 'source' the source EMF (total EMF along the
      junction for 'distributed')."""

    frequency: float
    amplitudes: tuple[float, ...]
    kind: str = "end"
    normalisation: str | None = None
    source_impedance: complex = 0.0
    termination: Termination = field(default_factory=lambda: Termination("open"))
    near_termination: Termination = field(default_factory=lambda: Termination("open"))
    feed_in: FeedLine | None = None
    feed_out: FeedLine | None = None
    vswr: float | None = None

    def __post_init__(self):
        tline.check_frequency(self.frequency)
        if self.kind not in DRIVE_KINDS:
            raise ValueError(f"drive kind must be one of {DRIVE_KINDS}, not {self.kind!r}")
        amps = np.asarray(self.amplitudes, dtype=float)
        if amps.ndim != 1 or amps.size == 0 or np.any(~np.isfinite(amps)) or np.any(amps < 0):
            raise ValueError("drive amplitudes must be a non-empty list of finite voltages >= 0")
        if self.normalisation is not None and self.normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}, not {self.normalisation!r}")
        if self.kind == "distributed" and self.normalisation == "incident":
            raise ValueError("a distributed drive has no single incident wave: use 'max', 'rms' or 'source'")
        if self.kind == "standing_wave" and self.vswr is None:
            raise ValueError("a standing_wave drive needs vswr (>= 1)")
        if self.kind == "embedded" and (self.feed_in is None or self.feed_out is None):
            raise ValueError("an embedded drive needs feed_in and feed_out lines")
        if complex(self.source_impedance).real < 0:
            raise ValueError("source_impedance needs Re(Z) >= 0")

    @property
    def resolved_normalisation(self) -> str:
        return self.normalisation or ("max" if self.kind == "distributed" else "incident")


@dataclass(frozen=True)
class BCSCurve:
    """BCS SIS quasiparticle I_0 (`tunneling.BCSIV`): R_n [Ohm], zero-temperature gaps [J]
    (gap2 None: equal), critical temperatures [K] (None: Delta0/1.764 k_B), Dynes Gamma [J],
    optional Gaussian smearing sigma [V]; tabulated to ``tolerance`` * max|I| before pumping."""

    normal_resistance: float
    gap1: float
    gap2: float | None = None
    critical_temperature1: float | None = None
    critical_temperature2: float | None = None
    dynes_gamma: float = 0.0
    smearing: float = 0.0
    tolerance: float = 1e-6

    def build(self, temperature: float, v_max: float):
        model = tunneling.BCSIV(self.normal_resistance, self.gap1, self.gap2, temperature,
                                self.critical_temperature1, self.critical_temperature2, self.dynes_gamma)
        bps = model.breakpoints()
        if self.smearing > 0:
            return tunneling.gaussian_smear(model, self.smearing, v_max, self.tolerance, bps), model.gap_voltage
        return tunneling.tabulate(model, v_max, self.tolerance, breakpoints=bps), model.gap_voltage


@dataclass(frozen=True)
class TableCurve:
    """A measured I_0: voltage [V] and current [A] columns (`tunneling.TableIV`); ``odd`` tables
    list V >= 0 only; optional Gaussian smearing sigma [V] (odd tables only)."""

    voltage: tuple[float, ...]
    current: tuple[float, ...]
    odd: bool = False
    interpolation: str = "pchip"
    smearing: float = 0.0

    def build(self, temperature: float, v_max: float):
        table = tunneling.TableIV(np.asarray(self.voltage), np.asarray(self.current), self.odd, self.interpolation)
        if self.smearing > 0:
            if not self.odd:
                raise ValueError("smearing needs an odd table (odd = true)")
            return tunneling.gaussian_smear(table, self.smearing, v_max), None
        return table, None


@dataclass(frozen=True)
class LinearCurve:
    """Ohmic I_0 = V/R [A]."""

    resistance: float

    def build(self, temperature: float, v_max: float):
        return tunneling.LinearIV(self.resistance), None


@dataclass(frozen=True)
class StepCurve:
    """A smeared gap step (`tunneling.SmearedStepIV`): V_g [V], R_n [Ohm], width [V], R_sg [Ohm]."""

    gap_voltage: float
    normal_resistance: float
    width: float
    subgap_resistance: float = math.inf

    def build(self, temperature: float, v_max: float):
        return tunneling.SmearedStepIV(self.gap_voltage, self.normal_resistance, self.width,
                                       self.subgap_resistance), self.gap_voltage


@dataclass(frozen=True)
class PolynomialCurve:
    """I_0 = sum_k c_k V^k [A], coefficients lowest order first."""

    coefficients: tuple[float, ...]

    def build(self, temperature: float, v_max: float):
        return tunneling.PolynomialIV(tuple(self.coefficients)), None


IV_KINDS = {"bcs": BCSCurve, "table": TableCurve, "linear": LinearCurve, "step": StepCurve,
            "polynomial": PolynomialCurve}


@dataclass(frozen=True)
class VoltageGrid:
    """``num`` equally spaced dc bias voltages from ``start`` to ``stop`` [V]."""

    start: float
    stop: float
    num: int = 1001

    def values(self) -> np.ndarray:
        if not (self.num >= 3 and self.stop > self.start):
            raise ValueError("the voltage grid needs stop > start and num >= 3")
        return np.linspace(self.start, self.stop, int(self.num))


HEATING_MODELS = ("lumped", "line")


@dataclass(frozen=True)
class Heating:
    """Self-heating of the junction (`heating` module): the heat P = V I_dc + P_rf leaves
    through ``hA`` [W/K] (the whole junction's conductance to the bath). model 'lumped': one
    junction temperature; 'line': T(X) along the junction with the films' lateral thermal
    conductance G_x = k t w [W m/K] on ``n_x`` points. ``n_nodes`` temperatures tabulate the BCS
    I_0(V, T); ``n_scan`` temperatures bracket the lumped fixed points."""

    hA: float
    model: str = "lumped"
    lateral_conductance: float = 0.0
    n_nodes: int = 9
    n_scan: int = 64
    n_x: int = 41
    max_coupling_iterations: int = 30

    def __post_init__(self):
        if not (math.isfinite(self.hA) and self.hA > 0):
            raise ValueError(f"heating hA must be > 0 W/K, got {self.hA!r}")
        if self.model not in HEATING_MODELS:
            raise ValueError(f"heating model must be one of {HEATING_MODELS}, not {self.model!r}")
        if self.model == "line" and not self.lateral_conductance > 0:
            raise ValueError("a 'line' heating model needs lateral_conductance > 0 W m/K")
        if self.n_nodes < 2 or self.n_scan < 8 or self.n_x < 3:
            raise ValueError("heating needs n_nodes >= 2, n_scan >= 8 and n_x >= 3")


@dataclass(frozen=True)
class Source:
    """A Thevenin source at the drive frequency (`embedding`): impedance Z_s [Ohm] (Re > 0) and the
    available powers P_av [W] to sweep; V_rf at every bias then follows from harmonic balance
    (uniform drive only: a junction much smaller than the wavelength)."""

    impedance: complex
    available_power: tuple[float, ...]

    def __post_init__(self):
        if not complex(self.impedance).real > 0:
            raise ValueError(f"the source impedance needs Re(Z_s) > 0 Ohm, got {self.impedance!r}")
        p = np.asarray(self.available_power, dtype=float)
        if p.ndim != 1 or p.size == 0 or np.any(~np.isfinite(p)) or np.any(p < 0):
            raise ValueError("available powers must be a non-empty list of finite powers >= 0 W")


@dataclass(frozen=True)
class RFParams:
    """Everything `run_rf` needs, SI throughout. temperature [K] enters the BCS I_0;
    max_step_order N: steps n = 0..N are reported; n_x: points along the junction;
    classical: also compute Eq. 12 with ``classical_nodes`` nodes per voltage."""

    junction: Junction
    drive: Drive
    iv: BCSCurve | TableCurve | LinearCurve | StepCurve | PolynomialCurve
    voltages: VoltageGrid
    temperature: float = 0.0
    max_step_order: int = 3
    n_x: int = 201
    classical: bool = True
    classical_nodes: int = 1024
    n_fiske: int = 5
    heating: Heating | None = None
    source: Source | None = None

    def __post_init__(self):
        if self.max_step_order < 0 or self.n_x < 3 or self.n_fiske < 1 or self.classical_nodes < 2:
            raise ValueError("max_step_order >= 0, n_x >= 3, n_fiske >= 1 and classical_nodes >= 2 are required")
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ValueError(f"temperature must be >= 0 K, got {self.temperature!r}")


# --------------------------------------------------------------------------- rf profile


def _source_end(z_source: complex) -> Termination:
    z = complex(z_source)
    return Termination("short", emf=1.0) if z == 0 else Termination("load", z, emf=1.0)


def rf_profile(junction: Junction, drive: Drive, X: np.ndarray) -> tuple[np.ndarray, dict]:
    """V_rf(X) [V] for unit drive amplitude (as defined by the drive's normalisation) and a
    summary: reflection coefficient at the junction's X = L end, VSWR, the norm used."""
    lc = junction.line_constants()
    f = drive.frequency
    z0 = lc.characteristic_impedance(f)
    L = junction.length
    summary = {}
    if drive.kind == "standing_wave":
        rho = tline.reflection_from_vswr(drive.vswr)
        V = tline.standing_wave(X, L, rho)
        summary.update(reflection=complex(rho), vswr=float(drive.vswr), incident=1.0, source=1.0)
    elif drive.kind == "uniform":
        V = np.ones(X.shape, dtype=complex)
        summary.update(reflection=complex(np.nan, np.nan), vswr=math.nan, incident=1.0, source=1.0)
    else:
        junction_seg = tline.Segment(lc, L)
        if drive.kind == "end":
            segs, left, right, offset = [junction_seg], _source_end(drive.source_impedance), drive.termination, 0.0
            z_right = drive.termination.impedance_for(z0)
        elif drive.kind == "distributed":
            junction_seg = tline.Segment(lc, L, emf_per_length=1.0 / L)
            segs, left, right, offset = [junction_seg], drive.near_termination, drive.termination, 0.0
            z_right = drive.termination.impedance_for(z0)
        else:  # embedded
            fin, fout = drive.feed_in.segment(), drive.feed_out.segment()
            segs, left, right, offset = [fin, junction_seg, fout], _source_end(drive.source_impedance), \
                drive.termination, drive.feed_in.length
            z_right = tline.input_impedance([fout], f, drive.termination)
        sol = tline.solve_line(segs, f, left, right, x=X + offset)
        V = sol.V
        gamma_l = tline.reflection_coefficient(z_right, z0)
        vplus = tline.forward_wave(sol, lc, junction_seg.emf_per_length)
        summary.update(reflection=gamma_l, vswr=tline.vswr(gamma_l), incident=float(abs(vplus[-1])), source=1.0)
    norms = {"incident": summary["incident"], "max": float(np.max(np.abs(V))),
             "rms": float(np.sqrt(np.sum(pumped.x_average_weights(X) * np.abs(V) ** 2))),
             "source": summary["source"]}
    norm = norms[drive.resolved_normalisation]
    if not norm > 0:
        raise ValueError(f"the rf profile has zero {drive.resolved_normalisation!r} amplitude; choose another normalisation")
    summary["norm"] = norm
    return V / norm, summary


# --------------------------------------------------------------------------- the study


def _gap_step(model, gap_voltage, f, v_max):
    """(V_g, current rise of I_0 across V_g +- h f / 2e): the unpumped gap step that the
    quasiparticle step weights multiply. Without a known V_g it is where dI_0/dV peaks (V > 0),
    provided that peak stands out (5x the median slope); otherwise (NaN, NaN)."""
    half = 0.5 * pumped.photon_voltage(f)
    lo, hi = getattr(model, "voltage_range", (-v_max, v_max))
    if gap_voltage is None:
        v = np.linspace(max(lo, 0.0), min(hi, v_max) - half, 20001)
        slope = np.diff(np.asarray(model(v), dtype=float))
        k = int(np.argmax(slope))
        if not slope[k] > 5 * abs(np.median(slope)):
            return math.nan, math.nan
        gap_voltage = 0.5 * (v[k] + v[k + 1])
    if gap_voltage - half < lo or gap_voltage + half > hi:
        return float(gap_voltage), math.nan
    i_lo, i_hi = np.asarray(model(np.array([gap_voltage - half, gap_voltage + half])))
    return float(gap_voltage), float(i_hi - i_lo)


def _var(name, dims, data, long_name):
    """An xarray variable of output ``name``: its unit from the registry (femsim.variables),
    the long name as specific as this dataset can say it."""
    return xr.Variable(dims, data, attrs=variables.attrs(name, long_name))


def run_rf(params: RFParams) -> dict[str, xr.Dataset]:
    """Run the rf study; returns datasets 'vrf', 'iv' and 'steps' (see module docstring).

    Josephson steps are given with both averages; 'josephson_positionwise' (the paper's,
    <|J_n(2 e V_rf(X)/h f)|>_X) is the default one to show."""
    if params.source is not None:
        return run_rf_source(params)
    j, d = params.junction, params.drive
    f = d.frequency
    lc = j.line_constants()
    X = np.linspace(0.0, j.length, params.n_x)
    weights = pumped.x_average_weights(X)
    shape, summary = rf_profile(j, d, X)
    amps = np.asarray(d.amplitudes, dtype=float)
    vrf = amps[:, None] * shape[None, :]                      # (amplitude, X)
    V = params.voltages.values()

    vph = pumped.photon_voltage(f)
    a_max = float(np.max(np.abs(vrf)))
    n_orders = pumped.bessel_order_limit(a_max / vph)
    v_need = float(np.max(np.abs(V))) + max(n_orders * vph, a_max) + 2 * vph
    model, gap_voltage = params.iv.build(params.temperature, v_need)
    if hasattr(model, "voltage_range"):
        lo, hi = model.voltage_range
        need_lo, need_hi = V.min() - max(n_orders * vph, a_max), V.max() + max(n_orders * vph, a_max)
        if need_lo < lo or need_hi > hi:
            raise ValueError(f"the I_0 table covers {lo:.6g} V .. {hi:.6g} V but the pumped curve needs "
                             f"{need_lo:.6g} V .. {need_hi:.6g} V (bias +- {n_orders} h f/e photon orders, "
                             "+- max V_rf for Eq. 12): extend the table or narrow the bias range")

    i0 = np.asarray(model(V), dtype=float)
    ipump = pumped.pumped_iv(model, V, np.abs(vrf), f, weights)
    iv_vars = {
        "I_unpumped": _var("I_unpumped", ("V",), i0, "dc current without rf, I_0(V)"),
        "I_pumped": _var("I_pumped", ("V_rf0", "V"), ipump, "dc current with rf, Tien-Gordon over X (Eq. 5)"),
        "dIdV_pumped": _var("dIdV_pumped", ("V_rf0", "V"), np.gradient(ipump, V, axis=-1, edge_order=2),
                            "differential conductance of the pumped curve"),
    }
    heat_attrs = {}
    if params.heating is not None:
        heated = _self_heated(params, model, V, vrf, f, X, weights, v_need)
        iv_vars["I_pumped_isothermal"] = _var("I_pumped_isothermal", ("V_rf0", "V"), ipump,
                                              "dc current with rf at T_bath (no self-heating), Eq. 5")
        iv_vars["I_pumped"] = _var("I_pumped", ("V_rf0", "V"), heated["I"],
                                   "dc current with rf, self-heated junction (Eq. 5 at T_junction)")
        iv_vars["dIdV_pumped"] = _var("dIdV_pumped", ("V_rf0", "V"), np.gradient(heated["I"], V, axis=-1, edge_order=2),
                                      "differential conductance of the self-heated pumped curve")
        iv_vars.update(heated["vars"])
        heat_attrs = heated["attrs"]
    if params.classical:
        icl = pumped.classical_iv(model, V, np.abs(vrf), weights, n_nodes=params.classical_nodes)
        iv_vars["I_classical"] = _var("I_classical", ("V_rf0", "V"), icl,
                                      "dc current, classical rf detection over X (Eq. 12)")

    n = np.arange(params.max_step_order + 1)
    qpw = pumped.qp_step_weights(np.abs(vrf), f, params.max_step_order, weights)
    vg, dI = _gap_step(model, gap_voltage, f, v_need)
    alpha0 = amps / vph
    steps_vars = {
        "qp_weight": _var("qp_weight", ("V_rf0", "n"), qpw,
                          "quasiparticle step weight <J_n^2(e V_rf(X)/hf)>_X (Eq. 5)"),
        "qp_step": _var("qp_step", ("V_rf0", "n"), qpw * dI, "quasiparticle step height, weight x unpumped gap step"),
        "josephson_positionwise": _var("josephson_positionwise", ("V_rf0", "n"), pumped.josephson_step_amplitudes(
            vrf, f, params.max_step_order, weights, "positionwise"),
            "Josephson step / I_c, position-wise <|J_n(2 e V_rf(X)/hf)|>_X (default)"),
        "josephson_coherent": _var("josephson_coherent", ("V_rf0", "n"), pumped.josephson_step_amplitudes(
            vrf, f, params.max_step_order, weights, "coherent"),
            "Josephson step / I_c, phase-coherent |<J_n(2 e |V_rf| / hf) exp(-i n psi)>_X|"),
        "uniform_Jn2": _var("uniform_Jn2", ("V_rf0", "n"), jv(n[None, :], alpha0[:, None]) ** 2,
                            "uniform-field reference J_n^2(e V_rf0/hf) (Eq. 2)"),
        "uniform_Jn_abs": _var("uniform_Jn_abs", ("V_rf0", "n"), np.abs(jv(n[None, :], 2 * alpha0[:, None])),
                               "uniform-field Josephson reference |J_n(2 e V_rf0/hf)| (Eq. 3)"),
    }

    if params.heating is not None:
        shift = _step_shift(V, ipump, iv_vars["I_pumped"].values, vg, f, params.max_step_order)
        shift[:, amps == 0, 1:] = np.nan        # no photon steps without rf
        steps_vars["qp_step_position_isothermal"] = _var("qp_step_position_isothermal", ("V_rf0", "n"), shift[0],
                                                          "bias of step n's edge (max dI/dV), no self-heating")
        steps_vars["qp_step_position_heated"] = _var("qp_step_position_heated", ("V_rf0", "n"), shift[1],
                                                      "bias of step n's edge (max dI/dV), self-heated")
        steps_vars["qp_step_shift_heating"] = _var("qp_step_shift_heating", ("V_rf0", "n"), shift[1] - shift[0],
                                                    "shift of step n's edge caused by self-heating")

    refl = summary["reflection"]
    attrs = {
        "frequency": f, "frequency_units": "Hz",
        "photon_voltage": vph, "photon_voltage_units": "V",
        "c_bar_over_c": lc.velocity / C_LIGHT,
        "c_bar": lc.velocity, "c_bar_units": "m/s",
        "wavelength": lc.wavelength(f), "wavelength_units": "m",
        "characteristic_impedance_real": lc.characteristic_impedance(f).real,
        "characteristic_impedance_imag": lc.characteristic_impedance(f).imag,
        "characteristic_impedance_units": "Ohm",
        "VSWR": summary["vswr"],
        "reflection_magnitude": abs(refl), "reflection_phase": float(np.angle(refl)) if np.isfinite(refl) else math.nan,
        "reflection_phase_units": "rad",
        "fiske_frequencies": tline.fiske_frequencies(lc.velocity, j.length, params.n_fiske),
        "fiske_frequencies_units": "Hz",
        "drive_kind": d.kind, "normalisation": d.resolved_normalisation,
        "bessel_orders": n_orders,
        "gap_voltage": vg, "gap_voltage_units": "V",
        "gap_step_current": dI, "gap_step_current_units": "A",
        "josephson_default_average": "positionwise",
        **heat_attrs,
    }
    coords_a = {"V_rf0": _var("V_rf0", ("V_rf0",), amps, "drive amplitude V_rf0 (" + d.resolved_normalisation + ")")}
    vrf_vars = {"Vrf_abs": _var("Vrf_abs", ("V_rf0", "X"), np.abs(vrf), "rf voltage amplitude |V_rf(X)|"),
                "Vrf_phase": _var("Vrf_phase", ("X",), np.angle(shape), "rf voltage phase psi(X)")}
    if params.heating is not None and "T_X_hottest" in heated:
        vrf_vars["T_X_hottest"] = _var("T_X_hottest", ("V_rf0", "X"), heated["T_X_hottest"],
                                       "junction temperature T(X) at the bias where <T>_X peaks")
    ds_vrf = xr.Dataset(
        vrf_vars,
        coords={"X": _var("X", ("X",), X, "position along the junction"), **coords_a}, attrs=attrs)
    ds_iv = xr.Dataset(iv_vars, coords={"V": _var("V", ("V",), V, "dc bias voltage"), **coords_a}, attrs=attrs)
    ds_steps = xr.Dataset(steps_vars, coords={"n": _var("n", ("n",), n, "step order"), **coords_a}, attrs=attrs)
    return {"vrf": ds_vrf, "iv": ds_iv, "steps": ds_steps}


# --------------------------------------------------------------------------- self-heating


def _self_heated(params: RFParams, model, V, vrf, f, X, weights, v_need) -> dict:
    """Self-consistent pumped I-V of a self-heated junction for every drive amplitude."""
    from . import heating as ht

    h = params.heating
    vph = pumped.photon_voltage(f)
    n, W = pumped.tien_gordon_weights(np.abs(vrf), f, weights)          # W (amplitude, orders)
    Tb = params.temperature
    Vn = V[None, :] + n[:, None] * vph
    if isinstance(params.iv, BCSCurve):
        # the normal-state power bounds the heating: T_top covers every root
        p_normal = float(np.max((W @ (Vn * Vn)) / params.iv.normal_resistance))
        t_top = Tb + 1.3 * p_normal / h.hA + 1e-3
        family = ht.BCSFamily(params.iv, Tb, t_top, v_need, model, n_nodes=h.n_nodes)
    else:
        t_top = math.nan
        family = ht.ConstantShape(model)
    na, nv = W.shape[0], V.size
    out = {k: np.full((na, nv), np.nan) for k in ("I", "T", "Tmax", "Pdc", "Prf", "res", "nsol")}
    turning, attrs = [], {}
    if h.model == "lumped":
        for a in range(na):
            top = t_top if math.isfinite(t_top) else Tb + 1.0
            sol = ht.solve_lumped(family, V, n, W[a], vph, Tb, h.hA, top, n_scan=h.n_scan)
            out["I"][a], out["T"][a], out["Pdc"][a], out["Prf"][a] = sol.I_dc, sol.T, sol.P_dc, sol.P_rf
            out["res"][a], out["nsol"][a] = sol.residual, sol.n_roots
            turning += [{**tp, "V_rf0": float(params.drive.amplitudes[a])} for tp in sol.turning_points]
        out["Tmax"] = out["T"]
        hottest = None
    else:
        Xt = np.linspace(X[0], X[-1], h.n_x)
        hottest = np.full((na, X.size), np.nan)
        for a in range(na):
            amp_x = np.interp(Xt, X, np.abs(vrf[a]))
            J2 = jv(n[:, None], amp_x[None, :] / vph) ** 2
            sol = ht.solve_line(family, V, n, J2, Xt, vph, Tb, h.hA, h.lateral_conductance)
            Tm = sol.T @ pumped.x_average_weights(Xt)
            out["I"][a], out["T"][a], out["Tmax"][a] = sol.I_dc, Tm, sol.T.max(axis=1)
            out["Pdc"][a], out["Prf"][a], out["res"][a] = sol.P_dc, sol.P_rf, sol.residual
            out["nsol"][a] = np.where(sol.converged, 1, 0)
            hottest[a] = np.interp(X, Xt, sol.T[int(np.nanargmax(Tm))])
    v = {
        "T_junction": _var("T_junction", ("V_rf0", "V"), out["T"],
                           "junction temperature (line model: mean over X), self-consistent"),
        "T_junction_max": _var("T_junction_max", ("V_rf0", "V"), out["Tmax"], "hottest junction temperature"),
        "P_dc": _var("P_dc", ("V_rf0", "V"), out["Pdc"], "dc power V I_dc"),
        "P_rf": _var("P_rf", ("V_rf0", "V"), out["Prf"], "absorbed rf power (h f/e) sum_n n J_n^2 I_0(V_n)"),
        "heat_balance": _var("heat_balance", ("V_rf0", "V"), out["res"],
                             "|hA (T - T_bath) - (P_dc + P_rf)| / (P_dc + P_rf)"),
        "n_solutions": _var("n_solutions", ("V_rf0", "V"), out["nsol"],
                            "self-consistent temperatures at this bias (lumped; line: 1 converged, 0 not)"),
    }
    attrs = {"heating_model": h.model, "hA": h.hA, "hA_units": "W/K", "T_bath": Tb, "T_bath_units": "K",
             "heating_turning_points": json_turning(turning)}
    if h.model == "line":
        attrs.update(lateral_conductance=h.lateral_conductance, lateral_conductance_units="W m/K",
                     thermal_healing_length=math.sqrt(h.lateral_conductance * (X[-1] - X[0]) / h.hA),
                     thermal_healing_length_units="m")
    res = {"I": out["I"], "vars": v, "attrs": attrs, "turning": turning}
    if hottest is not None:
        res["T_X_hottest"] = hottest
    return res


def json_turning(turning) -> str:
    """Turning points as a JSON string (netCDF attributes hold no lists of dicts)."""
    import json

    return json.dumps(turning)


def _step_shift(V, i_iso, i_hot, vg, f, n_max):
    """Bias of each step's edge (largest dI/dV in [V_g - (n + 3/4) hf/e, V_g - (n - 1/4) hf/e])
    without and with heating, shape (2, amplitude, n) [V]; NaN where the window leaves the grid."""
    vph = pumped.photon_voltage(f)
    out = np.full((2,) + i_iso.shape[:1] + (n_max + 1,), np.nan)
    if not np.isfinite(vg):
        return out
    for c, cur in enumerate((i_iso, i_hot)):
        g = np.gradient(cur, V, axis=-1)
        for k in range(n_max + 1):
            lo, hi = vg - (k + 0.75) * vph, vg - (k - 0.25) * vph
            m = (V >= lo) & (V <= hi)
            if lo < V[0] or hi > V[-1] or m.sum() < 3:
                continue
            idx = np.nonzero(m)[0]
            out[c, :, k] = V[idx[np.argmax(g[:, idx], axis=1)]]
    return out


# --------------------------------------------------------------------------- Thevenin source


def _normal_resistance(curve, model, v_top) -> float:
    """R_n [Ohm] for the Kramers-Kronig subtraction: the curve's own, else the slope at the top."""
    for name in ("normal_resistance", "resistance"):
        if hasattr(curve, name):
            return float(getattr(curve, name))
    i1, i2 = np.asarray(model(np.array([0.9 * v_top, v_top])), dtype=float)
    if not i2 > i1:
        raise ValueError("the I_0 curve does not end ohmic: no normal resistance for the Kramers-Kronig current")
    return float(0.1 * v_top / (i2 - i1))


def run_rf_source(params: RFParams) -> dict[str, xr.Dataset]:
    """rf study driven by a Thevenin source: for every available power and bias, V_rf from
    single-tone harmonic balance (`embedding.solve_vrf`, reactive current from `kramers_kronig`),
    then the pumped I-V (Eq. 2) with that V_rf; with heating, T_junction from the lumped model at
    that V_rf. Datasets 'iv' (coordinates P_av, V) and 'embedding' (step heights versus P_av)."""
    from . import embedding, kramers_kronig

    src, d = params.source, params.drive
    if d.kind != "uniform":
        raise ValueError("a Thevenin source drives a uniform junction only (drive kind = 'uniform')")
    if params.heating is not None and params.heating.model != "lumped":
        raise ValueError("a Thevenin source works with the 'lumped' heating model only")
    f = d.frequency
    vph = pumped.photon_voltage(f)
    V = params.voltages.values()
    zs = complex(src.impedance)
    P = np.asarray(src.available_power, dtype=float)
    vs = np.array([embedding.source_voltage(p, zs) for p in P])
    a_max = (4.0 if zs.imag != 0 else 1.05) * float(vs.max())   # the harmonic-balance scan's top
    n_orders = pumped.bessel_order_limit(a_max / vph) + 1
    v_need = float(np.max(np.abs(V))) + n_orders * vph + 2 * vph
    model, gap_voltage = params.iv.build(params.temperature, v_need + n_orders * vph)
    rn = _normal_resistance(params.iv, model, v_need)
    ikk = kramers_kronig.kk_table(model, v_need, rn, v_max=2 * v_need + 10 * vph)
    vw = np.zeros((P.size, V.size))
    nsol = np.zeros((P.size, V.size), int)
    ipump = np.zeros((P.size, V.size))
    for k, v in enumerate(vs):
        vw[k], nsol[k] = embedding.solve_vrf(model, ikk, V, vph, v, zs)
        n, W = pumped.tien_gordon_weights(vw[k][:, None], f)          # W (V, orders)
        I0 = np.asarray(model(V[None, :] + n[:, None] * vph), dtype=float)
        ipump[k] = np.einsum("vn,nv->v", W, I0)
    i0 = np.asarray(model(V), dtype=float)
    coords = {"V": _var("V", ("V",), V, "dc bias voltage"),
              "P_av": _var("P_av", ("P_av",), P, "available power of the Thevenin source")}
    iv_vars = {
        "I_unpumped": _var("I_unpumped", ("V",), i0, "dc current without rf, I_0(V)"),
        "I_pumped": _var("I_pumped", ("P_av", "V"), ipump, "dc current with rf, Tien-Gordon at the balanced V_rf"),
        "dIdV_pumped": _var("dIdV_pumped", ("P_av", "V"), np.gradient(ipump, V, axis=-1, edge_order=2),
                            "differential conductance of the pumped curve"),
        "V_rf": _var("V_rf", ("P_av", "V"), vw, "junction rf amplitude from harmonic balance"),
        "rf_solutions": _var("rf_solutions", ("P_av", "V"), nsol,
                             "harmonic-balance solutions found (the smallest is used)"),
    }
    vg, dI = _gap_step(model, gap_voltage, f, v_need)
    attrs = {"frequency": f, "frequency_units": "Hz", "photon_voltage": vph, "photon_voltage_units": "V",
             "source_resistance": zs.real, "source_reactance": zs.imag, "source_impedance_units": "Ohm",
             "gap_voltage": vg, "gap_voltage_units": "V", "gap_step_current": dI, "gap_step_current_units": "A",
             "phasor_convention": "engineering, Re[X exp(+j w t)]", "drive_kind": "thevenin_source"}
    if params.heating is not None:
        h = params.heating
        from . import heating as ht

        Tb = params.temperature
        if isinstance(params.iv, BCSCurve):
            # a passive junction takes at most V_w <= |V_s| (resistive source): bound the heating
            p_normal = float(np.max(V ** 2 / rn) + vs.max() ** 2 / (2 * rn))
            t_top = Tb + 1.3 * p_normal / h.hA + 1e-3
            family = ht.BCSFamily(params.iv, Tb, t_top, v_need, model, n_nodes=h.n_nodes).build_kk(v_need)
        else:
            t_top = Tb + 1.0
            family = ht.ConstantShape(model).with_kk(ikk)
        T = np.zeros_like(ipump)
        Ih, Pdc, Prf, res, dT, vw_hot = (np.zeros_like(ipump) for _ in range(6))
        for k in range(P.size):
            # the junction's rf admittance depends on T_junction: alternate harmonic balance at the
            # current T(V) and the lumped heat balance at the resulting V_rf until T stops moving
            Tk = np.full(V.size, Tb)
            v_k = vw[k]
            for _ in range(h.max_coupling_iterations):
                Tc_ = np.where(np.isfinite(Tk), Tk, Tb)[None, :]
                v_k, _n = embedding.solve_vrf(lambda x: family(x, Tc_), lambda x: family.kk(x, Tc_), V, vph,
                                              vs[k], zs, guess=v_k)
                n, W = pumped.tien_gordon_weights(v_k[:, None], f)
                sol = ht.solve_lumped(family, V, n, W, vph, Tb, h.hA, t_top, n_scan=h.n_scan)
                change = np.abs(sol.T - Tk)
                Tk = sol.T
                if np.all(np.nan_to_num(change) <= 1e-9 * Tb):
                    break
            T[k], Ih[k], Pdc[k], Prf[k], res[k] = sol.T, sol.I_dc, sol.P_dc, sol.P_rf, sol.residual
            dT[k], vw_hot[k] = change, v_k
        iv_vars["V_rf_isothermal"] = _var("V_rf_isothermal", ("P_av", "V"), vw,
                                          "junction rf amplitude, junction at T_bath")
        iv_vars["V_rf"] = _var("V_rf", ("P_av", "V"), vw_hot, "junction rf amplitude, self-heated junction")
        iv_vars["coupling_change"] = _var("coupling_change", ("P_av", "V"), dT,
                                          "last change of T_junction in the V_rf <-> T iteration")
        iv_vars["I_pumped_isothermal"] = iv_vars["I_pumped"]
        iv_vars["I_pumped_isothermal"].attrs["long_name"] = "dc current with rf at T_bath (no self-heating)"
        iv_vars["I_pumped"] = _var("I_pumped", ("P_av", "V"), Ih, "dc current with rf, self-heated junction")
        iv_vars["T_junction"] = _var("T_junction", ("P_av", "V"), T, "junction temperature, self-consistent")
        iv_vars["P_dc"] = _var("P_dc", ("P_av", "V"), Pdc, "dc power V I_dc")
        iv_vars["P_rf"] = _var("P_rf", ("P_av", "V"), Prf, "absorbed rf power")
        iv_vars["heat_balance"] = _var("heat_balance", ("P_av", "V"), res, "|hA (T - T_bath) - P| / P")
        attrs.update(heating_model="lumped", hA=h.hA, hA_units="W/K", T_bath=params.temperature, T_bath_units="K",
                     heating_coupling="harmonic balance with the admittance at T_junction, iterated to 1e-9 T_bath")
    # step heights versus power: rise of the pumped curve across each step, V_g - n hf/e +- hf/2e
    nmax = params.max_step_order
    orders = np.arange(nmax + 1)
    rise = np.full((2, P.size, orders.size), np.nan)
    vrf_at = np.full((P.size, orders.size), np.nan)
    curves = [iv_vars["I_pumped"].values] + ([iv_vars["I_pumped_isothermal"].values]
                                              if params.heating is not None else [])
    for c, cur in enumerate(curves):
        for i, nn in enumerate(orders):
            lo, hi = vg - nn * vph - vph / 2, vg - nn * vph + vph / 2
            if not (np.isfinite(vg) and lo >= V[0] and hi <= V[-1]):
                continue
            rise[c, :, i] = [np.interp(hi, V, row) - np.interp(lo, V, row) for row in cur]
            vrf_at[:, i] = [np.interp(vg - nn * vph, V, row) for row in iv_vars["V_rf"].values]
    emb_vars = {"qp_step_measured": _var("qp_step_measured", ("P_av", "n"), rise[0],
                                         "rise of the pumped I-V across step n (V_g - n hf/e +- hf/2e)"),
                "V_rf_at_step": _var("V_rf_at_step", ("P_av", "n"), vrf_at,
                                     "junction rf amplitude at the step's centre")}
    if params.heating is not None:
        emb_vars["qp_step_measured_isothermal"] = _var("qp_step_measured_isothermal", ("P_av", "n"), rise[1],
                                                       "the same without self-heating")
    ds_iv = xr.Dataset(iv_vars, coords=coords, attrs=attrs)
    ds_emb = xr.Dataset(emb_vars, coords={"P_av": coords["P_av"], "n": _var("n", ("n",), orders, "step order")},
                        attrs=attrs)
    return {"iv": ds_iv, "embedding": ds_emb}
