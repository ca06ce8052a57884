"""Small synthetic datasets following femsim's result conventions (SI, short names)."""

from __future__ import annotations

import numpy as np
import pytest
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


def curve_dataset(T_bath: float = 4.2, fem: bool = True) -> xr.Dataset:
    T, R, P, V, I = lumped_curve(T_bath)
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
        m = curve_dataset(tb)
        tps += [dict(t, T_bath=tb) for t in m.attrs["turning_points"]]
        m.attrs = {}
        members.append(m)
    ds = xr.concat(members, dim="T_bath").assign_coords(T_bath=("T_bath", list(values), {"units": "K"}))
    ds.attrs["turning_points"] = tps
    ds.attrs["P_c"] = [1e-4, 1.2e-4, 1.5e-4]
    return annotate(ds)


@pytest.fixture
def curves():
    return curve_dataset()


@pytest.fixture
def family():
    return family_dataset()


@pytest.fixture
def rf_datasets():
    X = np.linspace(0.0, 50e-6, 41)
    k = 2 * np.pi / 80e-6
    vrf = xr.Dataset({"Vrf_abs": ("X", 1e-3 * np.abs(np.cos(k * X)) + 1e-5, {"units": "V"}),
                      "Vrf_phase": ("X", np.angle(np.cos(k * X) + 0.01j), {"units": "rad"})},
                     coords={"X": ("X", X, {"units": "m"})})
    V = np.linspace(0.0, 6e-3, 61)
    I0 = np.where(V > 2.8e-3, (V - 2.8e-3) / 20.0, 1e-7 * V)
    Ip = 0.7 * I0 + 0.15 * np.interp(V + 0.3e-3, V, I0) + 0.15 * np.interp(V - 0.3e-3, V, I0)
    iv = xr.Dataset({"I_unpumped": ("V", I0, {"units": "A"}), "I_pumped": ("V", Ip, {"units": "A"}),
                     "I_classical": ("V", 0.5 * (I0 + Ip), {"units": "A"}),
                     "dIdV_pumped": ("V", np.gradient(Ip, V), {"units": "S"})},
                    coords={"V": ("V", V, {"units": "V"})})
    from scipy.special import jv
    Vrf0 = np.linspace(0.0, 2e-3, 21)
    n = np.arange(3)
    alpha = Vrf0[:, None] / 0.33e-3
    steps = xr.Dataset({"qp_step": (("V_rf0", "n"), 1e-5 * jv(n, alpha) ** 2, {"units": "A"}),
                        "josephson_positionwise": (("V_rf0", "n"), np.abs(jv(n, alpha)), {"units": "1"}),
                        "josephson_coherent": (("V_rf0", "n"), 0.9 * np.abs(jv(n, alpha)), {"units": "1"}),
                        "J_n2_uniform": (("V_rf0", "n"), jv(n, alpha) ** 2, {"units": "1"})},
                       coords={"V_rf0": ("V_rf0", Vrf0, {"units": "V"}), "n": ("n", n)})
    return {"vrf": vrf, "iv": iv, "steps": steps}
