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
from skfem.quadrature import get_quadrature
from skfem.element import ElementHex1, ElementTetP1

from ..materials import is_insulator
from .linalg import Layout
from .problem import Problem, _names


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


class QuadratureData:
    """Per-element quadrature data in an element order grouped by material.

    G (e, q, i, d) gradients in the crystal frame, Gf (e, i, q*d) the same reshaped for
    batched matmuls, N (q, i), dx (e, q), edofs (e, i) global dofs, order (e,) the
    mesh element index of each row.
    """

    def __init__(self, problem: Problem):
        mesh = problem.mesh
        elem, intorder = default_element(mesh)
        if problem.element is not None:
            elem = problem.element
        if problem.intorder is not None:
            intorder = problem.intorder
        self.mesh, self.elem, self.intorder = mesh, elem, intorder
        basis = Basis(mesh, elem, intorder=intorder)
        self.basis = basis
        self.ndofs = basis.N
        self.nvertices = mesh.nvertices
        subs = mesh.subdomains
        order, groups, start = [], [], 0
        for name, mat in problem.materials.items():
            els = np.sort(np.asarray(subs[name], dtype=np.int64))
            order.append(els)
            groups.append(MaterialGroup(name, mat, slice(start, start + els.size), _rotation(problem, name),
                                        is_insulator(mat)))
            start += els.size
        self.order = np.concatenate(order)
        self.groups = groups
        nb = basis.Nbfun
        # (i, d, e, q) -> (e, q, i, d)
        G = np.stack([basis.basis[i][0].grad for i in range(nb)])[:, :, self.order, :]
        G = np.ascontiguousarray(G.transpose(2, 3, 0, 1))
        for g in groups:
            if g.rotation is not None:
                # crystal components of a gradient: g_c = R^T g_lab, i.e. g_lab^T R
                G[g.sl] = G[g.sl] @ g.rotation
        self.G = G
        ne, nq = G.shape[0], G.shape[1]
        self.Gf = np.ascontiguousarray(G.transpose(0, 2, 1, 3)).reshape(ne, nb, nq * 3)
        N = np.stack([np.asarray(basis.basis[i][0]) for i in range(nb)], axis=-1)  # (e, q, i)
        if not np.allclose(N, N[:1], rtol=0, atol=1e-14):
            raise NotImplementedError("basis values differ between elements")
        self.N = np.ascontiguousarray(N[0])
        self.dx = np.ascontiguousarray(basis.dx[self.order])
        self.edofs = np.ascontiguousarray(basis.element_dofs[:, self.order].T)
        # An insulator (sapphire: rho ~ 1e12 Ohm m beside Au at 1e-10) would put a 1e20
        # conductivity contrast into the potential equation and a roundoff floor of ~1e-8
        # under its residual; it carries no current, so phi is solved only on nodes of
        # conducting elements.
        conducting = np.ones(G.shape[0], dtype=bool)
        for g in groups:
            conducting[g.sl] = not g.insulator
        self.conducting_dofs = np.unique(self.edofs[conducting])
        self.ne, self.nq, self.nb = ne, nq, nb
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

    @property
    def xq(self):
        """Quadrature point coordinates (3, e, q) in the permuted element order."""
        if self._xq is None:
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
            if g.insulator:
                sig[g.sl], dsig[g.sl] = 0.0, 0.0
            for lo, hi, rho in (() if g.insulator else ((0, 2, m.rho_ab), (2, 3, m.rho_c))):
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
        ed = self.basis.element_dofs[:, cells].T                             # (f, i)
        return ed, Vk[local], dA

    def facet_data(self, names):
        """For facet set(s) ``names``: (dofs, area, m, M) with m_i = int v_i dA and the
        facet mass matrix M_ij = int v_i v_j dA (CSR, ndofs x ndofs)."""
        key = _names(names)
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
        dofs = np.unique(self.basis.get_dofs(facets).all())
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
    def _block_rows_cols(self, a, b):
        qd = self.qd
        ra = self.red[qd.edofs + (0 if a == "p" else self.N)]
        rb = self.red[qd.edofs + (0 if b == "p" else self.N)]
        rows = np.broadcast_to(ra[:, :, None], (qd.ne, qd.nb, qd.nb))
        cols = np.broadcast_to(rb[:, None, :], (qd.ne, qd.nb, qd.nb))
        return rows.ravel(), cols.ravel()

    def _build_pattern(self):
        n = self.n
        self.blocks = [blk for blk in ("pp", "pT", "Tp", "TT")
                       if (blk[0] == "p" and self.electrical or blk[0] == "T" and self.thermal)
                       and (blk[1] == "p" and self.electrical or blk[1] == "T" and self.thermal)]
        keys = {}
        for blk in self.blocks:
            r, c = self._block_rows_cols(blk[0], blk[1])
            ok = (r >= 0) & (c >= 0)
            keys[blk] = (r * n + c, ok)
        allk = np.sort(np.concatenate([k[ok] for k, ok in keys.values()] + [np.arange(n) * (n + 1)]))
        # sort-based unique: numpy's hash-based np.unique was ~10x slower here
        keep = np.empty(allk.size, dtype=bool)
        keep[0] = True
        np.not_equal(allk[1:], allk[:-1], out=keep[1:])
        allk = allk[keep]
        self.nnz = allk.size
        rows = allk // n
        self.indices = (allk % n).astype(np.int32)
        self.indptr = np.searchsorted(rows, np.arange(n + 1)).astype(np.int32)
        self.pos = {}
        for blk, (k, ok) in keys.items():
            p = np.full(k.size, self.nnz, dtype=np.int64)  # invalid -> dropped overflow bin
            p[ok] = np.searchsorted(allk, k[ok])
            self.pos[blk] = p
        self._keys = allk
        self.diag_pos = np.searchsorted(allk, np.arange(n) * (n + 1))

    def positions(self, rows, cols):
        """Positions of reduced (rows, cols) in the data array (nnz where dropped)."""
        ok = (rows >= 0) & (cols >= 0)
        p = np.full(rows.size, self.nnz, dtype=np.int64)
        k = rows[ok] * self.n + cols[ok]
        p[ok] = np.searchsorted(self._keys, k)
        if np.any(self._keys[np.minimum(p[ok], self.nnz - 1)] != k):
            raise RuntimeError("entry outside the element sparsity pattern")
        return p

    def _build_robin(self):
        """Constant Robin (Newton cooling) terms: the residual is M_h (T - T_bath) - b_h."""
        qd, N = self.qd, self.N
        self.M_h = sp.csr_matrix((N, N))
        self.b_h = np.zeros(N)
        self.cool_groups = []
        for c in self.problem.coolings:
            dofs, area, m, M = qd.facet_data(c.boundary)
            Tref = self.problem.T_bath if c.T_ref is None else c.T_ref
            self.M_h = self.M_h + c.h * M
            # relative to T_bath, so that T = T_bath = T_ref gives exactly zero
            self.b_h += c.h * (Tref - self.problem.T_bath) * m
            self.cool_groups.append((c, m, Tref, area))
        self.robin_data = np.zeros(self.nnz)
        if self.thermal and self.M_h.nnz:
            M = self.M_h.tocoo()
            p = self.positions(self.red[N + M.row], self.red[N + M.col])
            self.robin_data = np.bincount(p, M.data, minlength=self.nnz + 1)[:self.nnz]

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
        data = self.robin_data.copy()
        for blk in self.blocks:
            if blk in Ke:
                data += np.bincount(self.pos[blk], Ke[blk].ravel(), minlength=self.nnz + 1)[:self.nnz]
        return data

    def matrix(self, data):
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))
