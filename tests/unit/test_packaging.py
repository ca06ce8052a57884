"""Packaging: every package femsim imports is declared in pyproject.toml (the library's
in `dependencies`, the test suite's there or in the `test` extra), and only `femsim` is
installed at the top of site-packages."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: scripts that are not part of the suite and say so (a one-off reference generator)
NOT_DEPENDENCIES = {"qmix"}


def _name(req: str) -> str:
    return re.split(r"[\s;<>=!~\[]", req, 1)[0].lower().replace("_", "-")


def _imports(folders) -> dict[str, str]:
    """Top-level imported module -> a file importing it (absolute imports only)."""
    local = {p.stem for f in folders for p in (ROOT / f).rglob("*.py")} | {"femsim", "tests", "geometries", "postprocess"}
    out = {}
    for folder in folders:
        for p in (ROOT / folder).rglob("*.py"):
            for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
                names = [a.name for a in n.names] if isinstance(n, ast.Import) else \
                    [n.module] if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module else []
                for m in names:
                    top = m.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in local and top not in NOT_DEPENDENCIES:
                        out.setdefault(top, str(p.relative_to(ROOT)))
    return out


def _undeclared(modules: dict[str, str], declared: set[str]) -> list[str]:
    dists = importlib.metadata.packages_distributions()
    bad = []
    for mod, where in sorted(modules.items()):
        names = {d.lower().replace("_", "-") for d in dists.get(mod, [])}
        if not names:
            pytest.fail(f"{mod} (imported by {where}) is not installed here: cannot tell its distribution")
        if not names & declared:
            bad.append(f"{mod} ({'/'.join(sorted(names))}, imported by {where})")
    return bad


def test_every_package_the_library_imports_is_declared():
    core = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    extras = {_name(r) for rs in PYPROJECT["project"]["optional-dependencies"].values() for r in rs}
    # dask is imported lazily by `sweep --scheduler` and is the `dask` extra; the rest is core
    assert not _undeclared(_imports(["femsim", "geometries", "postprocess"]), core | (extras & {"dask", "distributed"}))


def test_every_package_the_tests_import_is_declared():
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["test"]}
    assert not _undeclared(_imports(["tests", "docs", "benchmarks"]), declared)


def test_dask_extra_is_in_the_test_extra():
    # the suite runs a sweep on a real LocalCluster: `pip install -e '.[test]'` must bring Dask
    opt = PYPROJECT["project"]["optional-dependencies"]
    assert {_name(r) for r in opt["dask"]} <= {_name(r) for r in opt["test"]}


def test_only_femsim_is_a_top_level_package():
    find = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    assert find["include"] == ["femsim*"]
    for sub in ("geometries", "postprocess", "cases"):   # the repository folders reach the wheel as femsim.<sub>
        assert (ROOT / "femsim" / sub).resolve() == (ROOT / sub).resolve()
