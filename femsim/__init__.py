"""femsim: finite-element thermal-electrical simulator for superconducting micro-structures.

Data flows one way: case file -> geometry/mesh -> problem -> solver -> result -> postprocess.
Everything inside is SI; units are parsed at the case-file edge and written back only in
displayed names such as "Temperature [K]".
"""

__version__ = "0.1.0"
