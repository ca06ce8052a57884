"""The command line: user errors exit 2 with one line and leave nothing behind."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def femsim(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "femsim.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=300)


def test_check_accepts_every_bundled_case(capsys):
    # in-process: check builds each FEM case's mesh and problem (one interpreter start
    # per case would dominate; the subprocess path is covered by the tests below)
    from femsim.cli import main

    cases = sorted((ROOT / "cases").glob("*.toml"))
    assert cases
    for case in cases:
        code = main(["check", str(case)])
        out = capsys.readouterr()
        assert code == 0, out.err
        assert "valid" in out.out


@pytest.mark.parametrize("text, fragment", [
    ("schema_version = 1\nstudy = 'lumped'\n[environment]\nT_bath = '4.2 K'\n[lumped]\nhA = '1 uW'\nR = '1 Ohm'\n",
     "lumped.hA: got '1 uW'"),
    ("schema_version = \n", "valid TOML"),
    ("schema_version = 1\nstudy = 'lumped'\n[environmnt]\nT_bath = '4.2 K'\n", "did you mean 'environment'"),
])
def test_user_errors_exit_2_with_one_line_and_no_traceback(tmp_path, text, fragment):
    case = tmp_path / "bad.toml"
    case.write_text(text)
    out = tmp_path / "out"
    for cmd in (("check", case), ("run", case, "--out", out)):
        r = femsim(*cmd)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], r.stderr
    assert not out.exists()


def test_missing_case_file_is_a_user_error(tmp_path):
    r = femsim("run", tmp_path / "none.toml")
    assert r.returncode == 2 and "readable TOML" in r.stderr and "Traceback" not in r.stderr


def test_schema_reference_lists_every_lumped_key():
    r = femsim("schema")
    assert r.returncode == 0
    for key in ("environment.T_bath", "lumped.hA", "lumped.R", "lumped.three_probe.dRc0", "lumped.P_max"):
        assert f"`{key}`" in r.stdout


def test_committed_case_reference_is_current():
    """docs/case-reference.md is generated (`make docs`); a schema change must regenerate it."""
    r = femsim("schema")
    assert (ROOT / "docs" / "case-reference.md").read_text() == r.stdout
