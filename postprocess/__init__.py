"""postprocess: where users look at results.

Reads curve datasets (xarray), field files (VTU) and results directories; never feeds
anything back into the solver. Submodules:

- `postprocess.plots`      matplotlib figures (I-V, dI/dV, R(P), T(P), rf) at paper width
- `postprocess.views`      pyvista off-screen 3D views of field files (imports pyvista)
- `postprocess.pvd`        ParaView .pvd collections of bias-point VTUs
- `postprocess.probes`     point probes and region integrals of nodal fields (fenics-basix)
- `postprocess.report`     report.md and the short terminal summary

Only `views` imports pyvista, and nothing is imported here eagerly, so
``import femsim.postprocess.plots`` stays cheap and works without an OpenGL stack.
"""
