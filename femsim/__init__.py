"""femsim: finite-element thermal-electrical simulator for superconducting micro-structures.

Data flows one way: case file -> geometry/mesh -> problem -> solver -> result -> postprocess.
Everything inside is SI; units are parsed at the case-file edge and written back only in
displayed names such as "Temperature [K]".

The Python API (see `femsim.api` and docs/tutorial.py):

- ``femsim.load(path_or_dict)`` -> a validated case,
- ``femsim.case_from_dict({...})`` -> the same from a dict (quantities as strings or pint),
- ``femsim.run(case, out=None)`` -> `femsim.Result` (datasets, summary, fields, save),
- ``femsim.open_result(dir)`` -> the `Result` of an earlier run.
"""

from .version import __version__

_API = ("Case", "CaseSource", "Result", "case_from_dict", "load", "run", "open_result")
__all__ = ["__version__", *_API]


def __getattr__(name):  # the API on first use: `femsim --version` need not import the schema
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'femsim' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
