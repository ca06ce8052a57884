"""Coupled electro-thermal finite elements: potential phi [V] and temperature T [K].

Public API:

    Problem, Electrode, Bath, Cooling, contact_layer_material      (problem.py)
    ElectroThermalSolver, NewtonOptions, Point                      (solver.py)
    Sweep, natural_sweep, arclength_trace, refine_turning           (continuation.py)
    point_fields, write_vtu                                         (fields.py)
    linear_solve, DirectSolver                                      (linalg.py)
    isothermal_resistance, lumped_newton_local, compare_with_lumped (compare.py)

femsim.fem imports neither geometries nor postprocess.
"""

from .problem import Bath, Cooling, Electrode, Problem, contact_layer_material
from .linalg import DirectSolver, linear_solve
from .solver import BiasEquation, ElectroThermalSolver, NewtonOptions, Point
from .continuation import Sweep, TraceOptions, arclength_trace, natural_sweep, refine_turning
from .fields import point_fields, write_vtu
from .compare import compare_with_lumped, isothermal_resistance, lumped_at_current, lumped_newton_local

__all__ = [
    "Bath", "Cooling", "Electrode", "Problem", "contact_layer_material",
    "DirectSolver", "linear_solve",
    "BiasEquation", "ElectroThermalSolver", "NewtonOptions", "Point",
    "Sweep", "TraceOptions", "arclength_trace", "natural_sweep", "refine_turning",
    "point_fields", "write_vtu",
    "compare_with_lumped", "isothermal_resistance", "lumped_at_current", "lumped_newton_local",
]
