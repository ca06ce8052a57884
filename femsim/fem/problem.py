"""Problem definition for the coupled electro-thermal FEM: mesh, materials, boundary
conditions, probes.

Everything is SI. A `Problem` refers to the mesh's named subdomains (element sets,
``mesh.subdomains``) and named boundaries (facet sets, ``mesh.boundaries``) by name;
geometry builders produce such meshes, tests may build them directly with
``MeshHex.init_tensor(...).with_subdomains({...}).with_boundaries({...})``.

Equations (steady state, c axis along z of each material's crystal frame):

    div(sigma(T) grad phi) = 0,                 sigma = diag(1/rho_ab, 1/rho_ab, 1/rho_c)
    div(kappa(T) grad T) + grad phi . sigma(T) grad phi = 0,
                                                 kappa = diag(kappa_ab, kappa_ab, kappa_c)

Boundary conditions on named facet sets:

* `Electrode`: an equipotential surface. Roles: ``"ground"`` (phi = 0), ``"fixed"``
  (phi = potential), ``"bias"`` (the driven terminal: its potential U is one extra
  unknown closed by the bias equation - voltage, current, power or arclength),
  ``"floating"`` (equipotential carrying zero net current). Elsewhere: insulating.
* `Bath`: T = T_bath (Dirichlet; a bath may carry its own temperature).
* `Cooling`: Newton cooling -kappa dT/dn = h (T - T_ref), one h per surface group.
  Elsewhere: adiabatic.

A contact layer is a thin subdomain whose material has rho_c = r_c(T)/t
(`contact_layer_material`): its Joule heat r_c |J_n|^2 per area comes out of the
volume term by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from ..materials import Material, is_insulator
from ..properties import Constant, Property, Scaled

ROLES = ("bias", "ground", "fixed", "floating")

#: smallest total cooling h*A, relative to the device's conduction scale kappa_max * L,
#: that double precision resolves when no surface is held at T_bath: the thermal matrix
#: is then K + H with K singular (constants), and the constant mode, which carries the
#: whole temperature rise, is set by H alone; rounding of K's entries (~1e-16 kappa L)
#: perturbs it by ~1e-16 / ratio relative, i.e. 1e-4 at this bound
HEAT_PATH_MIN = 1e-12


class ProblemError(ValueError):
    """An ill-posed problem description; ``key`` names the Problem field at fault
    ("coolings", "electrodes", ...) and ``value`` what it held."""

    def __init__(self, message: str, key: str | None = None, value=None):
        super().__init__(message)
        self.key, self.value = key, value


def boundary_names(boundary) -> tuple[str, ...]:
    """The boundary names of a condition's ``boundary``: one name or a tuple of names."""
    return (boundary,) if isinstance(boundary, str) else tuple(boundary)


@dataclass(frozen=True)
class Electrode:
    """An equipotential electrode on the facet set(s) ``boundary``.

    role: "bias" (driven terminal, exactly one per problem), "ground" (phi = 0),
    "fixed" (phi = ``potential`` [V]) or "floating" (equipotential, zero net current).

    regions: conducting subdomains merged into the electrode as ideal conductors (one
    potential for all their nodes, so no Joule heat in them; heat still flows through
    them). For a metal film whose conductivity exceeds the sample's by so much (1e18 for
    gold on a Bi2212 mesa at 4.2 K) that double precision cannot resolve its potential
    drop: the current through the sample is then the difference of two rounded numbers.
    The error of the idealisation is the film's share of the resistance.
    """

    boundary: str | tuple[str, ...]
    role: str = "bias"
    potential: float = 0.0
    name: str | None = None
    regions: tuple[str, ...] = ()

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"Electrode role must be one of {ROLES}, not {self.role!r}")

    @property
    def label(self) -> str:
        return self.name or "+".join(boundary_names(self.boundary))


@dataclass(frozen=True)
class Bath:
    """Isothermal surface T = T [K] (default: the problem's T_bath)."""

    boundary: str | tuple[str, ...]
    T: float | None = None


