"""Transmission line along a tunnel junction: line constants, exact and discretised solvers.

The junction of Hamilton & Shapiro (1970) (seeds/004_c099d5c78bbe238d.txt, Sec. III B) is a
parallel-plate line whose magnetic field lives mostly in the two superconducting electrodes
(penetration depth lambda >> barrier thickness l). Along the junction coordinate x (0 .. L)
the complex rf phasors V(x), I(x) at frequency f obey the telegrapher equations

    dV/dx = -Z' I + e'(x),        Z' = R' + j 2 pi f L'   (series impedance per length)
    dI/dx = -Y' V,                Y' = G' + j 2 pi f C'   (shunt admittance per length)

with e'(x) a series EMF per length (uniform-field coupling of an incident wave). Time
convention: v(t) = Re[V exp(+j 2 pi f t)], so a wave travelling towards +x is exp(-gamma x).

Ends are linear conditions ``a V + b I = r`` (`Termination.row`), I counted positive along +x.
Everything is SI; impedances are complex numbers in ohm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.constants import c as C_LIGHT
from scipy.constants import epsilon_0, mu_0
from scipy.linalg import solve_banded


def _positive(name: str, value: float, allow_inf: bool = False) -> float:
    value = float(value)
    if math.isnan(value) or value <= 0 or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be a positive {'number' if allow_inf else 'finite number'}, got {value!r}")
    return value


def _nonnegative(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def check_frequency(f: float) -> float:
    """Return f as float; raise ValueError unless 0 < f < inf [Hz]."""
    return _positive("frequency f [Hz]", f)


def _omega(f: float) -> float:
    return 2 * math.pi * check_frequency(f)


# --------------------------------------------------------------------------- line constants


@dataclass(frozen=True)
class LineConstants:
    """Per-length constants of a uniform line: L' [H/m], C' [F/m], R' [Ohm/m], G' [S/m]."""

    L: float
    C: float
    R: float = 0.0
    G: float = 0.0

    def __post_init__(self):
        _positive("L' [H/m]", self.L)
        _positive("C' [F/m]", self.C)
        _nonnegative("R' [Ohm/m]", self.R)
        _nonnegative("G' [S/m]", self.G)

    def series_impedance(self, f: float) -> complex:
        """Z' = R' + j omega L' [Ohm/m]."""
        return complex(self.R, _omega(f) * self.L)

    def shunt_admittance(self, f: float) -> complex:
        """Y' = G' + j omega C' [S/m]."""
        return complex(self.G, _omega(f) * self.C)

    def propagation_constant(self, f: float) -> complex:
        """gamma = sqrt(Z' Y') = alpha + j beta [1/m], the root with alpha, beta >= 0."""
        # Z' and Y' lie in the first quadrant, so Z'Y' is in the upper half plane and the
        # principal square root already has non-negative real and imaginary parts.
        return complex(np.sqrt(self.series_impedance(f) * self.shunt_admittance(f)))

    def characteristic_impedance(self, f: float) -> complex:
        """Z0 = sqrt(Z'/Y') = Z'/gamma [Ohm]."""
        return self.series_impedance(f) / self.propagation_constant(f)

    @property
    def velocity(self) -> float:
        """Lossless phase velocity 1/sqrt(L'C') [m/s]; the Swihart velocity c_bar for a junction."""
        return 1.0 / math.sqrt(self.L * self.C)

    def wavelength(self, f: float) -> float:
        """Wavelength on the line 2 pi / beta [m] (= velocity / f when lossless)."""
        return 2 * math.pi / self.propagation_constant(f).imag


def _coth(x: float) -> float:
    return 1.0 if math.isinf(x) else 1.0 / math.tanh(x)


def magnetic_thickness(barrier_thickness: float, penetration_depth1: float, penetration_depth2: float,
                       thickness1: float = math.inf, thickness2: float = math.inf) -> float:
    """d = lambda1 coth(t1/lambda1) + lambda2 coth(t2/lambda2) + l [m].

    The thickness over which the junction's rf magnetic field (hence its inductance) extends;
    coth(t/lambda) is the thin-film correction for electrodes of finite thickness t
    (-> 1 for t >> lambda, which gives Eq. 4's 2 lambda + l)."""
    l = _positive("barrier thickness l [m]", barrier_thickness)
    lam1 = _positive("penetration depth lambda1 [m]", penetration_depth1)
    lam2 = _positive("penetration depth lambda2 [m]", penetration_depth2)
    t1 = _positive("electrode thickness t1 [m]", thickness1, allow_inf=True)
    t2 = _positive("electrode thickness t2 [m]", thickness2, allow_inf=True)
    return lam1 * _coth(t1 / lam1) + lam2 * _coth(t2 / lam2) + l


