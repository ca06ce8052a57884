"""rf effects in tunnel junctions (Hamilton & Shapiro 1970, seeds/004_c099d5c78bbe238d.txt).

- `tline`: junction line constants, Swihart velocity (Eq. 4), exact transfer-matrix and
  finite-difference solutions of the telegrapher equations, VSWR, Fiske frequencies, Eq. 6.
- `tunneling`: I_0(V) models: BCS SIS with Dynes broadening at finite T, tables, simple
  models, Gaussian smearing; the BCS gap Delta(T).
- `pumped`: Tien-Gordon pumped I-V (Eqs. 2, 5), step amplitudes (Eqs. 3, 5), classical
  detection (Eq. 12).
- `kramers_kronig`: the reactive current I_KK(V) of I_0 (exact for piecewise-linear tables).
- `heating`: Tien-Gordon powers and first harmonic, BCS I_0(V, T) family, self-heated junction
  (lumped fixed points with folds, T(X) along the junction).
- `embedding`: Thevenin source -> V_rf by single-tone harmonic balance.
- `study`: `run_rf(RFParams)`, the whole study as labelled xarray datasets.
SI units everywhere.
"""

from .model import RFParams, run_rf

__all__ = ["RFParams", "run_rf"]
