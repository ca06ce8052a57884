"""rf study: the case's [rf] section -> `femsim.rf.model.RFParams` -> `run_rf`."""

from __future__ import annotations

import math

import numpy as np
from scipy.constants import c as C_LIGHT

from ..errors import CaseError
from ..rf import model as rfs
from ..rf.tline import Termination
from .result import StudyResult


def _termination(load) -> Termination:
    return Termination(load.kind, load.impedance.complex if load.impedance else None)


def _feed(f):
    return None if f is None else rfs.FeedLine(f.impedance, f.length, f.velocity or C_LIGHT)


def _electrode(e):
    return None if e is None else rfs.SuperconductingFilm(e.penetration_depth, e.thickness or math.inf)


def _iv(spec):
    if spec.kind == "bcs":
        # gap_voltage is 2 Delta/e for equal gaps; BCSCurve takes gaps as energies [J]
        from scipy.constants import e
        gap1 = spec.gap1 if spec.gap1 is not None else spec.gap_voltage * e / 2
        return rfs.BCSCurve(spec.normal_resistance, gap1, spec.gap2, spec.critical_temperature1,
                            spec.critical_temperature2, spec.dynes_gamma, spec.smearing)
    if spec.kind == "table":
        return rfs.TableCurve(tuple(spec.voltage), tuple(spec.current), spec.odd, spec.interpolation, spec.smearing)
    if spec.kind == "linear":
        return rfs.LinearCurve(spec.resistance)
    if spec.kind == "step":
        return rfs.StepCurve(spec.gap_voltage, spec.normal_resistance, spec.width, spec.subgap_resistance or math.inf)
    return rfs.PolynomialCurve(tuple(spec.coefficients))


def params(case) -> rfs.RFParams:
    """Translate the validated case into the rf kernel's parameters (all SI already)."""
    rf = case.rf
    j, d = rf.junction, rf.drive
    amps = d.amplitudes
    amplitudes = tuple(np.linspace(amps.start, amps.stop, amps.num)) if hasattr(amps, "num") else tuple(amps)
    junction = rfs.Junction(j.length, j.width, j.barrier_thickness, j.permittivity, _electrode(j.electrode1),
                            _electrode(j.electrode2), j.series_resistance, j.shunt_conductance)
    drive = rfs.Drive(d.frequency, amplitudes, d.kind, d.normalisation,
                      d.source_impedance.complex if d.source_impedance else 0.0, _termination(d.termination),
                      _termination(d.near_termination), _feed(d.feed_in), _feed(d.feed_out), d.vswr)
    return rfs.RFParams(junction, drive, _iv(rf.iv), rfs.VoltageGrid(rf.voltages.start, rf.voltages.stop,
                                                                      rf.voltages.num),
                        temperature=case.environment.T_bath[0], max_step_order=rf.max_step_order, n_x=rf.n_x,
                        classical=rf.classical, classical_nodes=rf.classical_nodes, heating=_heating(rf.heating, j),
                        source=None if rf.source is None else rfs.Source(rf.source.impedance.complex,
                                                                         tuple(rf.source.available_power)))


def _heating(h, junction):
    if h is None:
        return None
    lateral = 0.0 if h.model == "lumped" else h.thermal_conductivity * h.film_thickness * junction.width
    return rfs.Heating(h.hA, h.model, lateral, h.temperature_nodes, h.scan_points, h.n_x)


def _scalar(v):
    if isinstance(v, (np.generic, float, int)):
        v = float(v)
        return v if math.isfinite(v) else ("inf" if v > 0 else None)
    if isinstance(v, complex):
        return {"re": v.real, "im": v.imag}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_scalar(x) for x in np.asarray(v).tolist()]
    return v


def run(case, sink=None) -> StudyResult:
    try:
        p = params(case)
        datasets = rfs.run_rf(p)
    except ValueError as e:  # the kernel's own checks of physically impossible input
        raise CaseError("rf", "these parameters", str(e)) from None
    first = datasets["vrf"] if "vrf" in datasets else datasets["iv"]
    figures = {k: _scalar(v) for k, v in first.attrs.items() if k != "heating_turning_points"}
    if p.heating is not None and "steps" in datasets:
        figures["heating"] = heating_figures(datasets)
    if "embedding" in datasets:
        figures["source"] = source_figures(datasets)
    figures["key"] = key_figures(datasets)
    return StudyResult(datasets=datasets, figures=figures)


