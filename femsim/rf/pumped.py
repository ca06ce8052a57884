"""Photon-assisted (Tien-Gordon) pumped I-V curves, step amplitudes and the classical limit.

Hamilton & Shapiro (1970) (seeds/004_c099d5c78bbe238d.txt):

    Eq. 2   I_dc(V) = sum_n J_n^2(e V_rf / h f) I_0(V + n h f / e)                (uniform rf)
    Eq. 5   I_dc(V) = sum_n <J_n^2(e V_rf(X) / h f)>_X I_0(V + n h f / e)          (standing wave)
    Eq. 3   Josephson step n at V = n h f / 2e, amplitude I_c |J_n(2 e V_rf / h f)|
    Eq. 12  I_dc(V) = (1/pi) int_{-pi/2}^{pi/2} I_0(V + V_rf sin theta) d theta   (classical)

<.>_X is the average over the junction coordinate X with the grid's trapezoid weights
(`x_average_weights`) unless weights are given. V_rf(X) is the complex rf voltage phasor
(amplitude |V_rf|, phase psi); only its modulus enters the quasiparticle current.

Index order: arrays of drive profiles are (..., X); results are (..., V) or (..., n).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.constants import e as E_CHARGE
from scipy.constants import h as H_PLANCK
from scipy.special import jv

from .tline import check_frequency

#: tolerance of the Bessel sum rules (sum_n J_n^2 = 1, sum_n n^2 J_n^2 = alpha^2/2) that cuts the order sum
SUM_RULE_TOL = 1e-13


def photon_voltage(f: float) -> float:
    """h f / e [V]: the spacing of the quasiparticle steps (2x that of the Josephson steps)."""
    return H_PLANCK * check_frequency(f) / E_CHARGE


def drive_parameter(vrf, f: float) -> np.ndarray:
    """alpha = e |V_rf| / (h f) [1], the argument of the Tien-Gordon Bessel functions."""
    return np.abs(np.asarray(vrf)) / photon_voltage(f)


def bessel_order_limit(alpha_max: float, tol: float = SUM_RULE_TOL) -> int:
    """Smallest N for which the orders |n| <= N keep the sum rules sum_n J_n^2(alpha) = 1 and
    sum_n n^2 J_n^2(alpha) = alpha^2/2 at alpha = alpha_max, the first to ``tol`` absolute and the
    second to ``tol`` relative (absolute below alpha^2/2 = 1).

    For N > alpha each J_n(alpha) grows with alpha, so the same N serves every alpha <= alpha_max."""
    a = float(alpha_max)
    if not (math.isfinite(a) and a >= 0):
        raise ValueError(f"drive parameter alpha must be finite and >= 0, got {alpha_max!r}")
    # beyond alpha + 10 alpha^(1/3) (deep in the Airy tail) J_n^2 < 1e-25
    m = np.arange(int(math.ceil(a + 10 * a ** (1 / 3) + 30)) + 1)
    j2 = jv(m, a) ** 2
    tail0 = 2 * np.cumsum(j2[::-1])[::-1]                 # tail0[k] = 2 sum_{m >= k} J_m^2
    tail2 = 2 * np.cumsum((m * m * j2)[::-1])[::-1]
    ok = np.nonzero((tail0[1:] <= tol) & (tail2[1:] <= tol * max(1.0, a * a / 2)))[0]  # orders beyond N
    return int(ok[0]) if ok.size else int(m[-1])


def x_average_weights(X) -> np.ndarray:
    """Trapezoid weights on the grid X [m], normalised to sum 1: <g>_X = sum_k w_k g(X_k)."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 1 or X.size < 1:
        raise ValueError("X must be a 1-D grid")
    if X.size == 1:
        return np.ones(1)
    dx = np.diff(X)
    if np.any(dx <= 0):
        raise ValueError("the X grid must increase strictly")
    w = np.zeros_like(X)
    w[:-1] += dx / 2
    w[1:] += dx / 2
    return w / w.sum()


def _profile_and_weights(vrf, weights):
    """(profile with a trailing X axis, weights over X) from a scalar/1-D/N-D profile."""
    v = np.asarray(vrf)
    if v.ndim == 0:
        v = v[None]
    nx = v.shape[-1]
    if weights is None:
        w = np.full(nx, 1.0 / nx) if nx == 1 else x_average_weights(np.arange(nx, dtype=float))
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != (nx,) or np.any(w < 0) or not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-12):
            raise ValueError(f"X weights must be {nx} non-negative numbers summing to 1")
    return v, w


