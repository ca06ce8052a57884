"""Transmission line along the junction: closed forms, the paper's numbers, convergence."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.constants import c, epsilon_0, mu_0

from femsim.rf import tline
from femsim.rf.tline import LineConstants, Segment, Termination, VaryingLine

ANGSTROM = 1e-10
# the paper's junction: lambda = 500 A, eps = 5, l = 10 A, 0.1 mm square (Sec. III B)
PAPER = dict(barrier_thickness=10 * ANGSTROM, penetration_depth1=500 * ANGSTROM,
             penetration_depth2=500 * ANGSTROM, permittivity=5.0, width=0.1e-3)


def lossless_line(z0=0.02, v=0.05 * c):
    return LineConstants(L=z0 / v, C=1 / (z0 * v))


def test_swihart_numbers_of_the_paper():
    lc = tline.junction_line_constants(**PAPER)
    # Eq. 4 with lambda = 500 A, eps = 5, l = 10 A: c_bar/c = sqrt(10/(5*1010)) = 0.0444994
    assert lc.velocity / c == pytest.approx(0.0444994, abs=5e-8)
    # "a wavelength of about 0.17 mm at a frequency of 80 GHz": 0.16676 mm
    assert lc.wavelength(80e9) == pytest.approx(0.16676e-3, abs=5e-9)
    # the general formula (coth thin-film terms, t -> inf) reduces to Eq. 4 (to the 1e-11
    # consistency of scipy's CODATA mu_0, epsilon_0 and c)
    assert lc.velocity == pytest.approx(tline.swihart_velocity(10 * ANGSTROM, 500 * ANGSTROM, 5.0), rel=1e-10)


def test_thin_film_correction_slows_the_wave():
    # 700 A films (the paper's tin): lambda coth(t/lambda) = 500 A * coth(1.4) = 564.75 A each
    lc = tline.junction_line_constants(**PAPER, thickness1=700 * ANGSTROM, thickness2=700 * ANGSTROM)
    d = 2 * 500 * ANGSTROM / math.tanh(1.4) + 10 * ANGSTROM
    assert d == pytest.approx(1139.49e-10, rel=1e-5)
    assert lc.velocity / c == pytest.approx(math.sqrt(10 * ANGSTROM / (5 * d)), rel=1e-10)
    assert lc.velocity < tline.swihart_velocity(10 * ANGSTROM, 500 * ANGSTROM, 5.0)
    # L' and C' themselves: mu0 d / w and eps0 eps w / l
    assert lc.L == pytest.approx(mu_0 * d / 0.1e-3, rel=1e-14)
    assert lc.C == pytest.approx(epsilon_0 * 5 * 0.1e-3 / (10 * ANGSTROM), rel=1e-14)


def test_fiske_frequencies_of_the_paper_junction():
    lc = tline.junction_line_constants(**PAPER)
    fn = tline.fiske_frequencies(lc.velocity, 0.1e-3, 3)
    # "In our 0.1-mm-square junctions these modes are spaced at 50-100 GHz"
    assert 50e9 < fn[0] < 100e9
    assert fn == pytest.approx(np.array([1, 2, 3]) * 0.0444994 * c / 0.2e-3, rel=2e-6)
    # the first odd mode is where a uniformly driven, open-ended junction resonates
    lossy = LineConstants(L=lc.L, C=lc.C, G=1e-4 * 2 * math.pi * fn[0] * lc.C)
    f = np.linspace(0.95, 1.05, 401) * fn[0]
    peak = [np.max(np.abs(tline.solve_line([Segment(lossy, 0.1e-3, 1.0)], fi, Termination(), Termination(),
                                          n_points=51).V)) for fi in f]
    assert f[int(np.argmax(peak))] == pytest.approx(fn[0], rel=3e-4)


@pytest.mark.parametrize("rho, phase", [(0.0, 0.0), (0.3, 0.0), (2 / 3, 0.0), (0.9, 1.1), (2 / 3, -2.5)])
def test_lossless_load_reproduces_eq6(rho, phase):
    lc = lossless_line()
    L = 0.1e-3
    f = lc.velocity / (2 * L)                 # the junction is half a wavelength
    z0 = lc.characteristic_impedance(f).real
    gamma = rho * np.exp(1j * phase)
    zl = z0 * (1 + gamma) / (1 - gamma)
    x = np.linspace(0, L, 301)
    sol = tline.solve_line([Segment(lc, L)], f, Termination("load", 0.37 * z0 + 0.1j * z0, emf=1.3),
                           Termination("load", zl), x=x)
    beta = 2 * math.pi * f / lc.velocity
    vplus = abs(sol.V[-1]) / abs(1 + gamma)    # V(L) = V+ (1 + Gamma)
    # voltage maxima where phase - 2 beta (L - x) = 0 (mod 2 pi); Eq. 6 is periodic in X with period L
    x_max = L - phase / (2 * beta)
    X = x - x_max
    eq6 = vplus * np.sqrt((1 + rho) ** 2 - 4 * rho * np.sin(np.pi * X / L) ** 2)
    assert np.max(np.abs(np.abs(sol.V) - eq6)) < 1e-10 * vplus
    if rho == 0:
        assert np.ptp(np.abs(sol.V)) < 1e-12 * vplus
    # the library's Eq. 6 helper agrees (its X = 0 is a voltage maximum)
    assert np.abs(tline.standing_wave(X, L, rho, vplus)) == pytest.approx(eq6, rel=1e-12)
    assert tline.vswr(tline.reflection_coefficient(zl, z0)) == pytest.approx((1 + rho) / (1 - rho), rel=1e-12)


def test_open_and_short_ends_give_cos_and_sin_patterns():
    lc = lossless_line()
    L, f, vs, zs = 0.1e-3, 37e9, 1.0, 0.013 + 0.004j
    x = np.linspace(0, L, 201)
    beta = 2 * math.pi * f * math.sqrt(lc.L * lc.C)
    z0 = math.sqrt(lc.L / lc.C)
    u = beta * (L - x)
    opened = tline.solve_line([Segment(lc, L)], f, Termination("load", zs, emf=vs), Termination("open"), x=x)
    a = vs / (math.cos(beta * L) + 1j * zs / z0 * math.sin(beta * L))
    assert np.max(np.abs(opened.V - a * np.cos(u))) < 1e-12 * abs(a)
    assert np.max(np.abs(opened.I - 1j * a / z0 * np.sin(u))) < 1e-12 * abs(a) / z0
    shorted = tline.solve_line([Segment(lc, L)], f, Termination("load", zs, emf=vs), Termination("short"), x=x)
    il = vs / (zs * math.cos(beta * L) + 1j * z0 * math.sin(beta * L))
    assert np.max(np.abs(shorted.V - 1j * z0 * il * np.sin(u))) < 1e-12 * abs(il) * z0
    assert np.max(np.abs(shorted.I - il * np.cos(u))) < 1e-12 * abs(il)


def test_distributed_drive_with_open_ends_closed_form():
    # uniform series EMF e' on a lossy line with I(0) = I(L) = 0:
    # V(x) = (e'/gamma) sinh(gamma (x - L/2)) / cosh(gamma L/2), odd about the centre
    lc = LineConstants(L=2e-7, C=3e-8, R=40.0, G=15.0)
    L, f, emf = 0.2e-3, 21e9, 0.7 + 0.2j
    x = np.linspace(0, L, 101)
    sol = tline.solve_line([Segment(lc, L, emf)], f, Termination(), Termination(), x=x)
    g = lc.propagation_constant(f)
    expected = emf / g * np.sinh(g * (x - L / 2)) / np.cosh(g * L / 2)
    assert np.max(np.abs(sol.V - expected)) < 1e-10 * np.max(np.abs(expected))
    assert abs(sol.I[0]) < 1e-12 * np.max(np.abs(sol.I)) and abs(sol.I[-1]) < 1e-12 * np.max(np.abs(sol.I))


def test_power_is_conserved_on_lossless_lines_and_balanced_on_lossy_ones():
    f = 50e9
    segs = [Segment(lossless_line(0.02), 0.05e-3), Segment(lossless_line(0.05, 0.03 * c), 0.08e-3)]
    sol = tline.solve_line(segs, f, Termination("load", 0.01, emf=1.0), Termination("load", 0.03 - 0.02j),
                           n_points=500)
    P = sol.power()
    assert np.ptp(P) < 1e-12 * abs(P[0])
    # power delivered to the load is Re(Z_L)|I_L|^2/2
    assert P[-1] == pytest.approx(0.5 * 0.03 * abs(sol.I[-1]) ** 2, rel=1e-12)
    for seg in segs:  # reciprocity
        assert np.linalg.det(tline.abcd_matrix(seg.constants, seg.length, f)) == pytest.approx(1.0, abs=1e-12)

    lossy = LineConstants(L=2e-7, C=3e-8, R=300.0, G=40.0)
    x = np.linspace(0, 0.1e-3, 4001)
    sol = tline.solve_line([Segment(lossy, 0.1e-3)], f, Termination("load", 1.0, emf=1.0), Termination("load", 2.0), x=x)
    dissipated = 0.5 * (lossy.R * np.abs(sol.I) ** 2 + lossy.G * np.abs(sol.V) ** 2)
    from scipy.integrate import simpson
    P = sol.power()
    assert P[0] - P[-1] == pytest.approx(simpson(dissipated, x=x), rel=1e-9)
    assert np.all(np.diff(P) < 0)


def _fit_slope(ns, errs):
    return -np.polyfit(np.log(ns), np.log(errs), 1)[0]


def test_finite_differences_converge_at_second_order_to_the_transfer_matrix():
    f = 45e9
    segs = [Segment(LineConstants(L=3e-7, C=2e-8, R=200.0, G=30.0), 0.06e-3, 0.2),
            Segment(LineConstants(L=1.5e-7, C=5e-8, R=50.0), 0.04e-3, -0.1j)]
    left, right = Termination("load", 0.5 + 0.3j, emf=1.0), Termination("load", 1.7 - 0.4j)
    ns = np.array([20, 40, 80, 160, 320, 640])   # the segment joint (0.6 of the length) is a node
    errs = []
    for n in ns:
        fd = tline.solve_line_fd(VaryingLine.from_segments(segs), f, left, right, int(n))
        exact = tline.solve_line(segs, f, left, right, x=fd.x)
        errs.append(np.max(np.abs(fd.V - exact.V)) / np.max(np.abs(exact.V)))
    slope = _fit_slope(ns, errs)
    assert 1.9 < slope < 2.1
    assert errs[-1] < 1e-4


def test_finite_differences_on_an_exponential_taper_converge_to_its_closed_form():
    # L' = L0 e^{kx}, C' = C0 e^{-kx}: V'' - k V' + w^2 L0 C0 V = 0, V = e^{kx/2}(A e^{iqx} + B e^{-iqx})
    L0, C0, k, Ltot, f = 2e-7, 3e-8, 1.2e4, 0.1e-3, 40e9
    w = 2 * math.pi * f
    q = math.sqrt(w * w * L0 * C0 - k * k / 4)
    zs, vs = 0.4, 1.0

    def v_and_i(x, A, B):
        e, ep, em = np.exp(k * x / 2), np.exp(1j * q * x), np.exp(-1j * q * x)
        V = e * (A * ep + B * em)
        dV = e * ((k / 2 + 1j * q) * A * ep + (k / 2 - 1j * q) * B * em)
        return V, -dV / (1j * w * L0 * np.exp(k * x))

    # I(L) = 0 (open) and V(0) + zs I(0) = vs
    rows = np.array([[1 + zs * (-(k / 2 + 1j * q) / (1j * w * L0)), 1 + zs * (-(k / 2 - 1j * q) / (1j * w * L0))],
                     [(k / 2 + 1j * q) * np.exp(1j * q * Ltot), (k / 2 - 1j * q) * np.exp(-1j * q * Ltot)]])
    A, B = np.linalg.solve(rows, [vs, 0.0])
    line = VaryingLine(Ltot, L=lambda x: L0 * np.exp(k * x), C=lambda x: C0 * np.exp(-k * x))
    ns = np.array([25, 50, 100, 200, 400])
    errs = []
    for n in ns:
        fd = tline.solve_line_fd(line, f, Termination("load", zs, emf=vs), Termination("open"), int(n))
        V, _ = v_and_i(fd.x, A, B)
        errs.append(np.max(np.abs(fd.V - V)) / np.max(np.abs(V)))
    assert 1.9 < _fit_slope(ns, errs) < 2.1
    assert errs[-1] < 1e-4


def test_quarter_wave_feed_transforms_impedance_and_embedded_junction_sees_it():
    f = 60e9
    feed = Segment.from_impedance(50.0, c / f / 4)         # a quarter wave at f
    assert tline.input_impedance([feed], f, Termination("load", 20.0)) == pytest.approx(50.0 ** 2 / 20.0, rel=1e-12)
    assert abs(tline.input_impedance([feed], f, Termination("short"))) > 1e12
    # junction between two 50-Ohm lines, the far one matched: the junction's far end sees 50 Ohm
    lc = tline.junction_line_constants(**PAPER)
    L = 0.1e-3
    out = Segment.from_impedance(50.0, 0.7e-3)
    segs = [Segment.from_impedance(50.0, 1e-3), Segment(lc, L), out]
    sol = tline.solve_line(segs, f, Termination("load", 50.0, emf=1.0), Termination("matched"),
                           x=np.array([1e-3 + L]))
    assert sol.V[0] / sol.I[0] == pytest.approx(50.0, rel=1e-9)


def test_a_lossless_resonance_without_damping_is_refused():
    lc = lossless_line()
    f1 = lc.velocity / (2 * 0.1e-3)          # first odd mode of an open-ended, uniformly driven line
    with pytest.raises(ValueError, match="resonance"):
        tline.solve_line([Segment(lc, 0.1e-3, 1.0)], f1, Termination(), Termination())


@pytest.mark.parametrize("call", [
    lambda: tline.junction_line_constants(**{**PAPER, "width": -1e-6}),
    lambda: tline.junction_line_constants(**{**PAPER, "barrier_thickness": 0.0}),
    lambda: Segment(lossless_line(), -1e-6),
    lambda: lossless_line().propagation_constant(0.0),
    lambda: lossless_line().propagation_constant(-5e9),
    lambda: tline.fiske_frequencies(1e7, -1e-4),
    lambda: Termination("load", -1.0),
    lambda: Termination("open", emf=1.0),
    lambda: Termination("sideways"),
    lambda: tline.reflection_from_vswr(0.5),
])
def test_impossible_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0.005, 0.2), st.floats(0.01, 0.2), st.floats(5e-6, 1e-4)), min_size=1, max_size=4),
       st.floats(1e9, 2e11), st.floats(1e-3, 1.0), st.floats(-1.0, 1.0))
def test_lossless_chains_conserve_power(pieces, f, load_r, load_x):
    segs = [Segment(lossless_line(z, v * c), length) for z, v, length in pieces]
    sol = tline.solve_line(segs, f, Termination("load", 0.05, emf=1.0), Termination("load", complex(load_r, load_x)),
                           n_points=64)
    P = sol.power()
    assert np.max(np.abs(P - P[-1])) <= 1e-9 * np.max(np.abs(sol.V * sol.I))
    assert P[-1] == pytest.approx(0.5 * load_r * abs(sol.I[-1]) ** 2, rel=1e-9, abs=1e-15)
