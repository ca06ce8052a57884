"""The results directory never loses what a user wrote: --overwrite replaces only femsim's
own directories and only once the new run has validated; one run at a time per directory;
a bad --out or a full disk is one line, no traceback; files follow the umask; no control
characters from a case file reach the terminal."""

import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from femsim import cli
from femsim.results import MARKER, ResultDir, printable, write_text

ROOT = Path(__file__).resolve().parents[2]
TINY_FEM = ROOT / "tests" / "data" / "tiny_fem_mesa.toml"

LUMPED = """schema_version = 1
title = "{title}"
study = "lumped"

[environment]
T_bath = "20 K"

[lumped]
hA = "4 uW/K"
R = {{ model = "pseudogap", f_min = "20 Ohm", T_star = "150 K", Delta = "60 K" }}
P_max = "200 uW"
points = 40

[outputs]
plots = {plots}
formats = ["png"]
"""


def lumped_case(tmp_path, title="small lumped case", plots="false", name="case.toml"):
    p = tmp_path / name
    p.write_text(LUMPED.format(title=title, plots=plots))
    return p


def run(*args):
    return cli.main(["-q", "run", *map(str, args)])


def one_line_error(err: str):
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("femsim: error:") and "Traceback" not in err, err
    return lines[0]


# -- --overwrite ----------------------------------------------------------------------------

def test_overwrite_never_deletes_a_folder_femsim_did_not_make(tmp_path, capsys, monkeypatch):
    case = lumped_case(tmp_path)
    d = tmp_path / "d"
    d.mkdir()
    (d / "f").write_text("keep")
    assert run(case, "--out", d, "--overwrite") == 2
    assert (d / "f").read_text() == "keep"
    assert "--overwrite never deletes" in one_line_error(capsys.readouterr().err)
    monkeypatch.chdir(tmp_path)            # `--out . --overwrite`: the working directory stays
    assert run(case, "--out", ".", "--overwrite") == 2
    one_line_error(capsys.readouterr().err)
    assert case.exists() and (d / "f").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.toml", "d"]   # no lock left behind


def test_overwrite_replaces_a_femsim_directory_and_refuses_without_it(tmp_path, capsys):
    case = lumped_case(tmp_path)
    out = tmp_path / "r"
    assert run(case, "--out", out) == 0
    assert (out / MARKER).is_file()
    (out / "stale_from_the_first_run.txt").write_text("x")
    assert run(case, "--out", out) == 2
    assert "--overwrite" in one_line_error(capsys.readouterr().err)
    assert run(case, "--out", out, "--overwrite") == 0
    assert not (out / "stale_from_the_first_run.txt").exists()      # replaced as a whole
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.toml", "r"]  # no staging or lock left


def test_overwrite_with_a_case_failing_at_meshing_keeps_the_earlier_results(tmp_path, capsys):
    out = tmp_path / "r"
    with ResultDir(out) as earlier:     # an earlier run of femsim's
        earlier.text("curves.csv", "earlier results\n")
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY_FEM.read_text().replace('ground = "base_contact"', 'ground = "no_such_boundary"'))
    assert run(bad, "--out", out, "--overwrite") == 2
    assert "fem.electrical.ground" in one_line_error(capsys.readouterr().err)
    assert (out / "curves.csv").read_text() == "earlier results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "r"]


def test_a_user_error_leaves_no_directory_and_no_parents(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY_FEM.read_text().replace('bias = "top_contact"', 'bias = "nowhere"'))
    assert run(bad, "--out", tmp_path / "a" / "b" / "c") == 2
    one_line_error(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


# -- one run at a time ----------------------------------------------------------------------

def test_a_second_run_on_a_locked_directory_names_the_first(tmp_path):
    case = lumped_case(tmp_path)
    out = tmp_path / "r"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with ResultDir(out, defer=True):     # this test process is "the other run" holding the lock
        r = subprocess.run([sys.executable, "-m", "femsim.cli", "run", str(case), "--out", str(out)],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stderr
    line = one_line_error(r.stderr)
    assert f"pid {os.getpid()}" in line and socket.gethostname() in line and "started" in line
    assert not out.exists()
    with ResultDir(out) as first:       # the first run has written (an --overwrite is also refused)
        first.text("points.csv", "first run\n")
        r = subprocess.run([sys.executable, "-m", "femsim.cli", "run", str(case), "--out", str(out),
                            "--overwrite"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 2 and f"pid {os.getpid()}" in one_line_error(r.stderr)
    assert (out / "points.csv").read_text() == "first run\n"


def test_a_stale_lock_of_a_dead_run_is_taken_over(tmp_path):
    case = lumped_case(tmp_path)
    out = tmp_path / "r"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / ".r.femsim-lock").write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(),
                                                          "started": "2026-01-01T00:00:00+00:00"}))
    assert run(case, "--out", out) == 0
    assert not (tmp_path / ".r.femsim-lock").exists()