def junction_line_constants(barrier_thickness: float, penetration_depth1: float, penetration_depth2: float,
                            permittivity: float, width: float, thickness1: float = math.inf,
                            thickness2: float = math.inf, series_resistance: float = 0.0,
                            shunt_conductance: float = 0.0) -> LineConstants:
    """Line constants of a junction of width w (across the line):

        L' = mu0 d / w,   d = lambda1 coth(t1/lambda1) + lambda2 coth(t2/lambda2) + l,
        C' = eps0 eps w / l,

    plus optional R' [Ohm/m] (e.g. surface resistance of the electrodes) and G' [S/m]
    (quasiparticle conductance per length, 1/(R_n L) for a junction of length L).
    1/sqrt(L'C') = c sqrt(l / (eps d)), which is Eq. 4 for t1, t2 -> inf and lambda1 = lambda2."""
    d = magnetic_thickness(barrier_thickness, penetration_depth1, penetration_depth2, thickness1, thickness2)
    eps = _positive("relative permittivity eps [1]", permittivity)
    w = _positive("junction width w [m]", width)
    return LineConstants(L=mu_0 * d / w, C=epsilon_0 * eps * w / barrier_thickness,
                         R=series_resistance, G=shunt_conductance)


def swihart_velocity(barrier_thickness: float, penetration_depth: float, permittivity: float) -> float:
    """c_bar = c sqrt(l / (eps (2 lambda + l))) [m/s] (Eq. 4; Swihart 1961): equal, thick electrodes."""
    l = _positive("barrier thickness l [m]", barrier_thickness)
    lam = _positive("penetration depth lambda [m]", penetration_depth)
    eps = _positive("relative permittivity eps [1]", permittivity)
    return C_LIGHT * math.sqrt(l / (eps * (2 * lam + l)))


def fiske_frequencies(velocity: float, length: float, n_modes: int = 5) -> np.ndarray:
    """f_n = n c_bar / (2 L), n = 1..n_modes [Hz]: the junction's self-resonances (Fiske modes)."""
    v = _positive("velocity [m/s]", velocity)
    L = _positive("junction length L [m]", length)
    if n_modes < 1:
        raise ValueError(f"n_modes must be >= 1, got {n_modes}")
    return np.arange(1, n_modes + 1) * v / (2 * L)


def reflection_coefficient(load_impedance: complex, characteristic_impedance: complex) -> complex:
    """Gamma = (Z_L - Z0)/(Z_L + Z0); an infinite Z_L (open end) gives +1."""
    if np.isinf(abs(load_impedance)):
        return 1.0 + 0j
    return complex((load_impedance - characteristic_impedance) / (load_impedance + characteristic_impedance))


def vswr(reflection: complex) -> float:
    """Voltage standing-wave ratio (1 + |Gamma|)/(1 - |Gamma|); inf for total reflection."""
    rho = abs(reflection)
    if rho > 1 + 1e-12:
        raise ValueError(f"|Gamma| = {rho:.6g} > 1 is not a passive load")
    return math.inf if rho >= 1 - 1e-15 else (1 + rho) / (1 - rho)


def reflection_from_vswr(s: float) -> float:
    """rho = (VSWR - 1)/(VSWR + 1) (the paper's definition below Eq. 6)."""
    s = float(s)
    if not s >= 1:
        raise ValueError(f"VSWR must be >= 1, got {s!r}")
    return 1.0 if math.isinf(s) else (s - 1) / (s + 1)


def standing_wave(X, length: float, rho: float, amplitude: float = 1.0) -> np.ndarray:
    """Complex standing wave V0 (exp(-j pi X/L) + rho exp(+j pi X/L)) on a half-wavelength junction.

    Its modulus is Eq. 6, V_rf(X) = V_rf0 [(1 + rho)^2 - 4 rho sin^2(pi X / L)]^(1/2), with
    X measured from a voltage maximum; the phase is kept for the phase-coherent Josephson average."""
    L = _positive("junction length L [m]", length)
    if not 0 <= rho <= 1:
        raise ValueError(f"reflection magnitude rho must lie in [0, 1], got {rho!r}")
    k = np.pi * np.asarray(X, dtype=float) / L
    return amplitude * (np.exp(-1j * k) + rho * np.exp(1j * k))


# --------------------------------------------------------------------------- terminations


