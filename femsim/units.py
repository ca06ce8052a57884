"""Units at the edge: parse quantity strings from case files into SI floats.

Case files write physical quantities as strings ("30 um", "16 uW/K", "40 W/(cm^2 K)").
`to_si` parses one with pint, checks its dimension and returns the SI magnitude. Nothing
downstream of the case loader sees a unit. `label` builds the displayed names
("T_mean [K]") used for CSV headers and axis labels.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np
import pint

ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
# Physicists write "Ohm"; pint knows "ohm".
ureg.define("Ohm = ohm")

#: dimension name -> (pint unit of the SI base, displayed SI symbol, example for errors)
UNITS = {
    "length": ("m", "m", "30 um"),
    "area": ("m**2", "m^2", "100 um^2"),
    "temperature": ("K", "K", "4.2 K"),
    "resistance": ("ohm", "Ohm", "120 Ohm"),
    "resistivity": ("ohm*m", "Ohm m", "10 Ohm*cm"),
    "area_resistance": ("ohm*m**2", "Ohm m^2", "1e-9 Ohm*cm^2"),
    "power": ("W", "W", "10 uW"),
    "voltage": ("V", "V", "1 mV"),
    "current": ("A", "A", "1 mA"),
    "conductance": ("S", "S", "1 mS"),
    "conductivity": ("S/m", "S/m", "1e5 S/m"),
    "thermal_conductance": ("W/K", "W/K", "16 uW/K"),
    "thermal_conductivity": ("W/(m*K)", "W/(m K)", "0.6 W/(m*K)"),
    "heat_transfer_coefficient": ("W/(m**2*K)", "W/(m^2 K)", "40 W/(cm^2*K)"),
    "heat_capacity_volumetric": ("J/(m**3*K)", "J/(m^3 K)", "1e6 J/(m^3*K)"),
    "frequency": ("Hz", "Hz", "80 GHz"),
    "magnetic_field": ("T", "T", "14 T"),
    "time": ("s", "s", "1 us"),
    "inductance_per_length": ("H/m", "H/m", "1 uH/m"),
    "capacitance_per_length": ("F/m", "F/m", "1 nF/m"),
    "resistance_per_length": ("ohm/m", "Ohm/m", "1 Ohm/m"),
    "conductance_per_length": ("S/m", "S/m", "1 S/m"),
    "inverse_temperature": ("1/K", "1/K", "0.02 1/K"),
    "energy": ("J", "J", "0.585 meV"),
    "velocity": ("m/s", "m/s", "1e7 m/s"),
    "dimensionless": ("dimensionless", "1", "0.5"),
}


class UnitError(ValueError):
    """A quantity that does not parse or has the wrong dimension.

    The message completes "got X; expected ..." in a CaseError."""


#: A quantity string: one plain number literal, then a unit expression (see _check_unit).
_QUANTITY = re.compile(r"\s*([+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf(?:inity)?))(.*)",
                       re.IGNORECASE | re.DOTALL)
#: a small literal exponent of a unit ("cm^2", "m**-1", "K^(0.5)"), not followed by another one
_EXPONENT = re.compile(r"(?:\*\*|\^)\s*(?:[+-]?\d{1,2}(?:\.\d{1,3})?|\(\s*[+-]?\d{1,2}(?:\.\d{1,3})?\s*\))"
                       r"(?!\s*\d|\s*(?:\*\*|\^))")
#: "1/K": a literal 1 as the numerator of a unit expression
_ONE_OVER = re.compile(r"(?<![\w.])1\s*/")

#: longest quantity string considered (a case file is data, not a program)
MAX_TEXT = 200


def _check_unit(unit: str) -> None:
    """Refuse a unit expression that is more than unit names, * / ( ) and small exponents.

    pint evaluates the arithmetic in a quantity string ("10**10**10 K" would compute a
    ten-billion-digit number); only a plain number literal followed by a plain unit
    expression is allowed, so parsing a case file is bounded in time.
    """
    rest = _ONE_OVER.sub(" ", _EXPONENT.sub(" ", unit))
    if rest.lstrip().startswith(("*", "^")) or not all(c.isalpha() or c in " \t*/()%°_" for c in rest):
        raise UnitError("only unit names, '*', '/', '(', ')' and small exponents may follow the number")


@lru_cache(maxsize=4096)
def _parse(text: str):
    """Parse "number unit" with pint (a restricted grammar, not eval) after a syntax check."""
    if len(text) > MAX_TEXT:
        raise UnitError(f"longer than {MAX_TEXT} characters")
    m = _QUANTITY.fullmatch(text)
    if m is None:
        raise UnitError("no number in front of the unit")
    _check_unit(m.group(2))
    return ureg.Quantity(text)


def parse_quantity(text: str):
    """A pint Quantity from a "number unit" string of any dimension, through the same
    guarded grammar as case files (no arithmetic: "9**9**9 K" is refused, not evaluated);
    UnitError if it does not parse. For command-line values (`femsim sweep --param`)."""
    try:
        q = _parse(str(text).strip())
    except UnitError:
        raise
    except Exception:
        raise UnitError("the unit does not parse") from None
    return q if isinstance(q, pint.Quantity) else ureg.Quantity(q)


@lru_cache(maxsize=None)
def _dimensionality(dimension: str):
    return ureg.Quantity(1, UNITS[dimension][0]).dimensionality


def _describe(q) -> str:
    """Name the dimension of a wrong quantity in the schema's words where possible."""
    for name in UNITS:
        if q.dimensionality == _dimensionality(name):
            return f"{'an' if name[0] in 'aeiou' else 'a'} {name.replace('_', ' ')}"
    return str(q.dimensionality)


