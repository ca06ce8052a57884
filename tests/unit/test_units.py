import math

import pytest

from femsim.units import UnitError, factor, label, to_si


@pytest.mark.parametrize("text, dim, si", [
    ("30 um", "length", 30e-6),
    ("16 uW/K", "thermal_conductance", 16e-6),
    ("40 W/(cm^2 K)", "heat_transfer_coefficient", 4e5),
    ("4.2 K", "temperature", 4.2),
    ("0 degC", "temperature", 273.15),
    ("10 Ohm*cm", "resistivity", 0.1),
    ("1e-9 Ohm cm^2", "area_resistance", 1e-13),
    ("700 angstrom", "length", 70e-9),
    ("80 GHz", "frequency", 8e10),
    ("0.02 1/K", "inverse_temperature", 0.02),
])
def test_to_si_converts_to_base_units(text, dim, si):
    assert math.isclose(to_si(text, dim), si, rel_tol=1e-12)


@pytest.mark.parametrize("value, dim, fragment", [
    ("30", "length", "bare number"),
    (30, "length", "bare number"),
    ("16 uW", "thermal_conductance", "this one is a power"),
    ("__import__('os')", "length", "does not parse"),
    ("nan m", "length", "finite"),
    ("inf K", "temperature", "finite"),
    (True, "length", "dimension length"),
    ([1], "length", "dimension length"),
])
def test_to_si_rejects_with_a_reason(value, dim, fragment):
    with pytest.raises(UnitError, match=fragment):
        to_si(value, dim)


def test_dimensionless_accepts_numbers_and_factor_checks_dimension():
    assert to_si(0.5, "dimensionless") == 0.5
    assert factor("mV", "voltage") == pytest.approx(1e-3, rel=1e-15)
    with pytest.raises(UnitError):
        factor("mA", "voltage")
    assert label("T_mean", "K") == "T_mean [K]"
