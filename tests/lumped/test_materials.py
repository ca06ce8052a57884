"""Built-in materials (femsim.materials): cited values, ranges, limits of the model forms."""

import numpy as np
import pytest
from scipy.constants import Boltzmann, gas_constant

from femsim.errors import OutOfRangeError
from femsim.materials import (BUILTIN, INSULATOR_RHO, BlochGruneisen, Debye, Material, get_material,
                              is_insulator)
from femsim.properties import L0

UOHM_CM = 1e-8  # Ohm m


def _grid(prop, n=400):
    lo, hi = prop.T_range
    return np.linspace(lo, hi, n)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_property_positive_finite_and_range_enforced(name):
    m = get_material(name)
    assert isinstance(m, Material) and m.source
    for attr in ("rho_ab", "rho_c", "kappa_ab", "kappa_c", "heat_capacity"):
        p = getattr(m, attr)
        lo, hi = p.T_range
        assert 0 < lo < hi < np.inf, f"{name}.{attr} states a finite range"
        T = _grid(p)
        v, d = p(T), p.derivative(T)
        assert np.all(np.isfinite(v)) and np.all(v > 0) and np.all(np.isfinite(d))
        with pytest.raises(OutOfRangeError):
            p(np.array([hi * 1.01]))
        with pytest.raises(OutOfRangeError):
            p(np.array([lo * 0.99]))


def test_get_material_names_and_errors():
    assert get_material("au").name == "Au" and get_material("Al2O3").name == "sapphire"
    assert get_material("Au", rrr=20.0).rho_ab(np.array([300.0]))[0] < get_material("Au").rho_ab(np.array([300.0]))[0]
    with pytest.raises(KeyError, match="Bi2212.*sapphire"):
        get_material("YBCO")


# ----------------------------------------------------------------- Bi2212

def test_bi2212_anisotropy_between_1e4_and_1e5():
    m = get_material("Bi2212")
    T = np.linspace(100.0, 300.0, 201)
    ratio = m.rho_c(T) / m.rho_ab(T)
    assert np.all((ratio > 1e4) & (ratio < 1e5))


def test_bi2212_rho_c_minimum_inside_T_star_window():
    m = get_material("Bi2212")
    T = np.linspace(50.0, 320.0, 27001)
    rho = m.rho_c(T)
    T_min = T[np.argmin(rho)]
    assert 150.0 <= T_min <= 200.0  # the T* window of the tracker issue
    assert T_min == pytest.approx(160.0, abs=0.02)
    assert rho.min() == pytest.approx(4.5e-2, rel=1e-6)  # 4.5 Ohm cm
    # semiconducting-like upturn below T*, metallic above
    assert m.rho_c(np.array([90.0]))[0] > 1.2 * rho.min()
    assert np.all(m.rho_c.derivative(T[T < 155]) < 0) and np.all(m.rho_c.derivative(T[T > 165]) > 0)


def test_bi2212_rho_ab_linear_with_cited_values():
    m = get_material("Bi2212")
    # Forro et al. (1990): 57 uOhm cm at 106 K, 150 uOhm cm at 290 K; the model is their
    # least-squares line, which passes 4 % above the 106 K point (fluctuation rounding near Tc)
    assert m.rho_ab(np.array([106.0, 290.0])) == pytest.approx(np.array([57.0, 150.0]) * UOHM_CM, rel=0.05)
    # linear, extrapolating to nearly zero at 0 K (within 5 % of the 300 K value)
    T = np.array([50.0, 150.0, 300.0])
    d = m.rho_ab.derivative(T)
    intercept = m.rho_ab(T[:1])[0] - T[0] * d[0]
    assert np.allclose(d, d[0]) and 0 < intercept < 0.05 * m.rho_ab(T[2:])[0]
    assert 100 * UOHM_CM < m.rho_ab(np.array([300.0]))[0] < 160 * UOHM_CM


def test_bi2212_kappa_c_crommie_zettl():
    m = get_material("Bi2212")
    T = np.linspace(39.0, 306.0, 500)
    k = m.kappa_c(T)
    assert np.all((k >= 0.5 - 1e-12) & (k <= 0.86 + 1e-12))
    cited = {39: 0.50, 55: 0.57, 73: 0.65, 114: 0.70, 182: 0.77, 249: 0.81, 306: 0.86}
    assert m.kappa_c(np.array(list(cited), float)) == pytest.approx(list(cited.values()), rel=1e-12)
    # low-T extension: kappa(39 K) (T / 39 K)^0.5, monotone down to 4 K
    assert m.kappa_c(np.array([4.0]))[0] == pytest.approx(0.5 * (4 / 39) ** 0.5, rel=1e-12)
    ratio = m.kappa_ab(T) / k
    assert np.all((ratio >= 5) & (ratio <= 10))
    assert np.all((m.kappa_ab(T) > 2.0) & (m.kappa_ab(T) < 6.0))


