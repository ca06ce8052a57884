"""Helpers shared by the transient and hot-spot tests (a module of its own: "conftest" is
ambiguous when several test directories are collected together)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skfem import MeshHex

from femsim.fem import Bath, Cooling, Electrode, ElectroThermalSolver, Problem
from femsim.fem.timestepping import TransientSolver
from femsim.materials import Material
from femsim.properties import Arrhenius, Constant

ROOT = Path(__file__).resolve().parents[2]


def load(path):
    """A case file (study "transient" or "hotspot")."""
    from femsim.case import load_case

    return load_case(path)


def with_geometry(case, **changes):
    """A copy of ``case`` with geometry parameters replaced (SI)."""
    g = case.geometry.model_copy(update=changes)
    return case.model_copy(update={"geometry": g})


def fitted_order(h, err):
    """Slope of log(err) against log(h), least squares."""
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


# ----------------------------------------------------------------------- small transient problems

TB = 4.2


def column(z, a=1e-5, **faces):
    """A 1 x 1 x nz column of hexahedra (laterally uniform: a 1D problem in 3D)."""
    m = MeshHex.init_tensor(np.array([0.0, a]), np.array([0.0, a]), np.asarray(z, float))
    tol = 1e-3 * np.min(np.diff(z))
    bnd = {"top": lambda x: np.abs(x[2] - z[-1]) < tol, "bottom": lambda x: np.abs(x[2] - z[0]) < tol}
    return m.with_subdomains({"body": lambda x: x[0] > -1}).with_boundaries(bnd)


def coupled_slab(nz=8, C=2e5):
    """1 um Bi2212-like slab, rho_c activated (falls on warming), bath below, cooled top."""
    d, a = 1e-6, 1e-5
    m = column(np.linspace(0, d, nz + 1), a)
    Ea, T0 = 200.0, 20.0
    mat = Material("slab", Constant(1e-6), Arrhenius(0.01 * np.exp(-Ea / T0), Ea), Constant(5.0), Constant(0.5),
                   Constant(C))
    pr = Problem(m, {"body": mat}, [Electrode("top", "bias"), Electrode("bottom", "ground")], T_bath=T0,
                 baths=[Bath("bottom")], coolings=[Cooling("top", 1e5)])
    s = ElectroThermalSolver(pr)
    return TransientSolver(pr, steady=s), s
