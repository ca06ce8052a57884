"""A sample's c-axis resistivity from the device's measured R(T).

What a physicist has is the measured resistance of the device, R(T) in Ohm, not a
resistivity. With everything else of the device known (geometry, electrodes, the other
materials), the device's isothermal resistance R_dev(T; rho) - the potential problem at
uniform temperature T, heat equation off (`ElectroThermalSolver.isothermal`, the same
solve as the run's own isothermal R(T)) - depends on the calibrated rho_c(T) only
through its value r at that T, and increases monotonically with it. So at every
measured temperature T_i one scalar equation R_dev(T_i; r_i) = R_i fixes r_i; the
fitted rho_c(T) is the table (T_i, r_i).

Each equation is solved by secant steps on r, started by proportional scaling
r <- r R_i / R_dev (exact when the sample dominates R_dev; a slab of thickness d and
area A has R_dev = r d / A), to |R_dev - R_i| <= rtol R_i. A measured R below what
the device gives with r -> 0 (the rest of the device alone exceeds it) has no solution
and is reported as such.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..properties import Property


@dataclass
class TrialValue(Property):
    """A constant resistivity whose value the calibration sets between solves."""

    value: float = 1.0
    name: str = "calibration trial rho_c"
    T_range: tuple[float, float] = (0.0, np.inf)

    def _value(self, T):
        return np.full_like(T, self.value)

    def _derivative(self, T):
        return np.zeros_like(T)


@dataclass
class CalibrationResult:
    T: np.ndarray            # [K] the measured temperatures
    R_measured: np.ndarray   # [Ohm]
    rho: np.ndarray          # [Ohm m] fitted resistivity at T
    R_device: np.ndarray     # [Ohm] the device's isothermal resistance with the fitted rho
    solves: int              # isothermal solves spent
    voltage: str             # "R_4p" or "R" (2-terminal)

    @property
    def max_rel_error(self) -> float:
        return float(np.max(np.abs(self.R_device / self.R_measured - 1.0)))


class CalibrationError(ValueError):
    """The measured R(T) cannot be matched (with the temperature where it fails)."""

    def __init__(self, message, T):
        super().__init__(message)
        self.T = T


def calibrate_rho_c(problem, regions, T, R_measured, *, guess=None, linear_solve=None, options=None,
                    rtol=1e-10, max_solves=40) -> CalibrationResult:
    """Fit the c-axis resistivity of the subdomains ``regions`` (one shared value per
    temperature) so that the device's isothermal resistance equals ``R_measured`` [Ohm] at
    each temperature of ``T`` [K] (module docstring). The resistance compared is the
    4-probe one when ``problem.four_probe`` is set, else the 2-terminal one.

    ``guess``: a Property or callable T -> starting rho [Ohm m] (default 1 Ohm m, then the
    previous temperature's ratio rho/R). Returns a CalibrationResult.
    """
    from .solver import ElectroThermalSolver

    T = np.asarray(T, dtype=float)
    R_measured = np.asarray(R_measured, dtype=float)
    regions = tuple(regions)
    trial = TrialValue()
    materials = dict(problem.materials)
    for r in regions:
        materials[r] = dataclasses.replace(materials[r], rho_c=trial)
    trial_problem = dataclasses.replace(problem, materials=materials)
    solver = ElectroThermalSolver(trial_problem, linear_solve=linear_solve, options=options)
    four = bool(problem.four_probe)

    def resistance(Tk, r):
        trial.value = r
        p = solver.isothermal(float(Tk), 1.0)
        return (p.V_4p if four else p.V) / p.I

    rho, R_dev = np.empty_like(T), np.empty_like(T)
    solves = 0
    ratio = None   # rho / R of the previous temperature: the next start
    for i, (Tk, target) in enumerate(zip(T, R_measured)):
        if guess is not None:
            r0 = float(np.asarray(guess(np.array([Tk])))[0])
        elif ratio is not None:
            r0 = ratio * target
        else:
            r0 = 1.0
        r_prev, R_prev = None, None
        r, n = r0, 0
        while True:
            R = resistance(Tk, r)
            n += 1
            if abs(R - target) <= rtol * target:
                break
            if n >= max_solves:
                raise CalibrationError(f"the calibration at T = {Tk:g} K did not reach R = {target:.6g} Ohm in "
                                       f"{max_solves} solves (last R = {R:.6g} Ohm at rho_c = {r:.6g} Ohm m)", Tk)
            if r_prev is None or R == R_prev:
                r_new = r * target / R            # proportional: exact for a sample-dominated R
            else:
                r_new = r + (target - R) * (r - r_prev) / (R - R_prev)   # secant
            if not r_new > 0:                    # overshot below zero: approach zero geometrically
                r_new = 0.1 * r
            if r_new < 1e-12 * r0:
                raise CalibrationError(f"the measured R = {target:.6g} Ohm at T = {Tk:g} K is below the device's "
                                       f"resistance with a vanishing sample resistivity ({R:.6g} Ohm at rho_c = "
                                       f"{r:.3g} Ohm m): the rest of the device alone exceeds it", Tk)
            r_prev, R_prev, r = r, R, r_new
        rho[i], R_dev[i] = r, R
        ratio = r / target
        solves += n
    return CalibrationResult(T, R_measured, rho, R_dev, solves, "R_4p" if four else "R")