def test_bi2212_heat_capacity_dulong_petit_scale():
    m = get_material("Bi2212")
    C = m.heat_capacity(np.array([300.0]))[0]
    n_fu = 6510.0 / 0.88837  # formula units per m^3
    # 15 atoms: 3R x 15 = 374 J/(mol K) at high T; Debye 250 K gives ~97 % of it at 300 K
    assert 0.9 * 45 * gas_constant < C / n_fu < 45 * gas_constant


# ----------------------------------------------------------------- Au

def test_au_wiedemann_franz_lorenz_ratio():
    m = get_material("Au")
    T = _grid(m.rho_ab)
    assert np.allclose(m.kappa_ab(T) * m.rho_ab(T) / T, L0, rtol=1e-14)


def test_au_matula_values_and_rrr():
    rrr = 10.0
    m = get_material("Au", rrr=rrr)
    rho = lambda T: m.rho_ab(np.array([T]))[0]  # noqa: E731
    assert rho(300.0) / rho(4.2) == pytest.approx(rrr, rel=1e-12)
    rho0 = rho(4.2)
    # Matula (1979) Table 5 intrinsic values, with Matthiessen's rule
    assert rho(273.15) - rho0 == pytest.approx(2.029e-8, rel=1e-3)
    assert rho(100.0) - rho0 == pytest.approx(0.628e-8, rel=1e-3)
    # rho_0 = (rho_i(300) - RRR rho_i(4.2)) / (RRR - 1) with rho_i(4.2 K) ~ 1e-13 Ohm m negligible
    assert rho0 == pytest.approx(2.249e-8 / (rrr - 1), rel=1e-4)


def test_pure_au_thermal_conductivity_near_handbook():
    # bulk gold, 317-318 W/(m K) at 273-300 K (CRC): Wiedemann-Franz on Matula is within ~3 %
    m = get_material("Au", rrr=3000.0)
    assert m.kappa_ab(np.array([300.0]))[0] == pytest.approx(317.0, rel=0.05)


def test_au_heat_capacity_near_handbook_cp():
    m = get_material("Au")
    per_mol = m.heat_capacity(np.array([298.15]))[0] / (19320.0 / 0.196967)
    assert per_mol == pytest.approx(25.42, rel=0.05)  # C_p (CRC); the model is C_v


# ----------------------------------------------------------------- Sn, sapphire

def test_sn_resistivity_and_rrr():
    m = get_material("Sn", rrr=20.0)
    rho = lambda T: m.rho_ab(np.array([T]))[0]  # noqa: E731
    assert rho(300.0) / rho(4.2) == pytest.approx(20.0, rel=1e-12)
    assert rho(273.15) - rho(1.0) == pytest.approx(11.5e-8, rel=1e-4)  # CRC value, phonon part
    assert np.allclose(m.kappa_ab(np.array([4.2, 300.0])) * np.array([rho(4.2), rho(300.0)]) / [4.2, 300.0], L0)


def test_sapphire_insulating_with_cited_kappa():
    m = get_material("sapphire")
    assert is_insulator(m) and not is_insulator(get_material("Au"))
    assert m.rho_c(np.array([300.0]))[0] > INSULATOR_RHO
    T = np.linspace(4.0, 400.0, 4000)
    k = m.kappa_c(T)
    assert m.kappa_c(np.array([300.0]))[0] == pytest.approx(35.0, rel=1e-12)
    assert 25.0 <= T[np.argmax(k)] <= 40.0 and 5e3 < k.max() < 2e4
    per_mol = m.heat_capacity(np.array([300.0]))[0] / (3980.0 / 0.10196)
    assert per_mol == pytest.approx(80.0, rel=0.07)


# ----------------------------------------------------------------- model forms

def test_debye_limits():
    n, th = 5.9e28, 165.0
    C = Debye(th, n)
    low = C(np.array([th / 200, th / 100]))
    assert low == pytest.approx(12 * np.pi**4 / 5 * n * Boltzmann * (np.array([1 / 200, 1 / 100])) ** 3, rel=1e-9)
    T = np.array([20 * th, 50 * th])
    assert C(T) == pytest.approx(3 * n * Boltzmann * (1 - (th / T) ** 2 / 20), rel=1e-7)
    T = np.linspace(2.0, 400.0, 300)
    h = 1e-4
    assert np.allclose(C.derivative(T), (C(T + h) - C(T - h)) / (2 * h), rtol=1e-6)