def tien_gordon_weights(vrf, f: float, weights=None, n_max: int | None = None):
    """Orders n = -N..N and the weights <J_n^2(e |V_rf(X)| / h f)>_X of Eq. 5 (shape (..., 2N + 1)).

    ``vrf``: a scalar (uniform drive, Eq. 2) or profiles (..., X) [V]; ``weights`` over X
    (default: trapezoid on an equally spaced X). N is chosen by `bessel_order_limit` at the
    largest local drive (sum rules within `SUM_RULE_TOL`) unless ``n_max`` is given."""
    v, w = _profile_and_weights(vrf, weights)
    alpha = drive_parameter(v, f)
    N = bessel_order_limit(float(np.max(alpha)) if alpha.size else 0.0) if n_max is None else int(n_max)
    k = np.arange(N + 1)
    j2 = jv(k[:, None], alpha.reshape(1, -1)) ** 2          # (N+1, all profile points)
    half = (j2.reshape((N + 1,) + alpha.shape) * w).sum(axis=-1)  # (N+1, ...)
    half = np.moveaxis(half, 0, -1)
    full = np.concatenate([half[..., :0:-1], half], axis=-1)   # J_-n^2 = J_n^2
    return np.arange(-N, N + 1), full


def pumped_iv(iv, V, vrf, f: float, weights=None, n_max: int | None = None) -> np.ndarray:
    """Pumped dc current I_dc(V) [A], Eq. 5 (Eq. 2 for a scalar ``vrf``).

    ``iv`` is called once, on the whole shifted set V + n h f / e (shape (2N + 1, len(V))).
    ``vrf`` may hold several profiles (..., X); the result then has shape (..., len(V))."""
    V = np.asarray(V, dtype=float)
    n, W = tien_gordon_weights(vrf, f, weights, n_max)
    I0 = np.asarray(iv(V[None, :] + n[:, None] * photon_voltage(f)), dtype=float)
    return W @ I0


def qp_step_weights(vrf, f: float, n_steps: int, weights=None) -> np.ndarray:
    """<J_n^2(e |V_rf(X)| / h f)>_X for n = 0..n_steps (shape (..., n_steps + 1)) [1]:
    the quasiparticle step heights relative to the unpumped gap step (Figs. 4 and 8)."""
    _, w = tien_gordon_weights(vrf, f, weights, n_max=int(n_steps))
    return w[..., int(n_steps):]


def josephson_step_amplitudes(vrf, f: float, n_steps: int, weights=None, average: str = "positionwise") -> np.ndarray:
    """Josephson (Shapiro) step amplitudes relative to I_c for n = 0..n_steps (shape (..., n_steps + 1)) [1].

    average = 'positionwise' (default, the paper's Sec. III B): <|J_n(2 e |V_rf(X)| / h f)>_X, each
        piece of the junction locks on its own.
    average = 'coherent': |<J_n(2 e |V_rf(X)| / h f) exp(-i n psi(X))>_X|, psi = arg V_rf(X): one
        Josephson phase across the junction (junctions shorter than the Josephson length).
    For a uniform drive both equal |J_n(2 e V_rf / h f)| (Eq. 3); coherent <= positionwise."""
    v, w = _profile_and_weights(vrf, weights)
    a2 = 2 * drive_parameter(v, f)
    k = np.arange(int(n_steps) + 1)
    J = jv(k[:, None], a2.reshape(1, -1)).reshape((k.size,) + a2.shape)
    if average == "positionwise":
        out = np.abs(J) @ w
    elif average == "coherent":
        psi = np.angle(v)
        out = np.abs((J * np.exp(-1j * k.reshape((-1,) + (1,) * v.ndim) * psi)) @ w)
    else:
        raise ValueError(f"average must be 'positionwise' or 'coherent', not {average!r}")
    return np.moveaxis(out, 0, -1)


# --------------------------------------------------------------------------- classical limit


def _chebyshev_nodes(m: int) -> np.ndarray:
    """sin(theta_k) at the M midpoints theta_k of (-pi/2, pi/2): Gauss-Chebyshev of the first kind."""
    return -np.cos(np.pi * (np.arange(m) + 0.5) / m)


def _product_nodes(A, w, m):
    """Nodes u_j (m + 1, equally spaced on [-A_max, A_max]) and weights W_j = int hat_j(u) dP(u) for
    the distribution P of u = A(X) sin(theta), X ~ w, theta uniform (product integration).

    P(u) = sum_x w_x [1/2 + arcsin(u/A_x)/pi] and its first moment M1(u) = -sum_x w_x sqrt(A_x^2 - u^2)/pi
    are exact, so the inverse-square-root densities at every u = +-A_x cost nothing; the only
    error is that of the piecewise-linear interpolation of I_0 between nodes, O(h^2)."""
    amax = float(np.max(A))
    u = np.linspace(-amax, amax, m + 1)
    h = u[1] - u[0]
    safe = np.where(A > 0, A, 1.0)[:, None]
    ratio = np.where(A[:, None] > 0, np.clip(u[None, :] / safe, -1.0, 1.0), np.sign(u)[None, :])
    P = 0.5 + (w @ np.arcsin(ratio)) / np.pi
    M1 = -(w @ (safe * np.sqrt(1.0 - ratio ** 2) * (A[:, None] > 0))) / np.pi
    g0, g1 = np.diff(P), np.diff(M1)
    W = np.zeros(m + 1)
    W[1:] += (g1 - u[:-1] * g0) / h          # rising half of hat j on interval j-1
    W[:-1] += (u[1:] * g0 - g1) / h          # falling half of hat j on interval j
    return u, W


