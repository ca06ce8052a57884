"""Temperature-dependent surface cooling laws q(T) [W/m^2] for the FEM's cooled surfaces.

A cooled surface loses the heat flux q(T, T_ref) per area to a coolant at T_ref:

- `NewtonLaw`: q = h(T) (T - T_ref) with a temperature-dependent heat-transfer
  coefficient h(T) [W/(m^2 K)] given as any `femsim.properties.Property`;
- `HeliumBoiling`: the pool-boiling curve of liquid helium I (saturated, 1 atm, 4.2 K)
  in the wall superheat dT = T - T_ref:

      dT <= dT_chf:          q = h_nc dT + (q_chf - h_nc dT_chf) (dT/dT_chf)^n   (convection + nucleate)
      dT_chf < dT < dT_min:  q = q_chf (dT/dT_chf)^m,  m = ln(q_min/q_chf)/ln(dT_min/dT_chf) < 0 (transition)
      dT >= dT_min:          q = h_film dT                                    (film boiling)

  with dT_min = q_min/h_film, so q is continuous (its slope jumps at dT_chf, the peak,
  and at dT_min). Below the critical (peak) heat flux q_chf ~ 1 W/cm^2 (seeds/000:
  "the critical load for liquid 4He, ~1 W/cm^2") nucleate boiling carries the heat at a
  superheat of a fraction of a kelvin; above it a vapour film forms and the surface jumps
  to the film branch, tens of kelvin hotter for the same flux. Negative superheat (a
  surface colder than the liquid) is natural convection, q = h_nc dT.

  Default values, representative of a flat horizontal surface in saturated He I at
  1 atm (the curve scatters by a factor ~2 with surface finish and orientation):
  q_chf = 1 W/cm^2 at dT_chf = 0.6 K and a nucleate exponent n = 2.5 (Kutateladze-type
  correlation, q ~ dT^2.5), film boiling h_film = 250 W/(m^2 K) = 0.025 W/(cm^2 K),
  minimum film-boiling (recovery) flux q_min = 0.3 W/cm^2, natural convection
  h_nc = 100 W/(m^2 K). Sources: E. G. Brentari and R. V. Smith, "Nucleate and film pool
  boiling design correlations for O2, N2, H2 and He", Adv. Cryog. Eng. 10, 325 (1965);
  E. G. Brentari, P. J. Giarratano and R. V. Smith, NBS Technical Note 317 (1965);
  C. Schmidt, "Review of steady state and transient heat transfer in pool boiling helium
  I", in Stability of Superconductors in Helium I and II (IIR, Saclay 1981) p. 17;
  S. W. Van Sciver, Helium Cryogenics, 2nd ed. (Springer 2012), ch. 6 (Fig. 6.7:
  q_chf ~ 1 W/cm^2 at dT ~ 0.5-1 K, film boiling h ~ 0.02-0.03 W/(cm^2 K)).

Every law gives q and dq/dT (the FEM's Newton Jacobian needs both; no finite differences).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .properties import Property


class CoolingLaw:
    """q(T) [W/m^2] leaving a surface at T to a coolant at T_ref, and dq/dT."""

    def flux(self, T, T_ref):  # pragma: no cover - abstract
        raise NotImplementedError

    def dflux(self, T, T_ref):  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class NewtonLaw(CoolingLaw):
    """q = h(T) (T - T_ref) with h(T) a Property [W/(m^2 K)]."""

    h: Property

    def flux(self, T, T_ref):
        T = np.asarray(T, dtype=float)
        return self.h(T) * (T - T_ref)

    def dflux(self, T, T_ref):
        T = np.asarray(T, dtype=float)
        return self.h(T) + self.h.derivative(T) * (T - T_ref)


@dataclass(frozen=True, eq=False)
class HeliumBoiling(CoolingLaw):
    """Pool-boiling curve of saturated liquid helium I (see the module docstring), SI."""

    q_chf: float = 1.0e4        # W/m^2 (1 W/cm^2)
    dT_chf: float = 0.6         # K
    n: float = 2.5
    h_film: float = 250.0       # W/(m^2 K)
    q_min: float = 3.0e3        # W/m^2 (0.3 W/cm^2)
    h_nc: float = 100.0         # W/(m^2 K)

    def __post_init__(self):
        if not (self.q_chf > 0 and self.dT_chf > 0 and self.n > 1 and self.h_film > 0 and self.h_nc >= 0):
            raise ValueError("helium boiling: q_chf, dT_chf, h_film > 0, n > 1 and h_nc >= 0 are required")
        if not (self.h_nc * self.dT_chf < self.q_chf and self.q_min < self.q_chf):
            raise ValueError("helium boiling: q_min and h_nc dT_chf must lie below the critical flux q_chf")
        if not self.dT_min > self.dT_chf:
            raise ValueError("helium boiling: the film branch (q_min/h_film) must start above dT_chf")

    @property
    def dT_min(self) -> float:
        """Superheat of the minimum film-boiling flux [K]."""
        return self.q_min / self.h_film

    @property
    def m(self) -> float:
        return float(np.log(self.q_min / self.q_chf) / np.log(self.dT_min / self.dT_chf))

    def _parts(self, dT):
        dT = np.asarray(dT, dtype=float)
        a = self.q_chf - self.h_nc * self.dT_chf
        pos = np.maximum(dT, 0.0)
        nuc = self.h_nc * dT + a * (pos / self.dT_chf) ** self.n
        dnuc = self.h_nc + a * self.n * pos ** (self.n - 1) / self.dT_chf ** self.n
        safe = np.maximum(dT, self.dT_chf)
        tr = self.q_chf * (safe / self.dT_chf) ** self.m
        dtr = self.m * tr / safe
        q = np.where(dT <= self.dT_chf, nuc, np.where(dT < self.dT_min, tr, self.h_film * dT))
        dq = np.where(dT <= self.dT_chf, dnuc, np.where(dT < self.dT_min, dtr, self.h_film))
        return q, dq

    def flux(self, T, T_ref):
        return self._parts(np.asarray(T, dtype=float) - T_ref)[0]

    def dflux(self, T, T_ref):
        return self._parts(np.asarray(T, dtype=float) - T_ref)[1]


def as_law(h) -> CoolingLaw | None:
    """None for a constant h (a number: the linear Robin term), else the CoolingLaw."""
    if isinstance(h, CoolingLaw):
        return h
    if isinstance(h, Property):
        return NewtonLaw(h)
    return None