def _h_scale(h, T_bath: float) -> float:
    """A cooling's conductance per area [W/(m^2 K)] for the well-posedness check: h itself,
    or a T-dependent law's secant over the first kelvin (a boiling curve's slope vanishes at
    zero superheat, yet it carries heat as soon as the surface warms)."""
    from ..cooling import as_law

    law = as_law(h)
    return float(h) if law is None else float(law.flux(np.array([T_bath + 1.0]), T_bath)[0])


@dataclass(frozen=True)
class Cooling:
    """Newton cooling -kappa dT/dn = h (T - T_ref) on ``boundary``; h in W/(m^2 K),
    T_ref defaults to the problem's T_bath. ``h`` may also depend on temperature: a
    Property h(T), or any femsim.cooling.CoolingLaw q(T) such as the liquid-helium
    boiling curve (`femsim.cooling.HeliumBoiling`)."""

    boundary: str | tuple[str, ...]
    h: object          # float [W/(m^2 K)], Property h(T) or femsim.cooling.CoolingLaw
    T_ref: float | None = None


@dataclass
class Problem:
    """The coupled steady electro-thermal problem on a skfem mesh.

    mesh: skfem MeshHex1 / MeshTet1 (any Lagrange-compatible mesh) with named
        subdomains and boundaries.
    materials: subdomain name -> Material. These subdomains must partition the mesh;
        other named subdomains of the mesh can still be used as readout regions.
    electrodes, baths, coolings: boundary conditions (see module docstring).
    T_bath: bath temperature [K]; the reference of (hA)_eff and the default of Bath/Cooling.
    four_probe: (high, low) names of facet sets whose mean potentials give V_4p.
    three_probe: name of a facet set; V_3p = U_bias - mean phi over it.
    hA_region: region (subdomain name or "all") whose T_mean defines (hA)_eff.
    rotations: subdomain name -> 3x3 matrix whose columns are the crystal a, b, c axes
        in mesh coordinates (default identity: c along z).
    element, intorder: override the FE element / quadrature (default Q1 hex with 2x2x2
        Gauss, P1 tet with a degree-2 rule).
    volume_sources: verification hook (manufactured solutions): x (3, ne, nq) ->
        (s_phi [A/m^3], s_T [W/m^3]) added as  div(sigma grad phi) + s_phi = 0 and
        div(kappa grad T) + q + s_T = 0. Leave None for physical problems.
    """

    mesh: object
    materials: Mapping[str, Material]
    electrodes: Sequence[Electrode] = ()
    T_bath: float = 4.2
    baths: Sequence[Bath] = ()
    coolings: Sequence[Cooling] = ()
    four_probe: tuple[str, str] | None = None
    three_probe: str | None = None
    hA_region: str = "all"
    rotations: Mapping[str, np.ndarray] = field(default_factory=dict)
    element: object = None
    intorder: int | None = None
    volume_sources: Callable | None = None

    def __post_init__(self):
        self.validate()

    # -- checks with messages that say which name was wrong ---------------------------
    def _need_boundary(self, name, what):
        bnd = self.mesh.boundaries or {}
        if name not in bnd:
            raise KeyError(f"{what}: no boundary named {name!r} in the mesh; "
                           f"known boundaries: {sorted(bnd)}")
        if len(bnd[name]) == 0:
            raise ValueError(f"{what}: boundary {name!r} is empty")

    def validate(self):
        subs = self.mesh.subdomains or {}
        if not self.materials:
            raise ValueError("Problem.materials is empty")
        count = np.zeros(self.mesh.nelements, dtype=int)
        for name in self.materials:
            if name not in subs:
                raise KeyError(f"materials: no subdomain named {name!r} in the mesh; "
                               f"known subdomains: {sorted(subs)}")
            count[subs[name]] += 1
        if np.any(count == 0):
            raise ValueError(f"materials: {int(np.sum(count == 0))} elements belong to no "
                             f"material subdomain (materials given for {sorted(self.materials)})")
        if np.any(count > 1):
            raise ValueError(f"materials: {int(np.sum(count > 1))} elements belong to two "
                             "material subdomains; material subdomains must not overlap")
        for e in self.electrodes:
            for b in boundary_names(e.boundary):
                self._need_boundary(b, f"electrode {e.label}")
            for r in e.regions:
                if r not in self.materials:
                    raise KeyError(f"electrode {e.label}: region {r!r} is not a material subdomain; "
                                   f"known: {sorted(self.materials)}")
                if is_insulator(self.materials[r]):
                    raise ValueError(f"electrode {e.label}: region {r!r} is an insulator, not a conductor")
        roles = [e.role for e in self.electrodes]
        if self.electrodes:
            if roles.count("bias") != 1:
                raise ValueError(f"exactly one electrode must have role 'bias', got roles {roles}")
            if not any(r in ("ground", "fixed") for r in roles):
                raise ValueError("at least one electrode must be 'ground' or 'fixed' "
                                 "(otherwise the potential is undetermined)")
        for b in self.baths:
            for n in boundary_names(b.boundary):
                self._need_boundary(n, "bath")
        for c in self.coolings:
            for n in boundary_names(c.boundary):
                self._need_boundary(n, "cooling")
            if isinstance(c.h, (int, float)) and c.h < 0:
                raise ValueError(f"cooling on {c.boundary!r}: h must be >= 0, got {c.h}")
        if self.four_probe is not None:
            for n in self.four_probe:
                self._need_boundary(n, "four_probe")
        if self.three_probe is not None:
            self._need_boundary(self.three_probe, "three_probe")
        if self.hA_region != "all" and self.hA_region not in subs:
            raise KeyError(f"hA_region: no subdomain named {self.hA_region!r}; "
                           f"known subdomains: {sorted(subs)}")
        if not self.baths and not self.coolings and self.electrodes:
            raise ProblemError("no bath and no cooling: the steady temperature is undetermined", key="coolings")
        if self.electrodes:
            self._check_contacts_apart()
            if not self.baths:
                self._check_heat_path()
        for name, R in self.rotations.items():
            R = np.asarray(R, dtype=float)
            if R.shape != (3, 3) or not np.allclose(R.T @ R, np.eye(3), atol=1e-10):
                raise ValueError(f"rotations[{name!r}] must be a 3x3 orthogonal matrix")
            if name not in self.materials:
                raise KeyError(f"rotations: {name!r} is not a material subdomain")

    def _facets(self, names) -> np.ndarray:
        bnd = self.mesh.boundaries
        return np.unique(np.concatenate([np.asarray(bnd[n], dtype=np.int64) for n in names]))

    def _check_contacts_apart(self):
        """The driven contact must not share a facet with a grounded or fixed one (a
        short circuit: one surface cannot be held at two potentials)."""
        bias = self.bias_electrode
        if bias is None:
            return
        mine = self._facets(boundary_names(bias.boundary))
        for e in self.electrodes:
            if e.role in ("ground", "fixed"):
                shared = np.intersect1d(mine, self._facets(boundary_names(e.boundary))).size
                if shared:
                    raise ProblemError(f"the bias contact {'+'.join(boundary_names(bias.boundary))!r} and the {e.role} "
                                       f"contact {'+'.join(boundary_names(e.boundary))!r} share {shared} facets: a short "
                                       "circuit; contacts must be distinct surfaces",
                                       key="electrodes", value=[bias.boundary, e.boundary])

    def _check_heat_path(self):
        """Without a bath surface the only heat path is Newton cooling: refuse a total h*A
        of zero (singular) or too small against the device's conductance scale kappa*L
        to survive rounding (see HEAT_PATH_MIN)."""
        hs = [_h_scale(c.h, self.T_bath) for c in self.coolings]
        hA = sum(h * _facet_area(self.mesh, np.concatenate([np.asarray(self.mesh.boundaries[n])
                                                            for n in boundary_names(c.boundary)]))
                 for h, c in zip(hs, self.coolings))
        if not hA > 0:
            raise ProblemError("a heat path to the bath: there is no bath surface and the cooling has h*A = 0 "
                               f"(h = {hs} W/(m^2 K)), so the steady temperature is undetermined (singular "
                               "thermal problem); add a bath surface or a positive h", key="coolings", value=hs)
        kappa = 0.0
        for m in self.materials.values():
            for prop in (m.kappa_ab, m.kappa_c):
                lo, hi = prop.T_range
                T = np.array([min(max(self.T_bath, lo), hi)])
                kappa = max(kappa, float(np.max(prop(T))))
        p = np.asarray(self.mesh.p, dtype=float)
        L = float(np.linalg.norm(p.max(axis=1) - p.min(axis=1)))
        G = kappa * L
        if G > 0 and hA < HEAT_PATH_MIN * G:
            raise ProblemError(f"a heat path to the bath that double precision resolves: with no bath surface the "
                               f"total cooling h*A = {hA:.3g} W/K is {hA / G:.2g} of the device's conduction scale "
                               f"kappa*L = {G:.3g} W/K (kappa_max = {kappa:.3g} W/(m K), L = {L:.3g} m); below "
                               f"{HEAT_PATH_MIN:g} the temperature rise is lost in rounding (relative error ~1e-16 "
                               "divided by that ratio). Add a bath surface or a larger h",
                               key="coolings", value=hs)

    @property
    def bias_electrode(self) -> Electrode | None:
        for e in self.electrodes:
            if e.role == "bias":
                return e
        return None