@dataclass(frozen=True)
class Termination:
    """An end of the line: 'open', 'short', 'matched' (Z = Z0 of the adjacent line) or 'load'
    (complex ``impedance`` [Ohm]); ``emf`` [V] makes it a source with that internal impedance.

    A source at the left end (x = 0) drives I(0) = (emf - V(0))/Z into the line; at the right
    end (x = L) it drives -I(L) = (emf - V(L))/Z. An open end cannot carry an EMF."""

    kind: str = "open"
    impedance: complex | None = None
    emf: complex = 0.0

    def __post_init__(self):
        if self.kind not in ("open", "short", "matched", "load"):
            raise ValueError(f"termination kind must be 'open', 'short', 'matched' or 'load', not {self.kind!r}")
        if (self.kind == "load") != (self.impedance is not None):
            raise ValueError("a termination has an impedance exactly when kind == 'load'")
        if self.kind == "load":
            z = complex(self.impedance)
            if z.real < 0 or math.isnan(z.real) or math.isnan(z.imag):
                raise ValueError(f"a load impedance needs Re(Z) >= 0 (passive), got {z!r}")
        if self.kind == "open" and self.emf != 0:
            raise ValueError("an open end cannot hold a voltage source; give it an impedance (kind='load')")

    def impedance_for(self, z0: complex) -> complex:
        """The end's impedance [Ohm] next to a line of characteristic impedance z0 (inf if open)."""
        return {"open": complex(math.inf, 0), "short": 0j, "matched": complex(z0)}.get(
            self.kind, complex(self.impedance) if self.impedance is not None else 0j)

    def row(self, z0: complex, side: str) -> tuple[complex, complex, complex]:
        """(a, b, r) of the end condition a V + b I = r at the 'left' or 'right' end."""
        if self.kind == "open":
            return 0j, 1 + 0j, 0j
        z = self.impedance_for(z0)
        sign = 1 if side == "left" else -1
        return 1 + 0j, sign * z, complex(self.emf)


# --------------------------------------------------------------------------- exact solver


@dataclass(frozen=True)
class Segment:
    """A uniform piece of line: constants, length [m], uniform series EMF per length e' [V/m]."""

    constants: LineConstants
    length: float
    emf_per_length: complex = 0.0

    def __post_init__(self):
        _positive("segment length [m]", self.length)

    @classmethod
    def from_impedance(cls, impedance: float, length: float, velocity: float = C_LIGHT) -> "Segment":
        """A lossless feed line of real characteristic impedance Z0 [Ohm] and phase velocity v [m/s]:
        L' = Z0/v, C' = 1/(Z0 v)."""
        z = _positive("feed-line impedance Z0 [Ohm]", impedance)
        v = _positive("feed-line velocity [m/s]", velocity)
        return cls(LineConstants(L=z / v, C=1 / (z * v)), length)


def propagation_matrix(constants: LineConstants, length, f: float) -> np.ndarray:
    """P(x) mapping [V(0), I(0)] to [V(x), I(x)] on a uniform source-free line (shape (..., 2, 2)):

        [[cosh gamma x, -Z0 sinh gamma x], [-sinh(gamma x)/Z0, cosh gamma x]].

    Its inverse at x = length is the usual ABCD matrix; det P = 1 (reciprocity)."""
    g = constants.propagation_constant(f)
    z0 = constants.characteristic_impedance(f)
    gx = g * np.asarray(length, dtype=float)
    ch, sh = np.cosh(gx), np.sinh(gx)
    return np.stack([np.stack([ch, -z0 * sh], -1), np.stack([-sh / z0, ch], -1)], -2)


def abcd_matrix(constants: LineConstants, length: float, f: float) -> np.ndarray:
    """ABCD matrix of a uniform line: [V_in, I_in] = [[A, B], [C, D]] [V_out, I_out]."""
    return np.linalg.inv(propagation_matrix(constants, length, f))


def input_impedance(segments: Sequence[Segment], f: float, termination: Termination) -> complex:
    """Impedance [Ohm] seen looking into the left end of a chain of (source-free) segments
    whose right end carries ``termination`` (its EMF is ignored: a passive view)."""
    if not segments:
        raise ValueError("input_impedance needs at least one segment")
    z0_last = segments[-1].constants.characteristic_impedance(f)
    z = termination.impedance_for(z0_last)
    for seg in reversed(segments):
        (a, b), (c, d) = abcd_matrix(seg.constants, seg.length, f)
        z = a / c if np.isinf(abs(z)) else (a * z + b) / (c * z + d)
    return complex(z)


@dataclass(frozen=True, eq=False)
class LineSolution:
    """Phasors V(x) [V] and I(x) [A] (complex) at positions x [m] measured from the line's left end."""

    x: np.ndarray
    V: np.ndarray
    I: np.ndarray
    frequency: float

    def power(self) -> np.ndarray:
        """Time-averaged power flowing towards +x, P = Re(V I*)/2 [W]."""
        return 0.5 * np.real(self.V * np.conj(self.I))


