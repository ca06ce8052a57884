# %% [markdown]
# # femsim from a notebook: a self-heated mesa, FEM beside the lumped model
#
# This tutorial builds a Bi2212 mesa case in Python, runs the 3D electro-thermal model,
# and compares it with the lumped Newton model T = T_B + I V / (hA) for the same R(T)
# (seeds/000, Eq. 1). It is a plain script in "percent" format: open it in Jupyter
# (jupytext) or VS Code as a notebook, or run `python docs/tutorial.py`. The test suite
# runs it (tests/unit/test_api.py), so what it shows works.

# %%
import tempfile
from pathlib import Path

import numpy as np

import femsim

# %% [markdown]
# ## The case, as a dict
# The same keys as a case file (`femsim schema` lists them all). Quantities are strings
# with units, or pint quantities. The mesh is kept very coarse so that this runs in
# seconds; drop the cell counts for the default mesh, and check it with `--converge`.

# %%
rho_c = {"model": "pseudogap", "f_min": "5 Ohm*cm", "T_star": "150 K", "Delta": "100 K"}
rho_ab = {"model": "linear", "f0": "100 uOhm*cm", "alpha": "0.00333 1/K", "T0": "300 K"}
bi2212 = {"builtin": "Bi2212", "rho_c": rho_c, "rho_ab": rho_ab}
mesa = {
    "schema_version": 1,
    "title": "Self-heated Bi2212 mesa (tutorial)",
    "study": "fem",
    "environment": {"T_bath": "15 K"},
    "geometry": {"kind": "mesa", "width": "20 um", "height": "0.5 um", "base_thickness": "10 um",
                 "substrate_thickness": "50 um", "mesh": "coarse", "mesa_cells": 1, "electrode_cells": 1,
                 "edge_cell": "4 um", "growth": 2.2, "far_growth": 2.2},
    "materials": {"electrode": "Au", "substrate": "sapphire", "mesa": bi2212, "base": bi2212},
    "fem": {
        "region": "mesa",
        "electrical": {"bias": "top_contact", "ground": "base_contact", "equipotential": ["electrode"]},
        "thermal": {"bath": ["bath"], "cooling": [{"boundaries": ["cooled"], "h": "1 W/(cm^2 K)"}]},
        "bias": {"mode": "current", "continuation": "arclength", "stop": "20 mA", "points": 12,
                 "T_max_limit": "30 K"},
    },
    "outputs": {"plots": False},
}
case = femsim.case_from_dict(mesa)
print(case.case.geometry.kind, "mesa,", case.case.environment.T_bath, "K bath")

# %% [markdown]
# ## Run it
# Without `out=` the results go to a temporary directory the result keeps; `result.save()`
# copies them where you want them.

# %%
result = femsim.run(case)
print("status:", result.status, "| results in", result.path)
curves = result.datasets["curves"]
print(curves)

# %% [markdown]
# ## FEM beside the lumped model
# Every FEM run carries the lumped Newton model for the device's own isothermal R(T) and
# its low-power (hA)_eff, evaluated at the same current: `V_lumped` and `T_mean_lumped`.

# %%
I = curves["I"].values
V, V_lumped = curves["V"].values, curves["V_lumped"].values
T, T_lumped = curves["T_mean"].values, curves["T_mean_lumped"].values
print(f"{'I [mA]':>8} {'V_FEM [mV]':>11} {'V_lumped [mV]':>14} {'T_FEM [K]':>10} {'T_lumped [K]':>13}")
for k in range(0, len(I), max(1, len(I) // 8)):
    print(f"{I[k] * 1e3:8.3f} {V[k] * 1e3:11.3f} {V_lumped[k] * 1e3:14.3f} {T[k]:10.2f} {T_lumped[k]:13.2f}")
hot = T > T[0] + 1.0  # where self-heating is more than 1 K
worst = np.max(np.abs(V_lumped[hot] / V[hot] - 1)) if hot.any() else 0.0
print(f"largest relative voltage difference where the mesa heats by > 1 K: {worst:.1%}")

# %% [markdown]
# ## The fields
# The temperature field of the last saved bias point, as a pyvista mesh (plot it with
# `mesh.plot(scalars="T [K]")` in a notebook).

# %%
fields = result.fields()
last = fields[-1]
print(f"{len(fields)} field snapshots; last one: T from {last['T [K]'].min():.2f} K to {last['T [K]'].max():.2f} K")

# %%
keep = Path(tempfile.mkdtemp()) / "mesa_tutorial"
print("saved to", result.save(keep))
