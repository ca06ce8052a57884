"""Coupled electro-thermal finite elements: potential phi [V] and temperature T [K].

Steady state, SI units, Q1 hexahedra (2x2x2 Gauss) or P1 tetrahedra:

    div(sigma(T) grad phi) = 0,   div(kappa(T) grad T) + grad phi . sigma(T) grad phi = 0

with diagonal sigma, kappa in each material's crystal frame (c axis = z unless rotated).

Building a problem from a mesh with named subdomains and boundaries::

    from femsim.fem import Problem, Electrode, Bath, Cooling, ElectroThermalSolver
    pr = Problem(mesh,                                   # skfem mesh, names below are its tags
                 materials={"mesa": bi2212, "base": base},   # subdomain -> femsim Material
                 electrodes=[Electrode("top", "bias"), Electrode("bottom", "ground")],
                 T_bath=4.2, baths=[Bath("bottom")],
                 coolings=[Cooling(("top", "sides"), h=4e5)],     # W/(m^2 K)
                 four_probe=("probe_hi", "probe_lo"), three_probe="probe_lo",
                 hA_region="mesa")
    s = ElectroThermalSolver(pr)                          # quadrature data + pattern, once
    s = ElectroThermalSolver(pr, linear_solve="amg")      # or "auto" (default: PARDISO up to
                                                          # 1.5e5 unknowns, AMG above), "pardiso",
                                                          # "superlu" (= case fem.solver.linear)

    p = s.solve("current", 1e-3)                          # one point -> Point
    for p in natural_sweep(s, "voltage", V_values):       # natural parameter, yields Points
        write(p)
    for p in arclength_trace(s, "current", stop=5e-3,     # pseudo-arclength through folds
                             bounds={"T_max": 300}):      # turning points: p.turning set
        write(p)
    ds = compare_with_lumped(s, "current", stop=5e-3)     # xarray.Dataset, FEM beside lumped

A failing sweep raises ConvergenceError (``err.bias``, ``err.history``, ``err.points``
= everything converged before); ``sweep.run()`` collects and stores it in
``sweep.failure`` instead.

Public API:

    Problem, Electrode, Bath, Cooling, contact_layer_material      (problem.py)
    ElectroThermalSolver, Point                                     (solver.py: steady points)
    CoupledOperator, BiasEquation, HeatFlux                         (operator.py: residual, Jacobian, readouts)
    NewtonOptions, StoppingRule                                     (newton.py: the one Newton loop)
    Sweep, natural_sweep, arclength_trace, refine_turning           (continuation.py)
    point_fields, write_vtu                                         (fields.py)
    linear_solve, DirectSolver, AMGSolver, make_linear_solver,
    LINEAR_SOLVERS, Layout                                          (linalg.py)
    TransientAssembler                                              (transient.py: a time step on the operator)
    BDFStep, StepController, TransientSolver                        (timestepping.py)
    waveforms, pulsed I-V, step response, time constants            (waveforms.py, experiments.py)
    hot-spot stability                                              (hotspot.py)
    reference_box, reference_1d (the benchmark problem)             (benchmark_problem.py)
    isothermal_resistance, lumped_at_current,
    compare_with_lumped                                             (lumped_comparison.py)

femsim.fem imports neither geometries nor postprocess. The whole layout: docs/architecture.md.
"""

from .problem import Bath, Cooling, Electrode, Problem, contact_layer_material
from .linalg import (AMGSolver, DirectSolver, LINEAR_SOLVERS, Layout, linear_solve,
                     make_linear_solver)
from .operator import BiasEquation, CoupledOperator, HeatFlux
from .newton import NewtonOptions, StoppingRule
from .solver import ElectroThermalSolver, Point
from .continuation import Sweep, TraceOptions, arclength_trace, natural_sweep, refine_turning
from .fields import point_fields, write_vtu
from .benchmark_problem import reference_1d, reference_box
from .lumped_comparison import compare_with_lumped, isothermal_resistance, lumped_at_current

__all__ = [
    "Bath", "Cooling", "Electrode", "Problem", "contact_layer_material",
    "AMGSolver", "DirectSolver", "LINEAR_SOLVERS", "Layout", "linear_solve", "make_linear_solver",
    "BiasEquation", "CoupledOperator", "HeatFlux", "NewtonOptions", "StoppingRule",
    "ElectroThermalSolver", "Point",
    "Sweep", "TraceOptions", "arclength_trace", "natural_sweep", "refine_turning",
    "point_fields", "write_vtu", "reference_1d", "reference_box",
    "compare_with_lumped", "isothermal_resistance", "lumped_at_current",
]
