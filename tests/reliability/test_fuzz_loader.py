"""Property-based fuzzing of the case loader: whatever the input, `parse_case`/`load_case`
return a Case or raise CaseError with a one-line message -- never any other exception.

Inputs: valid lumped and rf cases with random mutations (values replaced by random
strings, numbers, lists, tables, bools, dates; keys added, misspelt or removed), wholly
random key/value trees, and random or corrupted TOML text. Example counts are bounded so
the whole module runs in seconds.
"""

from __future__ import annotations

import copy
import datetime
import math
import os
import typing
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from femsim.case import Case, load_case, parse_case
from femsim.case.base import read_csv_columns
from femsim.errors import CaseError
from femsim.units import UNITS, UnitError, to_si

#: FEMSIM_FUZZ_EXAMPLES=5000 for a longer hunt
EXAMPLES = int(os.environ.get("FEMSIM_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])

LUMPED = {
    "schema_version": 1, "title": "fuzz", "study": "lumped",
    "environment": {"T_bath": ["30 K", "60 K"]},
    "lumped": {"hA": "16 uW/K", "R": {"model": "pseudogap", "f_min": "600 Ohm", "T_star": "150 K", "Delta": "60 K"},
               "P_max": "1 mW", "points": 50},
}
LUMPED_TABLE = {
    "schema_version": 1, "study": "lumped",
    "environment": {"T_bath": "30 K"},
    "lumped": {"hA": "16 uW/K", "R": {"table": "rt.csv", "interpolation": "linear"}, "T_top": "250 K",
               "three_probe": {"dRc0": ["6 Ohm"], "Tc": "60 K"},
               "field": {"B": ["0 T"], "R": [{"T": [20, 300], "values": [1, 2], "unit": "kOhm"}]}},
}
RF = {
    "schema_version": 1, "study": "rf",
    "environment": {"T_bath": "1.3 K"},
    "rf": {
        "junction": {"length": "2 um", "width": "2 um", "barrier_thickness": "10 angstrom", "permittivity": 5,
                     "electrode1": {"penetration_depth": "500 angstrom", "thickness": "700 angstrom"}},
        "drive": {"kind": "uniform", "frequency": "20 GHz", "amplitudes": {"start": "0 mV", "stop": "0.6 mV", "num": 5},
                  "termination": {"kind": "load", "impedance": {"resistance": "50 Ohm", "reactance": "1 Ohm"}}},
        "iv": {"kind": "bcs", "normal_resistance": "10 Ohm", "gap_voltage": "1.17 mV"},
        "voltages": {"start": "0 mV", "stop": "2 mV", "num": 11},
    },
    "outputs": {"plots": False, "formats": ["png"]},
}
BASES = [LUMPED, LUMPED_TABLE, RF]


def _schema_keys() -> list[str]:
    seen, keys = set(), set()

    def models(tp):
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return [tp]
        return [m for a in typing.get_args(tp) for m in models(a)]

    def walk(m):
        if m not in seen:
            seen.add(m)
            for name, f in m.model_fields.items():
                keys.add(name)
                for sub in models(f.annotation):
                    walk(sub)

    walk(Case)
    return sorted(keys | {"model", "table", "column", "T", "values", "unit", "T_unit", "extrapolation", "f_min",
                          "T_star", "Delta", "f0", "alpha", "beta", "T0", "Ea", "value"})


KEYS = _schema_keys()
UNIT_WORDS = [u for _, u, _ in UNITS.values()] + ["uW/K", "mV", "kOhm", "um", "GHz", "degC", "degF", "meV", "",
                                                  "1/K", "W/(cm^2 K)", "furlong", "K**2**99", "m^", "(", ")"]
KINDS = ["lumped", "rf", "fem", "bcs", "table", "linear", "step", "polynomial", "uniform", "standing_wave",
         "end", "distributed", "embedded", "open", "short", "load", "matched", "pseudogap", "constant",
         "exponential", "arrhenius", "pchip", "error", "png"]

numbers = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True))
quantity_strings = st.builds(lambda x, u, sep: f"{x}{sep}{u}", numbers, st.sampled_from(UNIT_WORDS),
                             st.sampled_from([" ", "", "  ", "*"]))
