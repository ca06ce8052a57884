"""Materials: anisotropic, temperature-dependent resistivity and thermal conductivity.

A `Material` holds `Property` objects (femsim.properties) in SI units: resistivities in
Ohm m, thermal conductivities in W/(m K), volumetric heat capacity in J/(m^3 K). Tensors
are diagonal in crystal axes (ab, ab, c); the c axis is z unless a case rotates it.
Built-in materials live in `BUILTIN`, each citing its source.
"""

from __future__ import annotations

from dataclasses import dataclass

from .properties import Property


@dataclass(frozen=True)
class Material:
    name: str
    rho_ab: Property
    rho_c: Property
    kappa_ab: Property
    kappa_c: Property
    heat_capacity: Property | None = None
    source: str = ""

    @classmethod
    def isotropic(cls, name, rho, kappa, heat_capacity=None, source=""):
        return cls(name, rho, rho, kappa, kappa, heat_capacity, source)


#: name -> factory of a built-in Material (filled in below with cited data)
BUILTIN: dict[str, callable] = {}