def test_bloch_gruneisen_limits():
    p = BlochGruneisen(200.0, 11.5e-8, 273.15)
    A = p._A()
    T = np.array([1.0, 2.0])
    assert p(T) == pytest.approx(A * (T / 200.0) ** 5 * 120 * 1.0369277551433699, rel=1e-9)  # 5! zeta(5)
    T = np.array([4000.0, 8000.0])
    assert p(T) == pytest.approx(A * T / (4 * 200.0), rel=1e-3)  # J_5 -> y^4/4
    T = np.linspace(2.0, 400.0, 300)
    h = 1e-4
    assert np.allclose(p.derivative(T), (p(T + h) - p(T - h)) / (2 * h), rtol=1e-6)


# ----------------------------------------------------------------- low temperatures (issue 13)

@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_builtin_covers_1p5_to_320_K(name):
    m = get_material(name)
    lo, hi = m.T_range(("rho_ab", "rho_c", "kappa_ab", "kappa_c", "heat_capacity"))
    assert lo <= 1.5 and hi >= 320.0


def test_describe_builtins_states_ranges_and_extensions_in_the_schema():
    from femsim.case.schema_reference import markdown
    from femsim.materials import describe_builtins

    text = describe_builtins()
    for name in BUILTIN:
        m = get_material(name)
        lo, hi = m.T_range()
        assert f"{name} ({lo:g}-{hi:g} K" in text
        for n in m.notes:
            assert f"{'/'.join(n.properties)} {n.T_lo:g}-{n.T_hi:g} K" in text
    assert text in markdown()


def test_bi2212_rho_c_log_continuation_closed_form_and_C1_join():
    """Below 50 K: rho(50) (1 + s ln(50/T)), s = -dln rho/dln T of the pseudogap law at 50 K."""
    from femsim.properties import Pseudogap

    m = get_material("Bi2212")
    pg = Pseudogap(4.5e-2, 160.0, 120.0)
    A, B = pg._coefficients()
    rho50 = A * 50 + B * np.exp(120 / 50)
    s = -50 * (A - B * 120 / 50**2 * np.exp(120 / 50)) / rho50
    T = np.array([1.0, 1.5, 4.2, 20.0, 49.0])
    assert m.rho_c(T) == pytest.approx(rho50 * (1 + s * np.log(50 / T)), rel=1e-12)
    assert m.rho_c(np.array([4.2]))[0] == pytest.approx(0.921, rel=2e-3)  # 92 Ohm cm
    eps = 1e-7
    below, above = m.rho_c(np.array([50 - eps, 50 + eps]))
    d_below, d_above = m.rho_c.derivative(np.array([50 - eps, 50 + eps]))
    assert below == pytest.approx(above, rel=1e-8) and d_below == pytest.approx(d_above, rel=1e-5)
    # monotone rise on cooling all the way down (the R_N(T) the heating acts on, seed 000)
    T = np.linspace(1.0, 160.0, 5000)
    assert np.all(np.diff(m.rho_c(T)) < 0)
    # derivative against a central difference, both sides of the join
    T = np.array([3.0, 30.0, 70.0])
    h = 1e-5 * T
    fd = (m.rho_c(T + h) - m.rho_c(T - h)) / (2 * h)
    assert m.rho_c.derivative(T) == pytest.approx(fd, rel=1e-7)


def test_bi2212_notes_cover_the_extensions_and_rho_ab_residual():
    m = get_material("Bi2212")
    spans = {(n.properties, n.T_lo, n.T_hi) for n in m.notes}
    assert (("rho_c",), 1.0, 50.0) in spans and (("rho_c",), 50.0, 90.0) in spans
    assert (("rho_ab",), 1.0, 90.0) in spans
    assert m.rho_ab(np.array([0.0 + 1.0]))[0] == pytest.approx(5.75e-8 + 5.04e-9, rel=1e-12)


def test_sapphire_kappa_casimir_T3_below_4K():
    m = get_material("sapphire")
    k4 = m.kappa_c(np.array([4.0]))[0]
    T = np.array([1.0, 2.0, 3.0])
    assert m.kappa_c(T) == pytest.approx(k4 * (T / 4.0) ** 3, rel=1e-12)
    assert m.heat_capacity(np.array([1.0]))[0] > 0