def _facet_area(mesh, facets) -> float:
    """Total area [m^2] of the given facets (constant integrand on a facet basis)."""
    from skfem import ElementHex0, ElementTetP0, FacetBasis, Functional, MeshHex1

    facets = np.asarray(facets, dtype=np.int64)
    if facets.size == 0:
        return 0.0
    e0 = ElementHex0() if isinstance(mesh, MeshHex1) else ElementTetP0()
    fb = FacetBasis(mesh, e0, facets=facets, intorder=2)
    return float(Functional(lambda w: 1.0 + 0.0 * w.x[0]).assemble(fb))


def contact_layer_material(name: str, r_c: float | Property, thickness: float,
                           kappa: float | Property | None = None,
                           thermal_conductance: float | None = None,
                           rho_ab: float | Property | None = None,
                           source: str = "") -> Material:
    """A Material for a thin contact layer of thickness t [m] (its c axis across the layer).

    rho_c(T) = r_c(T) / t, with r_c the specific contact resistance [Ohm m^2], so that the
    layer's resistance is r_c / A and its Joule heat per area r_c J_n^2 (the interfacial
    heat of the contact, carried by the volume term). Thermally the layer conducts
    kappa [W/(m K)] isotropically, or, given a thermal boundary conductance
    g [W/(m^2 K)], kappa = g t (so its thermal resistance per area is 1/g). In-plane
    resistivity defaults to rho_c (an isotropic layer: with t much smaller than the
    lateral size its in-plane conduction is negligible either way).
    """
    if thickness <= 0:
        raise ValueError(f"contact layer thickness must be > 0, got {thickness}")
    rc = r_c if isinstance(r_c, Property) else Constant(float(r_c))
    rho_c = Scaled(rc, 1.0 / thickness)
    if (kappa is None) == (thermal_conductance is None):
        raise ValueError("give exactly one of kappa or thermal_conductance")
    if kappa is None:
        kappa = thermal_conductance * thickness
    k = kappa if isinstance(kappa, Property) else Constant(float(kappa))
    if rho_ab is None:
        r_ab = rho_c
    else:
        r_ab = rho_ab if isinstance(rho_ab, Property) else Constant(float(rho_ab))
    return Material(name, r_ab, rho_c, k, k, None,
                    source or f"contact layer: r_c / t with t = {thickness:g} m")