# -- where --out points ---------------------------------------------------------------------

@pytest.mark.parametrize("where", ["file", "under_file", "devnull"])
def test_out_on_a_file_or_a_device_is_one_line(tmp_path, capsys, where):
    case = lumped_case(tmp_path)
    (tmp_path / "afile").write_text("mine")
    out = {"file": tmp_path / "afile", "under_file": tmp_path / "afile" / "sub", "devnull": Path(os.devnull)}[where]
    assert run(case, "--out", out) == 2
    assert "--out" in one_line_error(capsys.readouterr().err)
    assert (tmp_path / "afile").read_text() == "mine"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_in_a_read_only_folder_is_one_line(tmp_path, capsys):
    case = lumped_case(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert run(case, "--out", ro / "r") == 2
        assert "read-only" in one_line_error(capsys.readouterr().err)
    finally:
        ro.chmod(0o755)


def test_a_full_disk_mid_run_exits_1_naming_what_was_kept(tmp_path, capsys, monkeypatch):
    import xarray as xr

    case = lumped_case(tmp_path)
    out = tmp_path / "r"

    def full(self, path, *a, **k):   # the netCDF file is the first large write: the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    assert run(case, "--out", out) == 1
    line = one_line_error(capsys.readouterr().err)
    assert "No space left on device" in line and "kept:" in line and "curves.csv" in line
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and "No space left" in summary["message"]
    assert not list(out.glob(".*.tmp*"))    # no half-written temporary file


def test_a_full_disk_before_anything_is_written_leaves_nothing(tmp_path, capsys, monkeypatch):
    import femsim.results as results

    case = lumped_case(tmp_path)

    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(results, "write_bytes", full)   # case.toml, the first file of a run
    assert run(case, "--out", tmp_path / "r") == 2
    assert "No space left" in one_line_error(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.toml"]


# -- modes and atomic files -----------------------------------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_result_files_follow_the_umask(tmp_path, umask):
    import femsim.results as results

    case = lumped_case(tmp_path, plots="true")
    old = os.umask(umask)
    results._UMASK = None
    try:
        assert run(case, "--out", tmp_path / "r") == 0
    finally:
        os.umask(old)
        results._UMASK = None
    files = [p for p in (tmp_path / "r").rglob("*") if p.is_file()]
    assert {"curves.csv", "summary.json", "case.toml", "report.md"} <= {p.name for p in files}
    assert any(p.suffix == ".png" for p in files)
    for p in files:
        assert p.stat().st_mode & 0o777 == 0o666 & ~umask, p


def test_vtu_and_every_result_file_are_written_atomically(tmp_path, monkeypatch):
    """A writer that dies half-way leaves neither a partial file nor a temporary one."""
    import femsim.fem as fem
    from skfem import MeshTet

    out = ResultDir(tmp_path / "r")

    def dies(path, mesh, fields):
        Path(path).write_text("half a VTU")
        raise KeyboardInterrupt

    monkeypatch.setattr(fem, "write_vtu", dies)
    with pytest.raises(KeyboardInterrupt):
        out.vtu("fields/point_0000.vtu", MeshTet(), {})
    assert not (out.path / "fields" / "point_0000.vtu").exists()
    assert [p.name for p in (out.path / "fields").iterdir()] == []
    monkeypatch.undo()
    out.vtu("fields/point_0000.vtu", MeshTet(), {"T": [1.0] * MeshTet().nvertices})
    assert "T [K]" in (out.path / "fields" / "point_0000.vtu").read_text(errors="replace")
    out.close()


# -- terminal output --------------------------------------------------------------------------

def test_no_control_characters_from_a_case_file_reach_the_terminal(tmp_path, capfd):
    case = lumped_case(tmp_path, title="evil \\u001b[2J\\u001b]0;owned\\u0007 title", name="c\x1b[31m.toml")
    assert cli.main(["run", str(case), "--out", str(tmp_path / "r")]) == 0
    out, err = capfd.readouterr()
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "evil" in err and "\\x1b" in err                   # shown, escaped
    bad = tmp_path / "b\x1b[2J.toml"
    bad.write_text(LUMPED.format(title="t", plots="false").replace('hA = "4 uW/K"', 'hA = "4 uW"'))
    assert cli.main(["run", str(bad), "--out", str(tmp_path / "r2")]) == 2
    out, err = capfd.readouterr()
    assert "\x1b" not in out + err and "lumped.hA" in err


def test_printable_escapes_only_control_characters():
    assert printable("T = 4.2 K, µ, Ω") == "T = 4.2 K, µ, Ω"
    assert printable("a\x1b[31mb\nc\x00") == "a\\x1b[31mb\\nc\\x00"


def test_write_text_is_atomic_under_a_failing_writer(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    write_text(target, "old\n")
    monkeypatch.setattr(Path, "write_text", lambda self, t: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(OSError):
        write_text(target, "new\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["summary.json"]
