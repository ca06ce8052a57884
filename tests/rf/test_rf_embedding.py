"""Single-tone harmonic balance of a Thevenin source and the junction against QMix 1.0.6 (numbers
stored in tests/rf/data by make_qmix_reference.py) and the ohmic closed form."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.constants import e, h
from scipy.special import expit

from femsim.rf import pumped
from femsim.rf.embedding import available_power, solve_vrf, source_voltage
from femsim.rf.kramers_kronig import kk_table
from femsim.rf.tunneling import tabulate

REF = np.loadtxt(Path(__file__).parent / "data" / "qmix_hb_reference.csv", delimiter=",", skiprows=1)


def test_harmonic_balance_matches_qmix_on_a_smeared_step():
    """Normalised units (V_g = R_n = 1), photon voltage 0.3, Thevenin EMF 0.5. QMix's Thevenin
    impedance is the complex conjugate of ours (its phasors rotate the other way); agreement is
    limited by QMix's resampled response function (~1e-6 of V_g)."""
    iv = lambda V: np.asarray(V) * expit(2 * (np.abs(V) - 1) / 0.05)  # noqa: E731
    tab = tabulate(iv, 12.0, tol=1e-8)
    ikk = kk_table(tab, 8.0, 1.0)
    f = 0.3 * e / h                          # photon voltage 0.3 'V' in these units
    for zr, zi in ((0.5, 0.0), (0.4, 0.3), (0.4, -0.3)):
        m = (REF[:, 0] == zr) & (REF[:, 1] == zi)
        vb = REF[m, 2]
        vw, count = solve_vrf(tab, ikk, vb, 0.3, 0.5, complex(zr, -zi))
        assert np.all(count == 1)
        assert vw == pytest.approx(np.abs(REF[m, 3] + 1j * REF[m, 4]), abs=1e-5)
        idc = np.array([pumped.pumped_iv(tab, [v], a, f)[0] for v, a in zip(vb, vw)])
        assert idc == pytest.approx(REF[m, 5], abs=3e-5)


def test_ohmic_junction_takes_the_voltage_divider_share():
    R, zs, vs = 20.0, complex(50.0, 30.0), 2e-3
    lin = lambda v: np.asarray(v) / R  # noqa: E731
    V = np.linspace(0.0, 3e-3, 5)
    vw, _ = solve_vrf(lin, lambda v: 0 * np.asarray(v), V, h * 20e9 / e, vs, zs)
    assert vw == pytest.approx(vs * R / abs(R + zs) * np.ones_like(V), rel=1e-10)
    assert available_power(source_voltage(1e-9, zs), zs) == pytest.approx(1e-9, rel=1e-14)
    assert source_voltage(1e-9, zs) == pytest.approx(math.sqrt(8e-9 * 50.0), rel=1e-14)