def _segment_affine(seg: Segment, f: float):
    """(P, p) with state(x) = P(x) (state(0) - p) + p on a segment: p = [0, e'/Z'] is the particular
    solution of the uniform-EMF problem (V = 0, I = e'/Z')."""
    p = np.array([0j, seg.emf_per_length / seg.constants.series_impedance(f)])
    return propagation_matrix(seg.constants, seg.length, f), p


def solve_line(segments: Sequence[Segment], f: float, left: Termination, right: Termination,
               x=None, n_points: int = 201) -> LineSolution:
    """Exact (transfer-matrix) solution of a piecewise-uniform line with ends ``left`` (x = 0)
    and ``right`` (x = sum of lengths).

    Each segment is solved analytically (cosh/sinh plus the uniform-EMF particular solution);
    the two end conditions fix [V(0), I(0)]. ``x`` are the output positions (default:
    ``n_points`` equally spaced over the whole line). Suited to lines up to a few tens of
    attenuation lengths (cosh(gamma L) must stay finite)."""
    if not segments:
        raise ValueError("solve_line needs at least one segment")
    f = check_frequency(f)
    z_first = segments[0].constants.characteristic_impedance(f)
    z_last = segments[-1].constants.characteristic_impedance(f)
    starts = np.concatenate([[0.0], np.cumsum([s.length for s in segments])])
    total = starts[-1]
    x = np.linspace(0.0, total, n_points) if x is None else np.asarray(x, dtype=float)
    if x.size and (x.min() < -1e-12 * total or x.max() > total * (1 + 1e-12)):
        raise ValueError(f"output positions must lie in [0, {total:.6g}] m")

    # state at x = L as an affine function M s0 + m of the state s0 at x = 0
    M, m = np.eye(2, dtype=complex), np.zeros(2, dtype=complex)
    for seg in segments:
        P, p = _segment_affine(seg, f)
        M, m = P @ M, P @ (m - p) + p
    al, bl, rl = left.row(z_first, "left")
    ar, br, rr = right.row(z_last, "right")
    A = np.array([[al, bl], [ar * M[0, 0] + br * M[1, 0], ar * M[0, 1] + br * M[1, 1]]])
    rhs = np.array([rl, rr - ar * m[0] - br * m[1]])
    # judge conditioning in natural units (current times |Z0|, each row normalised), not raw V vs A
    scaled = A * np.array([1.0, 1.0 / abs(z_first)])
    scaled = scaled / np.max(np.abs(scaled), axis=1, keepdims=True)
    if not np.linalg.cond(scaled) < 1e13:
        raise ValueError("the line has no unique solution at this frequency (a lossless resonance "
                         "with no loss or load to limit it); add loss or move f off resonance")
    s = np.linalg.solve(A, rhs)

    V = np.empty(x.shape, dtype=complex)
    I = np.empty(x.shape, dtype=complex)
    seg_index = np.clip(np.searchsorted(starts, x, side="right") - 1, 0, len(segments) - 1)
    for k, seg in enumerate(segments):
        P, p = _segment_affine(seg, f)
        sel = seg_index == k
        if sel.any():
            Px = propagation_matrix(seg.constants, x[sel] - starts[k], f)
            local = np.einsum("nij,j->ni", Px, s - p) + p
            V[sel], I[sel] = local[:, 0], local[:, 1]
        s = P @ (s - p) + p
    return LineSolution(x=x, V=V, I=I, frequency=f)


def forward_wave(solution: LineSolution, constants: LineConstants, emf_per_length: complex = 0.0) -> np.ndarray:
    """Amplitude V+(x) = (V + Z0 (I - e'/Z'))/2 of the wave travelling towards +x on a uniform
    piece with these constants (the 'incident' wave of Eq. 6 when the load is at the right)."""
    f = solution.frequency
    z0 = constants.characteristic_impedance(f)
    return 0.5 * (solution.V + z0 * (solution.I - emf_per_length / constants.series_impedance(f)))


# --------------------------------------------------------------------------- discretised solver


