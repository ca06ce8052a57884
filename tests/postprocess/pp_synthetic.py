"""Synthetic inputs for the postprocess tests, following femsim's result conventions:
curve and rf datasets (SI, short names) and FEM-like field files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import skfem
from skfem.io.meshio import to_meshio
from scipy.special import jv
import xarray as xr

from femsim.results import annotate


def lumped_curve(T_bath: float, hA: float = 2e-5, n: int = 41, dT_max: float = 60.0):
    """Parametric lumped-model curve over T: R(T) falls steeply on heating, so V(I) bends
    back (V_max) and up again (V_min), an S-shaped curve."""
    T = T_bath + np.linspace(0.0, dT_max, n)
    R = 20.0 * (1.0 + (40.0 / T) ** 2)               # Ohm
    P = hA * (T - T_bath)
    V = np.sqrt(P * R)
    I = np.sqrt(P / R)
    return T, R, P, V, I


def curve_dataset(T_bath: float = 4.2, fem: bool = True, dT_max: float = 60.0) -> xr.Dataset:
    T, R, P, V, I = lumped_curve(T_bath, dT_max=dT_max)
    with np.errstate(divide="ignore", invalid="ignore"):
        dIdV = np.gradient(I) / np.gradient(V)
    data = {"I": I, "V": V, "P": P, "T_mean": T, "R": R, "dIdV": dIdV}
    if fem:
        # the "FEM" is hotter in its core and slightly off the lumped curve
        data |= {"T_max": T + 0.4 * (T - T_bath), "V_lumped": V * (1 + 0.03 * (I / I.max()) ** 2),
                 "T_mean_lumped": T - 0.05 * (T - T_bath), "energy_balance": np.full_like(T, 2.5e-7)}
    ds = xr.Dataset({k: ("point", v) for k, v in data.items()})
    dV = np.sign(np.diff(V))
    turns = np.nonzero(dV[1:] != dV[:-1])[0] + 1       # local extrema of V(I)
    ds.attrs["turning_points"] = [{"kind": "V_max" if dV[k - 1] > 0 else "V_min", "I": float(I[k]),
                                   "V": float(V[k]), "T": float(T[k])} for k in turns]
    ds.attrs["T_bath"] = T_bath
    return annotate(ds)


def family_dataset(values=(4.2, 10.0, 20.0)) -> xr.Dataset:
    members = []
    tps = []
    for tb in values:
        m = curve_dataset(tb, dT_max=30.0 + tb)  # the warmest bath heats most (by 50 K at 20 K)
        tps += [dict(t, T_bath=tb) for t in m.attrs["turning_points"]]
        m.attrs = {}
        members.append(m)
    ds = xr.concat(members, dim="T_bath").assign_coords(T_bath=("T_bath", list(values), {"units": "K"}))
    ds.attrs["turning_points"] = tps
    ds.attrs["P_c"] = [1e-4, 1.2e-4, 1.5e-4]
    return annotate(ds)


def rf_datasets():
    """Shaped like femsim.rf.model.run_rf's output: a family over the drive amplitude
    V_rf0 in 'vrf' and 'iv', steps over (V_rf0, n), f and VSWR in attrs."""
    attrs = {"frequency": 80e9, "frequency_units": "Hz", "VSWR": 3.0}
    amps = np.array([0.2e-3, 0.5e-3, 1.0e-3])
    a = {"V_rf0": ("V_rf0", amps, {"units": "V"})}
    X = np.linspace(0.0, 50e-6, 41)
    shape = np.cos(2 * np.pi * X / 80e-6) + 0.01j
    vrf = xr.Dataset({"Vrf_abs": (("V_rf0", "X"), amps[:, None] * np.abs(shape), {"units": "V"}),
                      "Vrf_phase": ("X", np.angle(shape), {"units": "rad"})},
                     coords={"X": ("X", X, {"units": "m"}), **a}, attrs=attrs)
    V = np.linspace(0.0, 6e-3, 61)
    I0 = np.where(V > 2.8e-3, (V - 2.8e-3) / 20.0, 1e-7 * V)
    side = 0.3 * amps[:, None] / amps.max()
    Ip = (1 - side) * I0 + side / 2 * (np.interp(V + 0.33e-3, V, I0) + np.interp(V - 0.33e-3, V, I0))
    iv = xr.Dataset({"I_unpumped": ("V", I0, {"units": "A"}),
                     "I_pumped": (("V_rf0", "V"), Ip, {"units": "A"}),
                     "I_classical": (("V_rf0", "V"), 0.5 * (I0 + Ip), {"units": "A"}),
                     "dIdV_pumped": (("V_rf0", "V"), np.gradient(Ip, V, axis=-1), {"units": "S"})},
                    coords={"V": ("V", V, {"units": "V"}), **a}, attrs=attrs)
    Vrf0 = np.linspace(0.0, 2e-3, 21)
    n = np.arange(3)
    alpha = Vrf0[:, None] / 0.33e-3
    weight = 0.95 * jv(n, alpha) ** 2
    steps = xr.Dataset({"qp_weight": (("V_rf0", "n"), weight, {"units": "1"}),
                        "qp_step": (("V_rf0", "n"), 1e-5 * weight, {"units": "A"}),
                        "josephson_positionwise": (("V_rf0", "n"), np.abs(jv(n, 2 * alpha)), {"units": "1"}),
                        "josephson_coherent": (("V_rf0", "n"), 0.9 * np.abs(jv(n, 2 * alpha)), {"units": "1"}),
                        "uniform_Jn2": (("V_rf0", "n"), jv(n, alpha) ** 2, {"units": "1"}),
                        "uniform_Jn_abs": (("V_rf0", "n"), np.abs(jv(n, 2 * alpha)), {"units": "1"})},
                       coords={"V_rf0": ("V_rf0", Vrf0, {"units": "V"}), "n": ("n", n)}, attrs=attrs)
    return {"vrf": vrf, "iv": iv, "steps": steps}


# ---------------------------------------------------------------- field files

UM = 1e-6
MESA = (10 * UM, 20 * UM)          # x and y extent of the mesa
Z_SUB, Z_TOP = 2.0 * UM, 2.3 * UM  # substrate top, mesa top (a thin 0.3 um layer)
REGIONS = {"substrate": 1, "mesa": 2}


def mesa_mesh() -> skfem.MeshHex:
    x = np.linspace(0.0, 30 * UM, 13)
    z = np.concatenate([np.linspace(0.0, Z_SUB, 4), np.linspace(Z_SUB, Z_TOP, 3)[1:]])
    m = skfem.MeshHex.init_tensor(x, x, z)
    mid = m.p[:, m.t].mean(axis=1)
    off_mesa = (mid[2] > Z_SUB) & ~((mid[0] > MESA[0]) & (mid[0] < MESA[1]) & (mid[1] > MESA[0]) & (mid[1] < MESA[1]))
    m = m.remove_elements(np.nonzero(off_mesa)[0])
    return m.with_subdomains({"substrate": lambda p: p[2] < Z_SUB, "mesa": lambda p: p[2] > Z_SUB}).with_boundaries(
        {"bath": lambda p: np.isclose(p[2], 0.0), "top_electrode": lambda p: np.isclose(p[2], Z_TOP)})


def write_bias_point(path: Path, amplitude: float = 1.0, sidecar: bool = True) -> Path:
    """One bias point's fields; ``amplitude`` scales heating and current so files differ."""
    m = mesa_mesh()
    x, y, z = m.p
    r2 = (x - 15 * UM) ** 2 + (y - 15 * UM) ** 2
    T = 4.2 + 30.0 * amplitude * np.exp(-r2 / (8 * UM) ** 2) * (0.2 + z / Z_TOP)
    phi = 1e-3 * amplitude * np.clip(z - Z_SUB, 0.0, None) / (Z_TOP - Z_SUB)
    mid = m.p[:, m.t].mean(axis=1)
    in_mesa = mid[2] > Z_SUB
    J = np.zeros((m.nelements, 3))
    J[:, 2] = np.where(in_mesa, 1e8, 0.0) * amplitude
    J[:, 0] = np.where(in_mesa, 0.0, 2e6 * (mid[0] - 15 * UM) / (15 * UM)) * amplitude
    q = np.where(in_mesa, 5e14, 1e12) * amplitude ** 2 * (1.0 + mid[0] / (30 * UM))
    region = np.where(in_mesa, REGIONS["mesa"], REGIONS["substrate"])
    mio = to_meshio(m, point_data={"T": T, "phi": phi},
                    cell_data={"J": [J], "J_abs": [np.linalg.norm(J, axis=1)], "q_joule": [q], "region": [region]})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mio.write(path)
    if sidecar:
        path.with_suffix(".regions.json").write_text(json.dumps({"regions": REGIONS}))
    return path


def write_with_facet_cells(path: Path) -> Path:
    """A gmsh-style file: hexahedra plus quad cells for one named boundary, both carrying
    "region" ids, names in a sidecar (no skfem encodings)."""
    import meshio

    m = mesa_mesh()
    hexes = to_meshio(m, encode_cell_data=False).cells[0].data
    top = m.facets[:, m.boundaries["top_electrode"]].T
    region = np.where(m.p[2, m.t].mean(axis=0) > Z_SUB, REGIONS["mesa"], REGIONS["substrate"])
    mio = meshio.Mesh(m.p.T, [("hexahedron", hexes), ("quad", top)],
                      point_data={"T": np.full(m.p.shape[1], 4.2)},
                      cell_data={"region": [region, np.full(len(top), 11)]})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mio.write(path)
    path.with_suffix(".regions.json").write_text(json.dumps({"regions": REGIONS, "boundaries": {"top_contact": 11}}))
    return path
