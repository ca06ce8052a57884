"""`femsim cases`: the bundled cases are package data (found after a non-editable
install), listed with a description, and copied with the files they reference, never
over a file of the user's."""

import fnmatch
import importlib.resources
import tomllib
from pathlib import Path

import pytest

from femsim.bundled import bundled_cases, cases_dir, copy_case, referenced_files
from femsim.case import load_case
from femsim.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_cases_resolve_through_package_resources():
    # importlib.resources is what a wheel install uses: the same files as the repository's cases/
    via_resources = importlib.resources.files("femsim") / "cases"
    assert Path(str(via_resources)).resolve() == (ROOT / "cases").resolve()
    assert {p.name for p in cases_dir().glob("*.toml")} == {p.name for p in (ROOT / "cases").glob("*.toml")}


def test_every_bundled_file_is_declared_package_data():
    # a case, or a table or mesh it references, missing from the package-data globs would
    # be absent from the wheel: `femsim cases copy` would then write a case that cannot run
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["femsim"]
    needed = []
    for b in bundled_cases():
        needed.append(f"cases/{b.path.name}")
        needed += [f"cases/{rel}" for rel in referenced_files(b.path)]
    assert any("/data/" in n for n in needed) and any("/meshes/" in n for n in needed)
    missing = [n for n in needed if not any(fnmatch.fnmatch(n, g) for g in globs)]
    assert not missing


def test_list_names_every_case_with_its_title(capsys):
    assert main(["cases"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = {line.split()[0]: line.split(None, 1)[1] for line in lines}
    assert set(names) == {p.stem for p in (ROOT / "cases").glob("*.toml")}
    title = tomllib.loads((ROOT / "cases" / "fig4_field.toml").read_text())["title"]
    assert names["fig4_field"] == title


def test_copy_brings_the_referenced_files_and_the_copy_loads(tmp_path, capsys):
    dest = tmp_path / "mine"
    assert main(["cases", "copy", "fig4_field", str(dest)]) == 0
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == \
        ["data/rt_14T.csv", "data/rt_pseudogap.csv", "fig4_field.toml"]
    load_case(dest / "fig4_field.toml")   # its R(T) tables resolve beside the copy
    assert main(["cases", "copy", "external_mesa_tet.toml", str(dest)]) == 0
    assert (dest / "meshes" / "mesa_tet.msh").read_bytes() == (ROOT / "cases/meshes/mesa_tet.msh").read_bytes()
    # a second case sharing a table: the identical file is kept, the case is added
    assert main(["cases", "copy", "fig2_pseudogap_family", str(dest)]) == 0
    assert (dest / "fig2_pseudogap_family.toml").is_file()


def test_copy_never_overwrites(tmp_path, capsys):
    mine = tmp_path / "fig4_field.toml"
    mine.write_text("# my own edits\n")
    assert main(["cases", "copy", "fig4_field", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "fig4_field.toml" in err and "never overwrites" in err and "Traceback" not in err
    assert mine.read_text() == "# my own edits\n"
    assert not (tmp_path / "data").exists()   # all or nothing
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rt_pseudogap.csv").write_text("T [K],R [Ohm]\n1,2\n")   # a different table
    with pytest.raises(Exception, match="rt_pseudogap.csv"):
        copy_case("fig2_pseudogap_family", tmp_path)
    assert not (tmp_path / "fig2_pseudogap_family.toml").exists()


def test_copy_unknown_name_lists_the_names(tmp_path, capsys):
    assert main(["cases", "copy", "fig9", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "got 'fig9'" in err and "fig2_pseudogap_family" in err
    assert not any(tmp_path.iterdir())
