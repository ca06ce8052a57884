"""Timing of the Tien-Gordon pumped I-V (femsim.rf.pumped): 1e4 bias voltages, a 200-point
standing wave along the junction and every Bessel order the sum rule needs, against one
evaluation of I_0 on the whole shifted grid V + n h f / e. Prints, asserts nothing.

    .venv/bin/python benchmarks/bench_rf.py
"""

from __future__ import annotations

import time

import numpy as np
from scipy.constants import e

from femsim.rf import pumped, tline, tunneling
from femsim.rf.model import BCSCurve, Drive, SuperconductingFilm, Junction, RFParams, VoltageGrid, run_rf
from timing import best_of  # benchmarks/ is on sys.path when a script runs


def pumped_case(label, iv, f, v_rf0, n_v=10_000, n_x=200, vswr=5.0):
    V = np.linspace(-3e-3, 3e-3, n_v)
    X = np.linspace(0.0, 0.1e-3, n_x)
    w = pumped.x_average_weights(X)
    prof = np.abs(tline.standing_wave(X, X[-1], tline.reflection_from_vswr(vswr), v_rf0))
    n, _ = pumped.tien_gordon_weights(prof, f, w)
    shifted = V[None, :] + n[:, None] * pumped.photon_voltage(f)
    t_i0 = best_of(lambda: iv(shifted))
    t_weights = best_of(lambda: pumped.tien_gordon_weights(prof, f, w))
    t_pump = best_of(lambda: pumped.pumped_iv(iv, V, prof, f, w))
    print(f"{label}: {n_v} V x {n_x} X, {n.size} orders: pumped I-V {t_pump * 1e3:.1f} ms "
          f"(Bessel weights {t_weights * 1e3:.1f} ms); one I_0 on the {shifted.size} shifted voltages "
          f"{t_i0 * 1e3:.1f} ms; ratio {t_pump / t_i0:.2f}")


def main():
    bcs = tunneling.BCSIV.from_gap_voltage(1.17e-3, 0.1, temperature=1.3, critical_temperature1=3.72,
                                           dynes_gamma=2e-6 * e)
    t0 = time.perf_counter()
    table = tunneling.tabulate(bcs, 12e-3, tol=1e-6, breakpoints=bcs.breakpoints())
    t_tab = time.perf_counter() - t0
    v = np.linspace(0, 3e-3, 1000)
    t_exact = best_of(lambda: bcs(v), repeat=3)
    print(f"BCS SIS I_0 (T = 1.3 K, Gamma = 2 ueV): exact quadrature {t_exact / v.size * 1e6:.0f} us per voltage; "
          f"tabulated to 1e-6 on 0..12 mV in {t_tab:.2f} s ({table.V.size} points)")

    pumped_case("80 GHz, V_rf0 = 1.5 mV, tabulated BCS", table, 80e9, 1.5e-3)
    pumped_case("80 GHz, V_rf0 = 1.5 mV, smeared step (closed form)",
                tunneling.SmearedStepIV(1.17e-3, 0.1, 20e-6), 80e9, 1.5e-3)
    pumped_case("20 GHz, V_rf0 = 1.5 mV, tabulated BCS", table, 20e9, 1.5e-3)

    X = np.linspace(0.0, 0.1e-3, 200)
    prof = np.abs(tline.standing_wave(X, X[-1], 2 / 3, 1e-3))
    V = np.linspace(0.0, 3e-3, 1000)
    for m in (1024, 4096):
        t_cl = best_of(lambda: pumped.classical_iv(table, V, prof, pumped.x_average_weights(X), n_nodes=m), repeat=3)
        print(f"classical Eq. 12 over X: {V.size} V, M = {m} nodes: {t_cl * 1e3:.1f} ms")

    p = RFParams(junction=Junction(0.1e-3, 0.1e-3, 10e-10, 5.0, SuperconductingFilm(500e-10)),
                 drive=Drive(frequency=80e9, amplitudes=tuple(np.linspace(0, 1.5e-3, 16)), kind="standing_wave", vswr=5.0),
                 iv=BCSCurve(normal_resistance=0.1, gap1=0.585e-3 * e, critical_temperature1=3.72, dynes_gamma=2e-6 * e),
                 voltages=VoltageGrid(0.0, 3e-3, 1501), temperature=1.3)
    t_run = best_of(lambda: run_rf(p), repeat=3)
    print(f"run_rf: 16 drive amplitudes, 1501 V, 201 X, BCS tabulation + classical (M = 1024): {t_run:.2f} s")


if __name__ == "__main__":
    main()
