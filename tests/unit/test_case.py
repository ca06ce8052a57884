"""Case loading: SI conversion and one-line errors naming key path, value and expectation."""

import textwrap

import pytest

from femsim.case import load_case
from femsim.errors import CaseError

GOOD = textwrap.dedent("""
    schema_version = 1
    study = "lumped"
    [environment]
    T_bath = ["100 K"]
    [lumped]
    hA = "16 uW/K"
    R = {model = "pseudogap", f_min = "100 Ohm", T_star = "150 K", Delta = "300 K"}
    [lumped.three_probe]
    dRc0 = ["6 Ohm", "12 Ohm"]
    Tc = "60 K"
""")


def write(tmp_path, text, name="case.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_good_case_resolves_to_si(tmp_path):
    case = load_case(write(tmp_path, GOOD))
    assert case.environment.T_bath == [100.0]
    assert case.lumped.hA == pytest.approx(16e-6, rel=1e-14)
    assert case.lumped.R(150.0) == pytest.approx(100.0, rel=1e-14)
    assert case.lumped.three_probe.dRc0 == [6.0, 12.0]
    dumped = case.model_dump(mode="json")
    assert dumped["lumped"]["R"]["kind"] == "Pseudogap" and dumped["lumped"]["hA"] == pytest.approx(1.6e-5)


def test_table_file_with_units_in_header_resolves_relative_to_case(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rt.csv").write_text("# comment\nT [K],R [kOhm]\n10,2\n200,1\n300,0.5\n")
    case = load_case(write(tmp_path, GOOD.replace(
        'R = {model = "pseudogap", f_min = "100 Ohm", T_star = "150 K", Delta = "300 K"}',
        'R = {table = "data/rt.csv", interpolation = "linear"}')))
    assert case.lumped.R(105.0) == pytest.approx(1500.0, rel=1e-14)


BAD = [
    # (replace this, with that, path in message, fragment of the expectation)
    ('hA = "16 uW/K"', 'hAA = "16 uW/K"', "lumped.hAA", "did you mean 'hA'"),
    ('hA = "16 uW/K"', 'hA = "16 uW"', "lumped.hA", "this one is a power"),
    ('hA = "16 uW/K"', 'hA = 16', "lumped.hA", "bare number"),
    ('hA = "16 uW/K"', 'hA = "-16 uW/K"', "lumped.hA", "positive"),
    ('hA = "16 uW/K"', '', "lumped.hA", "required"),
    ('T_bath = ["100 K"]', 'T_bath = []', "environment.T_bath", "non-empty"),
    ('T_bath = ["100 K"]', 'T_bath = ["100 K", "nan K"]', "environment.T_bath[1]", "finite"),
    ('T_bath = ["100 K"]', 'T_bath = ["100 K", "150 K"]', "environment.T_bath", "a single bath temperature"),
    ('[lumped]', '[lumped]\nT_top = "90 K"', "environment.T_bath", "top above T_bath"),
    ('[lumped]', '[lumped]\nT_top = "200 K"\nP_max = "1 mW"', "lumped", "not both"),
    ('hA = "16 uW/K"', 'hA = "16 uW/K"\npoints = 3', "lumped.points", "greater than or equal to 10"),
    ('study = "lumped"', 'study = "lumpd"', "study", "one of"),
    ('schema_version = 1', 'schema_version = 7', "schema_version", "1"),
    ('[lumped.three_probe]', '[lumped.tree_probe]', "lumped.tree_probe", "did you mean 'three_probe'"),
    ('Tc = "60 K"', 'Tc = "60 Ohm"', "lumped.three_probe.Tc", "dimension temperature"),
    ('pseudogap', 'pseudo', "lumped.R", "a model in"),
    ('f_min = "100 Ohm"', 'f_min = "100 K"', "lumped.R", "f_min"),
    ('f_min = "100 Ohm",', '', "lumped.R", "missing"),
]


@pytest.mark.parametrize("old, new, path, fragment", BAD)
def test_bad_case_gives_one_line_error(tmp_path, old, new, path, fragment):
    text = GOOD.replace(old, new)
    assert text != GOOD
    with pytest.raises(CaseError) as err:
        load_case(write(tmp_path, text))
    msg = str(err.value)
    assert "\n" not in msg
    assert f": {path}:" in msg, msg
    assert fragment in msg, msg


@pytest.mark.parametrize("R, fragment", [
    ('{table = "missing.csv"}', "not found"),
    ('{T = [1, 2, 3], values = [1, 2], unit = "Ohm"}', "equal length"),
    ('{T = [1, 3, 2], values = [1, 2, 3], unit = "Ohm"}', "increase strictly"),
    ('{T = [1, 2, 3], values = [1, 2, "x"], unit = "Ohm"}', "valid number"),
    ('{T = [1, 2, 3], values = [1, 2, 3], unit = "K"}', "dimension resistance"),
    ('{T = [1], values = [1], unit = "Ohm"}', "at least 2"),
    ('{table = "rt.csv", interp = "linear"}', "interp"),
])
def test_bad_tables(tmp_path, R, fragment):
    (tmp_path / "rt.csv").write_text("T [K],R [Ohm]\n1,1\n2,2\n")
    text = GOOD.replace('{model = "pseudogap", f_min = "100 Ohm", T_star = "150 K", Delta = "300 K"}', R)
    with pytest.raises(CaseError, match=fragment) as err:
        load_case(write(tmp_path, text))
    assert ": lumped.R:" in str(err.value)


@pytest.mark.parametrize("csv, fragment", [
    ("T [K],R [Ohm]\n1,1\n2,abc\n", "numbers in row 3"),
    ("T [K],R [Ohm]\n1,1\n", "at least 2 data rows"),
    ("T [K],R [furlong]\n1,1\n2,2\n", "header"),
    ("T [K],R [Ohm]\n1,1\n1,2\n", "increase strictly"),
])
def test_bad_table_files(tmp_path, csv, fragment):
    (tmp_path / "rt.csv").write_text(csv)
    text = GOOD.replace('{model = "pseudogap", f_min = "100 Ohm", T_star = "150 K", Delta = "300 K"}',
                        '{table = "rt.csv"}')
    with pytest.raises(CaseError, match=fragment):
        load_case(write(tmp_path, text))


def test_syntax_error_and_unreadable_file(tmp_path):
    with pytest.raises(CaseError, match="valid TOML"):
        load_case(write(tmp_path, "schema_version = = 1"))
    with pytest.raises(CaseError, match="readable TOML"):
        load_case(tmp_path / "nope.toml")


def test_case_text_is_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    text = GOOD.replace('hA = "16 uW/K"', f'hA = "__import__(\'pathlib\').Path(\'{marker}\').touch()"')
    with pytest.raises(CaseError, match="does not parse"):
        load_case(write(tmp_path, text))
    assert not marker.exists()
