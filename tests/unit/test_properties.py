import numpy as np
import pytest
from scipy.constants import Boltzmann, elementary_charge

from femsim.errors import OutOfRangeError
from femsim.properties import (L0, Arrhenius, BelowTc, Constant, Exponential, Linear, Pseudogap, Scaled, Sum, Table,
                               WiedemannFranz)

T = np.linspace(20.0, 300.0, 57)


def numeric_derivative(p, T, h=1e-4):
    return (p(T + h) - p(T - h)) / (2 * h)


@pytest.mark.parametrize("p", [
    Constant(3.0), Linear(2.0, 0.01, 10.0), Exponential(5.0, 0.02, 10.0), Arrhenius(1.0, 40.0),
    Pseudogap(600.0, 150.0, 60.0), WiedemannFranz(Linear(1e-8, 0.004, 0.0)),
    Sum(Linear(2.0, 0.01), BelowTc(30.0, 60.0)), Scaled(Arrhenius(1.0, 40.0), 3.0),
    Table(np.linspace(10, 310, 31), np.linspace(10, 310, 31) ** 1.5),
])
def test_derivative_matches_central_difference(p):
    # BelowTc has a kink at Tc: stay away from it
    Ts = T[np.abs(T - 60.0) > 1.0]
    scale = np.abs(p(Ts)).max() / Ts.max()  # a derivative of order f/T
    assert np.allclose(p.derivative(Ts), numeric_derivative(p, Ts), rtol=1e-6, atol=1e-9 * scale)


def test_pseudogap_minimum_sits_at_T_star_with_its_value():
    p = Pseudogap(600.0, 150.0, 60.0)
    assert p(150.0) == pytest.approx(600.0, rel=1e-14)
    assert p.derivative(150.0) == pytest.approx(0.0, abs=1e-12)
    assert p(100.0) > 600.0 and p(200.0) > 600.0


def test_lorenz_number_is_sommerfeld_value():
    assert L0 == pytest.approx(np.pi**2 / 3 * (Boltzmann / elementary_charge) ** 2, rel=1e-15)
    assert L0 == pytest.approx(2.44e-8, rel=2e-3)


def test_table_pchip_is_exact_on_nodes_and_monotone_between():
    Tn = np.array([10.0, 20.0, 40.0, 80.0])
    v = np.array([1.0, 2.0, 2.1, 5.0])
    t = Table(Tn, v)
    assert np.allclose(t(Tn), v, rtol=0, atol=1e-14)
    fine = np.linspace(10, 80, 1001)
    assert np.all(np.diff(t(fine)) >= 0)  # monotone data stay monotone (no cubic overshoot)


def test_table_refuses_silent_extrapolation_and_honours_declared_rules():
    t = Table([10.0, 20.0], [1.0, 3.0], interpolation="linear")
    with pytest.raises(OutOfRangeError, match="25 K is outside"):
        t(np.array([15.0, 25.0]))
    c = Table([10.0, 20.0], [1.0, 3.0], interpolation="linear", extrapolation="constant")
    assert c(25.0) == 3.0 and c.derivative(25.0) == 0.0
    lin = Table([10.0, 20.0], [1.0, 3.0], interpolation="linear", extrapolation="linear")
    assert lin(25.0) == pytest.approx(4.0) and lin(5.0) == pytest.approx(0.0)


@pytest.mark.parametrize("T, v, msg", [
    ([1.0], [1.0], "at least 2"),
    ([1.0, 1.0], [1.0, 2.0], "increase strictly"),
    ([2.0, 1.0], [1.0, 2.0], "increase strictly"),
    ([1.0, np.nan], [1.0, 2.0], "finite"),
])
def test_table_rejects_bad_data(T, v, msg):
    with pytest.raises(ValueError, match=msg):
        Table(T, v)


def test_linear_law_with_negative_slope_is_bounded_before_zero():
    p = Linear(1.0, -0.01, 0.0)
    assert p.T_range[1] == pytest.approx(100.0)
    with pytest.raises(OutOfRangeError):
        p(150.0)


def test_extrapolated_constant_and_linear_stop_before_zero():
    from femsim.properties import Extrapolated, Linear, Table

    t = Table([10.0, 20.0], [2.0, 1.0], interpolation="linear")
    c = Extrapolated(t, "constant")
    assert c(np.array([1.0, 15.0, 100.0])) == pytest.approx([2.0, 1.5, 1.0])
    assert c.derivative(np.array([1.0, 100.0])) == pytest.approx([0.0, 0.0])
    lin = Extrapolated(t, "linear")
    assert lin(np.array([5.0]))[0] == pytest.approx(2.5)
    # falls by 0.1 per K above 20 K: zero at 30 K; the range stops where 1 % is left
    assert lin.T_range[1] == pytest.approx(20.0 + 0.99 * 10.0)
    with pytest.raises(OutOfRangeError):
        lin(np.array([30.0]))
    rising = Extrapolated(Linear(1.0, 0.1, 0.0), "linear")   # Linear's own range is unbounded
    assert rising(np.array([5.0]))[0] == pytest.approx(1.5)


def test_case_key_names_the_key_range_and_ways_out():
    from femsim.properties import CaseKey, Table

    p = CaseKey(Table([50.0, 320.0], [1.0, 2.0], name="Bi2212 rho_ab"), "materials.mesa.rho_ab")
    assert p(np.array([100.0]))[0] == pytest.approx(Table([50.0, 320.0], [1.0, 2.0])(np.array([100.0]))[0])
    with pytest.raises(OutOfRangeError) as e:
        p(np.array([4.2]))
    msg = str(e.value)
    assert msg.startswith("materials.mesa.rho_ab: got T = 4.2 K; expected temperatures inside its valid range 50 K")
    assert "Bi2212 rho_ab" in msg and "give materials.mesa.rho_ab explicitly" in msg
    assert 'materials.mesa.extrapolation = "constant"' in msg


def test_log_continuation_refuses_a_falling_value():
    from femsim.properties import Linear, LogContinuation

    with pytest.raises(ValueError, match="turn negative"):
        LogContinuation(Linear(1.0, 0.01, 0.0), 50.0)
