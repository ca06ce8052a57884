"""What a result was computed with, for summary.json: the versions of every package on
the solve path and of the numerical libraries actually loaded (MKL behind PARDISO, the
OpenBLAS builds of numpy and scipy), so that two results can be told apart by more than
femsim's own version."""

from __future__ import annotations

import importlib.metadata
import platform
from pathlib import Path

#: distributions on the solve path (mesh, assembly, linear algebra, file formats), then the rest
SOLVE_PATH = ("numpy", "scipy", "scikit-fem", "fenics-basix", "pyamg", "pypardiso", "mkl", "meshio", "xarray",
              "netCDF4", "h5py", "pint", "pydantic", "pandas", "threadpoolctl")
OTHERS = ("pyvista", "vtk", "matplotlib")


def versions() -> dict[str, str | None]:
    """{name: version} of femsim, Python, the distributions above (None: not installed) and
    the native libraries loaded now: MKL's runtime version (it may differ from the `mkl`
    wheel when another MKL is found first), OpenBLAS per package, netCDF-C and HDF5."""
    from .version import __version__

    out: dict[str, str | None] = {"femsim": __version__, "python": platform.python_version()}
    for dist in SOLVE_PATH + OTHERS:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    out.update(native_libraries())
    return out


def native_libraries() -> dict[str, str]:
    """Versions of the loaded BLAS/LAPACK/OpenMP libraries (threadpoolctl) and of the C
    libraries under netCDF4, keyed "mkl-runtime", "openblas (numpy)", "netcdf-c", "hdf5"."""
    out: dict[str, str] = {}
    try:
        from threadpoolctl import threadpool_info

        from .fem import linalg  # noqa: F401  (loads MKL through pypardiso, if installed)
    except ImportError:
        return out
    for lib in threadpool_info():
        version = lib.get("version")
        if not version:
            continue
        api = lib.get("internal_api", "?")
        if api == "mkl":
            out["mkl-runtime"] = version
        else:   # which package bundles it: numpy.libs/..., scipy.libs/...
            owner = Path(lib.get("filepath", "")).parent.name.removesuffix(".libs")
            out[f"{api} ({owner})" if owner else api] = version
    try:
        import netCDF4

        out["netcdf-c"] = netCDF4.__netcdf4libversion__
        out["hdf5"] = netCDF4.__hdf5libversion__
    except (ImportError, AttributeError):
        pass
    return out
