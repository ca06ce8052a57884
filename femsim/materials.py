"""Materials: anisotropic, temperature-dependent resistivity and thermal conductivity.

A `Material` holds `Property` objects (femsim.properties) in SI units: resistivities in
Ohm m, thermal conductivities in W/(m K), volumetric heat capacity in J/(m^3 K). Tensors
are diagonal in crystal axes (ab, ab, c); the c axis is z unless a case rotates it.
Built-in materials live in `BUILTIN`, each citing its source.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np
from scipy.constants import Avogadro, Boltzmann
from scipy.interpolate import CubicHermiteSpline

from .properties import (Constant, Linear, LogContinuation, Property, Pseudogap, Scaled, Sum, Table,
                         WiedemannFranz)

#: the properties of a Material, in the order of its fields
PROPERTIES = ("rho_ab", "rho_c", "kappa_ab", "kappa_c", "heat_capacity")


@dataclass(frozen=True)
class DataNote:
    """A temperature range where a built-in property is not measured data but a documented
    model choice (an extension below the data, a normal state below Tc). Runs that reach
    such a range say so (warning, summary.json "material_notes")."""

    properties: tuple[str, ...]   # names among PROPERTIES
    T_lo: float                   # [K]
    T_hi: float                   # [K]
    text: str


@dataclass(frozen=True)
class Material:
    name: str
    rho_ab: Property
    rho_c: Property
    kappa_ab: Property
    kappa_c: Property
    heat_capacity: Property | None = None
    source: str = ""
    notes: tuple[DataNote, ...] = ()

    @classmethod
    def isotropic(cls, name, rho, kappa, heat_capacity=None, source="", notes=()):
        return cls(name, rho, rho, kappa, kappa, heat_capacity, source, tuple(notes))

    def T_range(self, properties=("rho_ab", "rho_c", "kappa_ab", "kappa_c")) -> tuple[float, float]:
        """The temperatures every one of ``properties`` covers [K]."""
        ps = [getattr(self, k) for k in properties if getattr(self, k) is not None]
        return max(p.T_range[0] for p in ps), min(p.T_range[1] for p in ps)


#: name -> factory of a built-in Material (filled in below with cited data)
BUILTIN: dict[str, callable] = {}


# ===================================================================== built-in materials
#
# Everything below is SI: resistivity [Ohm m], thermal conductivity [W/(m K)], volumetric
# heat capacity [J/(m^3 K)]. Each property enforces its own validity range (OutOfRangeError
# outside it); the ranges are stated in each factory's docstring.

#: resistivity [Ohm m] above which a material is treated as an electrical insulator
INSULATOR_RHO = 1e6


# --------------------------------------------------------------------- Debye-type integrals

def _kernel(y, n):
    """y^n e^y / (e^y - 1)^2, written with e^-y so that large y cannot overflow."""
    y = np.asarray(y, dtype=float)
    out = np.zeros_like(y)
    pos = y > 0
    e = np.exp(-y[pos])
    out[pos] = y[pos] ** n * e / (-np.expm1(-y[pos])) ** 2
    return out


_Y_CAP = 60.0  # beyond it the integrand is < 1e-17 of the integral for n = 4, 5


@functools.lru_cache(maxsize=None)
def _j_spline(n):
    """Cubic Hermite interpolant of J_n(y) = int_0^y x^n e^x/(e^x-1)^2 dx on [1e-3, 60];
    panel integrals by 64-point Gauss-Legendre, slopes = the exact integrand. Nodes are
    dense enough (dy <= 0.004) that the interpolant's own slope matches the exact
    integrand (used by the derivatives) to ~1e-8, so values and derivatives agree."""
    nodes = np.unique(np.concatenate((np.geomspace(1e-3, 1.0, 2000), np.linspace(1.0, _Y_CAP, 15000))))
    x, w = np.polynomial.legendre.leggauss(64)
    edges = np.concatenate(([0.0], nodes))
    a, b = edges[:-1, None], edges[1:, None]
    panels = ((b - a) / 2 * (w * _kernel((b - a) / 2 * x + (b + a) / 2, n))).sum(axis=1)
    J = np.cumsum(panels)
    return CubicHermiteSpline(nodes, J, _kernel(nodes, n)), float(J[-1])


def _J(y, n):
    """J_n(y) for any y >= 0 (series below 1e-3, spline, constant tail above 60)."""
    y = np.asarray(y, dtype=float)
    spline, J_inf = _j_spline(n)
    # x^2 e^x/(e^x-1)^2 = 1 - x^2/12 + O(x^4)  =>  J_n = y^(n-1)/(n-1) - y^(n+1)/(12 (n+1)).
    small = y ** (n - 1) / (n - 1) - y ** (n + 1) / (12 * (n + 1))
    mid = spline(np.clip(y, 1e-3, _Y_CAP))
    return np.where(y < 1e-3, small, np.where(y > _Y_CAP, J_inf, mid))


@dataclass
class Debye(Property):
    """Volumetric heat capacity of a Debye solid plus a Sommerfeld electronic term:

        C(T) = 9 n k_B (T/theta_D)^3 J_4(theta_D/T) + gamma T,
        J_4(y) = int_0^y x^4 e^x / (e^x - 1)^2 dx,

    n atoms per m^3, gamma [J/(m^3 K^2)]. Limits: C -> (12 pi^4/5) n k_B (T/theta_D)^3 for
    T << theta_D and 3 n k_B for T >> theta_D (Dulong-Petit). This is C_v; C_p exceeds it by
    a few per cent at room temperature in metals.
    """

    theta_D: float
    n_atoms: float
    gamma: float = 0.0
    name: str = "debye"
    T_range: tuple[float, float] = (1e-3, np.inf)

    def _value(self, T):
        y = self.theta_D / T
        return 9 * self.n_atoms * Boltzmann * (T / self.theta_D) ** 3 * _J(y, 4) + self.gamma * T

    def _derivative(self, T):
        y = self.theta_D / T
        a = 9 * self.n_atoms * Boltzmann / self.theta_D**3
        # d/dT [T^3 J(theta/T)] = 3 T^2 J - T^3 (theta/T^2) J'(y)
        return a * (3 * T**2 * _J(y, 4) - T * self.theta_D * _kernel(y, 4)) + self.gamma


@dataclass
class BlochGruneisen(Property):
    """Phonon resistivity rho_ph(T) = A (T/theta_R)^5 J_5(theta_R/T) (Bloch-Grueneisen),
    J_5(y) = int_0^y x^5 e^x / (e^x - 1)^2 dx, with A fixed by rho_ph(T_ref) = rho_ref.
    Limits: 5! zeta(5) A (T/theta_R)^5 at low T; A T / (4 theta_R) (linear) at high T."""

    theta_R: float
    rho_ref: float
    T_ref: float = 273.15
    name: str = "bloch_gruneisen"
    T_range: tuple[float, float] = (1e-3, np.inf)

    def _A(self):
        y = self.theta_R / self.T_ref
        return self.rho_ref / ((self.T_ref / self.theta_R) ** 5 * float(_J(np.array(y), 5)))

    def _value(self, T):
        return self._A() * (T / self.theta_R) ** 5 * _J(self.theta_R / T, 5)

    def _derivative(self, T):
        y = self.theta_R / T
        a = self._A() / self.theta_R**5
        return a * (5 * T**4 * _J(y, 5) - T**3 * self.theta_R * _kernel(y, 5))


# --------------------------------------------------------------------- helpers

def _read_table(filename):
    """(T, values) from femsim/data/<filename>: '#' comment lines, one header line, CSV."""
    text = resources.files("femsim").joinpath("data", filename).read_text()
    rows = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    data = np.array([[float(v) for v in ln.split(",")] for ln in rows[1:]])
    return data[:, 0], data[:, 1]


def _n_atoms(density_kg_m3, molar_mass_kg_mol, atoms_per_formula_unit=1):
    return atoms_per_formula_unit * density_kg_m3 / molar_mass_kg_mol * Avogadro


def _residual_from_rrr(rho_ph, rrr, T_hi=300.0, T_lo=4.2):
    """rho_0 such that (rho_0 + rho_ph(T_hi)) / (rho_0 + rho_ph(T_lo)) = RRR (Matthiessen)."""
    if not rrr > 1:
        raise ValueError(f"RRR must exceed 1, got {rrr!r}")
    hi, lo = float(rho_ph(np.array([T_hi]))[0]), float(rho_ph(np.array([T_lo]))[0])
    rho0 = (hi - rrr * lo) / (rrr - 1)
    if rho0 <= 0:
        raise ValueError(f"RRR = {rrr} is above the intrinsic limit {hi / lo:.3g} of this phonon resistivity")
    return rho0


def _with_range(prop, T_range):
    prop.T_range = tuple(float(t) for t in T_range)
    return prop


# --------------------------------------------------------------------- Bi2212

#: Tc of optimally doped Bi2212 [K] (the default of `bi2212`)
BI2212_TC = 90.0


def bi2212(rho_c_min=4.5e-2, T_star=160.0, Delta=120.0, rho_ab_0=5.75e-8, rho_ab_slope=5.04e-9,
           T_join=50.0, Tc=BI2212_TC, T_min=1.0, T_max=320.0, kappa_ab_ratio=6.0,
           kappa_low_T_exponent=0.5, theta_D=250.0) -> Material:
    """Bi2Sr2CaCu2O8+x (optimally to slightly underdoped single crystal), normal state.

    Valid range of every property: T_min .. T_max = 1 K .. 320 K (C to 400 K). What is
    measured data and what is a documented extension (each listed in ``Material.notes``,
    and in a run's summary when the run reaches it):

      rho_c    Tc .. 320 K fit to data; T_join .. Tc the same law continued (normal state
               below Tc); T_min .. T_join a logarithmic continuation.
      rho_ab   Tc .. 320 K fit to data; below Tc the normal-state line continued (the
               in-plane superconductivity is NOT modelled).
      kappa    39 .. 306 K data; 1 .. 39 K a power law T^0.5; 306 .. 320 K the end slope.

    Below Tc, which rho_c: the c-axis resistance that Joule heating acts on in intrinsic
    tunnelling is the normal-state R_N(T) - measured with the superconductivity suppressed
    (high field), or as the zero-field sub-gap resistance R_sg = dV/dI at P -> 0, which
    tracks R_N (seeds/000_eb5949db9699e93e.txt, section C and the conclusions). So rho_c
    here is a normal-state resistivity at every temperature; the superconducting branch
    (zero resistance below the critical current) is not modelled.

    rho_c [Ohm m], T >= T_join = 50 K: Pseudogap(rho_c_min, T_star, Delta) = A T + B exp(Delta/T),
      a minimum rho_c_min = 4.5 Ohm cm at T* = 160 K and a semiconducting-like upturn below
      it (5.7 Ohm cm at 90 K, 9.7 Ohm cm at 60 K with Delta = 120 K): the c-axis shape of
      S. Martin, A. T. Fiory, R. M. Fleming, L. F. Schneemeyer, J. V. Waszczak, Phys. Rev.
      Lett. 60, 2194 (1988) (rho_c ~ 10 Ohm cm, ~1e5 x rho_ab) and of T. Watanabe, T. Fujii,
      A. Matsuda, Phys. Rev. Lett. 79, 2113 (1997) (activated rho_c below T*). The default
      minimum sits at the low end of typical 5-20 Ohm cm so that rho_c/rho_ab stays within
      1e4-1e5 between 100 and 300 K; real crystals reach 2e5 near Tc (L. Forro, J. Lukatela,
      B. Keszei, Solid State Commun. 73, 501 (1990): 12.3 Ohm cm at 95 K, 6.5 Ohm cm at
      292 K). Between T_join and Tc the same law is the extrapolated normal state: the
      high-field c-axis data of Bi2212 (e.g. T. Watanabe, T. Fujii, A. Matsuda, Phys. Rev.
      Lett. 84, 5848 (2000); N. Morozov et al., Phys. Rev. Lett. 84, 1784 (2000);
      T. Shibauchi et al., Phys. Rev. Lett. 86, 5763 (2001)) show rho_c continuing to rise
      below Tc once the superconductivity is suppressed.
    rho_c, T < T_join: LogContinuation: rho_c(T_j) (1 + s ln(T_j/T)), s = -d ln rho_c/d ln T
      at T_j (= 2.25 with the defaults; C1 join). The activated law itself would grow like
      exp(Delta/T) - 1e9-fold from 50 K to 4.2 K - which no measured R_N(T) or sub-gap
      resistance does; the normal-state resistivities of cuprates with superconductivity
      suppressed by 60 T fields grow like ln(1/T) at low T (Y. Ando, G. S. Boebinger,
      A. Passner, T. Kimura, K. Kishio, Phys. Rev. Lett. 75, 4662 (1995), rho_ab and rho_c of
      La2-xSrxCuO4; S. Ono et al., Phys. Rev. Lett. 85, 638 (2000), Bi2Sr2-xLaxCuO6). Defaults: 14.0 Ohm cm at 50 K, 92 Ohm cm at 4.2 K, 124 Ohm cm at
      1.5 K, i.e. R(4.2 K)/R(300 K) ~ 17. Uncertain by a factor of a few from sample to
      sample: give the sample's own R_N(T), or calibrate rho_c from the device's measured
      R(T) (`rho_c = { calibrate_R = "R.csv" }`), for quantitative work below ~50 K.
    rho_ab [Ohm m] = rho_ab_0 + rho_ab_slope T: 5.75 uOhm cm + 0.504 uOhm cm/K x T, the
      least-squares line through Forro et al. (1990) in-plane data 106-290 K (57 uOhm cm at
      106 K, 150 uOhm cm at 290 K; as tabulated in NIST SRD 62, record A00197),
      extrapolating to ~0 at 0 K like Martin et al. (1988). Below Tc the documented choice
      is this normal-state line continued (residual 5.75 uOhm cm at T -> 0; 7.9 uOhm cm at
      4.2 K), i.e. the in-plane superconductivity is not modelled: in a c-axis mesa the
      in-plane resistivity enters R only through the lateral spreading in the base crystal,
      of order sqrt(rho_ab rho_c) / W (~0.5 % of R for a 20 um wide, 1 um high mesa at
      4.2 K), which a superconducting ab plane would remove; the heat flow, not the
      potential, is what the in-plane direction mostly carries. A run below Tc warns.
    kappa_c [W/(m K)]: table of M. F. Crommie and A. Zettl, Phys. Rev. B 43, 408 (1991)
      (0.50 W/(m K) at 39 K to 0.86 at 306 K; NIST SRD 62 record A00069), PCHIP. Extended
      (i) below 39 K as kappa(39 K) (T/39 K)^p with p = kappa_low_T_exponent = 0.5, a
      continuation of the measured local slope d ln kappa/d ln T ~ 0.4 (39-55 K) that
      steepens towards the T^1.7-T^2.6 phonon regime seen below 2 K in insulating Y-doped
      Bi2212; uncertain by a factor ~2 at 4 K (0.16 W/(m K) with p = 0.5) and ~3 at 1 K
      (kappa overestimated there); (ii) to 320 K by the slope of the last two points.
    kappa_ab = kappa_ab_ratio x kappa_c (default 6, i.e. 3-5 W/(m K)): in-plane values of
      2-6 W/(m K) are typical (Crommie & Zettl 1991 report the anisotropy); the in-plane
      table itself was not available here, and its phonon peak below Tc is not modelled.
    C [J/(m^3 K)] = Debye(theta_D = 250 K) for 15 atoms per formula unit at the X-ray
      density 6.51 g/cm^3 (a = 5.41, b = 5.42, c = 30.89 A, Z = 4, M = 888.4 g/mol). Reported
      Debye temperatures of Bi2212 scatter ~220-290 K (review: A. Junod, in Physical
      Properties of High Temperature Superconductors II, ed. D. M. Ginsberg (World
      Scientific, 1990), p. 13); expect ~+-10 % in C between 20 and 300 K, more below 20 K
      where the electronic and non-Debye phonon terms matter.
    """
    rho_c = LogContinuation(Pseudogap(rho_c_min, T_star, Delta, name="Bi2212 rho_c (pseudogap law)",
                                      T_range=(T_join, T_max)), T_join, T_low=T_min, name="Bi2212 rho_c")
    rho_ab = _with_range(Linear(rho_ab_0, rho_ab_slope / rho_ab_0, 0.0, name="Bi2212 rho_ab"), (T_min, T_max))
    T, k = _read_table("bi2212_kappa_c_crommie_zettl1991.csv")
    T_low = np.array([T_min, 2.0, 4.0, 10.0, 20.0, 30.0])
    k_low = k[0] * (T_low / T[0]) ** kappa_low_T_exponent
    k_hi = k[-1] + (k[-1] - k[-2]) / (T[-1] - T[-2]) * (T_max - T[-1])
    kappa_c = Table(np.concatenate((T_low, T, [T_max])), np.concatenate((k_low, k, [k_hi])),
                    name="Bi2212 kappa_c")
    kappa_ab = Scaled(kappa_c, kappa_ab_ratio, name="Bi2212 kappa_ab")
    C = Debye(theta_D, _n_atoms(6510.0, 0.88837, 15), name="Bi2212 C", T_range=(1.0, 400.0))
    notes = (
        DataNote(("rho_c",), T_min, T_join,
                 f"Bi2212 rho_c below {T_join:g} K is a logarithmic continuation of the normal-state law "
                 f"(R_N(T) with superconductivity suppressed, seed 000 section C; Ando et al. PRL 75, 4662 "
                 f"(1995)): uncertain by a factor of a few - give the sample's R_N(T) or calibrate rho_c "
                 f"from the device's R(T) (rho_c = {{ calibrate_R = \"R.csv\" }})"),
        DataNote(("rho_c",), T_join, Tc,
                 f"Bi2212 rho_c between {T_join:g} K and Tc = {Tc:g} K is the normal-state pseudogap law "
                 "continued below Tc (R_N(T), seed 000 section C), not zero-field data"),
        DataNote(("rho_ab",), T_min, Tc,
                 f"Bi2212 rho_ab below Tc = {Tc:g} K is the normal-state line continued (residual "
                 f"{rho_ab_0 * 1e8:.3g} uOhm cm at T -> 0): the in-plane superconductivity is not modelled"),
        DataNote(("kappa_ab", "kappa_c"), T_min, float(T[0]),
                 f"Bi2212 kappa below {T[0]:g} K is a T^{kappa_low_T_exponent:g} extension of Crommie & Zettl "
                 "(1991), uncertain by a factor ~2-3"),
    )
    return Material("Bi2212", rho_ab, rho_c, kappa_ab, kappa_c, C,
                    source="rho: Martin et al. PRL 60, 2194 (1988); Watanabe et al. PRL 79, 2113 (1997); "
                           "Forro et al. SSC 73, 501 (1990); below 50 K a ln(1/T) continuation (Ando et al. "
                           "PRL 75, 4662 (1995)). kappa_c: Crommie & Zettl PRB 43, 408 (1991). "
                           "C: Debye, theta_D = 250 K.", notes=notes)


# --------------------------------------------------------------------- Au

def gold(rrr=10.0, rho_0=None) -> Material:
    """Gold film: Matthiessen rho = rho_0 + rho_i(T), kappa by Wiedemann-Franz, Debye C.

    Valid range 1-500 K (all properties).
    rho_i(T): intrinsic resistivity of R. A. Matula, J. Phys. Chem. Ref. Data 8, 1147 (1979),
      Table 5 (2.029e-8 Ohm m at 273.15 K, 2.249e-8 at 300 K), 15-500 K, PCHIP; below 15 K
      continued by the Bloch T^5 law (femsim/data/au_rho_intrinsic_matula1979.csv).
    rho_0: residual resistivity; by default from the film's residual resistance ratio
      RRR = rho(300 K)/rho(4.2 K) (default 10, typical of evaporated films; bulk annealed
      gold reaches 300-1000), rho_0 = (rho_i(300) - RRR rho_i(4.2)) / (RRR - 1), i.e.
      0.25 uOhm cm for RRR = 10. Give ``rho_0`` [Ohm m] to override.
    kappa = L0 T / rho (Sommerfeld Lorenz number): exact as T -> 0 and above ~theta_D,
      overestimates kappa by up to ~10-30 % at 20-80 K in pure gold, where inelastic
      scattering lowers the Lorenz ratio; the small phonon part is neglected.
    C = Debye(theta_D = 165 K) + gamma T with gamma = 0.729 mJ/(mol K^2) (C. Kittel,
      Introduction to Solid State Physics, 8th ed., Wiley 2005, Tables 5.1 and 6.3),
      19.32 g/cm^3, 196.97 g/mol. This is C_v: ~2.5 % below C_p = 25.42 J/(mol K) at 298 K.
    """
    T, v = _read_table("au_rho_intrinsic_matula1979.csv")
    rho_i = Table(T, v * 1e-8, name="Au rho_i (Matula 1979)")
    rho0 = _residual_from_rrr(rho_i, rrr) if rho_0 is None else float(rho_0)
    rho = Sum(_with_range(Constant(rho0, name="Au rho_0"), rho_i.T_range), rho_i, name="Au rho")
    mol = 19320.0 / 0.196967
    C = Debye(165.0, _n_atoms(19320.0, 0.196967), gamma=0.729e-3 * mol, name="Au C", T_range=(1.0, 500.0))
    return Material.isotropic("Au", rho, WiedemannFranz(rho, name="Au kappa (WF)"), C,
                              source="rho: Matula, J. Phys. Chem. Ref. Data 8, 1147 (1979); kappa: Wiedemann-Franz; "
                                     "C: Debye 165 K + gamma T (Kittel)")


# --------------------------------------------------------------------- Sn

def tin(rrr=10.0, rho_0=None) -> Material:
    """White tin (beta-Sn), normal state; superconducting below Tc = 3.72 K (Bc ~ 30 mT),
    which this material does NOT model: below Tc it gives the normal-state values.

    Valid range 1-450 K (melting point 505 K).
    rho = rho_0 + rho_ph(T), rho_ph Bloch-Grueneisen with theta_R = 200 K scaled to
      11.5 uOhm cm at 273.15 K (CRC Handbook of Chemistry and Physics, "Electrical
      resistivity of pure metals"; polycrystal average, Sn is anisotropic by ~1.4). The BG
      shape is an approximation for Sn (+-10-15 % between 20 and 100 K). rho_0 from
      RRR = rho(300)/rho(4.2) (default 10, films; bulk pure Sn reaches ~1e4) or given.
    kappa = L0 T / rho (Wiedemann-Franz); at 300 K this gives ~58 W/(m K) against the
      measured ~67 W/(m K) of bulk tin: the lattice part (~10-15 %) is neglected.
    C = Debye(theta_D = 200 K) + gamma T, gamma = 1.78 mJ/(mol K^2) (Kittel, Tables 5.1,
      6.3), 7.287 g/cm^3, 118.71 g/mol; ~8 % below C_p = 27.1 J/(mol K) at 298 K (C_p - C_v
      and anharmonicity of Sn).
    """
    rho_ph = BlochGruneisen(200.0, 11.5e-8, 273.15, name="Sn rho_ph", T_range=(1.0, 450.0))
    rho0 = _residual_from_rrr(rho_ph, rrr) if rho_0 is None else float(rho_0)
    rho = Sum(_with_range(Constant(rho0, name="Sn rho_0"), rho_ph.T_range), rho_ph, name="Sn rho")
    mol = 7287.0 / 0.11871
    C = Debye(200.0, _n_atoms(7287.0, 0.11871), gamma=1.78e-3 * mol, name="Sn C", T_range=(1.0, 450.0))
    note = DataNote(("rho_ab", "rho_c", "kappa_ab", "kappa_c"), 1.0, SN_TC,
                    f"Sn is superconducting below Tc = {SN_TC:g} K (Bc ~ 30 mT); femsim uses its normal-state "
                    "rho and kappa there (as with a field above Bc)")
    return Material.isotropic("Sn", rho, WiedemannFranz(rho, name="Sn kappa (WF)"), C,
                              source="rho: Bloch-Grueneisen 200 K scaled to CRC 11.5 uOhm cm at 273 K; "
                                     "kappa: Wiedemann-Franz; C: Debye 200 K + gamma T (Kittel). Tc = 3.72 K",
                              notes=(note,))


#: Tc of tin [K], for cases that need it (the Sn material itself is normal state)
SN_TC = 3.72


# --------------------------------------------------------------------- sapphire

def sapphire() -> Material:
    """Sapphire (alpha-Al2O3 single crystal) substrate; valid range 1-400 K.

    Electrically an insulator: rho = 1e14 Ohm m (room-temperature bulk resistivity is
      above 1e14 Ohm m and rises on cooling). A solver should NOT assemble the potential
      equation with this value - a conductivity contrast of ~1e22 to the metals ruins the
      conditioning - but leave sapphire regions out of the electric problem (no potential
      unknowns there; their interfaces are insulating walls, zero normal current) and
      keep them in the heat equation. ``is_insulator(material)`` tells which.
    kappa: table femsim/data/sapphire_kappa.csv (representative of a pure mm-size crystal:
      35 W/(m K) at 300 K after Cahill et al. as quoted by Aggarwal & Ramdas, Physical
      Properties of Diamond and Sapphire (CRC, 2019); peak ~1e4 W/(m K) near 30 K, the
      shape of the TPRC recommended curve (Touloukian et al., TPRC Data Series Vol. 2,
      1970) and of Berman's data; Casimir T^3 limit below 10 K). Below the table's 4 K it
      continues as kappa(4 K) (T/4 K)^3, the boundary-scattering (Casimir) law the table
      follows there: kappa = C v l / 3 with the Debye C ~ T^3 and a fixed mean free path
      l ~ the crystal size (H. B. G. Casimir, Physica 5, 495 (1938); R. Berman, Thermal
      Conduction in Solids, Oxford 1976, ch. 4), 1.4 W/(m K) at 1 K. Crystal-dependent: a
      factor ~2 between 10 and 150 K (and below 10 K, with the crystal size), ~+-20 % above
      200 K. Isotropic (the c/a anisotropy of ~10 % is neglected).
    C = Debye(theta_D = 1000 K), 5 atoms per Al2O3, 3.98 g/cm^3, 101.96 g/mol; low-T
      calorimetric theta_D is ~1040 K. At 300 K this gives 75.8 J/(mol K), ~5 % below the
      measured ~80 J/(mol K) (Furukawa, as quoted by Aggarwal & Ramdas), and up to ~25 %
      low near 100 K where a single theta_D does not fit sapphire.
    """
    rng = (1.0, 400.0)
    rho = _with_range(Constant(1e14, name="sapphire rho (insulator)"), rng)
    T, k = _read_table("sapphire_kappa.csv")
    T_low = np.array([1.0, 2.0, 3.0])   # Casimir T^3 below the table's first point
    kappa = Table(np.concatenate((T_low, T)), np.concatenate((k[0] * (T_low / T[0]) ** 3, k)),
                  name="sapphire kappa")
    C = Debye(1000.0, _n_atoms(3980.0, 0.10196, 5), name="sapphire C", T_range=rng)
    note = DataNote(("kappa_ab", "kappa_c"), 1.0, float(T[0]),
                    f"sapphire kappa below {T[0]:g} K continues the table as the Casimir T^3 law "
                    "(crystal-size dependent)")
    return Material.isotropic("sapphire", rho, kappa, C,
                              source="kappa: representative table (Cahill et al. via Aggarwal & Ramdas 2019; "
                                     "TPRC Vol. 2; Berman), Casimir T^3 below 4 K; C: Debye 1000 K; "
                                     "electrically insulating", notes=(note,))


def is_insulator(material: Material, T: float | None = None) -> bool:
    """True if both resistivities exceed INSULATOR_RHO at T (default: the middle of the
    c-axis resistivity's valid range, capped at 300 K): the solver should exclude the
    material from the electric problem rather than assemble a near-zero conductivity."""
    from .properties import Calibrated

    if isinstance(material.rho_c, Calibrated):   # fitted to a measured device resistance: conducts
        return False
    if T is None:
        lo, hi = material.rho_c.T_range
        T = min(300.0, 0.5 * (lo + min(hi, 1e4)))
    t = np.array([float(T)])
    return bool(material.rho_ab(t)[0] > INSULATOR_RHO and material.rho_c(t)[0] > INSULATOR_RHO)


BUILTIN.update({"Bi2212": bi2212, "Au": gold, "Sn": tin, "sapphire": sapphire})

_ALIASES = {"gold": "Au", "tin": "Sn", "al2o3": "sapphire", "bscco": "Bi2212", "bi-2212": "Bi2212"}


def describe_builtins() -> str:
    """One line per built-in: its name, the temperatures all its properties cover, and its
    documented extensions (for `femsim schema` and the error messages; from the materials
    themselves, so it cannot drift)."""
    out = []
    for name in sorted(BUILTIN, key=str.lower):
        m = get_material(name)
        lo, hi = m.T_range()
        ext = ", ".join(f"{'/'.join(n.properties)} {n.T_lo:g}-{n.T_hi:g} K" for n in m.notes)
        out.append(f"{name} ({lo:g}-{hi:g} K{'; extended: ' + ext if ext else ''})")
    return ", ".join(out)


def get_material(name: str, **params) -> Material:
    """Built-in material by name (case-insensitive; aliases gold, tin, Al2O3, BSCCO),
    parameters passed to its factory, e.g. get_material("Au", rrr=20)."""
    key = {k.lower(): k for k in BUILTIN}.get(name.lower()) or _ALIASES.get(name.lower())
    if key is None:
        raise KeyError(f"unknown material {name!r}; available: {', '.join(sorted(BUILTIN))}")
    return BUILTIN[key](**params)
