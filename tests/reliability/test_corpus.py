"""Malformed case files: each gives exit code 2 and one line naming key, value and expectation.

Every corpus file runs through the loader and through `femsim check` / `femsim run` in
process (`femsim.cli.main`, fast); a representative subset also runs as a real
subprocess (`python -m femsim.cli`, about a second each). Files marked "pending" are known
gaps that need a schema change (xfail, strict: they fail loudly once fixed).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from corpus_cases import check_message, corpus
from femsim import progress
from femsim.case import load_case
from femsim.cli import main
from femsim.errors import CaseError

CASES = corpus()
READY = [b for b in CASES if b.pending is None]


def _param(bad):
    marks = [pytest.mark.xfail(strict=True, reason=bad.pending)] if bad.pending else []
    return pytest.param(bad, id=bad.name, marks=marks)


def test_corpus_is_large_and_described():
    assert len(READY) >= 40
    assert all(b.checks and b.key for b in CASES)
    assert len({b.name for b in CASES}) == len(CASES)


@pytest.mark.parametrize("bad", [_param(b) for b in CASES])
def test_loader_gives_one_line_case_error(bad):
    with pytest.raises(CaseError) as err:
        load_case(bad.path)
    check_message(str(err.value), bad)


@pytest.fixture
def quiet_cli():
    before = progress.VERBOSITY
    yield
    progress.VERBOSITY = before


@pytest.mark.parametrize("bad", [_param(b) for b in READY])
def test_cli_check_and_run_exit_2_in_process(bad, tmp_path, capsys, quiet_cli):
    out = tmp_path / "results"
    for argv in (["check", str(bad.path)], ["run", str(bad.path), "--out", str(out)]):
        code = main(argv)
        captured = capsys.readouterr()
        assert code == 2, (argv, captured.err)
        lines = captured.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("femsim: error: "), captured.err
        check_message(lines[0].removeprefix("femsim: error: "), bad)
    assert not out.exists()


#: one or two of each kind of failure, run as real processes
SUBSET = ["syntax_double_equals", "binary", "empty", "unknown_key_property_table", "misspelt_iv_kind",
          "quantity_arithmetic", "csv_dev_zero"]


def femsim(*args, cwd):
    return subprocess.run([sys.executable, "-m", "femsim.cli", *map(str, args)], capture_output=True, text=True,
                          errors="replace", cwd=cwd, timeout=120)


@pytest.mark.parametrize("bad", [b for b in READY if b.name in SUBSET], ids=lambda b: b.name)
def test_cli_subprocess_exit_2_one_line_no_traceback(bad, tmp_path):
    out = tmp_path / "results"
    for cmd in (("check", bad.path), ("run", bad.path, "--out", out)):
        r = femsim(*cmd, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("femsim: error: "), r.stderr
        check_message(lines[0].removeprefix("femsim: error: "), bad)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # nothing else written either (no results/<stem>)


def test_subset_names_exist():
    assert set(SUBSET) <= {b.name for b in READY}
