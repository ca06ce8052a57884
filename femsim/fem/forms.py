"""Element forms of the electro-thermal problem as small pure functions.

They work on precomputed quadrature data (see `QuadratureData` in assembly.py), in
the index order used throughout:

    e  element, q  quadrature point, i/j  local basis function, d  crystal axis
    G[e, q, i, d]   gradient of basis function i (crystal frame)
    N[q, i]         value of basis function i (identical on every element)
    dx[e, q]        quadrature weight times |det DF|

Coefficients are arrays on quadrature points: a diagonal tensor as (e, q, 3), a
scalar as (e, q). Residual forms return (e, i), bilinear forms (e, i, j); the
assembler scatters them into a fixed sparsity pattern.

The functions below take G explicitly (any mesh). `coupled_residual` and
`coupled_jacobian` go through the kernels of `QuadratureData` (qd.grad, qd.flux,
qd.conduction, qd.advection), which on affine meshes are single GEMMs with fixed
reference matrices: with G_eqid = sum_a ghat_qia T_e,ad (T_e = DF_e^-1 R),

    conduction:  K_e,ij = sum_{q,a,b} ghat_qia ghat_qjb C_e,qab,  C = dx T_e diag(s) T_e^T
    advection:   K_e,ij = sum_{q,a} ghat_qia N_qj c_e,qa,         c = dx T_e a
    flux:        r_e,i  = sum_{q,a} ghat_qia c_e,qa,              c = dx T_e F The weak forms, for basis
functions v_i (test) and u_j (trial):

    conduction(s):      int  grad v_i . s grad u_j
    advection(a):       int  (a . grad v_i) u_j
    advection_T(b):     int  v_i (b . grad u_j)
    mass(c):            int  c v_i u_j
"""

from __future__ import annotations

import numpy as np


def values(u_e, N):
    """u at quadrature points, (e, q), from element dof values u_e (e, i)."""
    return u_e @ N.T


def gradients(u_e, G):
    """grad u at quadrature points, (e, q, d).

    Taken from differences to each element's first node (the basis gradients sum to
    zero, so this is the same number in exact arithmetic): in a near-equipotential Au
    electrode at 0.8 V, or a near-isothermal sapphire block, sum_i G_i u_i would lose
    everything below eps |u| and turn it into spurious current and heat flux; the
    differences of nearby values are exact in floating point (Sterbenz)."""
    return np.einsum("ei,eqid->eqd", u_e - u_e[:, :1], G)


def flux_residual(G, flux_dx):
    """int grad v_i . F  with F dx given as (e, q, d) -> (e, i)."""
    return np.einsum("eqid,eqd->ei", G, flux_dx)


def load_residual(N, f_dx):
    """int f v_i  with f dx given as (e, q) -> (e, i)."""
    return f_dx @ N


def conduction(Gf, s_dx):
    """int grad v_i . diag(s) grad u_j  -> (e, i, j).

    Gf is G reshaped to (e, i, q*d) (`QuadratureData.Gf`), s_dx (e, q, d) the diagonal
    tensor times dx: one batched matmul, (e, i, qd) @ (e, qd, j).
    """
    ne, nb, _ = Gf.shape
    return (Gf * s_dx.reshape(ne, 1, -1)) @ Gf.transpose(0, 2, 1)


def advection(Gf, N, a_dx):
    """int (a . grad v_i) u_j -> (e, i, j); a_dx (e, q, d)."""
    ne, nb, _ = Gf.shape
    nq = N.shape[0]
    ag = (Gf * a_dx.reshape(ne, 1, -1)).reshape(ne, nb, nq, -1).sum(axis=3)  # (e, i, q)
    return ag @ N


def advection_T(Gf, N, b_dx):
    """int v_i (b . grad u_j) -> (e, i, j): the transpose of `advection`."""
    return advection(Gf, N, b_dx).transpose(0, 2, 1)


def mass(N, c_dx):
    """int c v_i u_j -> (e, i, j); c_dx (e, q)."""
    return (N.T[None, :, :] * c_dx[:, None, :]) @ N


# -- the coupled problem -----------------------------------------------------------------
#
# Residual (full, before boundary conditions), for test functions v_i:
#   R_phi,i = int grad v_i . sigma(T) grad phi - int s_phi v_i
#   R_T,i   = int grad v_i . kappa(T) grad T - int (q + s_T) v_i + int_cool h (T - T_ref) v_i,
#   q = grad phi . sigma(T) grad phi (Joule heat density).
# Jacobian blocks (d/d phi_j and d/d T_j):
#   dR_phi/dphi = conduction(sigma)
#   dR_phi/dT   = advection(sigma' grad phi)              [from d sigma/dT]
#   dR_T/dphi   = -advection_T(2 sigma grad phi)          [dq/d grad phi]
#   dR_T/dT     = conduction(kappa) + advection(kappa' grad T) - mass(grad phi . sigma' grad phi)
#                 + Robin mass h (facets, constant, added by the assembler)


def coupled_residual(qd, gphi, gT, sig, kap, s_phi=None, s_T=None):
    """Element residuals (r_phi, r_T, q) of the coupled problem, without Robin terms.

    gphi, gT: (e, q, d) gradients; sig, kap: (e, q, d) diagonal tensors at T.
    Returns r_phi (e, i), r_T (e, i) and the Joule density q (e, q).
    """
    dx = qd.dx[:, :, None]
    j = sig * gphi                        # -J (current density is -sigma grad phi)
    q = np.einsum("eqd,eqd->eq", j, gphi)
    r_phi = qd.flux(j * dx)
    r_T = qd.flux(kap * gT * dx)
    src = q if s_T is None else q + s_T
    r_T -= load_residual(qd.N, src * qd.dx)
    if s_phi is not None:
        r_phi -= load_residual(qd.N, s_phi * qd.dx)
    return r_phi, r_T, q


def coupled_jacobian(qd, gphi, gT, sig, dsig, kap, dkap, blocks=("pp", "pT", "Tp", "TT")):
    """Element Jacobian blocks {"pp", "pT", "Tp", "TT"} -> (e, i, j) arrays."""
    dx = qd.dx[:, :, None]
    out = {}
    if "pp" in blocks:
        out["pp"] = qd.conduction(sig * dx)
    if "pT" in blocks:
        out["pT"] = qd.advection(dsig * gphi * dx)
    if "Tp" in blocks:
        out["Tp"] = qd.advection(-2.0 * sig * gphi * dx, transpose=True)
    if "TT" in blocks:
        dq = np.einsum("eqd,eqd->eq", dsig * gphi, gphi)
        TT = qd.conduction_mass(kap * dx, -dq * qd.dx)
        if np.any(dkap):
            TT += qd.advection(dkap * gT * dx)
        out["TT"] = TT
    return out