@dataclass(frozen=True)
class VaryingLine:
    """A line of length [m] whose constants may vary along x: each of L [H/m], C [F/m],
    R [Ohm/m], G [S/m] and emf [V/m] is a number or a vectorised function of x [m]."""

    length: float
    L: float | Callable
    C: float | Callable
    R: float | Callable = 0.0
    G: float | Callable = 0.0
    emf: complex | Callable = 0.0

    def __post_init__(self):
        _positive("line length [m]", self.length)

    @staticmethod
    def _eval(q, x):
        return np.broadcast_to(q(x) if callable(q) else q, np.shape(x))

    def series_impedance(self, x, f):
        return self._eval(self.R, x) + 1j * _omega(f) * self._eval(self.L, x)

    def shunt_admittance(self, x, f):
        return self._eval(self.G, x) + 1j * _omega(f) * self._eval(self.C, x)

    def emf_at(self, x):
        return self._eval(self.emf, x).astype(complex)

    @classmethod
    def from_segments(cls, segments: Sequence[Segment]) -> "VaryingLine":
        """Piecewise-constant profile of a segment chain (value of the segment containing x)."""
        starts = np.concatenate([[0.0], np.cumsum([s.length for s in segments])])

        def pick(attr):
            vals = np.array([getattr(s.constants, attr) for s in segments] if attr != "emf"
                            else [s.emf_per_length for s in segments])
            return lambda x: vals[np.clip(np.searchsorted(starts, x, side="right") - 1, 0, len(segments) - 1)]

        return cls(length=float(starts[-1]), L=pick("L"), C=pick("C"), R=pick("R"), G=pick("G"), emf=pick("emf"))


def solve_line_fd(line: VaryingLine, f: float, left: Termination, right: Termination, n_cells: int) -> LineSolution:
    """Second-order finite-difference (staggered, 'ladder network') solution on n_cells equal cells.

    V lives on the n_cells + 1 nodes, I on the cell midpoints: a series element Z' h with EMF e' h
    (both sampled at the midpoint) between neighbouring nodes, and at each node a shunt Y'
    integrated over its control volume (two half-cells, each sampled at its own midpoint; half a
    cell at the ends). Jumps of the constants that fall on nodes are thus integrated exactly.
    Node currents are the mean of the neighbouring cell currents (the end conditions at the ends).
    'matched' ends use Z0 of the end's own local constants."""
    f = check_frequency(f)
    if int(n_cells) < 2:
        raise ValueError(f"n_cells must be >= 2, got {n_cells}")
    n = int(n_cells)
    h = line.length / n
    x = np.linspace(0.0, line.length, n + 1)
    xm = 0.5 * (x[:-1] + x[1:])
    z = line.series_impedance(xm, f) * h             # series impedance of each cell
    e = line.emf_at(xm) * h                          # series EMF of each cell
    y_half_r = line.shunt_admittance(x[:-1] + h / 4, f) * h / 2
    y_half_l = line.shunt_admittance(x[1:] - h / 4, f) * h / 2
    y = np.zeros(n + 1, dtype=complex)
    y[:-1] += y_half_r
    y[1:] += y_half_l

    def local_z0(xe):
        zz, yy = line.series_impedance(np.array([xe]), f)[0], line.shunt_admittance(np.array([xe]), f)[0]
        return complex(zz / np.sqrt(zz * yy))

    yz = 1 / z
    # tridiagonal matrix in banded form: row 0 super-diagonal, 1 diagonal, 2 sub-diagonal
    ab = np.zeros((3, n + 1), dtype=complex)
    rhs = np.zeros(n + 1, dtype=complex)
    ab[1, :] = -y
    ab[1, :-1] -= yz
    ab[1, 1:] -= yz
    ab[0, 1:] = yz
    ab[2, :-1] = yz
    rhs[:-1] += e * yz      # cell current (V_k - V_k+1 + e)/z leaves node k ...
    rhs[1:] -= e * yz       # ... and enters node k+1

    for node, term, side in ((0, left, "left"), (n, right, "right")):
        a, b, r = term.row(local_z0(x[node]), side)
        # I at the end: enters the line at the left, leaves it at the right
        sign = 1 if side == "left" else -1
        if b == 0:  # voltage fixed: replace the node equation
            ab[1, node] = 1.0
            if node == 0:
                ab[0, 1] = 0.0
            else:
                ab[2, n - 1] = 0.0
            rhs[node] = r / a
        else:       # I = (r - a V)/b added to the node balance with its sign
            ab[1, node] += -sign * a / b
            rhs[node] -= sign * r / b
    V = solve_banded((1, 1), ab, rhs)

    Icell = (V[:-1] - V[1:] + e) * yz
    I = np.empty(n + 1, dtype=complex)
    I[1:-1] = 0.5 * (Icell[:-1] + Icell[1:])
    I[0] = Icell[0] + y[0] * V[0]          # node balance at the ends
    I[-1] = Icell[-1] - y[-1] * V[-1]
    return LineSolution(x=x, V=V, I=I, frequency=f)
