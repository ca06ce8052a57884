"""femsim's modules import each other in one direction only (issue 16): no module imports
one that imports it back, directly or through others, counting imports inside functions
(a lazy import is still a dependency)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def import_graph(package: str = "femsim") -> dict[str, set[str]]:
    """{module: modules of the package it imports}, from the source text (nothing runs)."""
    base = ROOT / package
    files = {}
    # femsim.geometries and femsim.postprocess are symlinks to the top-level folders: followed
    found = [Path(d) / n for d, _, names in os.walk(base, followlinks=True) for n in names if n.endswith(".py")]
    for f in found:
        rel = f.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = f
    graph = {}
    for mod, f in files.items():
        pkg = mod if f.name == "__init__.py" else mod.rsplit(".", 1)[0]
        edges = set()
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    up = pkg.split(".")
                    up = up[:len(up) - (node.level - 1)]
                    origin = ".".join(up + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                # "from . import forms" names a module; "from .solver import Point" a name in one
                targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in files else origin for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in files:       # "femsim.fem.solver.Point" -> its module
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    edges.add(t)
        graph[mod] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_checker_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_fem_reads_its_lazy_imports():
    g = import_graph()
    # a function-level import is an edge: the pulsed I-V experiment drives the steady sweep
    assert "femsim.fem.continuation" in g["femsim.fem.experiments"]
    assert "femsim.fem.solver" in g["femsim.fem.continuation"]


def test_fem_has_no_import_cycle():
    g = import_graph()
    fem = {m: {t for t in e if t.startswith("femsim.fem")} for m, e in g.items() if m.startswith("femsim.fem")}
    assert cycles(fem) == []


def test_femsim_has_no_import_cycle():
    g = import_graph()
    # the folders mapped into the namespace (femsim.geometries, femsim.postprocess) are read too
    assert {"femsim.geometries.mesa", "femsim.postprocess.plots"} <= set(g)
    assert cycles(g) == []
