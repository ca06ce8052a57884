"""Key figures of a geometry's default mesh against one refinement level (issue 13).

A small electro-thermal case per geometry kind, with constant (temperature-independent)
material properties of the magnitude at 4.2 K, so that each figure is one linear solve:
the isothermal resistance R (V/I of the device, which sets V at every bias) and the
low-power (hA)_eff (which sets the temperature rise, hence the turning points through
V_th = sqrt(hA R0 R / |dR/dT|)); T_max per watt from the same linear heat solve.
"""

from __future__ import annotations

import numpy as np

from femsim.case import parse_case

# Materials: Bi2212 at 4.2 K (rho_c of its normal-state extension ~ 1e2 Ohm cm order,
# rho_ab ~ 1e-4 Ohm cm: anisotropy 1e6 is beyond resolving, 1e5 is kept), gold, sapphire,
# tin (normal at 4.2 K in these runs). Values are round numbers of the right magnitude.
BI2212 = {"rho_ab": "1e-4 Ohm*cm", "rho_c": "10 Ohm*cm", "kappa_ab": "2 W/(m*K)", "kappa_c": "0.3 W/(m*K)"}
GOLD = {"rho": "2e-9 Ohm*m", "kappa": "300 W/(m*K)"}
SAPPHIRE = {"rho": "1e12 Ohm*m", "kappa": "10 W/(m*K)"}
TIN = {"rho": "1e-9 Ohm*m", "kappa": "100 W/(m*K)"}
H_COOL = "1 W/(cm^2 K)"

#: kind -> (geometry parameters, materials, electrical, thermal, hA region)
CASES = {
    # the newcomer's sample of issue 13: 20 x 20 x 1 um Bi2212 mesa, Au top electrode, sapphire
    "mesa": (dict(kind="mesa", width="20 um", height="1 um"),
             {"mesa": BI2212, "base": BI2212, "electrode": GOLD, "substrate": SAPPHIRE},
             dict(bias="top_contact", ground="base_contact", equipotential=["electrode"]),
             dict(bath=["bath"], cooling=[{"boundaries": ["cooled"], "h": H_COOL}]), "mesa"),
    "disk_mesa": (dict(kind="mesa", shape="disk", width="10 um", height="0.5 um"),
                  {"mesa": BI2212, "base": BI2212, "electrode": GOLD, "substrate": SAPPHIRE},
                  dict(bias="top_contact", ground="base_contact", equipotential=["electrode"]),
                  dict(bath=["bath"], cooling=[{"boundaries": ["cooled"], "h": H_COOL}]), "mesa"),
    "dayem": (dict(kind="dayem", bridge_width="2 um", bridge_length="4 um", thickness="200 nm",
                   bank_width="12 um", bank_length="10 um", substrate_thickness="50 um"),
              {"bridge": BI2212, "banks": BI2212, "substrate": SAPPHIRE},
              dict(bias="current_in", ground="current_out", four_probe=["probe_left", "probe_right"]),
              dict(bath=["bath"], cooling=[{"boundaries": ["exposed_top"], "h": H_COOL}]), "bridge"),
    "slit": (dict(kind="slit", strip_width="10 um", opening="3 um", thickness="100 nm"),
             {"banks": GOLD},
             dict(bias="current_in", ground="current_out", four_probe=["probe_left", "probe_right"]),
             dict(bath=["current_in", "current_out"], cooling=[{"boundaries": ["cooled"], "h": H_COOL}]), "banks"),
    "cross_junction": (dict(kind="cross_junction"),
                       {"bottom": TIN, "top": TIN, "spacer": SAPPHIRE, "substrate": SAPPHIRE,
                        "barrier": {"contact_resistance": "1e-4 Ohm*cm^2", "kappa": "1 W/(m*K)"}},
                       dict(bias="bottom_in", ground="top_out", four_probe=["bottom_out", "top_in"]),
                       dict(bath=["bath"], cooling=[{"boundaries": ["exposed_top"], "h": H_COOL}]), "barrier"),
    "inline_junction": (dict(kind="inline_junction"),
                        {"bottom": TIN, "top": TIN, "spacer": SAPPHIRE, "substrate": SAPPHIRE,
                         "barrier": {"contact_resistance": "1e-8 Ohm*cm^2", "kappa": "1 W/(m*K)"}},
                        dict(bias="bottom_in", ground="top_out", four_probe=["bottom_out", "top_in"]),
                        dict(bath=["bath"], cooling=[{"boundaries": ["exposed_top"], "h": H_COOL}]), "barrier"),
}


def case_dict(kind: str, **geometry) -> dict:
    g, mats, el, th, region = CASES[kind]
    return {"schema_version": 1, "study": "fem", "environment": {"T_bath": "4.2 K"},
            "geometry": {**g, **geometry}, "materials": mats,
            "fem": {"region": region, "electrical": el, "thermal": th,
                    "bias": {"mode": "current", "stop": "1 mA"}}}


def figures_of(case) -> dict:
    """R [Ohm] (and R_4p), (hA)_eff [W/K] and T_max rise per watt of the low-power
    response, and the node count, of a parsed fem case."""
    from femsim.fem import ElectroThermalSolver
    from femsim.studies.fem import build_mesh, build_problem

    md = build_mesh(case)
    problem = build_problem(case, md)
    s = ElectroThermalSolver(problem, linear_solve="superlu" if md.mesh.nvertices < 4000 else "auto")
    T_B = problem.T_bath
    iso = s.isothermal(T_B, 1.0)
    out = {"nodes": int(md.mesh.nvertices), "R": iso.V / iso.I, "hA": s.low_power_hA()}
    if problem.four_probe:
        out["R_4p"] = iso.V_4p / iso.I
    return out


def figures(kind: str, **geometry) -> dict:
    return figures_of(parse_case(case_dict(kind, **geometry)))


def worst(a: dict, b: dict) -> tuple[float, str]:
    """Largest relative difference of the shared figures (and which)."""
    diffs = {k: abs(a[k] - b[k]) / abs(b[k]) for k in a if k != "nodes"}
    k = max(diffs, key=diffs.get)
    return diffs[k], k