def expected(dimension: str) -> str:
    """What a value of ``dimension`` should look like, for error messages."""
    if dimension == "dimensionless":
        return "a dimensionless number"
    return f"a quantity of dimension {dimension}, e.g. '{UNITS[dimension][2]}'"


def to_si(value, dimension: str) -> float:
    """Return the SI magnitude of ``value`` checked against ``dimension``.

    ``value`` is a string with units, or for ``dimension == "dimensionless"`` a number.
    A bare number where a unit is needed is an error: "30" could be metres or microns.
    The string is one number literal and a unit ("30 um", "0.02 1/K", "40 W/(cm^2 K)");
    arithmetic ("2*3 um", "10**3 K") and a unit without a number ("K") are refused.
    """
    want = expected(dimension)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UnitError(want)
    try:
        if isinstance(value, str):
            try:
                q = _parse(value.strip())
            except UnitError as e:
                raise UnitError(f"{want} (does not parse: {e})") from None
            except Exception:
                raise UnitError(f"{want} (the unit does not parse)") from None
        else:
            q = ureg.Quantity(float(value))
        q = q if isinstance(q, pint.Quantity) else ureg.Quantity(q)
        if q.dimensionality != _dimensionality(dimension):
            if q.unitless:
                raise UnitError(f"{want} (a bare number has no unit)")
            raise UnitError(f"{want} (this one is {_describe(q)})")
        x = float(q.to_base_units().magnitude)
    except UnitError:
        raise
    except Exception:  # overflow and the like while converting: out of any sensible range
        raise UnitError(f"{want} (finite, within the floating-point range)") from None
    if not math.isfinite(x):
        raise UnitError(f"{want} (finite)")
    return x


def convert(values, unit: str, dimension: str):
    """SI values of an array given in ``unit`` (a table column), checked against ``dimension``.

    Offset units convert correctly ("degC", "degF": T [K] = offset + scale * value, not
    value times the SI size of one degree).
    """
    values = np.asarray(values, dtype=float)
    unit = unit.strip()
    if unit in ("", "1") and dimension == "dimensionless":
        return values
    to_si(f"1 {unit}", dimension)  # syntax and dimension, with the usual messages
    try:
        out = ureg.Quantity(values, ureg.parse_units(unit)).to(UNITS[dimension][0]).magnitude
    except Exception:
        raise UnitError(f"{expected(dimension)} (the unit does not parse)") from None
    return np.asarray(out, dtype=float)


def factor(unit: str, dimension: str) -> float:
    """SI factor of a unit string such as "uW/K" (table columns), checked against dimension."""
    unit = unit.strip()
    return 1.0 if unit in ("", "1") and dimension == "dimensionless" else to_si(f"1 {unit}", dimension)


def symbol(dimension: str) -> str:
    """The SI unit symbol displayed for ``dimension``."""
    return UNITS[dimension][1]


def label(name: str, unit: str) -> str:
    """Displayed name with its unit: label("T_mean", "K") -> "T_mean [K]"."""
    return f"{name} [{unit}]"