def heating_figures(datasets) -> dict:
    """Key numbers of a self-heated run, with units in the keys: hottest junction, the shift of
    each quasiparticle step's edge at the strongest drive and how much of it is heating."""
    import json

    iv, steps = datasets["iv"], datasets["steps"]
    out = {"T_junction_max_K": float(iv["T_junction_max"].max()),
           "heat_balance_max": float(iv["heat_balance"].max()),
           "turning_points": json.loads(iv.attrs.get("heating_turning_points", "[]"))}
    a = steps["V_rf0"].values[-1]
    per_n = []
    for n in steps["n"].values:
        iso = float(steps["qp_step_position_isothermal"].sel(V_rf0=a, n=n))
        hot = float(steps["qp_step_position_heated"].sel(V_rf0=a, n=n))
        if not (math.isfinite(iso) and math.isfinite(hot)):
            continue
        # shift from the nominal edge V_g(T_bath) - n h f/e: the isothermal curve's own (overlapping
        # steps, grid) and the part heating adds
        nominal = float(steps.attrs["gap_voltage"]) - int(n) * float(steps.attrs["photon_voltage"])
        total = hot - nominal
        per_n.append({"n": int(n), "V_rf0_mV": float(a) * 1e3, "edge_nominal_mV": nominal * 1e3,
                      "edge_isothermal_mV": iso * 1e3, "edge_heated_mV": hot * 1e3,
                      "shift_total_uV": total * 1e6, "shift_heating_uV": (hot - iso) * 1e6,
                      "heating_share_percent": (100.0 * (hot - iso) / total) if total != 0 else None})
    out["step_edges"] = per_n
    return out


def source_figures(datasets) -> dict:
    """Key numbers of a source-driven run: V_rf at the gap for each available power, and (heated)
    how much of each step's height change is heating."""
    iv, emb = datasets["iv"], datasets["embedding"]
    rows = []
    for k, p in enumerate(emb["P_av"].values):
        row = {"P_av_nW": float(p) * 1e9, "V_rf_at_steps_mV": [None if not math.isfinite(x) else x * 1e3
                                                              for x in emb["V_rf_at_step"].values[k]],
               "step_heights_uA": [None if not math.isfinite(x) else x * 1e6
                                   for x in emb["qp_step_measured"].values[k]]}
        if "qp_step_measured_isothermal" in emb:
            row["step_heights_isothermal_uA"] = [None if not math.isfinite(x) else x * 1e6
                                                 for x in emb["qp_step_measured_isothermal"].values[k]]
        rows.append(row)
    out = {"per_power": rows}
    if "T_junction" in iv:
        out["T_junction_max_K"] = float(iv["T_junction"].max())
        out["heat_balance_max"] = float(iv["heat_balance"].max())
    return out


#: first zero of the Bessel function J_0
J0_FIRST_ZERO = 2.404825557695773


def key_figures(datasets) -> dict:
    """The rf numbers a reader checks first, unit-suffixed (seeds/004):

    - Eq. 12 against the Tien-Gordon sum (Eq. 5): max over V of |I_pumped - I_classical|
      divided by max |I_classical|, per drive and the largest (the paper's 'agreement to
      better than 1 %' at 5 GHz);
    - the drive V_rf0 where e V_rf0/(h f) reaches the first zero of J_0 (2.405), and the
      step weights <J_n^2>_X and quasiparticle step heights [A] there, interpolated in the
      computed drives when that drive lies inside them, else the uniform-drive J_n^2.
    """
    from scipy.constants import e, h
    from scipy.special import jv

    out = {}
    iv = datasets.get("iv")
    if iv is not None and {"I_pumped", "I_classical"} <= set(iv.variables):
        diff = np.abs(iv["I_pumped"] - iv["I_classical"]).max("V")
        rel = diff / np.abs(iv["I_classical"]).max("V")
        out["eq12_classical_vs_quantum_rel"] = float(rel.max())
        out["eq12_classical_vs_quantum_rel_per_drive"] = {f"{v * 1e3:g} mV": float(r) for v, r in
                                                          zip(iv["V_rf0"].values, rel.values)}
    steps = datasets.get("steps")
    if steps is not None and "frequency" in steps.attrs:
        f = float(steps.attrs["frequency"])
        V0 = J0_FIRST_ZERO * h * f / e
        out["V_rf0_first_J0_zero_V"] = V0
        drives = steps["V_rf0"].values
        inside = drives.size > 1 and drives.min() <= V0 <= drives.max()
        for name, unit in (("qp_weight", ""), ("qp_step", "_A")):
            if name not in steps:
                continue
            if inside:
                at = steps[name].interp(V_rf0=V0)
                out[f"{name}_at_first_J0_zero{unit}"] = {f"n={int(n)}": float(v) for n, v in zip(steps["n"].values, at.values)}
            elif name == "qp_weight":
                out["uniform_Jn2_at_first_J0_zero"] = {f"n={int(n)}": float(jv(int(n), J0_FIRST_ZERO) ** 2)
                                                      for n in steps["n"].values}
        out["first_J0_zero_inside_drives"] = bool(inside)
    return out
