"""The opt-in guards of femsim.case.base that section classes can use against absurd input:
``Q(..., max=)`` / ``QList(..., max=)`` sanity bounds and ``Prop(..., positive=True)``; and
the strict types every StrictModel gets (no "5" for 5, no "yes" for true, no nan)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from femsim.case.base import Prop, Q, QList, StrictModel


class Sample(StrictModel):
    length: Q("length", positive=True, max=1.0) = 1e-6
    T: QList("temperature", positive=True, max=1e4) = [4.2]
    R: Prop("resistance", positive=True) = None
    count: int = 1
    ratio: float = 0.5
    flag: bool = False


def error(**kw) -> str:
    with pytest.raises(ValidationError) as err:
        Sample.model_validate(kw)
    e = err.value.errors(include_url=False)[0]
    return ".".join(map(str, e["loc"])) + ": " + e["msg"]


def test_bounds_accept_the_sensible_and_refuse_the_absurd():
    assert Sample.model_validate({"length": "0.5 m", "T": ["300 K", "1e4 K"]}).T == [300.0, 1e4]
    assert "sanity bound" in error(length="1 km") and "1 m" in error(length="1 km")
    msg = error(T=["4.2 K", "1e9 K"])
    assert msg.startswith("T.1:") and "<= 10000 K" in msg


@pytest.mark.parametrize("R, fragment", [
    ('-100 Ohm', "-100 Ohm"),
    ('0 Ohm', "0 Ohm"),
    ({"T": [1, 2, 3], "values": [1, -1, 2], "unit": "Ohm"}, "-1 Ohm at T = 2 K"),
    ({"model": "linear", "f0": "100 Ohm", "alpha": "-0.01 1/K", "T0": "0 K"}, "positive values"),
    ({"model": "pseudogap", "f_min": "-5 Ohm", "T_star": "150 K", "Delta": "60 K"}, "positive values"),
])
def test_positive_properties(R, fragment):
    msg = error(R=R)
    assert msg.startswith("R:") and "positive values" in msg and fragment in msg, msg


def test_positive_property_accepts_positive_ones():
    for R in ("100 Ohm", {"model": "pseudogap", "f_min": "600 Ohm", "T_star": "150 K", "Delta": "60 K"},
              {"T": [1, 2], "values": [1, 2], "unit": "kOhm"}):
        assert Sample.model_validate({"R": R}).R is not None


@pytest.mark.parametrize("kw", [{"count": 1e3}, {"count": "10"}, {"count": True}, {"ratio": "0.5"}, {"ratio": True},
                                {"ratio": float("nan")}, {"ratio": float("inf")}, {"flag": "yes"}, {"flag": 1}])
def test_strict_types(kw):
    error(**kw)