def classical_nodes(A, w, m: int, method: str = "product") -> tuple[np.ndarray, np.ndarray]:
    """Nodes u and weights for <(1/pi) int g(A(X) sin theta) dtheta>_X ~ sum_j wu_j g(u_j).

    Uniform A: M-point Gauss-Chebyshev. Otherwise 'product' (product integration on M + 1
    equally spaced nodes, `_product_nodes`) or 'per_point' (Gauss-Chebyshev at every X, M len(X) nodes)."""
    A = np.asarray(A, dtype=float)
    if np.ptp(A) == 0:
        return A[0] * _chebyshev_nodes(m), np.full(m, 1.0 / m)
    if method == "per_point":
        return (A[:, None] * _chebyshev_nodes(m)[None, :]).ravel(), np.repeat(w / m, m)
    if method == "product":
        return _product_nodes(A, w, m)
    raise ValueError(f"method must be 'product' or 'per_point', not {method!r}")


def _apply_nodes(iv, V, u, wu):
    out = np.empty(V.size)
    rows = max(1, 4_000_000 // u.size)
    for i in range(0, V.size, rows):
        out[i:i + rows] = np.asarray(iv(V[i:i + rows, None] + u[None, :]), dtype=float) @ wu
    return out


def _classical_profile(iv, V, A, w, m, method, cache):
    # nodes of the profile a * s are a times those of s: drives that only rescale one shape
    # (a sweep of V_rf0) share one node set
    a = float(np.max(A))
    if a == 0:
        return np.asarray(iv(V), dtype=float)
    shape = A / a
    key = (m, method)
    if key not in cache or not np.array_equal(cache[key][0], shape):
        cache[key] = (shape,) + classical_nodes(shape, w, m, method)
    _, u, wu = cache[key]
    return _apply_nodes(iv, V, a * u, wu)


def classical_iv(iv, V, vrf, weights=None, n_nodes: int | None = None, method: str = "product",
                 rtol: float = 1e-7, max_nodes: int = 2 ** 15) -> np.ndarray:
    """Classical rf detection, Eq. 12, averaged over X: <(1/pi) int I_0(V + |V_rf(X)| sin theta) dtheta>_X [A].

    A uniform drive uses M-point Gauss-Chebyshev (exact for polynomial I_0 of degree < 2M).
    A profile uses product integration against the exact distribution of |V_rf(X)| sin theta
    on M + 1 equally spaced nodes (method 'product', cost ~ M per voltage, error O(M^-2) from
    interpolating I_0 linearly between nodes) or Gauss-Chebyshev at every X point ('per_point',
    exact for polynomials of degree < 2M, cost ~ M * len(X)). Without ``n_nodes`` M
    doubles from 256 until two results agree within rtol * max|I| or M reaches max_nodes.
    Sharp I_0 edges converge only as 1/M (a jump dI costs up to dI/(2M)).
    Several profiles (..., X) give results (..., len(V))."""
    V = np.asarray(V, dtype=float)
    v, w = _profile_and_weights(vrf, weights)
    A = np.abs(v).reshape(-1, v.shape[-1])
    cache: dict = {}

    def run(m):
        return np.stack([_classical_profile(iv, V, row, w, m, method, cache) for row in A])

    if n_nodes is not None:
        out = run(int(n_nodes))
    else:
        m = 256
        out = run(m)
        while m < max_nodes:
            m *= 2
            cur = run(m)
            done = np.max(np.abs(cur - out)) <= rtol * max(np.max(np.abs(cur)), np.finfo(float).tiny)
            out = cur
            if done:
                break
    return out.reshape(v.shape[:-1] + (V.size,)) if v.ndim > 1 else out[0]


def compare_quantum_classical(iv, V, vrf, f: float, weights=None, scale: float | None = None,
                              n_nodes: int | None = 4096) -> dict:
    """Eq. 5 (quantum) against Eq. 12 (classical) on the voltages V for one drive profile.

    Returns the two curves and their largest difference, absolute [A] and relative to ``scale``
    [A] (default: max |I_classical| over V), the measure behind the paper's 'agreement to
    better than 1%' at 5 GHz."""
    quantum = pumped_iv(iv, V, vrf, f, weights)
    classical = classical_iv(iv, V, vrf, weights, n_nodes=n_nodes)
    diff = np.max(np.abs(quantum - classical))
    scale = float(np.max(np.abs(classical))) if scale is None else float(scale)
    return {"quantum": quantum, "classical": classical, "max_abs_difference": float(diff),
            "relative_difference": float(diff / scale)}