scalars = st.one_of(
    st.none(), st.booleans(), numbers, st.text(max_size=30), quantity_strings, st.sampled_from(KINDS),
    st.sampled_from(["rt.csv", "missing.csv", ".", "/dev/zero", "/", "../" * 20 + "dev/null", "sub", "x\x00y"]),
    st.dates(min_value=datetime.date(1, 1, 1)), st.times(),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(min_size=1, max_size=12))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    (d / "rt.csv").write_text("T [K],R [Ohm]\n20,5000\n100,700\n300,690\n")
    (d / "sub").mkdir()
    return d


def _assert_loader_behaves(call):
    try:
        case = call()
    except CaseError as e:
        msg = str(e)
        assert "\n" not in msg and "\r" not in msg, msg
        assert "; expected " in msg, msg
        return None
    assert isinstance(case, Case)
    return case


def _slots(tree, depth=0, out=None) -> list[tuple]:
    """Every (container, key) in a tree of dicts and lists, deepest first (hypothesis favours
    the ends of a range: one end is then a deep key, the other a top-level one)."""
    out = [] if out is None else out
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for key, value in items:
        out.append((depth, tree, key))
        _slots(value, depth + 1, out)
    return [(c, k) for _, c, k in sorted(out, key=lambda s: -s[0])] if depth == 0 else out


def _mutate(case, draw):
    """Replace, rename or delete the value at one random slot, or add a key next to it."""
    slots = _slots(case)
    if not slots:
        return draw(values)
    container, key = slots[draw(st.integers(0, len(slots) - 1))]
    action = draw(st.sampled_from(["replace", "replace", "add", "delete", "rename"]))
    if action == "replace" or (isinstance(container, list) and action != "delete"):
        container[key] = draw(values)
    elif action == "delete":
        del container[key]
    elif action == "add":
        container[draw(keys)] = draw(values)
    else:
        container[draw(keys)] = container.pop(key)
    return case


@FUZZ
@given(st.data())
def test_mutated_cases_give_a_case_or_one_line_error(case_dir, data):
    case = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    for _ in range(data.draw(st.integers(1, 4))):
        case = _mutate(case, data.draw)
    _assert_loader_behaves(lambda: parse_case(case, "fuzz.toml", case_dir))


@FUZZ
@given(st.dictionaries(keys, values, max_size=8) | values)
def test_random_trees_give_a_case_or_one_line_error(case_dir, data):
    _assert_loader_behaves(lambda: parse_case(data, "fuzz.toml", case_dir))


def _toml_text(case) -> str | None:
    try:
        return tomli_w.dumps(case)
    except (TypeError, ValueError):
        return None


@FUZZ
@given(st.data())
def test_corrupted_toml_text_gives_a_case_or_one_line_error(case_dir, data):
    case = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    if data.draw(st.booleans()):
        case = _mutate(case, data.draw)
    text = _toml_text(case)
    assume(text is not None)
    for _ in range(data.draw(st.integers(0, 3))):  # character-level damage
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 8)))
        text = text[:i] + data.draw(st.text(max_size=4)) + text[j:]
    path = case_dir / "fuzz.toml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    _assert_loader_behaves(lambda: load_case(path))


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8", errors="surrogatepass")))
def test_random_bytes_give_a_case_or_one_line_error(case_dir, raw):
    path = case_dir / "random.toml"
    path.write_bytes(raw)
    _assert_loader_behaves(lambda: load_case(path))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(st.text(max_size=40), quantity_strings, numbers, st.booleans(), st.none(),
                 st.lists(st.integers(), max_size=2)),
       st.sampled_from(sorted(UNITS)))
def test_to_si_gives_a_finite_float_or_unit_error(value, dimension):
    try:
        x = to_si(value, dimension)
    except UnitError as e:
        assert "\n" not in str(e)
        return
    assert isinstance(x, float) and math.isfinite(x)


csv_cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str),
                      st.text(max_size=6), st.sampled_from(["T [K]", "R [Ohm]", "R [kOhm]", "T [degF]", "R", "#"]))


@FUZZ
@given(st.lists(st.lists(csv_cells, max_size=4).map(",".join), max_size=8).map("\n".join))
def test_random_csv_tables_give_columns_or_value_error(case_dir, text):
    path = case_dir / "random.csv"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    try:
        cols = read_csv_columns(path, {"T": "temperature", None: "resistance"}, optional_first=True)
    except ValueError as e:
        assert "\n" not in str(e).replace(str(path), "")
        return
    assert all(map(math.isfinite, cols["T"])) and all(map(math.isfinite, cols[None]))

