"""Precomputed quadrature data and a fixed-pattern assembler for the reduced system.

Built once per problem (QuadratureData, facet data) and once per system
configuration (DofSystem: which unknowns are free); every Newton step and bias point
then only evaluates coefficients at quadrature points, runs the element forms and
scatters into the same CSR pattern (`np.bincount` over precomputed positions). No
COO -> CSR conversion, no condense slicing (NOTES.md: slicing dominated a 3e5-node
Newton step).

Reduced unknowns z: free potentials, then the potentials U of "bias" and "floating"
electrodes (every node of such an electrode maps to its U: the reduced matrix is
P^T J P for the prolongation P that copies U to those nodes, so the U row is the sum
of the electrode's node rows = d(current into the domain)/dz), then free
temperatures. Dirichlet values (ground/fixed electrodes, baths, or everything that is
switched off) are held in `fixed`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from skfem import Basis
from skfem.assembly import Dofs
from skfem.quadrature import get_quadrature
from skfem.element import ElementHex1, ElementTetP1

from ..cooling import as_law
from ..materials import is_insulator
from . import forms
from .linalg import Layout
from .problem import Problem, boundary_names


def default_element(mesh):
    """Q1 hexahedra / P1 tetrahedra with the quadrature the notes recommend."""
    name = type(mesh).__name__
    if name.startswith("MeshHex"):
        # intorder 3 = 2x2x2 Gauss: exact for the Q1 stiffness on boxes, ~7x cheaper
        # than the default 64-point rule (NOTES.md)
        return ElementHex1(), 3
    if name.startswith("MeshTet"):
        return ElementTetP1(), 2
    raise TypeError(f"no default element for {name}; pass Problem.element and intorder")


def _rotation(problem, name):
    R = problem.rotations.get(name)
    return None if R is None else np.asarray(R, dtype=float)


@dataclass
class MaterialGroup:
    name: str
    material: object
    sl: slice            # elements of this material in the permuted order
    rotation: np.ndarray | None
    insulator: bool = False  # excluded from the electric problem (sigma = 0)
    ideal: bool = False      # an ideal conductor merged into an electrode (no electric terms)


class QuadratureData:
    """Per-element quadrature data in an element order grouped by material.

    N (q, i) basis values, dx (e, q) weights, edofs (e, i) global dofs, order (e,) the mesh
    element index of each row, and the element kernels `grad`, `flux`, `conduction`,
    `advection` (gradients in each material's crystal frame) that the forms use.

    Affine meshes (boxes from ``init_tensor``, parallelepipeds, P1 tetrahedra) take the
    fast path: each element's gradients are the reference gradients ghat (q, i, a) times
    one 3x3 matrix T_e = DF_e^-1 R (R the material's rotation), so a kernel is one dense
    GEMM of per-element quadrature coefficients with a fixed reference matrix (e.g. the
    conduction matrix is C (e, q*3) @ M (q*3, i*j) for axis-aligned boxes), and no
    per-element gradient arrays are stored (~0.8 GB saved per 1e5 hexahedra, 5x faster
    assembly). Other meshes keep G (e, q, i, d) and Gf (e, i, q*d). ``G`` exists on both
    (built on first use on the affine path).
    """

    def __init__(self, problem: Problem, affine: bool | None = None):
        mesh = problem.mesh
        elem, intorder = default_element(mesh)
        if problem.element is not None:
            elem = problem.element
        if problem.intorder is not None:
            intorder = problem.intorder
        self.mesh, self.elem, self.intorder = mesh, elem, intorder
        self._basis = None
        dofs = Dofs(mesh, elem)
        self.dofs = dofs
        self.ndofs = dofs.N
        self.nvertices = mesh.nvertices
        subs = mesh.subdomains
        order, groups, start = [], [], 0
        ideal = {r for e in problem.electrodes for r in e.regions}
        for name, mat in problem.materials.items():
            els = np.sort(np.asarray(subs[name], dtype=np.int64))
            order.append(els)
            groups.append(MaterialGroup(name, mat, slice(start, start + els.size), _rotation(problem, name),
                                        is_insulator(mat), name in ideal))
            start += els.size
        self.order = np.concatenate(order)
        self.groups = groups
        self.element_dofs = dofs.element_dofs
        nb = self.element_dofs.shape[0]
        self.edofs = np.ascontiguousarray(self.element_dofs[:, self.order].T)
        X, W = get_quadrature(mesh.refdom, intorder)
        self.X, self.W = X, W
        self.N = np.ascontiguousarray(np.stack([elem.lbasis(X, i)[0] for i in range(nb)], axis=-1))  # (q, i)
        self.ghat = np.ascontiguousarray(np.stack([elem.lbasis(X, i)[1].T for i in range(nb)], axis=1))  # (q,i,a)
        ne, nq = self.order.size, X.shape[1]
        self.ne, self.nq, self.nb = ne, nq, nb
        Te = self._affine_transforms() if affine is not False else None
        if affine and Te is None:
            raise ValueError("the mesh is not affine")
        self.affine = Te is not None
        self._G = self._Gf = None
        if self.affine:
            self.dx = np.ascontiguousarray(self._detDF[self.order][:, None] * W[None, :])
            for g in groups:
                if g.rotation is not None:
                    Te[g.sl] = Te[g.sl] @ g.rotation
            # axis-aligned boxes: T_e = P S_e with one signed permutation P of the reference
            # axes for all elements and S_e diagonal; fold P into ghat, keep S_e
            P = np.zeros((3, 3))
            cols = np.abs(Te[0]).argmax(axis=0)
            P[cols, np.arange(3)] = np.sign(Te[0][cols, np.arange(3)])
            S = np.matmul(P.T, Te)
            off = np.abs(S - S * np.eye(3)[None]).max(axis=(1, 2))
            self.diagonal = bool(len(set(cols)) == 3 and np.all(off <= 1e-13 * np.abs(S).max(axis=(1, 2))))
            if self.diagonal:
                self.ghat = np.ascontiguousarray(self.ghat @ P)
                Te = S * np.eye(3)[None]
            self.Te = Te
            self._build_reference_matrices()
        else:
            basis = self.basis
            # (i, d, e, q) -> (e, q, i, d)
            G = np.stack([basis.basis[i][0].grad for i in range(nb)])[:, :, self.order, :]
            G = np.ascontiguousarray(G.transpose(2, 3, 0, 1))
            for g in groups:
                if g.rotation is not None:
                    # crystal components of a gradient: g_c = R^T g_lab, i.e. g_lab^T R
                    G[g.sl] = G[g.sl] @ g.rotation
            self._G = G
            self._Gf = np.ascontiguousarray(G.transpose(0, 2, 1, 3)).reshape(ne, nb, nq * 3)
            Nb = np.stack([np.asarray(basis.basis[i][0]) for i in range(nb)], axis=-1)  # (e, q, i)
            if not np.allclose(Nb, self.N[None], rtol=0, atol=1e-14):
                raise NotImplementedError("basis values differ between elements")
            self.dx = np.ascontiguousarray(basis.dx[self.order])
        # An insulator (sapphire: rho ~ 1e12 Ohm m beside Au at 1e-10) would put a 1e20
        # conductivity contrast into the potential equation and a roundoff floor of ~1e-8
        # under its residual; it carries no current, so phi is solved only on nodes of
        # conducting elements.
        conducting = np.ones(ne, dtype=bool)
        for g in groups:
            conducting[g.sl] = not g.insulator
        self.conducting_dofs = np.unique(self.edofs[conducting])
        self._xq = None
        self._facet_cache = {}
        # regions: "all", every mesh subdomain
        self.regions = {"all": np.arange(ne)}
        inv = np.empty(mesh.nelements, dtype=np.int64)
        inv[self.order] = np.arange(ne)
        for name, els in (subs or {}).items():
            self.regions[name] = np.sort(inv[np.asarray(els, dtype=np.int64)])
        self.region_volume = {k: float(self.dx[v].sum()) for k, v in self.regions.items()}
        self.region_dofs = {k: np.unique(self.edofs[v]) for k, v in self.regions.items()}

    # -- geometry ------------------------------------------------------------------------
    @property
    def basis(self):
        """scikit-fem CellBasis of the mesh (built on first use on the affine path)."""
        if self._basis is None:
            self._basis = Basis(self.mesh, self.elem, intorder=self.intorder)
        return self._basis

    def _affine_transforms(self, chunk=50_000, tol=1e-12):
        """T_e = DF_e^-1 (e, 3, 3) in the permuted order if every element's map is affine
        (DF the same at every quadrature point to tol), else None. Sets _detDF (mesh order)."""
        mesh, X = self.mesh, self.X
        try:
            mp = mesh.mapping()
        except Exception:  # pragma: no cover - meshes without a mapping
            return None
        nt = mesh.nelements
        inv = np.empty((nt, 3, 3))
        det = np.empty(nt)
        for a in range(0, nt, chunk):
            t = np.arange(a, min(nt, a + chunk))
            DF = mp.DF(X, tind=t)                                   # (3, 3, e, q)
            scale = np.abs(DF).max(axis=(0, 1, 3))
            if np.any(np.abs(DF - DF[..., :1]).max(axis=(0, 1, 3)) > tol * scale):
                return None
            D0 = DF[..., 0].transpose(2, 0, 1)                      # (e, 3, 3)
            inv[t] = np.linalg.inv(D0)
            det[t] = np.abs(np.linalg.det(D0))
        self._detDF = det
        return np.ascontiguousarray(inv[self.order])

    def _build_reference_matrices(self):
        """Fixed reference matrices of the affine kernels (module docstring of forms)."""
        gh, N = self.ghat, self.N                                   # (q, i, a), (q, i)
        nq, nb = N.shape
        self.R_grad = np.ascontiguousarray(gh.transpose(1, 0, 2).reshape(nb, nq * 3))   # (i, q*a)
        self.R_flux = np.ascontiguousarray(self.R_grad.T)                                # (q*a, i)
        # conduction, diagonal T_e: M[(q, a), (i, j)] = gh_qia gh_qja
        self.R_cond_diag = np.einsum("qia,qja->qaij", gh, gh).reshape(nq * 3, nb * nb)
        # conduction, full T_e: 6 symmetric pairs (a <= b), off-diagonal pairs both ways
        pairs = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)]
        M = np.empty((nq, 6, nb, nb))
        for k, (a, b) in enumerate(pairs):
            M[:, k] = np.einsum("qi,qj->qij", gh[:, :, a], gh[:, :, b])
            if a != b:
                M[:, k] += np.einsum("qi,qj->qij", gh[:, :, b], gh[:, :, a])
        self._pairs = pairs
        self.R_cond_full = M.reshape(nq * 6, nb * nb)
        # advection: M[(q, a), (i, j)] = gh_qia N_qj, and its transpose in (i, j)
        self.R_adv = np.einsum("qia,qj->qaij", gh, N).reshape(nq * 3, nb * nb)
        self.R_advT = np.einsum("qja,qi->qaij", gh, N).reshape(nq * 3, nb * nb)
        # mass: M[q, (i, j)] = N_qi N_qj
        self.R_mass = np.einsum("qi,qj->qij", N, N).reshape(nq, nb * nb)
        # heat block of box elements in one GEMM: conduction (q*3 rows) then mass (q rows)
        self.R_cond_mass = np.vstack([self.R_cond_diag, self.R_mass])

    @property
    def G(self):
        """Basis gradients (e, q, i, d) in the crystal frame (materialised on first use on
        the affine path: prefer the kernels, which do not need it)."""
        if self._G is None:
            if self.diagonal:
                G = self.ghat[None, :, :, :] * self.Te.diagonal(axis1=1, axis2=2)[:, None, None, :]
            else:
                G = np.einsum("qia,ead->eqid", self.ghat, self.Te)
            self._G = np.ascontiguousarray(G)
        return self._G

    @property
    def Gf(self):
        if self._Gf is None:
            G = self.G
            self._Gf = np.ascontiguousarray(G.transpose(0, 2, 1, 3)).reshape(self.ne, self.nb, self.nq * 3)
        return self._Gf

    # -- element kernels -----------------------------------------------------------------
    def _to_ref(self, v):
        """(e, q, d) crystal-frame vectors -> (e, q*a) reference components T_e v."""
        if self.diagonal:
            out = v * self.Te.diagonal(axis1=1, axis2=2)[:, None, :]
        else:
            out = np.matmul(v, self.Te.transpose(0, 2, 1))          # (e, q, d) @ (e, d, a)
        return out.reshape(self.ne, -1)

    def grad(self, u_e):
        """grad u at quadrature points (e, q, d) from element dof values u_e (e, i).

        From differences to each element's first node (the basis gradients sum to zero,
        so this is the same number in exact arithmetic; see forms.gradients)."""
        if not self.affine:
            return forms.gradients(u_e, self._G)
        gX = ((u_e - u_e[:, :1]) @ self.R_grad).reshape(self.ne, self.nq, 3)   # reference
        if self.diagonal:
            return gX * self.Te.diagonal(axis1=1, axis2=2)[:, None, :]
        return np.matmul(gX, self.Te)

    def flux(self, F_dx):
        """int grad v_i . F  with F dx given as (e, q, d) -> (e, i)."""
        if not self.affine:
            return forms.flux_residual(self._G, F_dx)
        return self._to_ref(F_dx) @ self.R_flux

    def conduction(self, s_dx):
        """int grad v_i . diag(s) grad u_j, s dx given as (e, q, d) -> (e, i, j)."""
        if not self.affine:
            return forms.conduction(self._Gf, s_dx)
        ne, nb = self.ne, self.nb
        if self.diagonal:
            t2 = self.Te.diagonal(axis1=1, axis2=2) ** 2
            return ((s_dx * t2[:, None, :]).reshape(ne, -1) @ self.R_cond_diag).reshape(ne, nb, nb)
        Te = self.Te
        C = np.stack([np.einsum("ed,eqd->eq", Te[:, a, :] * Te[:, b, :], s_dx) for a, b in self._pairs], axis=2)
        return (C.reshape(ne, -1) @ self.R_cond_full).reshape(ne, nb, nb)

    def advection(self, a_dx, transpose=False):
        """int (a . grad v_i) u_j, a dx given as (e, q, d) -> (e, i, j); transpose=True:
        int v_i (a . grad u_j) (contiguous, no copy)."""
        if not self.affine:
            K = forms.advection(self._Gf, self.N, a_dx)
            return np.ascontiguousarray(K.transpose(0, 2, 1)) if transpose else K
        R = self.R_advT if transpose else self.R_adv
        return (self._to_ref(a_dx) @ R).reshape(self.ne, self.nb, self.nb)

    def mass(self, c_dx):
        """int c v_i u_j, c dx given as (e, q) -> (e, i, j)."""
        if not self.affine:
            return forms.mass(self.N, c_dx)
        return (c_dx @ self.R_mass).reshape(self.ne, self.nb, self.nb)

    def conduction_mass(self, s_dx, c_dx):
        """conduction(s_dx) + mass(c_dx) (one GEMM on axis-aligned boxes)."""
        if not (self.affine and self.diagonal):
            return self.conduction(s_dx) + self.mass(c_dx)
        ne, nb = self.ne, self.nb
        t2 = self.Te.diagonal(axis1=1, axis2=2) ** 2
        C = np.concatenate([(s_dx * t2[:, None, :]).reshape(ne, -1), c_dx], axis=1)
        return (C @ self.R_cond_mass).reshape(ne, nb, nb)

    @property
    def xq(self):
        """Quadrature point coordinates (3, e, q) in the permuted element order."""
        if self._xq is None:
            if self.affine:
                self._xq = np.asarray(self.mesh.mapping().F(self.X, tind=self.order))
            else:
                self._xq = np.asarray(self.basis.global_coordinates())[:, self.order, :]
        return self._xq

    def material_fields(self, Tq):
        """sigma, dsigma/dT, kappa, dkappa/dT at quadrature points, each (e, q, 3)."""
        shape = Tq.shape + (3,)
        sig, dsig = np.empty(shape), np.empty(shape)
        kap, dkap = np.empty(shape), np.empty(shape)
        for g in self.groups:
            T = Tq[g.sl]
            m = g.material
            # an ideal conductor's nodes share one potential: its terms vanish in the
            # residual, but in the Jacobian they would only cancel up to eps sigma
            no_current = g.insulator or g.ideal
            if no_current:
                sig[g.sl], dsig[g.sl] = 0.0, 0.0
            for lo, hi, rho in (() if no_current else ((0, 2, m.rho_ab), (2, 3, m.rho_c))):
                r = rho(T)
                s = 1.0 / r
                sig[g.sl, :, lo:hi] = s[..., None]
                dsig[g.sl, :, lo:hi] = (-rho.derivative(T) * s * s)[..., None]
            for lo, hi, k in ((0, 2, m.kappa_ab), (2, 3, m.kappa_c)):
                kap[g.sl, :, lo:hi] = k(T)[..., None]
                dkap[g.sl, :, lo:hi] = k.derivative(T)[..., None]
        return sig, dsig, kap, dkap

    def to_lab(self, v):
        """Rotate per-element crystal-frame vectors (e, ..., 3) back to mesh axes."""
        out = v.copy()
        for g in self.groups:
            if g.rotation is not None:
                out[g.sl] = v[g.sl] @ g.rotation.T
        return out

    def facet_quadrature(self, facets):
        """Basis values and surface weights on ``facets`` without an inverse mapping.

        scikit-fem's FacetBasis locates facet quadrature points by a Newton inversion of
        the isoparametric map with an absolute tolerance of 1e-12, which fails for thin
        elements far from the origin (NOTES.md). Here the points are put on the known
        face of the reference element of the adjacent cell instead, so nothing is
        inverted. Returns element dofs (f, i), values V (f, i, q), weights dA (f, q).
        """
        mesh, elem = self.mesh, self.elem
        facets = np.asarray(facets, dtype=np.int64)
        cells = mesh.f2t[0, facets]
        local = np.argmax(mesh.t2f[:, cells] == facets[None, :], axis=0)
        ref, bref = mesh.refdom, mesh.brefdom
        Xb, Wb = get_quadrature(bref, self.intorder)
        belem = mesh.bndelem
        nfv = len(ref.facets[0])
        phib = np.array([belem.lbasis(Xb, j)[0] for j in range(nfv)])        # (j, q)
        dphib = np.array([belem.lbasis(Xb, j)[1] for j in range(nfv)])       # (j, 2, q)
        gelem = mesh.elem()                                                 # geometry element
        ngeo = mesh.t.shape[0]
        nb = self.nb
        Vk, DFk_basis, dXk = [], [], []
        for k in range(len(ref.facets)):
            P = ref.p[:, ref.facets[k]]                                      # (3, j)
            X = P @ phib                                                     # (3, q)
            dXk.append(np.einsum("dj,jaq->daq", P, dphib))                   # (3, 2, q)
            Vk.append(np.array([elem.lbasis(X, i)[0] for i in range(nb)]))   # (i, q)
            DFk_basis.append(np.array([gelem.lbasis(X, i)[1] for i in range(ngeo)]))  # (g, 3, q)
        Vk, DFk_basis, dXk = np.array(Vk), np.array(DFk_basis), np.array(dXk)
        xe = mesh.p[:, mesh.t[:, cells]]                                     # (3, g, f)
        # DF (f, 3, 3, q) = sum_g x_g (outer) dphi_g ; tangents T_a = DF dX/ds_a
        DF = np.einsum("dgf,fgeq->fdeq", xe, DFk_basis[local])
        T = np.einsum("fdeq,feaq->fdaq", DF, dXk[local])
        dA = np.linalg.norm(np.cross(T[:, :, 0, :], T[:, :, 1, :], axis=1), axis=1) * Wb[None, :]
        ed = self.element_dofs[:, cells].T                                   # (f, i)
        return ed, Vk[local], dA

    def facet_data(self, names):
        """For facet set(s) ``names``: (dofs, area, m, M) with m_i = int v_i dA and the
        facet mass matrix M_ij = int v_i v_j dA (CSR, ndofs x ndofs)."""
        key = boundary_names(names)
        if key in self._facet_cache:
            return self._facet_cache[key]
        mesh = self.mesh
        facets = np.unique(np.concatenate([np.asarray(mesh.boundaries[n]) for n in key]))
        ed, V, dA = self.facet_quadrature(facets)
        m = np.bincount(ed.ravel(), np.einsum("fiq,fq->fi", V, dA).ravel(), minlength=self.ndofs)
        Me = np.einsum("fiq,fjq,fq->fij", V, V, dA)
        rows = np.broadcast_to(ed[:, :, None], Me.shape).ravel()
        cols = np.broadcast_to(ed[:, None, :], Me.shape).ravel()
        M = sp.coo_matrix((Me.ravel(), (rows, cols)), shape=(self.ndofs, self.ndofs)).tocsr()
        M.eliminate_zeros()
        dofs = np.unique(self.dofs.get_facet_dofs(facets).all())
        out = (dofs, float(dA.sum()), m, M)
        self._facet_cache[key] = out
        return out


class DofSystem:
    """Free/fixed split, reduced numbering and fixed CSR pattern of one configuration.

    electrical: potentials solved (else phi fixed, to ``phi_fixed`` or 0);
    thermal: temperatures solved (else T fixed, to ``T_fixed``: scalar or nodal array).
    """

    def __init__(self, qd: QuadratureData, problem: Problem, electrical=True, thermal=True,
                 T_fixed=None, phi_fixed=None):
        self.qd, self.problem = qd, problem
        self.electrical = electrical and bool(problem.electrodes)
        self.thermal = thermal
        N = qd.ndofs
        self.N = N
        red = np.full(2 * N, -1, dtype=np.int64)
        fixed = np.zeros(2 * N)
        owner = np.full(N, -1, dtype=np.int64)  # which electrode a node belongs to
        self.electrode_dofs = {}
        self.u_index = {}
        self.u_bias = None
        # -- potentials --------------------------------------------------------------
        if self.electrical:
            for k, e in enumerate(problem.electrodes):
                dofs, _, _, _ = qd.facet_data(e.boundary)
                if e.regions:   # ideal conductors: all their nodes on the electrode's potential
                    dofs = np.union1d(dofs, np.concatenate([qd.region_dofs[r] for r in e.regions]))
                clash = owner[dofs] >= 0
                if np.any(clash):
                    other = problem.electrodes[owner[dofs][clash][0]].label
                    raise ValueError(f"electrodes {other!r} and {e.label!r} share nodes")
                owner[dofs] = k
                self.electrode_dofs[e.label] = dofs
            # nodes that touch only insulators are not unknowns (phi = 0 there, no current)
            active = np.zeros(N, dtype=bool)
            active[qd.conducting_dofs] = True
            free_phi = np.nonzero((owner < 0) & active)[0]
            red[free_phi] = np.arange(free_phi.size)
            n = free_phi.size
            for k, e in enumerate(problem.electrodes):
                dofs = self.electrode_dofs[e.label]
                if e.role in ("bias", "floating"):
                    red[dofs] = n
                    self.u_index[e.label] = n
                    if e.role == "bias":
                        self.u_bias = n
                    n += 1
                else:
                    fixed[dofs] = e.potential if e.role == "fixed" else 0.0
            self.n_phi = n
        else:
            if phi_fixed is not None:
                fixed[:N] = phi_fixed
            self.n_phi = 0
        # -- temperatures --------------------------------------------------------------
        self.bath_dofs = {}
        if thermal:
            Tset = np.full(N, np.nan)
            for b in problem.baths:
                dofs, _, _, _ = qd.facet_data(b.boundary)
                Tb = problem.T_bath if b.T is None else b.T
                prev = Tset[dofs]
                if np.any(np.isfinite(prev) & (prev != Tb)):
                    raise ValueError(f"bath {b.boundary!r} at {Tb} K shares nodes with a bath "
                                     "at another temperature")
                Tset[dofs] = Tb
                # a node shared by two baths is counted in the first one's heat flow
                self.bath_dofs[b.boundary] = dofs[np.isnan(prev)]
            is_fixed = np.isfinite(Tset)
            free_T = np.nonzero(~is_fixed)[0]
            red[N + free_T] = self.n_phi + np.arange(free_T.size)
            fixed[N:][is_fixed] = Tset[is_fixed]
            self.n = self.n_phi + free_T.size
        else:
            fixed[N:] = problem.T_bath if T_fixed is None else T_fixed
            self.n = self.n_phi
        self.red, self.fixed = red, fixed
        self.free = red >= 0
        self.phi_rows = np.zeros(self.n, dtype=bool)
        self.phi_rows[:self.n_phi] = True
        if self.u_bias is not None:
            self.phi_rows[self.u_bias] = False  # the bias row is scaled on its own
        self.T_rows = np.zeros(self.n, dtype=bool)
        self.T_rows[self.n_phi:] = True
        self._build_pattern()
        self._build_robin()
        self.rows = np.repeat(np.arange(self.n, dtype=np.int32), np.diff(self.indptr))
        self.linear_solve = None          # set by the solver
        self.t_solve = self.t_assemble = 0.0
        self.n_solve = 0

    @property
    def layout(self) -> Layout:
        """Block structure for the linear solvers (potential rows, temperature rows, bias row)."""
        return Layout(self.n, self.n_phi, self.u_bias)

    # -- pattern and scatter positions ---------------------------------------------------
    @staticmethod
    def _sorted_unique(keys):
        """Sorted unique int64 keys (sort-based: numpy's hash-based np.unique was ~10x
        slower here)."""
        keys = np.sort(keys)
        keep = np.empty(keys.size, dtype=bool)
        keep[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=keep[1:])
        return keys[keep]

    def _build_pattern(self):
        """Two-level pattern: element entries -> node pairs (shared by the four blocks),
        node pairs -> reduced CSR positions per block. Scattering is two bincounts; the
        index arrays take ~1/4 of the memory of per-block element-to-CSR positions."""
        qd, n, N = self.qd, self.n, self.N
        self.blocks = [blk for blk in ("pp", "pT", "Tp", "TT")
                       if (blk[0] == "p" and self.electrical or blk[0] == "T" and self.thermal)
                       and (blk[1] == "p" and self.electrical or blk[1] == "T" and self.thermal)]
        nb = qd.nb
        ed = qd.edofs.astype(np.int64)
        ekeys = (ed[:, :, None] * N + ed[:, None, :]).ravel()           # node pairs (e, i, j)
        nkeys = self._sorted_unique(ekeys)
        idx = np.int32 if nkeys.size < 2**31 - 1 else np.int64
        self.node_pos = np.searchsorted(nkeys, ekeys).astype(idx)        # element entry -> node pair
        del ekeys
        self.nnz_node = nkeys.size
        na, nbb = nkeys // N, nkeys % N                                  # node pair (a, b)
        del nkeys
        off = {"p": 0, "T": N}
        rk = {}
        for blk in self.blocks:
            r = self.red[na + off[blk[0]]]
            c = self.red[nbb + off[blk[1]]]
            ok = (r >= 0) & (c >= 0)
            rk[blk] = (r * n + c, ok)
        allk = self._sorted_unique(np.concatenate([k[ok] for k, ok in rk.values()] + [np.arange(n) * (n + 1)]))
        self.nnz = allk.size
        idx = np.int32 if self.nnz < 2**31 - 1 else np.int64
        self.node_map = {}
        for blk, (k, ok) in rk.items():
            p = np.full(k.size, self.nnz, dtype=idx)   # dropped (Dirichlet) -> overflow bin
            p[ok] = np.searchsorted(allk, k[ok])
            self.node_map[blk] = p
        del rk, na, nbb
        rows = allk // n
        self.indices = (allk % n).astype(np.int32)
        self.indptr = np.searchsorted(rows, np.arange(n + 1)).astype(np.int32)
        del rows
        self.diag_pos = np.searchsorted(allk, np.arange(n) * (n + 1))
        _ = nb

    @property
    def _keys(self):
        """Sorted keys row * n + col of the pattern (recomputed: only set-up code uses them)."""
        rows = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.indptr))
        return rows * self.n + self.indices

    @property
    def pos(self):
        """Element entry (e, i, j) -> reduced CSR position per block (nnz where dropped);
        built on demand (the scatter uses node_pos and node_map)."""
        return {blk: self.node_map[blk][self.node_pos] for blk in self.blocks}

    def positions(self, rows, cols):
        """Positions of reduced (rows, cols) in the data array (nnz where dropped)."""
        ok = (rows >= 0) & (cols >= 0)
        p = np.full(rows.size, self.nnz, dtype=np.int64)
        k = rows[ok] * self.n + cols[ok]
        keys = self._keys
        p[ok] = np.searchsorted(keys, k)
        if np.any(keys[np.minimum(p[ok], self.nnz - 1)] != k):
            raise RuntimeError("entry outside the element sparsity pattern")
        return p

    def _build_robin(self):
        """Constant Robin (Newton cooling) terms: the residual is M_h (T - T_bath) - b_h."""
        qd, N = self.qd, self.N
        self.M_h = sp.csr_matrix((N, N))
        self.b_h = np.zeros(N)
        self.cool_groups = []
        self.cool_laws = []     # temperature-dependent cooling: residual M q(T), Jacobian M diag(q'(T))
        for c in self.problem.coolings:
            dofs, area, m, M = qd.facet_data(c.boundary)
            Tref = self.problem.T_bath if c.T_ref is None else c.T_ref
            self.cool_groups.append((c, m, Tref, area))
            law = as_law(c.h)
            if law is not None:
                # q interpolated nodally (product approximation): exact for a constant h, and
                # residual and Jacobian stay on the facet mass matrix's pattern
                Mc = sp.coo_matrix(M)
                pos = (self.positions(self.red[N + Mc.row], self.red[N + Mc.col]) if self.thermal
                       else np.full(Mc.nnz, self.nnz, dtype=np.int64))
                self.cool_laws.append((law, sp.csr_matrix(M), Tref, Mc.col, Mc.data, pos))
                continue
            self.M_h = self.M_h + c.h * M
            # relative to T_bath, so that T = T_bath = T_ref gives exactly zero
            self.b_h += c.h * (Tref - self.problem.T_bath) * m
        # stored sparse (positions, values): a full nnz-long array would be mostly zeros
        self.robin_pos = np.zeros(0, dtype=np.int64)
        self.robin_val = np.zeros(0)
        if self.thermal and self.M_h.nnz:
            M = self.M_h.tocoo()
            p = self.positions(self.red[N + M.row], self.red[N + M.col])
            ok = p < self.nnz
            pos, inv = np.unique(p[ok], return_inverse=True)
            self.robin_pos = pos
            self.robin_val = np.bincount(inv, M.data[ok], minlength=pos.size)

    def robin_nonlinear(self, T):
        """Residual of the temperature-dependent cooling laws, sum over groups of M q(T) [W]
        (full node numbering; zeros when there are none)."""
        r = np.zeros(self.N)
        for law, M, Tref, _, _, _ in self.cool_laws:
            r += M @ law.flux(T, Tref)
        return r

    def add_robin_jacobian(self, data, T):
        """data += d(robin_nonlinear)/dT: entry (i, j) of M times q'(T_j)."""
        for law, _, Tref, cols, vals, pos in self.cool_laws:
            ok = pos < self.nnz
            np.add.at(data, pos[ok], (vals * law.dflux(T, Tref)[cols])[ok])
        return data

    def cooling_heat(self, group, T) -> float:
        """Heat [W] leaving through one entry of cool_groups at nodal temperatures T."""
        c, m, Tref, _ = group
        law = as_law(c.h)
        return float(c.h * (m @ (T - Tref))) if law is None else float(m @ law.flux(T, Tref))

    @property
    def robin_data(self):
        """The Robin terms as a full CSR data array."""
        d = np.zeros(self.nnz)
        d[self.robin_pos] = self.robin_val
        return d

    # -- vectors -------------------------------------------------------------------------
    def expand(self, z):
        """Full (phi, T) nodal arrays from reduced unknowns z."""
        x = self.fixed.copy()
        x[self.free] = z[self.red[self.free]]
        return x[:self.N], x[self.N:]

    def expand_direction(self, dz):
        """Full nodal (dphi, dT) of a reduced direction (fixed values do not move)."""
        x = np.zeros(2 * self.N)
        x[self.free] = dz[self.red[self.free]]
        return x[:self.N], x[self.N:]

    def restrict(self, phi, T):
        """Reduced z from full nodal arrays (electrode U taken from its first node)."""
        x = np.concatenate([phi, T])
        z = np.zeros(self.n)
        z[self.red[self.free]] = x[self.free]
        return z

    def reduce(self, R_full):
        """Sum full residual entries into reduced rows (electrode rows add up)."""
        return np.bincount(self.red[self.free], R_full[self.free], minlength=self.n)

    def scatter(self, Ke):
        """CSR data from element blocks {"pp": (e,i,j), ...} plus the Robin terms."""
        data = np.zeros(self.nnz)
        data[self.robin_pos] = self.robin_val
        for blk in self.blocks:
            if blk in Ke:
                self.add_block(data, blk, Ke[blk])
        return data

    def add_block(self, data, blk, K):
        """data += the scatter of element block ``blk`` (e, i, j)."""
        node = np.bincount(self.node_pos, K.ravel(), minlength=self.nnz_node)
        data += np.bincount(self.node_map[blk], node, minlength=self.nnz + 1)[:self.nnz]
        return data

    def matrix(self, data):
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))
