"""Case files are data: nothing in them is evaluated or imported, and the files they name
are confined to readable files.

"Readable file" (femsim.case.base.read_text_file): the path, relative to the case file's
directory or absolute, after following symbolic links, is an existing regular file -- not
a directory, device (/dev/zero), pipe or socket -- of at most 64 MiB (a case file: 16 MiB),
readable, holding UTF-8 text (a BOM is allowed) without NUL bytes. Where it lies is not
restricted ('..' and absolute paths are allowed: cases share data directories); femsim
only reads it. Non-files are refused from their stat, before any open, so a FIFO or a
device never blocks or streams forever.
"""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from femsim import progress
from femsim.case import load_case
from femsim.cli import main
from femsim.errors import CaseError
from femsim.units import UnitError, to_si

CASE = textwrap.dedent("""\
    schema_version = 1
    study = "lumped"
    [environment]
    T_bath = "30 K"
    [lumped]
    hA = "16 uW/K"
    R = {R}
    T_top = "250 K"
""")
RT = "T [K],R [Ohm]\n20,5000\n100,700\n300,690\n"


def write_case(directory: Path, R: str, name: str = "case.toml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    p = directory / name
    p.write_text(CASE.replace("{R}", R))
    return p


@contextmanager
def time_limit(seconds: int):
    """Fail instead of hanging (a FIFO or a device read by mistake would block)."""
    def fail(*_):
        raise TimeoutError(f"took more than {seconds} s")
    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# --------------------------------------------------------------------------- nothing is evaluated

PAYLOADS = [
    "__import__('pathlib').Path('{m}').touch()",
    "exec(\"open('{m}', 'w')\")",
    "eval('1') K",
    "1 K if open('{m}', 'w') else 2 K",
    "(lambda: open('{m}', 'w'))() K",
    "1 K; open('{m}', 'w')",
    "().__class__.__mro__[1].__subclasses__()",
    "{{open('{m}', 'w')}} K",
    "1 __import__",
    "1 K\nimport os",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_code_in_a_quantity_is_not_run(tmp_path, payload):
    marker = tmp_path / "pwned"
    text = payload.format(m=marker).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    case = write_case(tmp_path, '"120 Ohm"').read_text().replace('hA = "16 uW/K"', f'hA = "{text}"')
    (tmp_path / "case.toml").write_text(case)
    with pytest.raises(CaseError, match="lumped.hA"):
        load_case(tmp_path / "case.toml")
    assert not marker.exists()


@pytest.mark.parametrize("where", ["inline unit", "csv header", "model name", "table column"])
def test_code_in_units_names_and_headers_is_not_run(tmp_path, where):
    marker = tmp_path / "pwned"
    code = f"__import__('pathlib').Path('{marker}').touch()"
    if where == "inline unit":
        R = f'{{ T = [20, 300], values = [1, 2], unit = "{code}" }}'
    elif where == "csv header":
        (tmp_path / "rt.csv").write_text(f"T [K],R [{code}]\n20,1\n300,2\n")
        R = '{ table = "rt.csv" }'
    elif where == "model name":
        R = f'{{ model = "{code}" }}'
    else:
        (tmp_path / "rt.csv").write_text(RT)
        R = f'{{ table = "rt.csv", column = "{code}" }}'
    with pytest.raises(CaseError, match="lumped.R"):
        load_case(write_case(tmp_path, R))
    assert not marker.exists()


def test_names_in_a_case_import_nothing(tmp_path):
    """Module names written as model names, kinds, titles or paths are just strings."""
    names = ["antigravity", "this", "turtle"]
    before = set(sys.modules)
    for name in names:
        for R in (f'{{ model = "{name}" }}', f'{{ table = "{name}" }}', f'"{name}"'):
            p = write_case(tmp_path, R)
            p.write_text(p.read_text().replace('study = "lumped"', f'study = "lumped"\ntitle = "import {name}"'))
            with pytest.raises(CaseError):
                load_case(p)
    assert not (set(sys.modules) - before) & set(names)


def test_quantity_parsing_is_bounded_in_time():
    """pint computes the arithmetic in a string; only a number literal and a unit are let through."""
    with time_limit(5):
        for text in ("10**10**10 K", "9**9**9**9 K", "1 K**99**99", "2**2**2**2**2**2 K", "1" * 100_000 + " K",
                     "1 " + "K*" * 50_000 + "K", "(" * 10_000 + "1 K" + ")" * 10_000):
            with pytest.raises(UnitError):
                to_si(text, "temperature")


# --------------------------------------------------------------------------- files are confined to readable files

def test_table_paths_resolve_relative_to_the_case_file_not_the_cwd(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "rt.csv").write_text(RT)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "rt.csv").write_text("T [K],R [Ohm]\n20,1\n100,1\n300,1\n")
    monkeypatch.chdir(tmp_path / "elsewhere")
    case = load_case(write_case(tmp_path / "a", '{ table = "rt.csv", interpolation = "linear" }'))
    assert case.lumped.R(100.0) == pytest.approx(700.0)
    # a relative path to the case file itself works the same
    case = load_case(os.path.relpath(tmp_path / "a" / "case.toml"))
    assert case.lumped.R(100.0) == pytest.approx(700.0)


def test_shared_data_outside_the_case_directory_is_allowed(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "rt.csv").write_text(RT)
    case = load_case(write_case(tmp_path / "cases", '{ table = "../shared/rt.csv" }'))
    assert case.lumped.R.T_range == (20.0, 300.0)
    case = load_case(write_case(tmp_path / "cases", f'{{ table = "{tmp_path / "shared" / "rt.csv"}" }}'))
    assert case.lumped.R.T_range == (20.0, 300.0)


def _fifo(tmp_path):
    p = tmp_path / "fifo.csv"
    os.mkfifo(p)
    return p


def _symlink_to_dev_zero(tmp_path):
    p = tmp_path / "link.csv"
    p.symlink_to("/dev/zero")
    return p


def _huge(tmp_path):
    p = tmp_path / "huge.csv"
    with open(p, "wb") as f:  # sparse: nothing is written
        f.truncate(65 * 2**20)
    return p


def _binary(tmp_path):
    p = tmp_path / "binary.csv"
    p.write_bytes(b"T [K],R [Ohm]\n20,\x00\n")
    return p


def _unreadable(tmp_path):
    p = tmp_path / "secret.csv"
    p.write_text(RT)
    p.chmod(0)
    return p


NOT_FILES = {
    "directory": (lambda d: d, "not a directory"),
    "dev_zero": (lambda d: Path("/dev/zero"), "regular file"),
    "dev_null": (lambda d: Path("/dev/null"), "regular file"),
    "fifo": (_fifo, "regular file"),
    "symlink_to_device": (_symlink_to_dev_zero, "regular file"),
    "too_large": (_huge, "at most 64 MiB"),
    "binary": (_binary, "NUL bytes"),
    "proc_environ": (lambda d: Path("/proc/self/environ"), "NUL bytes"),
    "unreadable": (_unreadable, "Permission denied"),
    "nul_in_name": (lambda d: Path("rt\x00.csv"), "readable CSV file"),
    "name_too_long": (lambda d: Path("x" * 5000 + ".csv"), "readable CSV file"),
}


@pytest.mark.parametrize("kind", sorted(NOT_FILES))
def test_a_table_that_is_not_a_readable_text_file_is_refused(tmp_path, kind):
    make, fragment = NOT_FILES[kind]
    target = make(tmp_path)
    if kind not in ("nul_in_name", "name_too_long") and not target.exists():
        pytest.skip(f"{target} does not exist here")
    if kind == "unreadable" and os.access(target, os.R_OK):
        pytest.skip("running as root: permissions are not enforced")
    path = str(target).replace("\x00", "\\u0000")
    with time_limit(10):
        for spec in (f'{{ table = "{path}" }}',):
            with pytest.raises(CaseError) as err:
                load_case(write_case(tmp_path / "case", spec))
    msg = str(err.value)
    assert ": lumped.R: got " in msg and fragment in msg and "\n" not in msg, msg


@pytest.mark.parametrize("kind", ["directory", "dev_zero", "fifo", "too_large", "binary", "missing"])
def test_a_case_path_that_is_not_a_readable_text_file_exits_2(tmp_path, kind, capsys):
    target = {"directory": lambda: tmp_path, "dev_zero": lambda: Path("/dev/zero"), "fifo": lambda: _fifo(tmp_path),
              "too_large": lambda: _huge(tmp_path), "binary": lambda: _binary(tmp_path),
              "missing": lambda: tmp_path / "none.toml"}[kind]()
    before = progress.VERBOSITY
    try:
        with time_limit(10):
            codes = [main(["check", str(target)]), main(["run", str(target), "--out", str(tmp_path / "out")])]
    finally:
        progress.VERBOSITY = before
    err = capsys.readouterr().err.splitlines()
    assert codes == [2, 2] and len(err) == 2, err
    assert all(line.startswith("femsim: error: (file): got ") and "TOML case file" in line for line in err), err
    assert not (tmp_path / "out").exists()


def test_a_symlink_to_a_regular_file_is_followed(tmp_path):
    (tmp_path / "rt.csv").write_text(RT)
    (tmp_path / "link.csv").symlink_to(tmp_path / "rt.csv")
    assert load_case(write_case(tmp_path, '{ table = "link.csv" }')).lumped.R.T_range == (20.0, 300.0)


# --------------------------------------------------------------------------- tables are read as values

@pytest.mark.parametrize("header, rows, T_K", [
    ("T [degC],R [Ohm]", "0,1\n100,2\n", [273.15, 373.15]),
    ("T [degF],R [Ohm]", "32,1\n212,2\n", [273.15, 373.15]),
    ("T [mK],R [Ohm]", "10,1\n20,2\n", [0.01, 0.02]),
    ("\ufeffT [K],R [Ohm]", "20,1\n30,2\n", [20.0, 30.0]),  # a spreadsheet's BOM
])
def test_temperature_columns_convert_with_offsets(tmp_path, header, rows, T_K):
    """Was: T [degF] multiplied by 255.9 K (the SI size of '1 degF'), i.e. silent nonsense."""
    (tmp_path / "rt.csv").write_text(f"{header}\n{rows}", encoding="utf-8")
    case = load_case(write_case(tmp_path, '{ table = "rt.csv", extrapolation = "constant" }'))
    np.testing.assert_allclose(case.lumped.R.T, T_K, rtol=1e-12)


def test_inline_table_temperature_unit_with_offset(tmp_path):
    """Was: T = [0, 100], T_unit = "degC" became 0 K and 27415 K."""
    case = load_case(write_case(tmp_path, '{ T = [0, 100], values = [1, 2], unit = "kOhm", T_unit = "degC", '
                                          'extrapolation = "constant" }'))
    np.testing.assert_allclose(case.lumped.R.T, [273.15, 373.15], rtol=1e-12)
    np.testing.assert_allclose(case.lumped.R.values, [1e3, 2e3], rtol=1e-12)
